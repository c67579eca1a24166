/**
 * The parameter map Istio 1.5 hands its bootstrap template (`Config.toTemplateParams`,
 * `pkg/bootstrap/config.go`; options in `pkg/bootstrap/option/instances.go` and `convert.go`).
 * Both bootstrap paths read it: a Go template (`ISTIO_BOOTSTRAP` / `--templateFile`) gets it as
 * `.`, and the built-in v3 builder (`v3.ts`) is a function of it, so the two cannot drift apart.
 *
 * "Skip if zero" options leave the key out of the map, so `{{ if .key }}` is false and `{{ .key }}`
 * prints `<no value>` — exactly as in Istio. Address options become the text
 * `{"address": "<host>", "port_value": <port>}` that templates paste in place of a JSON object.
 *
 * Shapes that differ from Istio 1.5 because the built-in bootstrap is Envoy v3:
 * - `envoy_metrics_service_tls` / `envoy_accesslog_service_tls` are a v3 `transport_socket` JSON
 *   (what Istio ≥ 1.6 passes), not a v2 `tls_context`, and name SANs with `match_subject_alt_names`;
 * - `*_tcp_keepalive` uses bare numbers for the UInt32Value fields (protobuf JSON), where Istio's
 *   `encoding/json` of the Go wrappers gives `{"value": 1}`, which Envoy's JSON parser rejects;
 * - ISTIO_MUTUAL with no certificates configured uses Istio's file certificates, without the swap
 *   of Istio 1.5's converter (`remoteTlsFiles` in src/config/remote-service.ts).
 *
 * SDS mode (`--certDelivery sds`) sets what Istio 1.5 sets when its agent serves SDS:
 * `sds_uds_path` is `unix:<socket>` (the absolute socket path; `unix:/etc/istio/proxy/SDS` with the
 * default socket under `/`, the value Istio 1.5's template tests for), node metadata `SDS: "true"`
 * (`getNodeMetaData`; no `TRUSTJWT` and an empty `sds_token_path`: no token is involved), and the
 * remote services' transport sockets name their files as SDS secrets (`file-cert:<chain>~<key>`,
 * `file-root:<ca>`) instead of `filename`s, so their rotation is pushed too.
 */

import { remoteTlsFiles } from '../config/remote-service.js';
import type { AgentConfig, CertDelivery, RemoteService, TcpKeepalive, TlsSettings } from '../config/types.js';
import { AgentError } from '../errors.js';
import { formatGoDuration } from '../go/duration.js';
import { goJsonMarshal } from '../go/json.js';
import { ipBytes16, parseIp, splitHostPort } from '../go/net.js';
import { GoEnum, GoNilPointer, GoStringer, GoStruct, type GoValue } from '../go/value.js';
import { fileCertName, fileRootName, sdsSecretConfig } from '../sds/bootstrap.js';
import { buildNodeMetadata, type NodeMetadataOptions, type TypedNodeMetadata } from './metadata.js';

/** Stats the readiness probe and Istio dashboards depend on (release-1.5 `pkg/bootstrap/config.go`). */
const REQUIRED_INCLUSION_PREFIXES =
  'cluster_manager,listener_manager,http_mixer_filter,tcp_mixer_filter,server,cluster.xds-grpc';
const REQUIRED_INCLUSION_SUFFIX = 'ssl_context_update_by_sds';

/** The fields of Istio 1.5's `meshconfig.ProxyConfig` that templates can index (`.config.X`). */
export type ProxyConfigFields = {
  readonly ConfigPath: string;
  readonly BinaryPath: string;
  readonly ServiceCluster: string;
  readonly DrainDuration: GoStringer;
  readonly ParentShutdownDuration: GoStringer;
  readonly DiscoveryAddress: string;
  readonly DiscoveryRefreshDelay: GoNilPointer;
  readonly ZipkinAddress: string;
  readonly ConnectTimeout: GoStringer;
  readonly StatsdUdpAddress: string;
  readonly EnvoyMetricsServiceAddress: string;
  readonly ProxyAdminPort: number;
  readonly AvailabilityZone: string;
  /** `eq .config.ControlPlaneAuthPolicy 1` is Istio's MUTUAL_TLS test; it prints as the name. */
  readonly ControlPlaneAuthPolicy: GoEnum;
  readonly CustomConfigFile: string;
  readonly StatNameLength: number;
  readonly Concurrency: number;
  readonly ProxyBootstrapTemplatePath: string;
  readonly InterceptionMode: GoEnum;
  readonly Tracing: GoStruct | GoNilPointer;
  readonly Sds: GoNilPointer;
  readonly EnvoyAccessLogService: GoStruct;
  readonly EnvoyMetricsService: GoStruct;
};

export type ProxyConfigView = GoStruct<ProxyConfigFields>;

/**
 * The template parameters. Optional keys are the ones Istio skips when zero. A type alias (not an
 * interface) so that it is a `GoMap` for the template engine.
 */
export type TemplateParams = {
  readonly nodeID: string;
  readonly cluster: string;
  readonly config: ProxyConfigView;
  readonly connect_timeout: string;
  readonly pilot_grpc_address?: string;
  readonly discovery_address: string;
  readonly dns_refresh_rate: string;
  readonly localhost: string;
  readonly wildcard: string;
  readonly dns_lookup_family: string;
  readonly PodName?: string;
  readonly PodNamespace?: string;
  readonly PodIP?: string;
  readonly pilot_SAN: readonly string[];
  readonly MixerSubjectAltName?: string;
  readonly sds_uds_path: string;
  readonly sds_token_path: string;
  readonly ControlPlaneAuth?: string;
  readonly DisableReportCalls?: string;
  readonly pilot_cert_provider: string;
  readonly outlier_log_path?: string;
  readonly sts?: boolean;
  readonly sts_port?: number;
  readonly region?: string;
  readonly zone?: string;
  readonly sub_zone?: string;
  readonly meta_json_str: string;
  readonly inclusionPrefix?: readonly string[];
  readonly inclusionSuffix?: readonly string[];
  readonly inclusionRegexps?: readonly string[];
  readonly extraStatTags?: readonly string[];
  readonly statsd?: string;
  readonly zipkin?: string;
  readonly datadog?: string;
  readonly envoy_metrics_service_address?: string;
  readonly envoy_metrics_service_tls?: string;
  readonly envoy_metrics_service_tcp_keepalive?: string;
  readonly envoy_accesslog_service_address?: string;
  readonly envoy_accesslog_service_tls?: string;
  readonly envoy_accesslog_service_tcp_keepalive?: string;
};

export type TemplateParamsOptions = NodeMetadataOptions;

export async function buildTemplateParams(
  config: AgentConfig,
  options: TemplateParamsOptions = {},
): Promise<TemplateParams> {
  const proxy = config.proxy;
  const meta = await buildNodeMetadata(config, options);
  const ipv6 = config.node.ipv6;
  const tracing = proxy.tracing;
  const stats = statsOptions(meta.typed, meta.instanceIps);

  const params: Record<string, GoValue> = {
    nodeID: config.node.serviceNode,
    cluster: proxy.serviceCluster,
    config: proxyConfigView(config),
    connect_timeout: formatGoDuration(proxy.connectTimeoutMs),
    pilot_grpc_address: addressOption('pilot_grpc_address', proxy.discoveryAddress),
    discovery_address: proxy.discoveryAddress,
    dns_refresh_rate: config.dnsRefreshRate,
    localhost: ipv6 ? '::1' : '127.0.0.1',
    wildcard: ipv6 ? '::' : '0.0.0.0',
    // Istio 1.5: IPv6 proxies resolve with AUTO (v6 first, then v4), IPv4 proxies with V4_ONLY.
    dns_lookup_family: ipv6 ? 'AUTO' : 'V4_ONLY',
    PodName: config.node.podName || undefined,
    PodNamespace: config.node.podNamespace || undefined,
    PodIP: config.node.podIp ? podIpBase64(config.node.podIp) : undefined,
    pilot_SAN: config.pilotSAN.length > 0 ? [...config.pilotSAN] : [defaultPilotSan(config.node.trustDomain)],
    MixerSubjectAltName: config.mixerSAN[0] || undefined,
    // Empty without SDS, as Istio clears them; the templates then use files.
    sds_uds_path: config.certDelivery === 'sds' ? `unix:${config.sds.socketPath}` : '',
    sds_token_path: '',
    ControlPlaneAuth: proxy.controlPlaneAuthPolicy === 'MUTUAL_TLS' ? 'enable' : undefined,
    DisableReportCalls: config.disableInternalTelemetry ? 'true' : undefined,
    pilot_cert_provider: config.env.PILOT_CERT_PROVIDER ?? 'istiod',
    outlier_log_path: config.outlierLogPath || undefined,
    sts: config.stsPort > 0 ? true : undefined,
    sts_port: config.stsPort > 0 ? config.stsPort : undefined,
    region: meta.locality.region || undefined,
    zone: meta.locality.zone || undefined,
    sub_zone: meta.locality.subZone || undefined,
    meta_json_str: meta.json,
    ...stats,
    statsd: addressOption('statsd', proxy.statsdUdpAddress),
    zipkin: tracing?.kind === 'zipkin' ? addressOption('zipkin', tracing.address) : undefined,
    datadog: tracing?.kind === 'datadog' ? addressOption('datadog', tracing.address) : undefined,
    ...remoteServiceOptions(
      'envoy_metrics_service',
      proxy.envoyMetricsService,
      meta.typed,
      config.certDelivery,
    ),
    ...remoteServiceOptions(
      'envoy_accesslog_service',
      proxy.envoyAccessLogService,
      meta.typed,
      config.certDelivery,
    ),
  };
  for (const key of Object.keys(params)) if (params[key] === undefined) delete params[key];
  return params as TemplateParams;
}

/** `spiffe://<trust domain>/ns/istio-system/sa/istio-pilot-service-account` (Istio `defaultPilotSAN`). */
export function defaultPilotSan(trustDomain: string): string {
  return `spiffe://${trustDomain}/ns/istio-system/sa/istio-pilot-service-account`;
}

function proxyConfigView(config: AgentConfig): ProxyConfigView {
  const p = config.proxy;
  const duration = (ms: number): GoStringer => {
    const seconds = Math.trunc(ms / 1000);
    const nanos = Math.round((ms - seconds * 1000) * 1e6);
    return new GoStringer('*types.Duration', formatGoDuration(ms), {
      ...(seconds !== 0 ? { seconds } : {}),
      ...(nanos !== 0 ? { nanos } : {}),
    });
  };
  const remote = (svc: RemoteService): GoStruct =>
    new GoStruct(
      '*v1alpha1.RemoteService',
      {
        Address: svc.address,
        TlsSettings: svc.tlsSettings
          ? tlsSettingsView(svc.tlsSettings)
          : new GoNilPointer('*v1alpha3.TLSSettings'),
        TcpKeepalive: svc.tcpKeepalive
          ? new GoStruct('*v1alpha3.ConnectionPoolSettings_TCPSettings_TcpKeepalive', {
              Probes: svc.tcpKeepalive.probes ?? 0,
              Time:
                svc.tcpKeepalive.timeMs !== undefined
                  ? duration(svc.tcpKeepalive.timeMs)
                  : new GoNilPointer('*types.Duration'),
              Interval:
                svc.tcpKeepalive.intervalMs !== undefined
                  ? duration(svc.tcpKeepalive.intervalMs)
                  : new GoNilPointer('*types.Duration'),
            })
          : new GoNilPointer('*v1alpha3.ConnectionPoolSettings_TCPSettings_TcpKeepalive'),
      },
      { Address: 'address', TlsSettings: 'tlsSettings', TcpKeepalive: 'tcpKeepalive' },
    );
  const tracer = p.tracing;
  const fields: ProxyConfigFields = {
    ConfigPath: p.configPath,
    BinaryPath: p.binaryPath,
    ServiceCluster: p.serviceCluster,
    DrainDuration: duration(p.drainDurationMs),
    ParentShutdownDuration: duration(p.parentShutdownDurationMs),
    DiscoveryAddress: p.discoveryAddress,
    DiscoveryRefreshDelay: new GoNilPointer('*types.Duration'),
    ZipkinAddress: '',
    ConnectTimeout: duration(p.connectTimeoutMs),
    StatsdUdpAddress: p.statsdUdpAddress,
    EnvoyMetricsServiceAddress: '',
    ProxyAdminPort: p.proxyAdminPort,
    AvailabilityZone: '',
    ControlPlaneAuthPolicy: new GoEnum(
      'v1alpha1.AuthenticationPolicy',
      p.controlPlaneAuthPolicy,
      p.controlPlaneAuthPolicy === 'MUTUAL_TLS' ? 1 : 0,
    ),
    CustomConfigFile: p.customConfigFile,
    StatNameLength: p.statNameLength,
    Concurrency: p.concurrency,
    ProxyBootstrapTemplatePath: p.proxyBootstrapTemplatePath,
    InterceptionMode: new GoEnum('v1alpha1.ProxyConfig_InboundInterceptionMode', 'REDIRECT', 0),
    Tracing: tracer
      ? new GoStruct('*v1alpha1.Tracing', {
          Tracer:
            tracer.kind === 'zipkin'
              ? new GoStruct('*v1alpha1.Tracing_Zipkin_', {
                  Zipkin: new GoStruct(
                    '*v1alpha1.Tracing_Zipkin',
                    { Address: tracer.address },
                    { Address: 'address' },
                  ),
                })
              : new GoStruct('*v1alpha1.Tracing_Datadog_', {
                  Datadog: new GoStruct(
                    '*v1alpha1.Tracing_Datadog',
                    { Address: tracer.address },
                    { Address: 'address' },
                  ),
                }),
        })
      : new GoNilPointer('*v1alpha1.Tracing'),
    Sds: new GoNilPointer('*v1alpha1.SDS'),
    EnvoyAccessLogService: remote(p.envoyAccessLogService),
    EnvoyMetricsService: remote(p.envoyMetricsService),
  };
  // protobuf-generated Go structs carry `json:"camelCase,omitempty"` tags.
  const jsonNames = Object.fromEntries(Object.keys(fields).map((k) => [k, k[0]?.toLowerCase() + k.slice(1)]));
  return new GoStruct('*v1alpha1.ProxyConfig', fields, jsonNames);
}

function tlsSettingsView(tls: TlsSettings): GoStruct {
  const modes = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'];
  return new GoStruct(
    '*v1alpha3.TLSSettings',
    {
      Mode: new GoEnum('v1alpha3.TLSSettings_TLSmode', tls.mode, modes.indexOf(tls.mode)),
      ClientCertificate: tls.clientCertificate,
      PrivateKey: tls.privateKey,
      CaCertificates: tls.caCertificates,
      SubjectAltNames: [...tls.subjectAltNames],
      Sni: tls.sni,
    },
    {
      Mode: 'mode',
      ClientCertificate: 'clientCertificate',
      PrivateKey: 'privateKey',
      CaCertificates: 'caCertificates',
      SubjectAltNames: 'subjectAltNames',
      Sni: 'sni',
    },
  );
}

/**
 * Istio's `getStatsOptions`: each list is the pod annotation (comma-split, as given) followed by
 * the required entries, and `{pod_ip}` in any entry is expanded once per instance IP.
 */
function statsOptions(
  meta: TypedNodeMetadata,
  instanceIps: readonly string[],
): Record<string, readonly string[] | undefined> {
  const option = (annotation: unknown, required: string): string[] | undefined => {
    const entries: string[] = [];
    if (typeof annotation === 'string' && annotation.length > 0) entries.push(...annotation.split(','));
    if (required.length > 0) entries.push(...required.split(','));
    const expanded = entries.flatMap((entry) =>
      entry.includes('{pod_ip}') ? instanceIps.map((ip) => entry.replaceAll('{pod_ip}', ip)) : [entry],
    );
    return expanded.length > 0 ? expanded : undefined;
  };
  return {
    inclusionPrefix: option(meta['sidecar.istio.io/statsInclusionPrefixes'], REQUIRED_INCLUSION_PREFIXES),
    inclusionSuffix: option(meta['sidecar.istio.io/statsInclusionSuffixes'], REQUIRED_INCLUSION_SUFFIX),
    inclusionRegexps: option(meta['sidecar.istio.io/statsInclusionRegexps'], ''),
    extraStatTags: option(meta['sidecar.istio.io/extraStatTags'], ''),
  };
}

function remoteServiceOptions(
  name: 'envoy_metrics_service' | 'envoy_accesslog_service',
  svc: RemoteService,
  meta: TypedNodeMetadata,
  delivery: CertDelivery,
): Record<string, string | undefined> {
  if (!svc.address) return {};
  const flag = name === 'envoy_metrics_service' ? '--envoyMetricsService' : '--envoyAccessLogService';
  return {
    [`${name}_address`]: addressOption(`${name}_address`, svc.address),
    [`${name}_tls`]: svc.tlsSettings
      ? transportSocketJson(svc.tlsSettings, name, meta, flag, delivery)
      : undefined,
    [`${name}_tcp_keepalive`]: svc.tcpKeepalive ? keepaliveJson(svc.tcpKeepalive) : undefined,
  };
}

/**
 * The validation part of a `CommonTlsContext`: the trusted CA as a file, or in SDS mode as the
 * `file-root:` secret, with the SAN match beside it (`combined_validation_context` when both the
 * SDS secret and a SAN match apply, as Istio's SDS contexts do). Empty when neither is configured.
 */
function validationPart(
  ca: string,
  subjectAltNames: readonly string[],
  delivery: CertDelivery,
): Record<string, unknown> {
  const sans =
    subjectAltNames.length > 0
      ? { match_subject_alt_names: subjectAltNames.map((san) => ({ exact: san })) }
      : undefined;
  if (ca && delivery === 'sds') {
    const secret = sdsSecretConfig(fileRootName(ca));
    return sans
      ? {
          combined_validation_context: {
            default_validation_context: sans,
            validation_context_sds_secret_config: secret,
          },
        }
      : { validation_context_sds_secret_config: secret };
  }
  const validation: Record<string, unknown> = {};
  if (ca) validation.trusted_ca = { filename: ca };
  if (sans) Object.assign(validation, sans);
  return Object.keys(validation).length > 0 ? { validation_context: validation } : {};
}

/**
 * Istio's `tlsConverter` for a remote service, as a v3 `transport_socket` (see the module comment
 * for the swapped ISTIO_MUTUAL defaults we fix). `ISTIO_META_TLS_CLIENT_*` paths, when set, win
 * over the configured files (`model.GetOrDefault`). DISABLE gives '' (present but false in `if`).
 * In SDS mode the same files are named as SDS secrets served by the agent.
 */
export function transportSocketJson(
  tls: TlsSettings,
  sniName: string,
  meta: TypedNodeMetadata,
  flag: string,
  delivery: CertDelivery = 'hot-restart',
): string {
  const metaPath = (key: string): string => (typeof meta[key] === 'string' ? (meta[key] as string) : '');
  const orDefault = (override: string, value: string): string => override || value;
  const istioMutual = tls.mode === 'ISTIO_MUTUAL';
  const { caCertificates, clientCertificate, privateKey } = remoteTlsFiles(tls);
  const validation = validationPart(
    caCertificates ? orDefault(metaPath('TLS_CLIENT_ROOT_CERT'), caCertificates) : '',
    tls.subjectAltNames,
    delivery,
  );

  let context: { common_tls_context: Record<string, unknown>; sni?: string };
  switch (tls.mode) {
    case 'DISABLE':
      return '';
    case 'SIMPLE':
      context = {
        common_tls_context: { alpn_protocols: ['h2'], ...validation },
        ...(tls.sni ? { sni: tls.sni } : {}),
      };
      break;
    case 'MUTUAL':
    case 'ISTIO_MUTUAL': {
      if (!clientCertificate || !privateKey) {
        // Istio logs an error and silently drops TLS for the service; we refuse instead.
        throw new AgentError(
          'bootstrap',
          `${flag}: tlsSettings mode ${tls.mode} needs both clientCertificate and privateKey`,
        );
      }
      const sni = tls.sni || (istioMutual ? sniName : '');
      const chain = orDefault(metaPath('TLS_CLIENT_CERT_CHAIN'), clientCertificate);
      const key = orDefault(metaPath('TLS_CLIENT_KEY'), privateKey);
      context = {
        common_tls_context: {
          // Istio: ALPN "istio" marks in-mesh mTLS (util.ALPNInMeshH2), plain MUTUAL offers h2 only.
          alpn_protocols: istioMutual ? ['istio', 'h2'] : ['h2'],
          ...(delivery === 'sds'
            ? {
                tls_certificate_sds_secret_configs: [sdsSecretConfig(fileCertName(chain, key))],
              }
            : {
                tls_certificates: [
                  { certificate_chain: { filename: chain }, private_key: { filename: key } },
                ],
              }),
          ...validation,
        },
        ...(sni ? { sni } : {}),
      };
      break;
    }
  }
  const socket = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      ...context,
    },
  };
  return jsonPreservingOrder(socket);
}

/** Istio's `keepaliveConverter`: whole seconds only, each field only when > 0. */
export function keepaliveJson(keepalive: TcpKeepalive): string {
  const tcp: Record<string, number> = {};
  if ((keepalive.probes ?? 0) > 0) tcp.keepalive_probes = keepalive.probes as number;
  const seconds = (ms: number | undefined): number => Math.trunc((ms ?? 0) / 1000);
  if (seconds(keepalive.timeMs) > 0) tcp.keepalive_time = seconds(keepalive.timeMs);
  if (seconds(keepalive.intervalMs) > 0) tcp.keepalive_interval = seconds(keepalive.intervalMs);
  return jsonPreservingOrder({ tcp_keepalive: tcp });
}

/**
 * Compact JSON in field (struct) order with Go's escaping — what `encoding/json` gives for a Go
 * struct, as opposed to a map (whose keys it sorts).
 */
function jsonPreservingOrder(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jsonPreservingOrder).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${goJsonMarshal(k)}:${jsonPreservingOrder(v)}`)
      .join(',')}}`;
  }
  return goJsonMarshal(value as GoValue);
}

/** An address option: absent when empty, else the socket-address text Istio's converter makes. */
function addressOption(name: string, address: string): string | undefined {
  if (!address) return undefined;
  const parsed = splitHostPort(address);
  if ('error' in parsed) {
    throw new AgentError('bootstrap', `unable to parse ${name} address "${address}": ${parsed.error}`);
  }
  // Istio pastes the port text as is: "fake:" gives `"port_value": }` (pinned by its own tests).
  return `{"address": "${parsed.host}", "port_value": ${parsed.port}}`;
}

/**
 * Istio's `PodIP` option: base64 of Go's `net.IP`, which `net.ParseIP` always makes 16 bytes long
 * (an IPv4 address in its IPv4-mapped IPv6 form, `::ffff:a.b.c.d`).
 */
export function podIpBase64(ip: string): string {
  const parsed = parseIp(ip);
  if (!parsed) throw new AgentError('bootstrap', `PodIP: "${ip}" is not an IP address`);
  return Buffer.from(ipBytes16(parsed)).toString('base64');
}
