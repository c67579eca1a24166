/**
 * What the container image carries (tools/runtime-files.ts): the bundle and exactly the packages it
 * still loads from node_modules, laid out so the agent runs from them alone.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/package-root.js';
import { dependencyClosure, layOut, RUNTIME_PACKAGES } from '../../tools/runtime-files.js';

const root = packageRoot(import.meta.dirname) ?? process.cwd();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('runtime files', () => {
  let target: string;
  beforeAll(() => {
    target = mkdtempSync(join(tmpdir(), 'pilot-agent-runtime-'));
    layOut(root, target);
  });
  afterAll(() => rmSync(target, { recursive: true, force: true }));

  it('lists every package the agent loads with createRequire (esbuild cannot bundle those)', () => {
    const loaded = new Set<string>();
    for (const file of sources(join(root, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(
        /createRequire\(import\.meta\.url\)\('([^']+)'\)/g,
      )) {
        if (m[1]) loaded.add(m[1]);
      }
    }
    expect([...loaded].sort()).toEqual(Object.keys(RUNTIME_PACKAGES).sort());
  });

  it('runs the agent from the laid-out files alone', () => {
    const yaml = execFileSync(
      process.execPath,
      [join(target, 'bin/pilot-agent.js'), 'version', '-o', 'yaml'],
      {
        cwd: target,
        encoding: 'utf8',
      },
    );
    expect(yaml).toContain(`version: ${pkg.version}`);
    const fromBundle = createRequire(join(target, 'dist/pilot-agent.mjs'));
    for (const name of Object.keys(RUNTIME_PACKAGES)) {
      expect(fromBundle.resolve(name).startsWith(join(target, 'node_modules'))).toBe(true);
    }
    expect(readdirSync(join(target, 'visualizations')).sort()).toEqual([
      'agent.svg',
      'cert-rotation.svg',
      'envoy-lifecycle.svg',
      'sds-stream.svg',
    ]);
  });

  it('follows package-lock.json: nested copies first, then the hoisted ones, optional ones if present', () => {
    const lock = {
      '': {},
      'node_modules/a': { dependencies: { b: '^1', c: '^1' }, optionalDependencies: { gone: '^1' } },
      'node_modules/a/node_modules/b': { dependencies: { c: '^1' } },
      'node_modules/b': {},
      'node_modules/c': {},
      'node_modules/unused': {},
    };
    expect(dependencyClosure(lock, ['a'])).toEqual([
      'node_modules/a',
      'node_modules/a/node_modules/b',
      'node_modules/c',
    ]);
    expect(() => dependencyClosure(lock, ['missing'])).toThrow('package-lock.json has no missing');
  });

  it("labels the image with package.json's version (the Dockerfile's VERSION default)", () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(/^ARG VERSION=(\S+)$/m.exec(dockerfile)?.[1]).toBe(pkg.version);
  });
});
