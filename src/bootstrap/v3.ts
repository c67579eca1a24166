/**
 * The built-in bootstrap: the content of Istio 1.5's `tools/packaging/common/envoy_bootstrap_v2.json`
 * expressed in Envoy's v3 API, which is the only one current Envoy accepts (v2 was removed in 2021).
 * It is described once over the template parameter map (`params.ts`), the same map a user template
 * gets (json-template.ts): the agent evaluates the description, and `npm run docs` writes it out as
 * the equivalent Go template, test/golden/templates/builtin-v3.json.tmpl (Istio ships its built-in
 * bootstrap as such a template; users start their own `ISTIO_BOOTSTRAP` from it).
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
 * SDS mode (`sds_uds_path` set, `--certDelivery sds`): the `sds-grpc` cluster (STATIC, HTTP/2, a
 * `pipe` to the agent's socket, as 1.5's template and Istio's v3 template have it), and under
 * MUTUAL_TLS the xds-grpc cluster's certificate and root come from it as `default` and `ROOTCA`
 * with `initial_fetch_timeout: 0s` (Istio's `ConstructSdsSecretConfig`), Pilot's SAN still checked
 * through a `combined_validation_context`. 1.5's template sent `default` to its in-agent SDS but
 * kept a CA file; the file-certificate agent serves the root too, so it rotates in place as well.
 *
 * Kept from 1.5 although later Istio changed it: the stats tags and inclusion list (including the
 * 1.5 `response_code` regex), no 15021 readiness listener, STRICT_DNS xDS cluster with
 * `dns_refresh_rate`, file certificates for MUTUAL_TLS without SDS, `Bootstrap.tracing` (deprecated
 * in v3 but still honoured by Envoy). The node-agent SDS branch (Google gRPC with a token file) and
 * the LightStep/Stackdriver branches of the 1.5 template are absent because the agent does not
 * implement them.
 */

import { ISTIO_CERT_FILES } from '../config/defaults.js';
import type { GoValue } from '../go/value.js';
import { ROOT_SECRET, sdsGrpcCluster, sdsSecretConfig, WORKLOAD_SECRET } from '../sds/bootstrap.js';
import {
  and,
  concat,
  duration,
  each,
  eq,
  evaluate,
  firstOf,
  goTemplate,
  has,
  type Json,
  json,
  jsText,
  num,
  or,
  type Spec,
  socketAddress,
  text,
  unixPath,
  when,
} from './json-template.js';
import type { TemplateParams } from './params.js';

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

const statsTag = ([tag_name, regex]: readonly [string, string]): Spec => ({ tag_name, regex });

function loadAssignment(clusterName: Spec, address: Spec): Spec {
  return {
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: address } } }] }],
  };
}

function http2Options(common?: Spec): Spec {
  return {
    [HTTP_PROTOCOL_OPTIONS]: {
      '@type': `${TYPE}${HTTP_PROTOCOL_OPTIONS}`,
      ...(common ? { common_http_protocol_options: common } : {}),
      explicit_http_config: { http2_protocol_options: {} },
    },
  };
}

/** 1.5's MUTUAL_TLS branch without SDS: Istio's file certificates, SAN check on the Pilot SANs. */
const CONTROL_PLANE_TLS: Spec = {
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
    common_tls_context: {
      alpn_protocols: ['h2'],
      tls_certificates: [
        {
          certificate_chain: { filename: ISTIO_CERT_FILES.certChain },
          private_key: { filename: ISTIO_CERT_FILES.key },
        },
      ],
      validation_context: {
        trusted_ca: { filename: ISTIO_CERT_FILES.rootCert },
        match_subject_alt_names: [each('.pilot_SAN', { exact: text('.') })],
      },
    },
  },
};

/** The TLS above in SDS mode: the workload's certificate and root from the agent, Envoy waiting for them. */
const CONTROL_PLANE_SDS_TLS: Spec = {
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
    common_tls_context: {
      alpn_protocols: ['h2'],
      tls_certificate_sds_secret_configs: [sdsSecretConfig(WORKLOAD_SECRET, { initialFetchTimeout: '0s' })],
      combined_validation_context: {
        default_validation_context: {
          match_subject_alt_names: [each('.pilot_SAN', { exact: text('.') })],
        },
        validation_context_sds_secret_config: sdsSecretConfig(ROOT_SECRET, { initialFetchTimeout: '0s' }),
      },
    },
  },
};

const MUTUAL_TLS = eq('.config.ControlPlaneAuthPolicy', 1);
const SDS = has('.sds_uds_path');

function tracingCluster(name: string, address: string): Spec {
  return {
    name,
    type: 'STRICT_DNS',
    dns_refresh_rate: duration('.dns_refresh_rate'),
    dns_lookup_family: text('.dns_lookup_family'),
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: loadAssignment(name, socketAddress(address)),
  };
}

function remoteServiceCluster(name: 'envoy_metrics_service' | 'envoy_accesslog_service'): Spec {
  return when(has(`.${name}_address`), {
    name,
    type: 'STRICT_DNS',
    transport_socket: when(has(`.${name}_tls`), json(`.${name}_tls`)),
    upstream_connection_options: when(has(`.${name}_tcp_keepalive`), json(`.${name}_tcp_keepalive`)),
    dns_refresh_rate: duration('.dns_refresh_rate'),
    dns_lookup_family: text('.dns_lookup_family'),
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    typed_extension_protocol_options: http2Options(),
    load_assignment: loadAssignment(name, socketAddress(`.${name}_address`)),
  });
}

const PROMETHEUS_LISTENER: Spec = {
  address: { socket_address: { protocol: 'TCP', address: text('.wildcard'), port_value: 15090 } },
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

/** The built-in bootstrap, over the template parameters. */
export const BUILTIN_BOOTSTRAP_V3: Spec = {
  node: {
    id: text('.nodeID'),
    cluster: text('.cluster'),
    locality: {
      region: when(has('.region'), text('.region')),
      zone: when(has('.zone'), text('.zone')),
      sub_zone: when(has('.sub_zone'), text('.sub_zone')),
    },
    metadata: json('.meta_json_str'),
  },
  stats_config: {
    use_all_default_tags: false,
    stats_tags: [
      ...STATS_TAGS_HEAD.map(statsTag),
      each('.extraStatTags', { tag_name: text('.'), regex: concat('(', text('.'), '=\\.=(.*?);\\.;)') }),
      ...STATS_TAGS_TAIL.map(statsTag),
    ],
    stats_matcher: {
      inclusion_list: {
        patterns: [
          // "reporter=" keeps Istio's standard metrics, "component" its istio_build metric.
          { prefix: 'reporter=' },
          { prefix: 'component' },
          each('.inclusionPrefix', { prefix: text('.') }),
          each('.inclusionSuffix', { suffix: text('.') }),
          each('.inclusionRegexps', { safe_regex: { regex: jsText('.') } }),
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
    address: { socket_address: { address: text('.localhost'), port_value: num('.config.ProxyAdminPort') } },
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
          address: text('.localhost'),
          port_value: num('.config.ProxyAdminPort'),
        }),
      },
      when(SDS, sdsGrpcCluster(unixPath('.sds_uds_path'))),
      {
        name: 'xds-grpc',
        type: 'STRICT_DNS',
        dns_refresh_rate: duration('.dns_refresh_rate'),
        dns_lookup_family: text('.dns_lookup_family'),
        connect_timeout: duration('.connect_timeout'),
        lb_policy: 'ROUND_ROBIN',
        transport_socket: firstOf(
          [and(MUTUAL_TLS, SDS), CONTROL_PLANE_SDS_TLS],
          [MUTUAL_TLS, CONTROL_PLANE_TLS],
        ),
        load_assignment: loadAssignment('xds-grpc', socketAddress('.pilot_grpc_address')),
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
      firstOf(
        [has('.zipkin'), tracingCluster('zipkin', '.zipkin')],
        [has('.datadog'), tracingCluster('datadog_agent', '.datadog')],
      ),
      remoteServiceCluster('envoy_metrics_service'),
      remoteServiceCluster('envoy_accesslog_service'),
    ],
    listeners: [PROMETHEUS_LISTENER],
  },
  tracing: firstOf(
    [
      has('.zipkin'),
      {
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
      },
    ],
    [
      has('.datadog'),
      {
        http: {
          name: 'envoy.tracers.datadog',
          typed_config: {
            '@type': `${TYPE}envoy.config.trace.v3.DatadogConfig`,
            collector_cluster: 'datadog_agent',
            service_name: text('.cluster'),
          },
        },
      },
    ],
  ),
  stats_sinks: when(or(has('.envoy_metrics_service_address'), has('.statsd')), [
    when(has('.envoy_metrics_service_address'), {
      name: 'envoy.stat_sinks.metrics_service',
      typed_config: {
        '@type': `${TYPE}envoy.config.metrics.v3.MetricsServiceConfig`,
        transport_api_version: 'V3',
        grpc_service: { envoy_grpc: { cluster_name: 'envoy_metrics_service' } },
      },
    }),
    when(has('.statsd'), {
      name: 'envoy.stat_sinks.statsd',
      typed_config: {
        '@type': `${TYPE}envoy.config.metrics.v3.StatsdSink`,
        address: { socket_address: socketAddress('.statsd') },
      },
    }),
  ]),
  cluster_manager: when(has('.outlier_log_path'), {
    outlier_detection: { event_log_path: text('.outlier_log_path') },
  }),
};

/** The bootstrap document for the given parameters. */
export function buildBootstrapV3(params: TemplateParams): { [key: string]: Json } {
  return evaluate(BUILTIN_BOOTSTRAP_V3, params as GoValue) as { [key: string]: Json };
}

/** The bootstrap as Envoy reads it: pretty JSON with a final newline. */
export function renderBootstrapV3(params: TemplateParams): string {
  return `${JSON.stringify(buildBootstrapV3(params), null, 2)}\n`;
}

/** The built-in bootstrap as a Go template over Istio's parameters (test/golden/templates/builtin-v3.json.tmpl). */
export function builtinBootstrapTemplate(): string {
  return goTemplate(
    BUILTIN_BOOTSTRAP_V3,
    [
      "  pilot-agent's built-in bootstrap (src/bootstrap/v3.ts) as a Go template over Istio's",
      '  template parameters. Generated by `npm run docs`; edit v3.ts instead. A test renders it for',
      '  every golden case and compares it with the bootstrap the agent writes. Limitation of the',
      '  template form: durations are pasted as the Go-formatted parameters, which equal the',
      '  protobuf form only below one minute ("10s", "300s").',
    ].join('\n'),
  );
}
