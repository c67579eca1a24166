/**
 * Which SDS secrets a bootstrap makes Envoy subscribe to, and which static clusters and listeners
 * wait for them. Pure: reads the parsed bootstrap (either protobuf-JSON spelling of field names).
 *
 * Envoy (`source/common/secret/secret_manager_impl.cc`) keeps one `SdsApi` per kind (TLS
 * certificate or validation context), config source and secret name: a secret referenced by
 * several TLS contexts through the same `sds_config` is fetched once, on one gRPC stream of its
 * own (`api_config_source` gives each subscription its own mux,
 * `source/extensions/config_subscription/grpc/grpc_subscription_factory.cc`).
 *
 * Read from `CommonTlsContext`: `tls_certificate_sds_secret_configs`,
 * `validation_context_sds_secret_config` and `combined_validation_context`'s, in the
 * `transport_socket` (and `transport_socket_matches`) of static clusters and in the filter chains
 * (and `default_filter_chain`) of static listeners. Simulated sources: a gRPC `api_config_source`
 * whose `envoy_grpc` cluster is a static cluster with a `pipe` or `socket_address` endpoint.
 * Secrets without `sds_config` (static secrets), from ADS or from files are not simulated.
 */
import { field, isObject, type Json, type JsonObject, parseDurationMs } from './validate-bootstrap.js';

export type SecretKind = 'tls_certificate' | 'validation_context';

/** One `SdsApi`: a secret fetched on its own stream. */
export interface SdsSubscriptionFacts {
  /** Unique per kind, config source and name. */
  key: string;
  kind: SecretKind;
  name: string;
  /** The cluster named by `envoy_grpc`. */
  clusterName: string;
  /** gRPC target: `unix:<path>` or `<host>:<port>`. */
  target: string;
  /** `initial_fetch_timeout` (default 15 s); 0 waits forever. */
  initialFetchTimeoutMs: number;
  /** `set_node_on_first_message_only`. */
  nodeOnFirstMessageOnly: boolean;
}

/** A TLS context (one transport socket) and the secrets it needs before Envoy can build it. */
export interface TlsContextFacts {
  owner: 'cluster' | 'listener';
  ownerName: string;
  /** Subscription keys. */
  certificates: string[];
  validation: string | undefined;
}

export interface SdsFacts {
  subscriptions: SdsSubscriptionFacts[];
  contexts: TlsContextFacts[];
  /** Subscriptions that static clusters wait for (they hold the cluster manager's initialization). */
  clusterKeys: string[];
  /** Subscriptions that static listeners wait for (they hold the server's init manager). */
  listenerKeys: string[];
}

const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

/** Envoy's exception text for an `api_config_source` naming a cluster it cannot use. */
export function backingClusterError(name: string): string {
  return `envoy.config.core.v3.ApiConfigSource must have a statically defined non-EDS cluster: '${name}' does not exist, was added via api, or is an EDS cluster`;
}

/** A configuration error found while reading SDS references (Envoy throws at start-up). */
export class SdsConfigError extends Error {}

function list(value: Json | undefined): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function obj(value: Json | undefined): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

function text(value: Json | undefined): string {
  return typeof value === 'string' ? value : '';
}

/** JSON with sorted keys: equal config sources get equal keys (Envoy hashes the message). */
function canonical(value: Json | undefined): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The gRPC target of a static cluster's first endpoint. */
function clusterTarget(cluster: JsonObject): string | undefined {
  const assignment = obj(field(cluster, 'load_assignment'));
  const endpoint = list(field(assignment ?? {}, 'endpoints'))[0];
  const lb = list(field(endpoint ?? {}, 'lb_endpoints'))[0];
  const address = obj(field(obj(field(lb ?? {}, 'endpoint')) ?? {}, 'address'));
  if (address === undefined) return undefined;
  const pipe = obj(field(address, 'pipe'));
  if (pipe !== undefined) return `unix:${text(field(pipe, 'path'))}`;
  const socket = obj(field(address, 'socket_address'));
  if (socket === undefined) return undefined;
  const host = text(field(socket, 'address'));
  const port = Number(field(socket, 'port_value') ?? 0);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function sdsFacts(doc: JsonObject): SdsFacts {
  const statics = obj(field(doc, 'static_resources')) ?? {};
  const clusters = list(field(statics, 'clusters'));
  const listeners = list(field(statics, 'listeners'));
  const staticClusters = new Map(clusters.map((c) => [text(field(c, 'name')), c]));
  const subscriptions = new Map<string, SdsSubscriptionFacts>();
  const contexts: TlsContextFacts[] = [];
  const clusterKeys = new Set<string>();
  const listenerKeys = new Set<string>();

  /** The subscription for an `SdsSecretConfig`, or undefined when it is not simulated. */
  const subscribe = (config: JsonObject, kind: SecretKind): string | undefined => {
    const name = text(field(config, 'name'));
    const source = obj(field(config, 'sds_config'));
    const api = obj(field(source ?? {}, 'api_config_source'));
    if (source === undefined || api === undefined) return undefined;
    if (text(field(api, 'api_type')).toUpperCase() !== 'GRPC') return undefined;
    const service = list(field(api, 'grpc_services'))[0];
    const envoyGrpc = obj(field(service ?? {}, 'envoy_grpc'));
    if (envoyGrpc === undefined) return undefined;
    const clusterName = text(field(envoyGrpc, 'cluster_name'));
    const cluster = staticClusters.get(clusterName);
    const target = cluster === undefined ? undefined : clusterTarget(cluster);
    if (target === undefined) throw new SdsConfigError(backingClusterError(clusterName));
    const key = `${kind}\n${canonical(source)}\n${name}`;
    if (!subscriptions.has(key)) {
      const timeout = field(source, 'initial_fetch_timeout');
      subscriptions.set(key, {
        key,
        kind,
        name,
        clusterName,
        target,
        initialFetchTimeoutMs:
          (typeof timeout === 'string' ? parseDurationMs(timeout) : undefined) ??
          DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
        nodeOnFirstMessageOnly: field(api, 'set_node_on_first_message_only') === true,
      });
    }
    return key;
  };

  const readContext = (
    socket: JsonObject | undefined,
    owner: 'cluster' | 'listener',
    ownerName: string,
  ): void => {
    const typed = obj(field(socket ?? {}, 'typed_config'));
    const type = text(field(typed ?? {}, '@type'));
    if (typed === undefined || !/\.(Upstream|Downstream)TlsContext$/.test(type)) return;
    const common = obj(field(typed, 'common_tls_context'));
    if (common === undefined) return;
    const certificates = list(field(common, 'tls_certificate_sds_secret_configs'))
      .map((c) => subscribe(c, 'tls_certificate'))
      .filter((k): k is string => k !== undefined);
    const combined = obj(field(common, 'combined_validation_context'));
    const validationConfig =
      obj(field(common, 'validation_context_sds_secret_config')) ??
      obj(field(combined ?? {}, 'validation_context_sds_secret_config'));
    const validation =
      validationConfig === undefined ? undefined : subscribe(validationConfig, 'validation_context');
    if (certificates.length === 0 && validation === undefined) return;
    contexts.push({ owner, ownerName, certificates, validation });
    const keys = owner === 'cluster' ? clusterKeys : listenerKeys;
    for (const k of [...certificates, ...(validation === undefined ? [] : [validation])]) keys.add(k);
  };

  for (const cluster of clusters) {
    const name = text(field(cluster, 'name'));
    readContext(obj(field(cluster, 'transport_socket')), 'cluster', name);
    for (const match of list(field(cluster, 'transport_socket_matches'))) {
      readContext(obj(field(match, 'transport_socket')), 'cluster', name);
    }
  }
  for (const listener of listeners) {
    const name = text(field(listener, 'name'));
    const chains = [...list(field(listener, 'filter_chains'))];
    const fallback = obj(field(listener, 'default_filter_chain'));
    if (fallback !== undefined) chains.push(fallback);
    for (const chain of chains) readContext(obj(field(chain, 'transport_socket')), 'listener', name);
  }
  return {
    subscriptions: [...subscriptions.values()],
    contexts,
    clusterKeys: [...clusterKeys],
    listenerKeys: [...listenerKeys],
  };
}
