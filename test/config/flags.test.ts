import { describe, expect, it } from 'vitest';
import {
  describeFlags,
  flagLogLines,
  LOG_FLAGS,
  PROXY_FLAGS,
  parseFlagValue,
  parseFlagValues,
  REQUEST_FLAGS,
  VERSION_FLAGS,
  WAIT_FLAGS,
} from '../../src/config/flags.js';
import { AgentError } from '../../src/errors.js';

/**
 * Istio 1.5 `pilot-agent proxy --help` (flags of `pilot/cmd/pilot-agent/main.go`): every flag with
 * its pflag type and default as `--help` prints it. Written out here, independently of the table,
 * so a drift in either fails.
 */
const ISTIO_1_5_PROXY_FLAGS: [string, string, string][] = [
  ['serviceregistry', 'string', 'Kubernetes'],
  ['ip', 'string', ''],
  ['id', 'string', ''],
  ['domain', 'string', ''],
  ['trust-domain', 'string', ''],
  ['pilotIdentity', 'string', ''],
  ['mixerIdentity', 'string', ''],
  ['statusPort', 'uint16', '0'],
  ['stsPort', 'int', '0'],
  ['tokenManagerPlugin', 'string', 'GoogleTokenExchange'],
  ['configPath', 'string', '/etc/istio/proxy'],
  ['binaryPath', 'string', '/usr/local/bin/envoy'],
  ['serviceCluster', 'string', 'istio-proxy'],
  ['drainDuration', 'duration', '45s'],
  ['parentShutdownDuration', 'duration', '1m0s'],
  ['discoveryAddress', 'string', 'istio-pilot:15010'],
  ['zipkinAddress', 'string', ''],
  ['lightstepAddress', 'string', ''],
  ['lightstepAccessToken', 'string', ''],
  ['lightstepSecure', 'bool', 'false'],
  ['lightstepCacertPath', 'string', ''],
  ['datadogAgentAddress', 'string', ''],
  ['connectTimeout', 'duration', '1s'],
  ['statsdUdpAddress', 'string', ''],
  ['envoyMetricsService', 'string', ''],
  ['envoyAccessLogService', 'string', ''],
  ['proxyAdminPort', 'uint16', '15000'],
  ['controlPlaneAuthPolicy', 'string', 'NONE'],
  ['customConfigFile', 'string', ''],
  ['proxyLogLevel', 'string', 'warning'],
  ['proxyComponentLogLevel', 'string', 'misc:error'],
  ['dnsRefreshRate', 'string', '300s'],
  ['concurrency', 'int', '0'],
  ['templateFile', 'string', ''],
  ['disableInternalTelemetry', 'bool', 'false'],
  ['controlPlaneBootstrap', 'bool', 'true'],
  ['outlierLogPath', 'string', ''],
];

const OURS: [string, string, string][] = [
  ['restartBudget', 'int', '10'],
  ['baseId', 'uint32', '0'],
  ['inspect', 'bool', 'false'],
  ['certDelivery', 'string', 'hot-restart'],
  ['sdsSocketPath', 'string', './etc/istio/proxy/SDS'],
];

/** `istio.io/pkg/log` options attached to the root (pinned commit of Istio 1.5). */
const ISTIO_LOG_FLAGS: [string, string, string][] = [
  ['log_target', 'stringArray', '[stdout]'],
  ['log_output_level', 'string', 'default:info'],
  ['log_stacktrace_level', 'string', 'default:none'],
  ['log_caller', 'string', ''],
  ['log_as_json', 'bool', 'false'],
  ['log_rotate', 'string', ''],
  ['log_rotate_max_age', 'int', '30'],
  ['log_rotate_max_size', 'int', '104857600'],
  ['log_rotate_max_backups', 'int', '1000'],
];

function rows(command: string): [string, string, string][] {
  return describeFlags()
    .filter((r) => r.command === command)
    .map((r) => [r.flag.replace(/^-., /, '').replace(/^--/, ''), r.type, r.default]);
}

describe('flag table', () => {
  it('has every Istio 1.5 proxy flag with its type and default, then our three additions', () => {
    expect(rows('proxy')).toEqual([...ISTIO_1_5_PROXY_FLAGS, ...OURS]);
    for (const [name] of OURS) expect(PROXY_FLAGS[name as keyof typeof PROXY_FLAGS].origin).toBe('ours');
    for (const [name] of ISTIO_1_5_PROXY_FLAGS) {
      expect(PROXY_FLAGS[name as keyof typeof PROXY_FLAGS].origin).toBe('istio');
    }
  });

  it('has the root logging flags of istio.io/pkg/log', () => {
    expect(rows('pilot-agent')).toEqual(ISTIO_LOG_FLAGS);
    const implemented = Object.entries(LOG_FLAGS)
      .filter(([, s]) => s.implemented)
      .map(([n]) => n);
    expect(implemented).toEqual(['log_output_level', 'log_as_json']);
  });

  it('has the version, wait and request flags', () => {
    expect(rows('version')).toEqual([
      ['short', 'bool', 'false'],
      ['output', 'string', ''],
    ]);
    expect(describeFlags().find((r) => r.flag.includes('--short'))?.flag).toBe('-s, --short');
    expect(rows('wait')).toEqual([
      ['timeoutSeconds', 'int', '60'],
      ['requestTimeoutMillis', 'int', '500'],
      ['periodMillis', 'int', '500'],
      ['url', 'string', 'http://localhost:15021/healthz/ready'],
    ]);
    expect(rows('request')).toEqual([['debug-port', 'int32', '15000']]);
    expect(
      Object.keys(VERSION_FLAGS).length + Object.keys(WAIT_FLAGS).length + Object.keys(REQUEST_FLAGS).length,
    ).toBe(7);
  });

  it('marks exactly the flags we accept without implementing', () => {
    const notImplemented = Object.entries(PROXY_FLAGS)
      .filter(([, spec]) => !spec.implemented)
      .map(([name]) => name);
    expect(notImplemented).toEqual([
      'mixerIdentity',
      'stsPort',
      'tokenManagerPlugin',
      'lightstepAddress',
      'lightstepAccessToken',
      'lightstepSecure',
      'lightstepCacertPath',
    ]);
  });

  it('gives every flag a description', () => {
    for (const row of describeFlags()) expect(row.description.length, row.flag).toBeGreaterThan(10);
  });
});

describe('flag values', () => {
  it('defaults every flag to Istio’s value (durations in ms)', () => {
    const values = parseFlagValues(PROXY_FLAGS, new Map());
    expect(values.drainDuration).toBe(45_000);
    expect(values.parentShutdownDuration).toBe(60_000);
    expect(values.connectTimeout).toBe(1_000);
    expect(values.controlPlaneBootstrap).toBe(true);
    expect(values.proxyAdminPort).toBe(15000);
    expect(values.restartBudget).toBe(10);
  });

  it('parses each type with Go syntax', () => {
    const values = parseFlagValues(
      PROXY_FLAGS,
      new Map([
        ['drainDuration', '1m30s'],
        ['controlPlaneBootstrap', 'F'],
        ['concurrency', '0x2'],
        ['statusPort', '15020'],
        ['baseId', '4294967295'],
      ]),
    );
    expect(values.drainDuration).toBe(90_000);
    expect(values.controlPlaneBootstrap).toBe(false);
    expect(values.concurrency).toBe(2);
    expect(values.statusPort).toBe(15020);
    expect(values.baseId).toBe(4_294_967_295);
  });

  it.each([
    ['concurrency', 'two', '--concurrency "two" must be an integer'],
    ['statusPort', '65536', '--statusPort "65536" must be an integer in 0..65535'],
    ['baseId', '-1', '--baseId "-1" must be an integer in 0..4294967295'],
    ['baseId', '4294967296', '--baseId "4294967296" must be an integer in 0..4294967295'],
    ['drainDuration', '45', '--drainDuration "45" must be a duration such as "45s", "1m0s" or "500ms"'],
    ['controlPlaneBootstrap', 'maybe', '--controlPlaneBootstrap "maybe" must be a boolean (true or false)'],
  ] as const)('rejects --%s %s', (name, raw, message) => {
    const spec = PROXY_FLAGS[name];
    expect(() => parseFlagValue(name, spec, raw)).toThrow(AgentError);
    expect(() => parseFlagValue(name, spec, raw)).toThrow(message);
  });

  it('logs FLAG lines sorted by name, durations in Go form, credentials redacted', () => {
    const lines = flagLogLines([
      ['zipkinAddress', PROXY_FLAGS.zipkinAddress, ''],
      ['drainDuration', PROXY_FLAGS.drainDuration, 45_000],
      ['lightstepAccessToken', PROXY_FLAGS.lightstepAccessToken, 'secret-token'],
      ['configPath', PROXY_FLAGS.configPath, '/etc/istio/proxy'],
    ]);
    expect(lines).toEqual([
      'FLAG: --configPath="/etc/istio/proxy"',
      'FLAG: --drainDuration="45s"',
      'FLAG: --lightstepAccessToken="[REDACTED]"',
      'FLAG: --zipkinAddress=""',
    ]);
  });
});
