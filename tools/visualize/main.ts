/**
 * `node dist/tools/visualize/main.js [--check] [--out <dir>]`
 *
 * Writes the diagrams of the three machines to `visualizations/` (or `--out`). With `--check` it
 * writes nothing: it regenerates in memory and exits 1, listing every stale file, when the
 * committed files differ from what the machines produce now.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDiagrams } from './check.js';
import { generateFiles } from './generate.js';
import { DIAGRAMS, type DiagramSpec } from './machines.js';

/**
 * The package root, found from this file rather than the working directory: the same code runs
 * as `tools/visualize/main.ts` (tests) and as `dist/tools/visualize/main.js` (npm script).
 */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const DEFAULT_OUT = (): string => join(packageRoot(), 'visualizations');

interface Options {
  check: boolean;
  out: string;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { check: false, out: DEFAULT_OUT() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') options.check = true;
    else if (arg === '--out' && argv[i + 1] !== undefined) options.out = resolve(argv[++i] ?? '');
    else throw new Error(`unknown argument ${arg}; usage: visualize [--check] [--out <dir>]`);
  }
  return options;
}

export interface Output {
  log(message: string): void;
  error(message: string): void;
}

/** The command line, minus the process: returns the exit code. */
export async function run(
  argv: readonly string[],
  specs: readonly DiagramSpec[] = DIAGRAMS,
  output: Output = console,
): Promise<number> {
  const options = parseArgs(argv);
  if (options.check) {
    const result = await checkDiagrams(options.out, specs);
    if (result.stale.length) {
      output.error(result.message);
      return 1;
    }
    output.log(`diagrams in ${options.out} are up to date`);
    return 0;
  }
  const files = await generateFiles(specs);
  await mkdir(options.out, { recursive: true });
  for (const [name, content] of files) await writeFile(join(options.out, name), content);
  output.log(`wrote ${files.size} files to ${options.out}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 2;
    },
  );
}
