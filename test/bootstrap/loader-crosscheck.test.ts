/**
 * The golden cases through the real command line and environment loader (src/cli/argv.ts,
 * src/config/load.ts): each case's `argv` and `env`, loaded as `pilot-agent` would load them
 * (no interface discovery, DNS stubbed), must give the same bootstrap and Envoy argv as the
 * hand-translated overrides the goldens were generated from.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapPath, renderBootstrap } from '../../src/bootstrap/generate.js';
import { tokenizeGoFlags } from '../../src/cli/argv.js';
import { PROXY_FLAGS, parseFlagValues } from '../../src/config/flags.js';
import { loadAgentConfig } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/types.js';
import { buildEnvoyArgs } from '../../src/envoy/argv.js';
import { GOLDEN_CASES, GOLDEN_DIR, type GoldenCase, goldenLabelsPath } from './golden-cases.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pilot-agent-loader-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function loaded(golden: GoldenCase): Promise<AgentConfig> {
  const [, role, ...rest] = golden.argv;
  const tokens = tokenizeGoFlags(rest, PROXY_FLAGS, { allowUnknown: true });
  const config = await loadAgentConfig({
    role,
    flags: parseFlagValues(PROXY_FLAGS, tokens.values),
    env: golden.env,
    interfaces: Object.fromEntries(
      (golden.discoveredIps ?? []).map((address, i) => [
        `eth${i}`,
        [
          {
            address,
            netmask: '255.255.255.0',
            family: 'IPv4',
            mac: '02:42:0a:00:00:01',
            internal: false,
            cidr: `${address}/24`,
          },
        ],
      ]),
    ),
    // The statsd addresses of the cases are IPs already: they resolve to themselves.
    resolveHost: async (host) => [{ address: host, family: isIPv4(host) ? 4 : 6 }],
  });
  // Fixture files live in test/golden/ rather than where the command line points.
  return {
    ...config,
    bootstrapTemplatePath: golden.template ? path.join(GOLDEN_DIR, 'templates', golden.template) : '',
    bootstrapOverridePath: golden.bootstrapOverride ? path.join(GOLDEN_DIR, golden.bootstrapOverride) : '',
  };
}

describe('golden cases through the real loader', () => {
  for (const [name, golden] of Object.entries(GOLDEN_CASES)) {
    it(name, async () => {
      const config = await loaded(golden);
      const text = await renderBootstrap(config, { podLabelsPath: goldenLabelsPath(golden, scratch) });
      expect(text).toBe(await readFile(path.join(GOLDEN_DIR, `${name}.json`), 'utf8'));
      const yaml = golden.bootstrapOverride
        ? await readFile(config.bootstrapOverridePath, 'utf8')
        : undefined;
      const argv = buildEnvoyArgs(config, {
        epoch: 0,
        configFile: bootstrapPath(config, 0),
        configYaml: yaml,
      });
      expect(argv).toEqual(JSON.parse(await readFile(path.join(GOLDEN_DIR, `${name}.argv.json`), 'utf8')));
    });
  }
});
