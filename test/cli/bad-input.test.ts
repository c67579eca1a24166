import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

/**
 * Every bad flag value or environment variable, run through the real CLI process: exit 255, exactly
 * one line on stderr that names the flag or variable, no stack trace, and nothing written into
 * --configPath (the agent must stop before it touches the machine).
 */
const work = mkdtempSync(join(tmpdir(), 'pilot-agent-bad-input-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  args: string[];
  env?: Record<string, string>;
  /** Text the single stderr line must contain (the flag or variable, and the rule). */
  expect: string;
}

const FLAG_CASES: Case[] = [
  {
    args: ['proxy', '--drainDuration', '45.5s'],
    expect: '--drainDuration 45.5s must be a whole number of seconds',
  },
  {
    args: ['proxy', '--parentShutdownDuration=61500ms'],
    expect: '--parentShutdownDuration 1m1.5s must be a whole number of seconds',
  },
  {
    args: ['proxy', '--parentShutdownDuration', '30s'],
    expect: '--parentShutdownDuration 30s must be greater than --drainDuration 45s',
  },
  {
    args: ['proxy', '--drainDuration', '2h', '--parentShutdownDuration', '3h'],
    expect: '--drainDuration 2h0m0s must be at most 1h0m0s',
  },
  { args: ['proxy', '--drainDuration', '0s'], expect: '--drainDuration 0s must be at least 1ms' },
  { args: ['proxy', '--drainDuration', '45'], expect: '--drainDuration "45" must be a duration' },
  {
    args: ['proxy', '--discoveryAddress', 'istio-pilot'],
    expect: '--discoveryAddress "istio-pilot" is not a valid host:port address: missing port in address',
  },
  {
    args: ['proxy', '--discoveryAddress', 'istio-pilot:0'],
    expect:
      '--discoveryAddress "istio-pilot:0" is not a valid host:port address: port 0 must be in the range 1..65535',
  },
  {
    args: ['proxy', '--discoveryAddress', 'istio-pilot:65536'],
    expect: 'port 65536 must be in the range 1..65535',
  },
  {
    args: ['proxy', '--discoveryAddress', 'bad_host:15010'],
    expect: '"bad_host" is not a valid hostname or an IP address',
  },
  { args: ['proxy', '--discoveryAddress='], expect: '--discoveryAddress must not be empty' },
  { args: ['proxy', '--proxyAdminPort', '0'], expect: '--proxyAdminPort 0 must be in the range 1..65535' },
  {
    args: ['proxy', '--proxyAdminPort', '65536'],
    expect: '--proxyAdminPort "65536" must be an integer in 0..65535',
  },
  { args: ['proxy', '--connectTimeout', '0s'], expect: '--connectTimeout 0s must be between 1ms and 30s' },
  { args: ['proxy', '--connectTimeout', '31s'], expect: '--connectTimeout 31s must be between 1ms and 30s' },
  {
    args: ['proxy', '--statsdUdpAddress', 'statsd'],
    expect: '--statsdUdpAddress "statsd" is not a valid host:port address',
  },
  { args: ['proxy', '--statsdUdpAddress', 'statsd:99999'], expect: '--statsdUdpAddress "statsd:99999"' },
  {
    args: ['proxy', '--zipkinAddress', 'zipkin'],
    expect: '--zipkinAddress "zipkin" is not a valid host:port address',
  },
  { args: ['proxy', '--datadogAgentAddress', '$(HOST_IP)'], expect: '--datadogAgentAddress "$(HOST_IP)"' },
  {
    args: ['proxy', '--lightstepAddress', 'ls:8080'],
    expect: '--lightstepAccessToken must be set when --lightstepAddress is used',
  },
  { args: ['proxy', 'gateway'], expect: 'Invalid role Type: gateway' },
  {
    args: ['proxy', '--envoyMetricsService', '{bad json'],
    expect: '--envoyMetricsService "{bad json" is not valid RemoteService JSON',
  },
  {
    args: ['proxy', '--envoyAccessLogService', '{"address":"als:9000","tlsSettings":{"mode":"BOGUS"}}'],
    expect: 'tlsSettings.mode "BOGUS" must be one of',
  },
  { args: ['proxy', '--envoyMetricsService', '{"adress":"m:1"}'], expect: 'unknown field "adress"' },
  {
    args: ['proxy', '--envoyMetricsService', '{"address":"metrics"}'],
    expect: '--envoyMetricsService address "metrics" is not a valid host:port address',
  },
  { args: ['proxy', '--concurrency', 'two'], expect: '--concurrency "two" must be an integer' },
  { args: ['proxy', '--concurrency', '-1'], expect: '--concurrency -1 must be 0' },
  { args: ['proxy', '--baseId', '-1'], expect: '--baseId "-1" must be an integer in 0..4294967295' },
  {
    args: ['proxy', '--baseId', '4294967296'],
    expect: '--baseId "4294967296" must be an integer in 0..4294967295',
  },
  { args: ['proxy', '--statusPort', '70000'], expect: '--statusPort "70000" must be an integer in 0..65535' },
  {
    args: ['proxy', '--restartBudget', '-1'],
    expect: '--restartBudget -1 must be 0 (never restart) or more',
  },
  {
    args: ['proxy', '--controlPlaneAuthPolicy', 'MUTUAL-TLS'],
    expect: '--controlPlaneAuthPolicy "MUTUAL-TLS" must be NONE or MUTUAL_TLS',
  },
  {
    args: ['proxy', '--certDelivery', 'push'],
    expect: '--certDelivery "push" must be hot-restart or sds',
  },
  {
    args: ['proxy', '--certDelivery', 'sds', '--sdsSocketPath', `/${'s'.repeat(120)}`],
    expect: 'a Unix socket path holds at most 107',
  },
  {
    args: ['proxy', '--controlPlaneBootstrap=maybe'],
    expect: '--controlPlaneBootstrap "maybe" must be a boolean',
  },
  {
    args: ['proxy', '--serviceregistry', 'Eureka'],
    expect: '--serviceregistry "Eureka" must be one of Kubernetes, Consul, Mock, MCP',
  },
  { args: ['proxy', '--ip', 'pod-ip'], expect: '--ip "pod-ip" must be an IP address' },
  { args: ['proxy', '--proxyLogLevel', 'loud'], expect: '--proxyLogLevel "loud" must be one of' },
  {
    args: ['proxy', '--proxyComponentLogLevel', 'misc=error'],
    expect: '--proxyComponentLogLevel "misc=error"',
  },
  {
    args: ['proxy', '--dnsRefreshRate', '300'],
    expect: '--dnsRefreshRate "300" must be a duration greater than 1ms',
  },
  { args: ['proxy', '--configPath'], expect: 'flag needs an argument: --configPath' },
  {
    args: ['proxy', '--log_output_level', 'verbose'],
    expect: `--log_output_level "verbose": invalid output level 'verbose'`,
  },
  { args: ['version', '--output', 'xml'], expect: `--output must be 'yaml' or 'json'` },
  { args: ['version', '--short=maybe'], expect: '--short "maybe" must be a boolean' },
  { args: ['wait', '--url', 'ftp://x'], expect: '--url "ftp://x" must be an http:// or https:// URL' },
  { args: ['wait', '--periodMillis', '0'], expect: '--periodMillis 0 must be at least 1' },
  { args: ['wait', '--bogus'], expect: 'unknown flag: --bogus' },
  { args: ['request', 'GET'], expect: 'requires at least 2 arg(s), only received 1' },
  {
    args: ['request', '--debug-port', '9999', 'GET', 'x'],
    expect: 'debug port 9999 is not in allowed list [15000 15004 15020 15021]',
  },
  {
    args: ['request', '--debug-port', '2147483648', 'GET', 'x'],
    expect: '--debug-port "2147483648" must be an integer',
  },
  { args: ['unknown-command'], expect: 'unknown command "unknown-command" for "pilot-agent"' },
];

const ENV_CASES: Case[] = [
  {
    args: ['proxy'],
    env: { TERMINATION_DRAIN_DURATION_SECONDS: 'abc' },
    expect: 'TERMINATION_DRAIN_DURATION_SECONDS="abc" must be a non-negative whole number of seconds',
  },
  {
    args: ['proxy'],
    env: { TERMINATION_DRAIN_DURATION_SECONDS: '-5' },
    expect: 'TERMINATION_DRAIN_DURATION_SECONDS="-5"',
  },
  {
    args: ['proxy'],
    env: { MINIMUM_DRAIN_DURATION: '5' },
    expect: 'MINIMUM_DRAIN_DURATION="5" must be a non-negative duration with a unit',
  },
  {
    args: ['proxy'],
    env: { EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'maybe' },
    expect: 'EXIT_ON_ZERO_ACTIVE_CONNECTIONS="maybe" must be a boolean (true or false)',
  },
  {
    args: ['proxy'],
    env: { ISTIO_METAJSON_LABELS: '{"app": ' },
    expect: 'ISTIO_METAJSON_LABELS="{\\"app\\": " must be a JSON object',
  },
  {
    args: ['proxy'],
    env: { ISTIO_METAJSON_ANNOTATIONS: '"text"' },
    expect: 'ISTIO_METAJSON_ANNOTATIONS="\\"text\\"" must be a JSON object',
  },
  {
    args: ['proxy'],
    env: { ISTIO_AUTO_MTLS_ENABLED: 'yes' },
    expect: 'ISTIO_AUTO_MTLS_ENABLED="yes" must be a boolean',
  },
  {
    args: ['proxy'],
    env: { STACKDRIVER_TRACING_ENABLED: 'sure' },
    expect: 'STACKDRIVER_TRACING_ENABLED="sure" must be a boolean',
  },
  {
    args: ['proxy'],
    env: { PILOT_AGENT_INSPECT: 'on' },
    expect: 'PILOT_AGENT_INSPECT="on" must be a boolean',
  },
  {
    args: ['proxy'],
    env: { PILOT_AGENT_CERT_DELIVERY: 'files' },
    expect: 'PILOT_AGENT_CERT_DELIVERY="files" must be hot-restart or sds',
  },
];

describe('bad input: the real CLI stops with one line and exit 255', () => {
  let n = 0;
  it.concurrent.each(
    [...FLAG_CASES, ...ENV_CASES].map(
      (c) => [`${c.args.join(' ')} ${JSON.stringify(c.env ?? {})}`, c] as const,
    ),
  )('%s', async (_name, c) => {
    const configPath = join(work, `config-${n++}`);
    const args =
      c.args[0] === 'proxy'
        ? [...c.args.slice(0, 1), '--configPath', configPath, ...c.args.slice(1)]
        : c.args;
    const result = await runCli(args, c.env);
    expect(result.code, result.stderr).toBe(255);
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(result.stderr.endsWith('\n')).toBe(true);
    expect(lines[0]).toContain(c.expect);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toMatch(/Error:|TypeError|node:internal/);
    expect(existsSync(configPath)).toBe(false);
  });
});
