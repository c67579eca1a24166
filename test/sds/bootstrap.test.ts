/**
 * The SDS bootstrap fragment against Envoy's .proto files (the same schema walk every golden
 * bootstrap goes through): the `sds-grpc` cluster, and TLS contexts whose secrets come from it.
 */
import { describe, expect, it } from 'vitest';
import { SDS_CLUSTER_NAME, sdsConfig, sdsGrpcCluster, sdsSecretConfig } from '../../src/sds/bootstrap.js';
import { validateBootstrapV3, validateEnvoyJson } from '../../tools/envoy-api/validate.js';

const SOCKET = '/etc/istio/proxy/SDS';

describe('the SDS bootstrap fragment', () => {
  it("is Istio's sds-grpc cluster: STATIC, HTTP/2, 1s connect timeout, a pipe to the socket", () => {
    const cluster = sdsGrpcCluster(SOCKET);
    expect(cluster).toEqual({
      name: 'sds-grpc',
      type: 'STATIC',
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
      connect_timeout: '1s',
      lb_policy: 'ROUND_ROBIN',
      load_assignment: {
        cluster_name: 'sds-grpc',
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: SOCKET } } } }] }],
      },
    });
    expect(validateEnvoyJson('envoy.config.cluster.v3.Cluster', cluster)).toEqual([]);
  });

  it('points secrets at that cluster over gRPC, v3, node on the first message only', () => {
    expect(sdsSecretConfig('default')).toEqual({
      name: 'default',
      sds_config: {
        api_config_source: {
          api_type: 'GRPC',
          transport_api_version: 'V3',
          grpc_services: [{ envoy_grpc: { cluster_name: SDS_CLUSTER_NAME } }],
          set_node_on_first_message_only: true,
        },
        resource_api_version: 'V3',
      },
    });
    expect(sdsConfig({ initialFetchTimeout: '0s' }).initial_fetch_timeout).toBe('0s');
    for (const config of [
      sdsSecretConfig('ROOTCA'),
      sdsSecretConfig('default', { initialFetchTimeout: '0s' }),
    ]) {
      expect(validateEnvoyJson('envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig', config)).toEqual(
        [],
      );
    }
  });

  it('makes a valid bootstrap with a listener and a cluster whose TLS comes from SDS', () => {
    const commonTlsContext = {
      tls_certificate_sds_secret_configs: [sdsSecretConfig('default')],
      combined_validation_context: {
        default_validation_context: {},
        validation_context_sds_secret_config: sdsSecretConfig('ROOTCA'),
      },
    };
    const bootstrap = {
      node: { id: 'sidecar~10.0.0.1~app.default~default.svc.cluster.local', cluster: 'app.default' },
      static_resources: {
        clusters: [
          sdsGrpcCluster(SOCKET),
          {
            name: 'outbound',
            type: 'STATIC',
            connect_timeout: '1s',
            load_assignment: {
              cluster_name: 'outbound',
              endpoints: [
                {
                  lb_endpoints: [
                    { endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 443 } } } },
                  ],
                },
              ],
            },
            transport_socket: {
              name: 'envoy.transport_sockets.tls',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
                common_tls_context: commonTlsContext,
              },
            },
          },
        ],
        listeners: [
          {
            name: 'inbound',
            address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
            filter_chains: [
              {
                filters: [
                  {
                    name: 'envoy.filters.network.tcp_proxy',
                    typed_config: {
                      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                      stat_prefix: 'inbound',
                      cluster: 'outbound',
                    },
                  },
                ],
                transport_socket: {
                  name: 'envoy.transport_sockets.tls',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
                    common_tls_context: commonTlsContext,
                    require_client_certificate: true,
                  },
                },
              },
            ],
          },
        ],
      },
    };
    expect(validateBootstrapV3(bootstrap)).toEqual([]);
  });
});
