/**
 * Golden bootstraps and Envoy command lines for the cases in golden-cases.ts. Goldens live in
 * test/golden/<case>.json and <case>.argv.json and must match byte for byte; regenerate with
 * `UPDATE_GOLDEN=1 npx vitest run test/bootstrap` and review each diff against Istio 1.5's template.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapPath, readBootstrapOverride, renderBootstrap } from '../../src/bootstrap/generate.js';
import { buildEnvoyArgs } from '../../src/envoy/argv.js';
import { validateBootstrapV3 } from '../../tools/envoy-api/validate.js';
import { GOLDEN_CASES, GOLDEN_DIR, goldenConfig, goldenLabelsPath } from './golden-cases.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pilot-agent-golden-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function expectGolden(file: string, actual: string): Promise<void> {
  const target = path.join(GOLDEN_DIR, file);
  if (UPDATE) {
    await writeFile(target, actual);
    return;
  }
  const expected = await readFile(target, 'utf8').catch(() => {
    throw new Error(`missing golden ${file}: run UPDATE_GOLDEN=1 npx vitest run test/bootstrap`);
  });
  expect(actual).toBe(expected);
}

describe('golden bootstraps', () => {
  for (const [name, golden] of Object.entries(GOLDEN_CASES)) {
    it(`${name}: bootstrap`, async () => {
      const config = goldenConfig(golden);
      const text = await renderBootstrap(config, { podLabelsPath: goldenLabelsPath(golden, scratch) });
      await expectGolden(`${name}.json`, text);
    });

    it(`${name}: Envoy argv`, async () => {
      const config = goldenConfig(golden);
      const override = await readBootstrapOverride(config);
      expect(override.warning).toBeUndefined();
      const argv = buildEnvoyArgs(config, {
        epoch: 0,
        configFile: bootstrapPath(config, 0),
        ...(override.yaml !== undefined ? { configYaml: override.yaml } : {}),
      });
      await expectGolden(`${name}.argv.json`, `${JSON.stringify(argv, null, 2)}\n`);
    });

    it(`${name}: passes the Envoy v3 schema`, async () => {
      const text = await readFile(path.join(GOLDEN_DIR, `${name}.json`), 'utf8');
      expect(validateBootstrapV3(JSON.parse(text))).toEqual([]);
    });
  }
});
