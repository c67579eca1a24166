/**
 * The v3 schema walk: deliberately broken bootstraps are rejected with the JSON path of the fault;
 * the protobuf-JSON leniencies Envoy has (camelCase names, case-insensitive enums, 64-bit ints as
 * strings, Struct as any JSON) are accepted. Every golden bootstrap is also validated in
 * golden.test.ts.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_TYPE, envoyVerdict, validateBootstrapV3, validateEnvoyJson } from './validate.js';

type Doc = Record<string, unknown>;
const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/golden/sidecar.json');

let base: string;
beforeAll(async () => {
  base = await readFile(GOLDEN, 'utf8');
});

/** A fresh copy of the sidecar golden, changed by `edit`. */
function variant(
  edit: (doc: Doc & { static_resources: { clusters: Doc[]; listeners: Doc[] }; admin: Doc }) => void,
): Doc {
  const doc = JSON.parse(base);
  edit(doc);
  return doc;
}

function hcm(doc: { static_resources: { listeners: Doc[] } }): Doc {
  const listener = doc.static_resources.listeners[0] as {
    filter_chains: Array<{ filters: Array<{ typed_config: Doc }> }>;
  };
  return listener.filter_chains[0]?.filters[0]?.typed_config as Doc;
}

describe('validateBootstrapV3 rejects', () => {
  it('an unknown field at depth, naming its path', () => {
    const doc = variant((d) => {
      (d.static_resources.clusters[1] as Doc).foo = 1;
    });
    expect(validateBootstrapV3(doc)).toEqual(['static_resources.clusters[1].foo: unknown field']);
  });

  it('v2-only fields (hosts, tls_context) and the old admin access_log_path is still accepted', () => {
    const doc = variant((d) => {
      (d.static_resources.clusters[0] as Doc).hosts = [];
      (d.static_resources.clusters[1] as Doc).tls_context = {};
      d.admin.access_log_path = '/dev/null';
    });
    expect(validateBootstrapV3(doc)).toEqual([
      'static_resources.clusters[0].hosts: unknown field',
      'static_resources.clusters[1].tls_context: unknown field',
    ]);
  });

  it('a v2 @type inside a typed_config', () => {
    const doc = variant((d) => {
      hcm(d)['@type'] =
        'type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager';
    });
    expect(validateBootstrapV3(doc)).toEqual([
      'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.@type: envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager is a v2 type; Envoy accepts only the v3 API',
    ]);
  });

  it('an unknown @type, and an unknown field inside a known one', () => {
    const unknown = variant((d) => {
      hcm(d)['@type'] = 'type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope';
    });
    expect(validateBootstrapV3(unknown)).toEqual([
      'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.@type: unknown type envoy.extensions.filters.network.nope.v3.Nope',
    ]);
    const inner = variant((d) => {
      hcm(d).stat_prefx = 'x';
    });
    expect(validateBootstrapV3(inner)).toEqual([
      'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefx: unknown field',
    ]);
  });

  it('a bad enum value (names are case-insensitive, numbers must be defined)', () => {
    const doc = variant((d) => {
      (d.static_resources.clusters[1] as Doc).type = 'STRICTDNS';
      (d.static_resources.clusters[1] as Doc).dns_lookup_family = 9;
    });
    expect(validateBootstrapV3(doc)).toEqual([
      'static_resources.clusters[1].type: unknown DiscoveryType value "STRICTDNS" (expected one of STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST)',
      'static_resources.clusters[1].dns_lookup_family: unknown DnsLookupFamily number 9',
    ]);
  });

  it('values of the wrong type', () => {
    const doc = variant((d) => {
      d.admin.address = { socket_address: { address: 1, port_value: 'http' } };
      (d.static_resources.clusters[0] as Doc).connect_timeout = '1m0s';
      (d.static_resources.clusters[1] as Doc).upstream_connection_options = {
        tcp_keepalive: { keepalive_time: { value: 1 } },
      };
      d.stats_config = { stats_tags: {} };
    });
    expect(validateBootstrapV3(doc)).toEqual([
      'stats_config.stats_tags: expected an array, got an object',
      'admin.address.socket_address.address: expected a string, got a number',
      'admin.address.socket_address.port_value: expected an integer, got a string',
      'static_resources.clusters[0].connect_timeout: expected a duration such as "1.5s", got "1m0s"',
      'static_resources.clusters[1].upstream_connection_options.tcp_keepalive.keepalive_time: expected an integer, got an object',
    ]);
  });

  it('two members of a oneof, and the same field under both spellings', () => {
    const doc = variant((d) => {
      (d.static_resources.clusters[0] as Doc).cluster_type = { name: 'x' };
      (d.static_resources.clusters[0] as Doc).connectTimeout = '1s';
    });
    expect(validateBootstrapV3(doc)).toEqual([
      'static_resources.clusters[0].cluster_type: oneof "cluster_discovery_type" already set by "type"',
      'static_resources.clusters[0].connectTimeout: field given twice (also as "connect_timeout")',
    ]);
  });

  it('a top-level unknown field and a non-object document', () => {
    expect(validateBootstrapV3({ nodes: {} })).toEqual(['nodes: unknown field']);
    expect(validateBootstrapV3([])).toEqual(['(root): expected an object (Bootstrap), got an array']);
  });
});

describe('validateBootstrapV3 accepts', () => {
  it('the empty bootstrap', () => {
    expect(validateBootstrapV3({})).toEqual([]);
  });

  it('lowerCamelCase names, lower-case enums, integers as strings, 64-bit strings, Struct metadata, nulls', () => {
    const doc = variant((d) => {
      const xds = d.static_resources.clusters[1] as Doc;
      delete xds.connect_timeout;
      xds.connectTimeout = '10.5s';
      xds.type = 'strict_dns';
      d.admin.address = { socket_address: { address: '127.0.0.1', port_value: '15000' } };
      d.admin.socket_options = [
        { level: '1', name: 2, int_value: '9007199254740993', state: 'STATE_PREBIND' },
      ];
      (d.node as Doc).metadata = { anything: [1, { deep: null }], n: 1.5 };
      d.tracing = null;
    });
    expect(validateBootstrapV3(doc)).toEqual([]);
  });

  it('unknown fields, reported to a callback, with allowUnknownFields (--allow-unknown-static-fields)', () => {
    const unknown: string[] = [];
    const doc = variant((d) => {
      (d.static_resources.clusters[1] as Doc).foo = 1;
      hcm(d).bar = true;
    });
    const options = { allowUnknownFields: true, onUnknownField: (p: string) => unknown.push(p) };
    expect(validateBootstrapV3(doc, options)).toEqual([]);
    expect(unknown).toEqual([
      'static_resources.clusters[1].foo',
      'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.bar',
    ]);
  });

  it('a single message by type name', () => {
    expect(validateEnvoyJson('envoy.config.core.v3.Address', { pipe: { path: '/x' } })).toEqual([]);
    expect(validateEnvoyJson('envoy.config.core.v3.Address', { pipe: { path: '/x', mode: -1 } })).toEqual([
      'pipe.mode: integer -1 out of range',
    ]);
  });
});

describe('protoc-gen-validate rules, checked once the document parses', () => {
  it('names the first broken rule at depth, through lists, with the chain of the generated validators', () => {
    const doc = variant((d) => {
      ((d.static_resources.clusters[0] as Doc).load_assignment as Doc).cluster_name = '';
    });
    expect(validateBootstrapV3(doc)).toEqual([
      'static_resources.clusters[0].load_assignment.cluster_name: value length must be at least 1 characters',
    ]);
    expect(envoyVerdict(BOOTSTRAP_TYPE, doc, { allowUnknownStaticFields: false })).toBe(
      'Proto constraint validation failed (BootstrapValidationError.StaticResources: embedded message failed validation | caused by StaticResourcesValidationError.Clusters[i]: embedded message failed validation | caused by ClusterValidationError.LoadAssignment: embedded message failed validation | caused by ClusterLoadAssignmentValidationError.ClusterName: value length must be at least 1 characters)',
    );
  });

  it('checks bounds, required oneofs and defaults of absent scalars', () => {
    expect(validateEnvoyJson('envoy.config.core.v3.SocketAddress', { port_value: 70000 })).toEqual([
      'address: value length must be at least 1 characters',
    ]);
    expect(
      validateEnvoyJson('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 70000 }),
    ).toEqual(['port_value: value must be less than or equal to 65535']);
    expect(validateEnvoyJson('envoy.config.core.v3.Address', {})).toEqual(['(root): value is required']);
    expect(validateBootstrapV3({ stats_flush_interval: '0.0005s' })).toEqual([
      'stats_flush_interval: value must be inside range [1ms, 5m0s)',
    ]);
  });

  it('are not checked while the document does not parse, as Envoy stops there', () => {
    expect(validateBootstrapV3({ stats_flush_interval: '301s', nodes: {} })).toEqual([
      'nodes: unknown field',
    ]);
    expect(
      validateBootstrapV3({ stats_flush_interval: '301s', nodes: {} }, { allowUnknownFields: true }),
    ).toEqual(['stats_flush_interval: value must be inside range [1ms, 5m0s)']);
  });
});
