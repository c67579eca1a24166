/**
 * Which SDS subscriptions a bootstrap makes, as Envoy's secret manager would: one per kind, config
 * source and name; which static clusters and listeners wait for them; what is not simulated.
 */
import { describe, expect, it } from 'vitest';
import { backingClusterError, sdsFacts } from './sds-config.js';
import type { JsonObject } from './validate-bootstrap.js';

const source = (cluster = 'sds-grpc', extra: JsonObject = {}): JsonObject => ({
  api_config_source: {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: cluster } }],
    set_node_on_first_message_only: true,
  },
  resource_api_version: 'V3',
  ...extra,
});

const tls = (type: 'Upstream' | 'Downstream', common: JsonObject): JsonObject => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': `type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.${type}TlsContext`,
    common_tls_context: common,
  },
});

const sdsCluster = (address: JsonObject): JsonObject => ({
  name: 'sds-grpc',
  type: 'STATIC',
  load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] },
});

describe('sdsFacts', () => {
  it('one subscription per kind, source and name, shared by clusters and listeners', () => {
    const common = {
      tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: source() }],
      combined_validation_context: {
        default_validation_context: {},
        validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: source() },
      },
    };
    const facts = sdsFacts({
      static_resources: {
        clusters: [
          sdsCluster({ pipe: { path: '/etc/istio/proxy/SDS' } }),
          { name: 'out', transport_socket: tls('Upstream', common) },
          {
            name: 'matched',
            transportSocketMatches: [{ name: 'm', transport_socket: tls('Upstream', common) }],
          },
        ],
        listeners: [{ name: 'in', filterChains: [{ transportSocket: tls('Downstream', common) }] }],
      },
    });
    expect(
      facts.subscriptions.map((s) => [
        s.kind,
        s.name,
        s.target,
        s.initialFetchTimeoutMs,
        s.nodeOnFirstMessageOnly,
      ]),
    ).toEqual([
      ['tls_certificate', 'default', 'unix:/etc/istio/proxy/SDS', 15_000, true],
      ['validation_context', 'ROOTCA', 'unix:/etc/istio/proxy/SDS', 15_000, true],
    ]);
    expect(facts.contexts.map((c) => [c.owner, c.ownerName])).toEqual([
      ['cluster', 'out'],
      ['cluster', 'matched'],
      ['listener', 'in'],
    ]);
    expect(facts.clusterKeys).toHaveLength(2);
    expect(facts.listenerKeys).toEqual(facts.clusterKeys);
  });

  it('a different config source is a different subscription; timeouts and TCP endpoints are read', () => {
    const facts = sdsFacts({
      static_resources: {
        clusters: [
          sdsCluster({ socket_address: { address: '127.0.0.1', port_value: 15012 } }),
          {
            name: 'out',
            transport_socket: tls('Upstream', {
              tls_certificate_sds_secret_configs: [
                { name: 'default', sds_config: source() },
                { name: 'default', sds_config: source('sds-grpc', { initial_fetch_timeout: '0s' }) },
              ],
              validation_context_sds_secret_config: { name: 'default', sds_config: source() },
            }),
          },
        ],
      },
    });
    expect(facts.subscriptions.map((s) => [s.kind, s.target, s.initialFetchTimeoutMs])).toEqual([
      ['tls_certificate', '127.0.0.1:15012', 15_000],
      ['tls_certificate', '127.0.0.1:15012', 0],
      ['validation_context', '127.0.0.1:15012', 15_000],
    ]);
  });

  it('secrets without a gRPC api_config_source are not simulated', () => {
    const facts = sdsFacts({
      static_resources: {
        clusters: [
          {
            name: 'out',
            transport_socket: tls('Upstream', {
              tls_certificate_sds_secret_configs: [
                { name: 'static' },
                { name: 'ads', sds_config: { ads: {} } },
                { name: 'file', sds_config: { path_config_source: { path: '/etc/sds.yaml' } } },
              ],
            }),
          },
          { name: 'plain', transport_socket: { name: 'raw', typed_config: { '@type': 'x.RawBuffer' } } },
        ],
      },
    });
    expect(facts).toEqual({ subscriptions: [], contexts: [], clusterKeys: [], listenerKeys: [] });
  });

  it('an api_config_source naming a missing cluster is Envoy start-up error', () => {
    expect(() =>
      sdsFacts({
        static_resources: {
          clusters: [
            {
              name: 'out',
              transport_socket: tls('Upstream', {
                tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: source('nope') }],
              }),
            },
          ],
        },
      }),
    ).toThrow(backingClusterError('nope'));
  });
});
