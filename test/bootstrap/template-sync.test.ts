/**
 * The built-in bootstrap is a function of the template parameter map: rendering
 * test/golden/templates/builtin-v3.json.tmpl (the same bootstrap as a Go template over Istio's
 * parameters only, generated from v3.ts by `npm run docs`) must give JSON equal to the builder's
 * for every golden case. This checks the two renderings of v3.ts's one description against each
 * other, and runs the template engine over a large, realistic template.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTemplateParams } from '../../src/bootstrap/params.js';
import { buildBootstrapV3, builtinBootstrapTemplate } from '../../src/bootstrap/v3.js';
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
  it('the committed template is the one v3.ts generates (run `npm run docs` when this fails)', async () => {
    expect(await readFile(TEMPLATE, 'utf8')).toBe(builtinBootstrapTemplate());
  });

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

  it('every optional part on and off, alone and together', async () => {
    const all = GOLDEN_CASES['services-tls'] ?? expect.fail('services-tls golden');
    const full = (await buildTemplateParams(goldenConfig(all), {
      podLabelsPath: goldenLabelsPath(all, scratch),
    })) as Record<string, unknown>;
    const extra = {
      region: 'r',
      zone: 'z',
      sub_zone: 's',
      extraStatTags: ['t'],
      outlier_log_path: '/o',
      statsd: '{"address": "10.0.0.1", "port_value": 9125}',
      zipkin: '{"address": "zipkin", "port_value": 9411}',
      datadog: '{"address": "datadog", "port_value": 8126}',
    };
    const optional = [...Object.keys(extra), 'envoy_metrics_service_address', 'inclusionPrefix'];
    for (let mask = 0; mask < 1 << optional.length; mask += 7) {
      const params: Record<string, unknown> = { ...full, ...extra };
      optional.forEach((key, i) => {
        if (mask & (1 << i)) delete params[key];
      });
      const typed = params as unknown as Parameters<typeof buildBootstrapV3>[0];
      expect(JSON.parse(template.execute(typed)), `without ${mask}`).toEqual(buildBootstrapV3(typed));
    }
  });
});
