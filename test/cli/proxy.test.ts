import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { RunProxy } from '../../src/cli/commands/proxy.js';
import type { AgentConfig } from '../../src/config/types.js';
import { runMain } from './helpers.js';

const eth0: NetworkInterfaceInfo = {
  address: '10.4.0.7',
  family: 'IPv4',
  internal: false,
  netmask: '255.255.255.0',
  mac: '02:00:00:00:00:01',
  cidr: null,
};

/** Runs `pilot-agent <argv>` in-process with a runtime that records the config and exits 0. */
async function proxy(argv: string[], env: Record<string, string> = {}) {
  const configs: AgentConfig[] = [];
  const runProxy: RunProxy = async (config) => {
    configs.push(config);
    return { exitCode: 0, reason: '' };
  };
  const result = await runMain(argv, {
    runProxy,
    interfaces: { eth0: [eth0] },
    env: { POD_NAME: 'app-1', POD_NAMESPACE: 'default', INSTANCE_IP: '10.4.0.7', ...env },
    resolveHost: async () => [{ address: '10.0.0.9', family: 4 }],
  });
  return { ...result, config: configs[0] };
}

describe('pilot-agent proxy: command line', () => {
  it('runs the sidecar with every Istio default and logs FLAG lines at debug and the version', async () => {
    const { code, config, logs, stderr } = await proxy(['proxy', '--log_output_level', 'debug']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(config?.node.type).toBe('sidecar');
    expect(config?.proxy.drainDurationMs).toBe(45_000);
    const flagLines = logs.filter((l) => String(l.msg).startsWith('FLAG: '));
    expect(flagLines.every((l) => l.level === 'debug')).toBe(true);
    expect(flagLines.map((l) => l.msg)).toContain('FLAG: --parentShutdownDuration="1m0s"');
    expect(flagLines.map((l) => l.msg)).toContain('FLAG: --log_output_level="debug"');
    expect(
      logs.some((l) => l.level === 'info' && /^Version 0\.1\.0-unknown-unknown$/.test(String(l.msg))),
    ).toBe(true);
  });

  it('does not log FLAG lines at the default info level', async () => {
    const { logs } = await proxy(['proxy']);
    expect(logs.some((l) => String(l.msg).startsWith('FLAG: '))).toBe(false);
  });

  it('returns the exit code of the runtime', async () => {
    const result = await runMain(['proxy'], {
      runProxy: async () => ({ exitCode: 3, reason: 'Envoy kept crashing' }),
      interfaces: {},
      env: {},
    });
    expect(result.code).toBe(3);
  });

  it('parses the 1.5 injector command line', async () => {
    const { code, config } = await proxy([
      'proxy',
      'sidecar',
      '--domain',
      'default.svc.cluster.local',
      '--configPath',
      '/etc/istio/proxy',
      '--binaryPath',
      '/usr/local/bin/envoy',
      '--serviceCluster',
      'productpage.default',
      '--drainDuration',
      '45s',
      '--parentShutdownDuration',
      '1m0s',
      '--discoveryAddress',
      'istiod.istio-system.svc:15012',
      '--zipkinAddress',
      'zipkin.istio-system:9411',
      '--proxyLogLevel=warning',
      '--proxyComponentLogLevel=misc:error',
      '--connectTimeout',
      '10s',
      '--proxyAdminPort',
      '15000',
      '--concurrency',
      '2',
      '--controlPlaneAuthPolicy',
      'NONE',
      '--dnsRefreshRate',
      '300s',
      '--statusPort',
      '15020',
      '--controlPlaneBootstrap=false',
    ]);
    expect(code).toBe(0);
    expect(config?.proxy).toMatchObject({
      serviceCluster: 'productpage.default',
      discoveryAddress: 'istiod.istio-system.svc:15012',
      connectTimeoutMs: 10_000,
      concurrency: 2,
      tracing: { kind: 'zipkin', address: 'zipkin.istio-system:9411' },
    });
    expect(config?.statusPort).toBe(15020);
    expect(config?.controlPlaneBootstrap).toBe(false);
    expect(config?.node.serviceNode).toBe('sidecar~10.4.0.7~app-1.default~default.svc.cluster.local');
    expect(config?.ignoredFlags).toEqual([]);
  });

  it.each([[['--configPath', '/a']], [['--configPath=/a']], [['-configPath', '/a']], [['-configPath=/a']]])(
    'accepts Go flag syntax %j',
    async (args) => {
      const { config } = await proxy(['proxy', ...args]);
      expect(config?.proxy.configPath).toBe('/a');
    },
  );

  it('takes bools as --flag and --flag=true|false, never consuming the next argument', async () => {
    expect((await proxy(['proxy', '--disableInternalTelemetry'])).config?.disableInternalTelemetry).toBe(
      true,
    );
    expect((await proxy(['proxy', '--controlPlaneBootstrap=false'])).config?.controlPlaneBootstrap).toBe(
      false,
    );
    expect((await proxy(['proxy', '--controlPlaneBootstrap=0'])).config?.controlPlaneBootstrap).toBe(false);
    expect((await proxy(['proxy', '-inspect'])).config?.inspect).toBe(true);
    // Go: `--controlPlaneBootstrap false` sets true and leaves "false" as the role argument.
    const separate = await proxy(['proxy', '--controlPlaneBootstrap', 'false']);
    expect(separate.code).toBe(255);
    expect(separate.stderr).toBe('Invalid role Type: false\n');
  });

  it('lets a value flag take the next argument even when it starts with "-"', async () => {
    const { code, stderr } = await proxy(['proxy', '--concurrency', '-1']);
    expect(code).toBe(255);
    expect(stderr).toBe("--concurrency -1 must be 0 (Envoy's default) or more\n");
  });

  it('takes the role from the first positional argument and ignores extra ones', async () => {
    expect((await proxy(['proxy', 'router', 'extra', 'args'])).config?.node.type).toBe('router');
    expect((await proxy(['proxy', '--configPath', '/a', 'router'])).config?.node.type).toBe('router');
    expect((await proxy(['--log_as_json', 'proxy', 'router'])).config?.node.type).toBe('router');
    expect((await proxy(['proxy', '--', 'router'])).config?.node.type).toBe('router');
  });

  it('tolerates unknown flags and reports them with the unimplemented ones in one warning line', async () => {
    const { code, config, logs } = await proxy([
      'proxy',
      '--legacyFlag',
      'value',
      'router',
      '--other=1',
      '-x',
      '--lightstepAddress',
      'ls:8080',
      '--lightstepAccessToken',
      'secret-token',
      '--log_caller',
      'default',
    ]);
    expect(code).toBe(0);
    expect(config?.node.type).toBe('router');
    expect(config?.ignoredFlags).toEqual([
      '--lightstepAddress',
      '--lightstepAccessToken',
      '--log_caller',
      '--legacyFlag',
      '--other',
      '-x',
    ]);
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toContain('--legacyFlag');
    expect(JSON.stringify(logs)).not.toContain('secret-token');
  });

  it('swallows the value of an unknown flag like pflag (so a role after it is lost)', async () => {
    const { config } = await proxy(['proxy', '--legacyFlag', 'router']);
    expect(config?.node.type).toBe('sidecar');
  });

  it('reports a value flag without its value', async () => {
    const { code, stderr } = await proxy(['proxy', '--configPath']);
    expect(code).toBe(255);
    expect(stderr).toBe('flag needs an argument: --configPath\n');
  });

  it('rejects an invalid --log_output_level', async () => {
    const { code, stderr } = await proxy(['proxy', '--log_output_level', 'default:verbose']);
    expect(code).toBe(255);
    expect(stderr).toBe(`--log_output_level "default:verbose": invalid output level 'default:verbose'\n`);
  });

  it('silences logs with --log_output_level none and keeps errors on stderr', async () => {
    const { logs, code } = await proxy([
      'proxy',
      '--log_output_level=none',
      '--lightstepAddress',
      'ls:1',
      '--lightstepAccessToken',
      't',
    ]);
    expect(code).toBe(0);
    expect(logs).toEqual([]);
  });
});

describe('pilot-agent root', () => {
  it('prints help and succeeds without a command, tolerating unknown flags', async () => {
    const { code, stdout } = await runMain(['--whatever']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: pilot-agent');
  });

  it('rejects an unknown command', async () => {
    const { code, stderr } = await runMain(['proxxy']);
    expect(code).toBe(255);
    expect(stderr).toBe('unknown command "proxxy" for "pilot-agent"\n');
  });

  it('rejects unknown flags on commands that do not tolerate them', async () => {
    const wait = await runMain(['wait', '--foo']);
    expect(wait.code).toBe(255);
    expect(wait.stderr).toBe('unknown flag: --foo\n');
    const version = await runMain(['version', '-x']);
    expect(version.stderr).toBe("unknown shorthand flag: 'x' in -x\n");
  });

  it('reports a bug as one "internal error" line with exit 70 and the stack only in the log', async () => {
    const result = await runMain(['proxy'], {
      runProxy: async () => {
        throw new TypeError('boom');
      },
      interfaces: {},
    });
    expect(result.code).toBe(70);
    expect(result.stderr).toBe('internal error: boom\n');
    expect(JSON.stringify(result.logs)).toContain('TypeError');
  });
});
