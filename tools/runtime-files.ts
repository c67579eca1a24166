/**
 * `node dist/tools/runtime-files.js <dir>` (after `npm run build`): lays out in `<dir>` what
 * `pilot-agent` runs and nothing else — the container image's `/app` (see `Dockerfile`):
 *
 * - `package.json` (the package root the agent finds its version and diagrams from),
 *   `bin/pilot-agent.js` (its `#!` line carries the Node flags), `dist/pilot-agent.mjs` and the
 *   licences of the code bundled into it, `dist/pilot-agent-sds.mjs` (SDS mode, loaded on demand);
 * - the diagrams `/debug/statechart` serves (the SVGs of `visualizations/`);
 * - `node_modules/` with only the packages the bundle loads at run time (RUNTIME_PACKAGES) and
 *   their dependencies, as package-lock.json resolves them.
 *
 * Not copied: the source map (read only with `--enable-source-maps`), the compiled modules
 * under `dist/src`, and every dependency esbuild put into the bundle.
 */

import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { DIAGRAM_FILES } from '../src/debug/page.js';
import { packageRoot } from '../src/package-root.js';

/**
 * Packages the bundle does not contain: they are loaded with `createRequire()` at run time, only on
 * paths a container seldom takes, so neither their code nor their start-up work is in every start.
 * Everything else the agent imports (chokidar, ws and @statelyai/inspect included) is inside
 * `dist/pilot-agent.mjs`.
 */
export const RUNTIME_PACKAGES: Readonly<Record<string, string>> = {
  yaml: '`pilot-agent version -o yaml`, src/cli/commands/version.ts',
};

/** The agent's own files, relative to the package root. */
export function agentFiles(): string[] {
  return [
    'package.json',
    'bin/pilot-agent.js',
    'dist/pilot-agent.mjs',
    'dist/pilot-agent.mjs.LEGAL.txt',
    // SDS mode's code, loaded only when SDS is on (tools/bundle.ts).
    'dist/pilot-agent-sds.mjs',
    ...DIAGRAM_FILES.map((d) => `visualizations/${d.file}.svg`),
  ];
}

interface LockPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
}

/**
 * `node_modules/…` paths of `names` and of everything they depend on, resolved as Node does from
 * each package's own directory upwards (package-lock.json's `packages` lists every installed path).
 */
export function dependencyClosure(lockPackages: Record<string, LockPackage>, names: string[]): string[] {
  const found = new Set<string>();
  const resolve = (name: string, from: string): string | undefined => {
    for (let dir = from; ; dir = posix.dirname(dir)) {
      const candidate = posix.join(dir === '.' ? '' : dir, 'node_modules', name);
      if (lockPackages[candidate]) return candidate;
      if (dir === '.' || dir === '') return undefined;
    }
  };
  const visit = (name: string, from: string, optional: boolean) => {
    const path = resolve(name, from);
    if (path === undefined) {
      if (optional) return;
      throw new Error(`package-lock.json has no ${name} reachable from ${from || 'the root'}`);
    }
    if (found.has(path)) return;
    found.add(path);
    const pkg = lockPackages[path] ?? {};
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, path, false);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dep, path, true);
  };
  for (const name of names) visit(name, '.', false);
  return [...found].sort();
}

/** Copies the run-time files from `root` (a built checkout) into `target`; returns what it copied. */
export function layOut(root: string, target: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockPackage>;
  };
  const modules = dependencyClosure(lock.packages, Object.keys(RUNTIME_PACKAGES));
  const copied = [...agentFiles(), ...modules];
  for (const path of copied) {
    const from = join(root, path);
    if (!existsSync(from)) throw new Error(`${path} is missing: run \`npm ci && npm run build\` first`);
    mkdirSync(dirname(join(target, path)), { recursive: true });
    cpSync(from, join(target, path), { recursive: true, dereference: false });
  }
  return copied;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const target = process.argv[2];
  if (target === undefined) {
    process.stderr.write('usage: node dist/tools/runtime-files.js <target directory>\n');
    process.exit(255);
  }
  const copied = layOut(packageRoot(import.meta.dirname) ?? process.cwd(), target);
  process.stdout.write(`runtime files: ${copied.length} entries in ${target}\n`);
}
