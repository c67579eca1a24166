/**
 * What the agent's configuration, its bootstrap and its SDS server must agree on, as plain data
 * (the main bundle imports this module; the SDS runtime is `index.ts`, loaded on demand):
 * Istio's socket path and secret names, and the bootstrap pieces that point Envoy at the socket.
 *
 * Names (`pkg/security/security.go`): `default` (`WorkloadKeyCertResourceName`), `ROOTCA`
 * (`RootCertReqResourceName`), `file-cert:<chain>~<key>` and `file-root:<ca>`
 * (`SdsCertificateConfig.GetResourceName` / `GetRootResourceName`, `ResourceSeparator = "~"`).
 *
 * Bootstrap pieces, in Envoy's v3 API, after
 * Istio's bootstrap template (`tools/packaging/common/envoy_bootstrap.json`, the `sds-grpc`
 * cluster and the `sds_config` of its TLS contexts):
 * - the `sds-grpc` cluster: STATIC, HTTP/2 (gRPC) through `typed_extension_protocol_options`
 *   `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`, `connect_timeout` 1s, one endpoint
 *   whose address is a `pipe` to the socket;
 * - `sds_config`: a gRPC `api_config_source` on that cluster, v3 transport and resources, the
 *   node sent on the first request of a stream only; optionally an `initial_fetch_timeout` (Envoy's
 *   default is 15 s; Istio's pilot gives `default` and `ROOTCA` `0s`, wait forever:
 *   `pilot/pkg/security/model/authentication.go` `ConstructSdsSecretConfig`);
 * - `SdsSecretConfig`: a secret name with that `sds_config`, for `tls_certificate_sds_secret_configs`
 *   and `validation_context_sds_secret_config` of a `CommonTlsContext`.
 * Pure functions of the socket path and names.
 */

/** Istio's `LocalSDS` (`pkg/istio-agent`), relative to the working directory. */
export const DEFAULT_SDS_SOCKET_PATH = './etc/istio/proxy/SDS';

/** Istio's `WorkloadKeyCertResourceName`: the workload's chain and key. */
export const WORKLOAD_SECRET = 'default';
/** Istio's `RootCertReqResourceName`: the workload's trusted root. */
export const ROOT_SECRET = 'ROOTCA';
export const FILE_CERT_PREFIX = 'file-cert:';
export const FILE_ROOT_PREFIX = 'file-root:';
/** Istio's `ResourceSeparator` between the chain and key paths of a `file-cert:` name. */
export const SDS_NAME_SEPARATOR = '~';

/** The name of a TLS certificate made of two files. */
export function fileCertName(certChain: string, key: string): string {
  return `${FILE_CERT_PREFIX}${certChain}${SDS_NAME_SEPARATOR}${key}`;
}

/** The name of a validation context whose trusted CA is a file. */
export function fileRootName(ca: string): string {
  return `${FILE_ROOT_PREFIX}${ca}`;
}

export const SDS_CLUSTER_NAME = 'sds-grpc';

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** The cluster; `P` is the socket path's type (a string, or a template parameter). */
export type SdsGrpcCluster<P = string> = {
  name: typeof SDS_CLUSTER_NAME;
  type: 'STATIC';
  typed_extension_protocol_options: {
    [HTTP_PROTOCOL_OPTIONS]: {
      '@type': `type.googleapis.com/${typeof HTTP_PROTOCOL_OPTIONS}`;
      explicit_http_config: { http2_protocol_options: Record<string, never> };
    };
  };
  connect_timeout: '1s';
  lb_policy: 'ROUND_ROBIN';
  load_assignment: {
    cluster_name: typeof SDS_CLUSTER_NAME;
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: P } } } }] }];
  };
};

export type SdsConfig = {
  api_config_source: {
    api_type: 'GRPC';
    transport_api_version: 'V3';
    grpc_services: [{ envoy_grpc: { cluster_name: typeof SDS_CLUSTER_NAME } }];
    set_node_on_first_message_only: true;
  };
  /** A protobuf-JSON duration such as "0s"; Envoy's default (absent) is 15 s. */
  initial_fetch_timeout?: string;
  resource_api_version: 'V3';
};

export type SdsConfigOptions = {
  /** `initial_fetch_timeout` as a protobuf-JSON duration ("0s": wait for the secret forever). */
  initialFetchTimeout?: string;
};

export type SdsSecretConfig = {
  name: string;
  sds_config: SdsConfig;
};

/** The static cluster through which Envoy reaches the SDS socket at `socketPath`. */
export function sdsGrpcCluster<P = string>(socketPath: P): SdsGrpcCluster<P> {
  return {
    name: SDS_CLUSTER_NAME,
    type: 'STATIC',
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: SDS_CLUSTER_NAME,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socketPath } } } }] }],
    },
  };
}

/** The `ConfigSource` of the secrets the agent serves. */
export function sdsConfig(options: SdsConfigOptions = {}): SdsConfig {
  return {
    api_config_source: {
      api_type: 'GRPC',
      transport_api_version: 'V3',
      grpc_services: [{ envoy_grpc: { cluster_name: SDS_CLUSTER_NAME } }],
      set_node_on_first_message_only: true,
    },
    ...(options.initialFetchTimeout === undefined
      ? {}
      : { initial_fetch_timeout: options.initialFetchTimeout }),
    resource_api_version: 'V3',
  };
}

/** A reference to the secret `name` served by the agent. */
export function sdsSecretConfig(name: string, options: SdsConfigOptions = {}): SdsSecretConfig {
  return { name, sds_config: sdsConfig(options) };
}
