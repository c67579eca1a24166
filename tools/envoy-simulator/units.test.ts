/**
 * The simulator's pure pieces, checked in-process against the Envoy/TCLAP/spdlog facts they
 * encode (no process is started here).
 */
import { describe, expect, it } from 'vitest';
import { isV2Type } from '../envoy-api/validate.js';
import { mergeBootstrap } from './bootstrap.js';
import { compilePattern } from './logger.js';
import { ENVOY_ARGS } from './options.js';
import { compileFilter, extractTags } from './stats.js';
import { extractUint32, parseArgs } from './tclap.js';
import { bootstrapFacts, validateBootstrap } from './validate-bootstrap.js';

describe('TCLAP number reading (istringstream >> uint32_t)', () => {
  it.each([
    ['2', 2],
    ['02', 2],
    ['+2', 2],
    [' 2', 2],
    ['-1', 4294967295],
    ['4294967295', 4294967295],
  ])('%j reads as %d', (text, value) => {
    expect(extractUint32(text)).toEqual({ value });
  });

  it.each(['x', '2x', '1.5', '0x2', '2 ', '4294967296'])('%j is unreadable', (text) => {
    expect(extractUint32(text)).toEqual({ error: `Couldn't read argument value from string '${text}'` });
  });

  it('reads nothing from an empty string, and complains about two numbers', () => {
    expect(extractUint32('')).toEqual({ value: undefined });
    expect(extractUint32('1 2')).toEqual({ error: "More than one valid value parsed from string '1 2'" });
  });
});

describe('TCLAP matching', () => {
  it('splits one argv element at its first space, never at =', () => {
    const ok = parseArgs(ENVOY_ARGS, ['--restart-epoch 3']);
    expect(ok.kind === 'ok' && ok.values.get('restart-epoch')).toBe(3);
    expect(parseArgs(ENVOY_ARGS, ['--restart-epoch=3'])).toMatchObject({
      kind: 'error',
      argId: '--restart-epoch=3',
    });
  });

  it('ignores everything after --, and -h inside combined short switches still asks for help', () => {
    expect(parseArgs(ENVOY_ARGS, ['--', '--whatever', 'x'])).toMatchObject({ kind: 'ok' });
    expect(parseArgs(ENVOY_ARGS, ['-xh'])).toEqual({ kind: 'help' });
  });

  it('repeats --stats-tag', () => {
    const r = parseArgs(ENVOY_ARGS, ['--stats-tag', 'a:b', '--stats-tag', 'c:d']);
    expect(r.kind === 'ok' && r.values.get('stats-tag')).toEqual(['a:b', 'c:d']);
  });
});

describe('spdlog patterns', () => {
  const record = {
    time: new Date(2026, 0, 2, 3, 4, 5, 6),
    level: 'warning' as const,
    logger: 'main' as const,
    site: 'source/server/server.cc:915' as const,
    message: 'say "hi"\nbye',
  };

  it("renders Istio's format and Envoy's default", () => {
    expect(compilePattern('[Envoy (Epoch 1)] [%Y-%m-%d %T.%e][%t][%l][%n] %v')(record)).toBe(
      `[Envoy (Epoch 1)] [2026-01-02 03:04:05.006][${process.pid}][warning][main] say "hi"\nbye`,
    );
    expect(compilePattern('[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v')(record)).toContain(
      '[main] [source/server/server.cc:915] say',
    );
  });

  it('supports %j, %_, %L, %s, %%, padding, and copies unknown flags', () => {
    expect(compilePattern('{"msg":"%j"}')(record)).toBe('{"msg":"say \\"hi\\"\\nbye"}');
    expect(compilePattern('%_')(record)).toBe('say "hi"\\nbye');
    expect(compilePattern('%L|%s|%%|%-5n|%5n|%=6n|%q')(record)).toBe('W|server.cc|%|main | main| main |%q');
  });
});

describe('stats helpers', () => {
  it('compiles RE2-compatible filters and rejects what RE2 rejects', () => {
    expect(compileFilter('^(server\\.state|listener_manager\\.workers_started)')?.test('server.state')).toBe(
      true,
    );
    expect(compileFilter('downstream_cx_active$')?.test('listener.admin.downstream_cx_active')).toBe(true);
    expect(compileFilter('(?P<x>a)')?.test('a')).toBe(true);
    for (const bad of ['(', '(?=a)', '(?<!a)b', '(a)\\1']) expect(compileFilter(bad)).toBeUndefined();
  });

  it('extracts the listener address and HTTP prefix tags for Prometheus', () => {
    expect(extractTags('listener.0.0.0.0_15006.worker_0.downstream_cx_active')).toEqual({
      name: 'listener.worker_0.downstream_cx_active',
      labels: [['envoy_listener_address', '0.0.0.0_15006']],
    });
    expect(extractTags('listener.admin.downstream_cx_active')).toEqual({
      name: 'listener.admin.downstream_cx_active',
      labels: [],
    });
    expect(extractTags('http.inbound_0.0.0.0_8080.downstream_cx_active')).toEqual({
      name: 'http.downstream_cx_active',
      labels: [['envoy_http_conn_manager_prefix', 'inbound_0.0.0.0_8080']],
    });
  });
});

describe('bootstrap', () => {
  it('merges like protobuf MergeFrom: scalars override, lists append, messages merge', () => {
    expect(
      mergeBootstrap({ node: { id: 'a', cluster: 'c' }, x: [1] }, { node: { id: 'b' }, x: [2] }),
    ).toEqual({
      node: { id: 'b', cluster: 'c' },
      x: [1, 2],
    });
  });

  it('validateBootstrap: accepts {} and camelCase names, rejects unknown fields unless allowed', () => {
    expect(validateBootstrap({}, { allowUnknownStaticFields: false })).toBeUndefined();
    expect(
      validateBootstrap(
        { staticResources: {}, statsFlushInterval: '1s' },
        { allowUnknownStaticFields: false },
      ),
    ).toBeUndefined();
    expect(validateBootstrap({ admin: { adress: {} } }, { allowUnknownStaticFields: false })).toBe(
      'Protobuf message (type envoy.config.bootstrap.v3.Bootstrap reason INVALID_ARGUMENT:(admin) adress: Cannot find field.) has unknown fields',
    );
    const seen: string[] = [];
    expect(
      validateBootstrap({ foo: 1 }, { allowUnknownStaticFields: true, onUnknownField: (d) => seen.push(d) }),
    ).toBeUndefined();
    expect(seen).toHaveLength(1);
    expect(validateBootstrap({ stats_flush_interval: '301s' }, { allowUnknownStaticFields: false })).toBe(
      'Proto constraint validation failed (BootstrapValidationError.StatsFlushInterval: value must be inside range [1ms, 5m0s))',
    );
  });

  it('knows v2 type names', () => {
    expect(isV2Type('envoy.api.v2.Cluster')).toBe(true);
    expect(isV2Type('envoy.config.filter.http.jwt_authn.v2alpha.JwtAuthentication')).toBe(true);
    expect(
      isV2Type('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'),
    ).toBe(false);
    expect(isV2Type('envoy.config.core.v3.Address')).toBe(false);
  });

  it('bootstrapFacts: xDS subscriptions decide which counters exist', () => {
    const facts = bootstrapFacts({
      dynamic_resources: { ldsConfig: { ads: {}, initialFetchTimeout: '0s' }, cds_config: { ads: {} } },
      admin: { address: { socket_address: { address: '127.0.0.1', port_value: 15000 } } },
    });
    expect(facts.lds).toEqual({ configured: true, initialFetchTimeoutMs: 0 });
    expect(facts.cds).toEqual({ configured: true, initialFetchTimeoutMs: 15_000 });
    expect(facts.admin).toEqual({ kind: 'socket', address: '127.0.0.1', port: 15000 });
    expect(facts.statsFlushIntervalMs).toBe(5000);
  });
});
