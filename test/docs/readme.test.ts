/**
 * The README documents the public interface: its generated tables must equal what the code
 * defines (flags, exit codes), and every environment variable the agent reads must be in it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/package-root.js';
import { readmePath, renderReadme } from '../../tools/readme.js';

const root = packageRoot(import.meta.dirname) ?? process.cwd();
const readme = readFileSync(readmePath(), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('README', () => {
  it('opens with the two commands: run the agent, run the tests', () => {
    const firstBlock = readme.split('```')[1] ?? '';
    expect(firstBlock).toContain('npm start');
    expect(firstBlock).toContain('npm test');
  });

  it('has the flag and exit-code tables the code defines (run `npm run docs` when this fails)', () => {
    expect(renderReadme(readme)).toBe(readme);
  });

  it('names every environment variable the agent reads', () => {
    const read = new Set<string>();
    for (const file of [...sources(join(root, 'src/config')), ...sources(join(root, 'src/runtime'))]) {
      for (const m of readFileSync(file, 'utf8').matchAll(
        /'((?:ISTIO|POD|INSTANCE|TERMINATION|EXIT_ON|MINIMUM|STACKDRIVER|PILOT_AGENT)[A-Z_]*)'/g,
      )) {
        if (m[1] && !m[1].endsWith('_')) read.add(m[1]);
      }
    }
    expect(read.size).toBeGreaterThan(10);
    const missing = [...read].filter(
      (name) => !readme.includes(name) && !readme.includes(name.replace(/^ISTIO_META_TLS_/, '_')),
    );
    expect(missing).toEqual([]);
  });
});
