/**
 * Bootstrap validation: the one seam between the simulator and the bootstrap schema.
 *
 * `validateBootstrap` answers what Envoy's static validation says about a parsed document:
 * `undefined` when it is accepted, else the reason Envoy puts after
 * `error initializing configuration '<path>': `. It is the project's one validator of Envoy's
 * v3 API (tools/envoy-api: the JSON mapping against the real protos, then the protoc-gen-validate
 * rules), worded as Envoy words it.
 *
 * `bootstrapFacts` reads the few things the simulated server acts on (admin address, which xDS
 * subscriptions exist, the stats flush interval, static listeners). It assumes a document that
 * `validateBootstrap` accepted.
 *
 * Protobuf's JSON parser accepts each field under its proto name (`static_resources`) and its
 * lowerCamelCase JSON name (`staticResources`); both are handled here.
 */
import { BOOTSTRAP_TYPE, envoyVerdict } from '../envoy-api/validate.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ValidateOptions {
  allowUnknownStaticFields: boolean;
  /**
   * Called when unknown fields are allowed and the document has some: Envoy then logs
   * `Unknown field: <description>` at warning level and counts `server.static_unknown_fields`
   * (once per document: the description names the first unknown field).
   */
  onUnknownField?: (description: string) => void;
}

function camel(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field by its proto name or its JSON (lowerCamelCase) name. */
export function field(obj: JsonObject, name: string): Json | undefined {
  if (name in obj) return obj[name];
  const alt = camel(name);
  return alt in obj ? obj[alt] : undefined;
}

/** A protobuf-JSON `Duration` (`"5s"`, `"0.250s"`, `"-1s"`) in milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(-)?([0-9]+)(?:\.([0-9]{1,9}))?s$/.exec(text);
  if (m === null) return undefined;
  const [, sign, seconds, fraction] = m;
  const ms = Number(seconds) * 1000 + (fraction === undefined ? 0 : Number(`0.${fraction}`) * 1000);
  return sign === '-' ? -ms : ms;
}

/**
 * The seam: Envoy's verdict on a parsed bootstrap. `undefined` = accepted; otherwise the reason
 * Envoy reports after `error initializing configuration '<path>': `.
 */
export function validateBootstrap(doc: Json, options: ValidateOptions): string | undefined {
  return envoyVerdict(BOOTSTRAP_TYPE, doc, options);
}

export type AdminAddress =
  | { kind: 'socket'; address: string; port: number }
  | { kind: 'pipe'; path: string; mode: number };

export interface XdsSubscription {
  configured: boolean;
  /** `initial_fetch_timeout` (default 15 s); 0 waits forever, as Istio configures it. */
  initialFetchTimeoutMs: number;
}

export interface StaticListener {
  name: string;
  address: string;
  port: number;
  direction: 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';
}

export interface BootstrapFacts {
  admin: AdminAddress | undefined;
  node: { id: string; cluster: string; zone: string };
  lds: XdsSubscription;
  cds: XdsSubscription;
  /** `ads_config` or any gRPC `api_config_source`: needs node id and cluster. */
  usesGrpcXds: boolean;
  statsFlushIntervalMs: number;
  statsFlushOnAdmin: boolean;
  flagsPath: string | undefined;
  staticListeners: StaticListener[];
  staticClusterCount: number;
}

const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

function subscription(
  dynamic: JsonObject | undefined,
  configName: string,
  locatorName: string,
): XdsSubscription {
  if (dynamic === undefined) return { configured: false, initialFetchTimeoutMs: 0 };
  const config = field(dynamic, configName);
  const locator = field(dynamic, locatorName);
  const configured = isObject(config) || (typeof locator === 'string' && locator !== '');
  const timeout = isObject(config) ? field(config, 'initial_fetch_timeout') : undefined;
  const ms = typeof timeout === 'string' ? parseDurationMs(timeout) : undefined;
  return { configured, initialFetchTimeoutMs: ms ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS };
}

function text(value: Json | undefined): string {
  return typeof value === 'string' ? value : '';
}

function staticListeners(doc: JsonObject): StaticListener[] {
  const statics = field(doc, 'static_resources');
  const listeners = isObject(statics) ? field(statics, 'listeners') : undefined;
  if (!Array.isArray(listeners)) return [];
  const result: StaticListener[] = [];
  for (const listener of listeners) {
    if (!isObject(listener)) continue;
    const address = field(listener, 'address');
    const socket = isObject(address) ? field(address, 'socket_address') : undefined;
    if (!isObject(socket)) continue;
    const host = text(field(socket, 'address'));
    const port = Number(field(socket, 'port_value') ?? 0);
    const direction = text(field(listener, 'traffic_direction')).toUpperCase();
    result.push({
      name: text(field(listener, 'name')) || `${host}_${port}`,
      address: host,
      port: Number.isInteger(port) ? port : 0,
      direction: direction === 'INBOUND' || direction === 'OUTBOUND' ? direction : 'UNSPECIFIED',
    });
  }
  return result;
}

export function bootstrapFacts(doc: JsonObject): BootstrapFacts {
  const adminObj = field(doc, 'admin');
  const addressObj = isObject(adminObj) ? field(adminObj, 'address') : undefined;
  let admin: AdminAddress | undefined;
  if (isObject(addressObj)) {
    const socket = field(addressObj, 'socket_address');
    const pipe = field(addressObj, 'pipe');
    if (isObject(socket)) {
      admin = {
        kind: 'socket',
        address: text(field(socket, 'address')),
        port: Number(field(socket, 'port_value') ?? 0),
      };
    } else if (isObject(pipe)) {
      admin = { kind: 'pipe', path: text(field(pipe, 'path')), mode: Number(field(pipe, 'mode') ?? 0) };
    }
  }
  const nodeObj = field(doc, 'node');
  const node = isObject(nodeObj) ? nodeObj : {};
  const locality = field(node, 'locality');
  const dynamicObj = field(doc, 'dynamic_resources');
  const dynamic = isObject(dynamicObj) ? dynamicObj : undefined;
  const lds = subscription(dynamic, 'lds_config', 'lds_resources_locator');
  const cds = subscription(dynamic, 'cds_config', 'cds_resources_locator');
  const usesGrpcXds =
    (dynamic !== undefined && isObject(field(dynamic, 'ads_config'))) ||
    JSON.stringify(dynamic ?? {}).includes('"api_type"');
  const flush = field(doc, 'stats_flush_interval');
  const statics = field(doc, 'static_resources');
  const clusters = isObject(statics) ? field(statics, 'clusters') : undefined;
  const flagsPath = field(doc, 'flags_path');
  return {
    admin,
    node: {
      id: text(field(node, 'id')),
      cluster: text(field(node, 'cluster')),
      zone: isObject(locality) ? text(field(locality, 'zone')) : '',
    },
    lds,
    cds,
    usesGrpcXds,
    statsFlushIntervalMs: (typeof flush === 'string' ? parseDurationMs(flush) : undefined) ?? 5000,
    statsFlushOnAdmin: field(doc, 'stats_flush_on_admin') === true,
    flagsPath: typeof flagsPath === 'string' && flagsPath !== '' ? flagsPath : undefined,
    staticListeners: staticListeners(doc),
    staticClusterCount: Array.isArray(clusters) ? clusters.length : 0,
  };
}
