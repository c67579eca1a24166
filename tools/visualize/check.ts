/**
 * The staleness check: regenerate in memory and compare byte for byte with what is on disk.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type GeneratedFiles, generateFiles } from './generate.js';
import type { DiagramSpec } from './machines.js';

export interface CheckResult {
  /** Files (relative to the output directory) that are missing or differ. */
  stale: string[];
  /** What to tell the user; empty when nothing is stale. */
  message: string;
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function compareFiles(dir: string, expected: GeneratedFiles): Promise<CheckResult> {
  const stale: string[] = [];
  for (const [name, content] of [...expected].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const actual = await readOrUndefined(join(dir, name));
    if (actual !== content) stale.push(actual === undefined ? `${name} (missing)` : name);
  }
  const message = stale.length
    ? [
        `${stale.length} diagram file(s) in ${dir} do not match the machines:`,
        ...stale.map((s) => `  ${s}`),
        'Run `npm run visualize` and commit the result.',
      ].join('\n')
    : '';
  return { stale, message };
}

/** Generates the diagrams of `specs` and compares them with the files in `dir`. */
export async function checkDiagrams(dir: string, specs: readonly DiagramSpec[]): Promise<CheckResult> {
  return compareFiles(dir, await generateFiles(specs));
}
