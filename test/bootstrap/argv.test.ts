/**
 * Envoy's command line: Istio 1.5's `TestEnvoyArgs` vector (`pkg/envoy/proxy_test.go`) without
 * `--max-obj-name-len` (rejected by current Envoy), and the rules around it.
 */

import { describe, expect, it } from 'vitest';
import { buildEnvoyArgs } from '../../src/envoy/argv.js';
import { makeAgentConfig } from '../helpers/agent-config.js';

describe('buildEnvoyArgs', () => {
  it("reproduces Istio's TestEnvoyArgs (minus --max-obj-name-len)", () => {
    const config = makeAgentConfig({
      proxy: { serviceCluster: 'my-cluster', concurrency: 8 },
      node: { serviceNode: 'my-node' },
      proxyLogLevel: 'trace',
      proxyComponentLogLevel: 'misc:error',
    });
    expect(
      buildEnvoyArgs(config, { epoch: 5, configFile: 'test.json', configYaml: '{"key": "value"}' }),
    ).toEqual([
      '-c',
      'test.json',
      '--restart-epoch',
      '5',
      '--drain-time-s',
      '45',
      '--parent-shutdown-time-s',
      '60',
      '--service-cluster',
      'my-cluster',
      '--service-node',
      'my-node',
      '--local-address-ip-version',
      'v4',
      '--log-format',
      '[Envoy (Epoch 5)] [%Y-%m-%d %T.%e][%t][%l][%n] %v',
      '-l',
      'trace',
      '--component-log-level',
      'misc:error',
      '--config-yaml',
      '{"key": "value"}',
      '--concurrency',
      '8',
    ]);
  });

  it('never passes --max-obj-name-len', () => {
    const args = buildEnvoyArgs(makeAgentConfig({ proxy: { statNameLength: 250 } }), {
      epoch: 0,
      configFile: 'f',
    });
    expect(args).not.toContain('--max-obj-name-len');
  });

  it('truncates durations to whole seconds, as Go int(d / time.Second)', () => {
    const config = makeAgentConfig({ proxy: { drainDurationMs: 45_999, parentShutdownDurationMs: 60_500 } });
    const args = buildEnvoyArgs(config, { epoch: 0, configFile: 'f' });
    expect(args.slice(4, 8)).toEqual(['--drain-time-s', '45', '--parent-shutdown-time-s', '60']);
  });

  it('puts --base-id right after --restart-epoch, only when > 0', () => {
    const args = buildEnvoyArgs(makeAgentConfig({ baseId: 3 }), { epoch: 2, configFile: 'f' });
    expect(args.slice(0, 8)).toEqual([
      '-c',
      'f',
      '--restart-epoch',
      '2',
      '--base-id',
      '3',
      '--drain-time-s',
      '45',
    ]);
    expect(buildEnvoyArgs(makeAgentConfig(), { epoch: 2, configFile: 'f' })).not.toContain('--base-id');
  });

  it('omits -l, --component-log-level, --config-yaml and --concurrency when empty or zero', () => {
    const config = makeAgentConfig({
      proxyLogLevel: '',
      proxyComponentLogLevel: '',
      proxy: { concurrency: 0 },
    });
    const args = buildEnvoyArgs(config, { epoch: 1, configFile: 'f', configYaml: undefined });
    expect(args.at(-2)).toBe('--log-format');
    expect(args.at(-1)).toBe('[Envoy (Epoch 1)] [%Y-%m-%d %T.%e][%t][%l][%n] %v');
  });

  it('keeps an empty --config-yaml (the file was readable but empty)', () => {
    const args = buildEnvoyArgs(makeAgentConfig(), { epoch: 0, configFile: 'f', configYaml: '' });
    expect(args.slice(args.indexOf('--config-yaml'), args.indexOf('--config-yaml') + 2)).toEqual([
      '--config-yaml',
      '',
    ]);
  });

  it('uses v6 for an IPv6 proxy', () => {
    const config = makeAgentConfig({ env: { POD_NAME: 'p', POD_NAMESPACE: 'n', INSTANCE_IP: 'fd00::1' } });
    const args = buildEnvoyArgs(config, { epoch: 0, configFile: 'f' });
    expect(args[args.indexOf('--local-address-ip-version') + 1]).toBe('v6');
  });
});
