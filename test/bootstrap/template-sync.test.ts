/**
 * The built-in bootstrap is a function of the template parameter map: rendering
 * test/golden/templates/builtin-v3.json.tmpl (the same bootstrap as a Go template over Istio's
 * parameters only) must give JSON equal to the builder's for every golden case. This keeps the two
 * bootstrap paths in step, and runs the template engine over a large, realistic template.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTemplateParams } from '../../src/bootstrap/params.js';
import { buildBootstrapV3 } from '../../src/bootstrap/v3.js';
import { GoTemplate } from '../../src/go/template/template.js';
import { GOLDEN_CASES, GOLDEN_DIR, goldenConfig, goldenLabelsPath } from './golden-cases.js';

const TEMPLATE = path.join(GOLDEN_DIR, 'templates', 'builtin-v3.json.tmpl');

let scratch: string;
let template: GoTemplate;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pilot-agent-sync-'));
  template = GoTemplate.parse(await readFile(TEMPLATE, 'utf8'), TEMPLATE);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('built-in bootstrap = Go template over the same parameters', () => {
  for (const [name, golden] of Object.entries(GOLDEN_CASES)) {
    if (golden.template) continue;
    it(name, async () => {
      const params = await buildTemplateParams(goldenConfig(golden), {
        podLabelsPath: goldenLabelsPath(golden, scratch),
      });
      const rendered = template.execute(params);
      expect(JSON.parse(rendered)).toEqual(buildBootstrapV3(params));
    });
  }
});
