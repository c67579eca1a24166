/**
 * The built-in bootstrap: the content of Istio 1.5's `tools/packaging/common/envoy_bootstrap_v2.json`
 * expressed in Envoy's v3 API, which is the only one current Envoy accepts (v2 was removed in 2021).
 * It is a function of the template parameter map (`params.ts`), the same map a user template gets,
 * so the built-in and the template path cannot disagree on any value.
 *
 * v2 → v3 translation (each following how Istio's own v3 template of 1.8+ translated it):
 * - cluster `hosts` → `load_assignment` (ClusterLoadAssignment with one lb_endpoint);
 * - cluster `tls_context` → `transport_socket` `envoy.transport_sockets.tls` with a typed
 *   `envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`; `verify_subject_alt_name`
 *   (removed in v3) → `match_subject_alt_names` exact StringMatchers;
 * - cluster `http2_protocol_options` / `max_requests_per_connection` → typed_extension_protocol_options
 *   `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` (explicit HTTP/2, and
 *   `common_http_protocol_options.max_requests_per_connection`);
 * - admin `access_log_path` (deprecated) → `access_log` with a file logger to /dev/null;
 * - LDS/CDS over ADS: `resource_api_version: V3`, `transport_api_version: V3`, and
 *   `initial_fetch_timeout: 0s` as in Istio's v3 template (Envoy waits for the first LDS/CDS
 *   instead of giving up after the 15 s default; 1.5's readiness check wants them anyway);
 * - listener filter `envoy.http_connection_manager` (untyped `config`) → typed HCM
 *   `envoy.filters.network.http_connection_manager`, `http_filters` as a list with a typed
 *   `envoy.filters.http.router`;
 * - stats matcher `regex` (removed in v3) → `safe_regex`;
 * - tracing `envoy.zipkin` / `envoy.tracers.datadog` with untyped `config` → typed
 *   `envoy.tracers.zipkin` (ZipkinConfig: `trace_id_128bit` bool, `shared_span_context` BoolValue,
 *   where 1.5 wrote the strings "true"/"false") and `envoy.tracers.datadog` (DatadogConfig);
 * - stats sinks `envoy.statsd` / `envoy.metrics_service` → typed `envoy.stat_sinks.statsd` (StatsdSink)
 *   and `envoy.stat_sinks.metrics_service` (MetricsServiceConfig, `transport_api_version: V3`);
 * - durations are protobuf-JSON (`connect_timeout` "1m0s" from the Go-formatted parameter becomes
 *   "60s"; `dns_refresh_rate` likewise).
 *
 * Kept from 1.5 although later Istio changed it: the stats tags and inclusion list (including the
 * 1.5 `response_code` regex), no 15021 readiness listener, STRICT_DNS xDS cluster with
 * `dns_refresh_rate`, file certificates for MUTUAL_TLS (no SDS), `Bootstrap.tracing` (deprecated in
 * v3 but still honoured by Envoy). The SDS and LightStep/Stackdriver branches of the 1.5 template
 * are absent because the agent does not implement them.
 */

import { AgentError, messageOf } from '../errors.js';
import { parseGoDuration } from '../go/duration.js';
import { DEFAULT_CERT_CHAIN, DEFAULT_KEY, DEFAULT_ROOT_CERT, type TemplateParams } from './params.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export type SocketAddress =
  | { address: string; port_value: number }
  | { protocol: 'TCP'; address: string; port_value: number };

export interface TypedExtension {
  name: string;
  typed_config: { '@type': string; [field: string]: Json };
}

export interface ClusterV3 {
  name: string;
  type: 'STATIC' | 'STRICT_DNS';
  dns_refresh_rate?: string;
  dns_lookup_family?: string;
  connect_timeout: string;
  lb_policy: 'ROUND_ROBIN';
  transport_socket?: TypedExtension;
  upstream_connection_options?: { tcp_keepalive: Record<string, number> };
  load_assignment: {
    cluster_name: string;
    endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: SocketAddress } } }> }>;
  };
  circuit_breakers?: { thresholds: Array<Record<string, string | number>> };
  typed_extension_protocol_options?: Record<string, TypedExtension['typed_config']>;
}

export interface BootstrapV3 {
  node: {
    id: string;
    cluster: string;
    locality: { region?: string; zone?: string; sub_zone?: string };
    metadata: { [key: string]: Json };
  };
  stats_config: {
    use_all_default_tags: false;
    stats_tags: Array<{ tag_name: string; regex: string }>;
    stats_matcher: {
      inclusion_list: {
        patterns: Array<{ prefix: string } | { suffix: string } | { safe_regex: { regex: string } }>;
      };
    };
  };
  admin: {
    access_log: TypedExtension[];
    address: { socket_address: SocketAddress };
  };
  dynamic_resources: {
    lds_config: { ads: Record<string, never>; initial_fetch_timeout: string; resource_api_version: 'V3' };
    cds_config: { ads: Record<string, never>; initial_fetch_timeout: string; resource_api_version: 'V3' };
    ads_config: {
      api_type: 'GRPC';
      transport_api_version: 'V3';
      grpc_services: Array<{ envoy_grpc: { cluster_name: string } }>;
    };
  };
  static_resources: {
    clusters: ClusterV3[];
    listeners: Json[];
  };
  tracing?: { http: TypedExtension };
  stats_sinks?: TypedExtension[];
  cluster_manager?: { outlier_detection: { event_log_path: string } };
}

const TYPE = 'type.googleapis.com/';
const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** Istio 1.5's stats tag extractors, in its order; `extraStatTags` go before the canonical tags. */
const STATS_TAGS_HEAD: ReadonlyArray<readonly [string, string]> = [
  ['cluster_name', '^cluster\\.((.+?(\\..+?\\.svc\\.cluster\\.local)?)\\.)'],
  ['tcp_prefix', '^tcp\\.((.*?)\\.)\\w+?$'],
  // Sic: 1.5 has `\.d{3}` (a literal dot) where `\d{3}` was meant; kept to match 1.5's stats.
  ['response_code', '(response_code=\\.=(.+?);\\.;)|_rq(_(\\.d{3}))$'],
  ['response_code_class', '_rq(_(\\dxx))$'],
  [
    'http_conn_manager_listener_prefix',
    '^listener(?=\\.).*?\\.http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)',
  ],
  ['http_conn_manager_prefix', '^http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)'],
  ['listener_address', '^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)'],
  ['mongo_prefix', '^mongo\\.(.+?)\\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$'],
  ...[
    'reporter',
    'source_namespace',
    'source_workload',
    'source_workload_namespace',
    'source_principal',
    'source_app',
    'source_version',
    'destination_namespace',
    'destination_workload',
    'destination_workload_namespace',
    'destination_principal',
    'destination_app',
    'destination_version',
    'destination_service',
    'destination_service_name',
    'destination_service_namespace',
    'request_protocol',
    'response_flags',
  ].map((tag) => [tag, `(${tag}=\\.=(.+?);\\.;)`] as const),
  ['grpc_response_status', '(grpc_response_status=\\.=(.*?);\\.;)'],
  ...['connection_security_policy', 'permissive_response_code', 'permissive_response_policyid'].map(
    (tag) => [tag, `(${tag}=\\.=(.+?);\\.;)`] as const,
  ),
  ['cache', '(cache\\.(.+?)\\.)'],
  ['component', '(component\\.(.+?)\\.)'],
  ['tag', '(tag\\.(.+?)\\.)'],
];

const STATS_TAGS_TAIL = [
  'source_canonical_service',
  'destination_canonical_service',
  'source_canonical_revision',
  'destination_canonical_revision',
].map((tag) => [tag, `(${tag}=\\.=(.+?);\\.;)`] as const);

/** Builds the bootstrap object from the template parameters. */
export function buildBootstrapV3(params: TemplateParams): BootstrapV3 {
  const adminPort = params.config.fields.ProxyAdminPort;
  const mutualTls = params.config.fields.ControlPlaneAuthPolicy.value === 1;
  const dnsRefreshRate = protoDuration('dns_refresh_rate', params.dns_refresh_rate);
  const dnsLookupFamily = params.dns_lookup_family;

  const locality: BootstrapV3['node']['locality'] = {};
  if (params.region) locality.region = params.region;
  if (params.zone) locality.zone = params.zone;
  if (params.sub_zone) locality.sub_zone = params.sub_zone;

  const bootstrap: BootstrapV3 = {
    node: {
      id: params.nodeID,
      cluster: params.cluster,
      locality,
      metadata: parseJsonParam('meta_json_str', params.meta_json_str) as { [key: string]: Json },
    },
    stats_config: {
      use_all_default_tags: false,
      stats_tags: [
        ...STATS_TAGS_HEAD,
        ...(params.extraStatTags ?? []).map((tag) => [tag, `(${tag}=\\.=(.*?);\\.;)`] as const),
        ...STATS_TAGS_TAIL,
      ].map(([tag_name, regex]) => ({ tag_name, regex })),
      stats_matcher: {
        inclusion_list: {
          patterns: [
            // "reporter=" keeps Istio's standard metrics, "component" its istio_build metric.
            { prefix: 'reporter=' },
            { prefix: 'component' },
            ...(params.inclusionPrefix ?? []).map((prefix) => ({ prefix })),
            ...(params.inclusionSuffix ?? []).map((suffix) => ({ suffix })),
            ...(params.inclusionRegexps ?? []).map((regex) => ({ safe_regex: { regex } })),
          ],
        },
      },
    },
    admin: {
      access_log: [
        {
          name: 'envoy.access_loggers.file',
          typed_config: {
            '@type': `${TYPE}envoy.extensions.access_loggers.file.v3.FileAccessLog`,
            path: '/dev/null',
          },
        },
      ],
      address: { socket_address: { address: params.localhost, port_value: adminPort } },
    },
    dynamic_resources: {
      lds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      cds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }],
      },
    },
    static_resources: {
      clusters: [
        {
          name: 'prometheus_stats',
          type: 'STATIC',
          connect_timeout: '0.250s',
          lb_policy: 'ROUND_ROBIN',
          load_assignment: loadAssignment('prometheus_stats', {
            protocol: 'TCP',
            address: params.localhost,
            port_value: adminPort,
          }),
        },
        {
          name: 'xds-grpc',
          type: 'STRICT_DNS',
          dns_refresh_rate: dnsRefreshRate,
          dns_lookup_family: dnsLookupFamily,
          connect_timeout: protoDuration('connect_timeout', params.connect_timeout),
          lb_policy: 'ROUND_ROBIN',
          ...(mutualTls ? { transport_socket: controlPlaneTls(params.pilot_SAN) } : {}),
          load_assignment: loadAssignment(
            'xds-grpc',
            socketAddressParam('pilot_grpc_address', params.pilot_grpc_address),
          ),
          circuit_breakers: {
            thresholds: ['DEFAULT', 'HIGH'].map((priority) => ({
              priority,
              max_connections: 100000,
              max_pending_requests: 100000,
              max_requests: 100000,
            })),
          },
          upstream_connection_options: { tcp_keepalive: { keepalive_time: 300 } },
          // 1.5: `max_requests_per_connection: 1` and `http2_protocol_options: {}` on the cluster.
          typed_extension_protocol_options: http2Options({ max_requests_per_connection: 1 }),
        },
        ...tracingClusters(params, dnsRefreshRate),
        ...remoteServiceCluster(params, 'envoy_metrics_service', dnsRefreshRate),
        ...remoteServiceCluster(params, 'envoy_accesslog_service', dnsRefreshRate),
      ],
      listeners: [prometheusListener(params.wildcard)],
    },
  };

  const tracing = tracingConfig(params);
  if (tracing) bootstrap.tracing = tracing;

  const sinks: TypedExtension[] = [];
  if (params.envoy_metrics_service_address) {
    sinks.push({
      name: 'envoy.stat_sinks.metrics_service',
      typed_config: {
        '@type': `${TYPE}envoy.config.metrics.v3.MetricsServiceConfig`,
        transport_api_version: 'V3',
        grpc_service: { envoy_grpc: { cluster_name: 'envoy_metrics_service' } },
      },
    });
  }
  if (params.statsd) {
    sinks.push({
      name: 'envoy.stat_sinks.statsd',
      typed_config: {
        '@type': `${TYPE}envoy.config.metrics.v3.StatsdSink`,
        address: { socket_address: socketAddressParam('statsd', params.statsd) },
      },
    });
  }
  if (sinks.length > 0) bootstrap.stats_sinks = sinks;

  if (params.outlier_log_path) {
    bootstrap.cluster_manager = { outlier_detection: { event_log_path: params.outlier_log_path } };
  }
  return bootstrap;
}

/** The bootstrap as Envoy reads it: pretty JSON with a final newline. */
export function renderBootstrapV3(params: TemplateParams): string {
  return `${JSON.stringify(buildBootstrapV3(params), null, 2)}\n`;
}

function loadAssignment(clusterName: string, address: SocketAddress): ClusterV3['load_assignment'] {
  return {
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: address } } }] }],
  };
}

function http2Options(common?: Record<string, Json>): Record<string, TypedExtension['typed_config']> {
  return {
    [HTTP_PROTOCOL_OPTIONS]: {
      '@type': `${TYPE}${HTTP_PROTOCOL_OPTIONS}`,
      ...(common ? { common_http_protocol_options: common } : {}),
      explicit_http_config: { http2_protocol_options: {} },
    },
  };
}

/** 1.5's MUTUAL_TLS branch without SDS: Istio's file certificates, SAN check on the Pilot SANs. */
function controlPlaneTls(pilotSan: readonly string[]): TypedExtension {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
      common_tls_context: {
        alpn_protocols: ['h2'],
        tls_certificates: [
          { certificate_chain: { filename: DEFAULT_CERT_CHAIN }, private_key: { filename: DEFAULT_KEY } },
        ],
        validation_context: {
          trusted_ca: { filename: DEFAULT_ROOT_CERT },
          match_subject_alt_names: pilotSan.map((exact) => ({ exact })),
        },
      },
    },
  };
}

function tracingClusters(params: TemplateParams, dnsRefreshRate: string): ClusterV3[] {
  const cluster = (name: string, key: 'zipkin' | 'datadog', text: string): ClusterV3 => ({
    name,
    type: 'STRICT_DNS',
    dns_refresh_rate: dnsRefreshRate,
    dns_lookup_family: params.dns_lookup_family,
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: loadAssignment(name, socketAddressParam(key, text)),
  });
  if (params.zipkin) return [cluster('zipkin', 'zipkin', params.zipkin)];
  if (params.datadog) return [cluster('datadog_agent', 'datadog', params.datadog)];
  return [];
}

function tracingConfig(params: TemplateParams): BootstrapV3['tracing'] {
  if (params.zipkin) {
    return {
      http: {
        name: 'envoy.tracers.zipkin',
        typed_config: {
          '@type': `${TYPE}envoy.config.trace.v3.ZipkinConfig`,
          collector_cluster: 'zipkin',
          collector_endpoint: '/api/v2/spans',
          collector_endpoint_version: 'HTTP_JSON',
          trace_id_128bit: true,
          shared_span_context: false,
        },
      },
    };
  }
  if (params.datadog) {
    return {
      http: {
        name: 'envoy.tracers.datadog',
        typed_config: {
          '@type': `${TYPE}envoy.config.trace.v3.DatadogConfig`,
          collector_cluster: 'datadog_agent',
          service_name: params.cluster,
        },
      },
    };
  }
  return undefined;
}

function remoteServiceCluster(
  params: TemplateParams,
  name: 'envoy_metrics_service' | 'envoy_accesslog_service',
  dnsRefreshRate: string,
): ClusterV3[] {
  const address = params[`${name}_address`];
  if (!address) return [];
  const tls = params[`${name}_tls`];
  const keepalive = params[`${name}_tcp_keepalive`];
  return [
    {
      name,
      type: 'STRICT_DNS',
      ...(tls ? { transport_socket: parseJsonParam(`${name}_tls`, tls) as unknown as TypedExtension } : {}),
      ...(keepalive
        ? {
            upstream_connection_options: parseJsonParam(
              `${name}_tcp_keepalive`,
              keepalive,
            ) as unknown as ClusterV3['upstream_connection_options'],
          }
        : {}),
      dns_refresh_rate: dnsRefreshRate,
      dns_lookup_family: params.dns_lookup_family,
      connect_timeout: '1s',
      lb_policy: 'ROUND_ROBIN',
      typed_extension_protocol_options: http2Options(),
      load_assignment: loadAssignment(name, socketAddressParam(`${name}_address`, address)),
    },
  ];
}

function prometheusListener(wildcard: string): Json {
  return {
    address: { socket_address: { protocol: 'TCP', address: wildcard, port_value: 15090 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
              codec_type: 'AUTO',
              stat_prefix: 'stats',
              route_config: {
                virtual_hosts: [
                  {
                    name: 'backend',
                    domains: ['*'],
                    routes: [
                      { match: { prefix: '/stats/prometheus' }, route: { cluster: 'prometheus_stats' } },
                    ],
                  },
                ],
              },
              http_filters: [
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

function parseJsonParam(key: string, text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new AgentError('bootstrap', `template parameter ${key} is not JSON (${messageOf(err)}): ${text}`);
  }
}

/** An address parameter (`{"address": "h", "port_value": p}` text) as a checked socket address. */
function socketAddressParam(key: string, text: string | undefined): SocketAddress {
  if (text === undefined)
    throw new AgentError('bootstrap', `template parameter ${key} is missing (empty address)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Istio writes the port text verbatim, so "host:" or "host:http" ends up here.
    throw new AgentError('bootstrap', `${key}: ${text} is not a socket address (the port must be a number)`);
  }
  const addr = parsed as { address?: unknown; port_value?: unknown };
  if (
    typeof addr.address !== 'string' ||
    typeof addr.port_value !== 'number' ||
    !Number.isInteger(addr.port_value) ||
    addr.port_value < 0 ||
    addr.port_value > 65535
  ) {
    throw new AgentError('bootstrap', `${key}: ${text} is not a socket address (port out of range)`);
  }
  return { address: addr.address, port_value: addr.port_value };
}

/** A Go duration parameter ("300s", "1m0s") as a protobuf-JSON Duration ("300s", "60s"). */
function protoDuration(key: string, text: string): string {
  const ms = parseGoDuration(text);
  if (ms === undefined) throw new AgentError('bootstrap', `${key}: "${text}" is not a duration`);
  // Envoy rejects a DNS refresh rate at or below 1 ms (validate rule gt 1ms) and negative timeouts.
  if (ms < 0 || (key === 'dns_refresh_rate' && ms <= 1)) {
    throw new AgentError('bootstrap', `${key}: "${text}" is out of range for Envoy`);
  }
  return formatProtoDuration(ms);
}

/** protobuf-JSON `google.protobuf.Duration`: seconds with up to 9 fractional digits, "0.250s". */
function formatProtoDuration(ms: number): string {
  const seconds = ms / 1000;
  if (Number.isInteger(seconds)) return `${seconds}s`;
  // proto3 JSON uses 3, 6 or 9 fractional digits.
  const nanos = Math.round(ms * 1e6);
  const whole = Math.trunc(nanos / 1e9);
  const frac = Math.abs(nanos % 1e9);
  const digits = frac % 1e6 === 0 ? 3 : frac % 1e3 === 0 ? 6 : 9;
  const fracText = String(frac).padStart(9, '0').slice(0, digits);
  return `${nanos < 0 && whole === 0 ? '-' : ''}${whole}.${fracText}s`;
}
