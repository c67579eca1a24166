/**
 * Bootstrap validation: the one seam between the simulator and a bootstrap schema.
 *
 * `validateBootstrap` answers what Envoy's static validation (protobuf JSON parsing with unknown
 * fields rejected, then protoc-gen-validate rules) would say about a parsed document: `undefined`
 * when it is accepted, else the reason Envoy puts after
 * `error initializing configuration '<path>': `. The checks here are structural only (known
 * v3 `Bootstrap` field names, no v2 `@type`s, the admin address shape, node id/cluster types); a
 * full protobuf-schema validator is being written elsewhere and will replace the body of this
 * function without changing its signature.
 *
 * `bootstrapFacts` reads the few things the simulated server acts on (admin address, which xDS
 * subscriptions exist, the stats flush interval, static listeners). It assumes a document that
 * `validateBootstrap` accepted.
 *
 * Protobuf's JSON parser accepts each field under its proto name (`static_resources`) and its
 * lowerCamelCase JSON name (`staticResources`); both are handled here.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ValidateOptions {
  allowUnknownStaticFields: boolean;
  /**
   * Called for each unknown field when they are allowed: Envoy then logs
   * `Unknown field: <description>` at warning level and counts `server.static_unknown_fields`.
   */
  onUnknownField?: (description: string) => void;
}

const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

/** `envoy.config.bootstrap.v3.Bootstrap` fields (data-plane-api, 2026). `runtime` is reserved. */
const BOOTSTRAP_FIELDS = [
  'node',
  'node_context_params',
  'static_resources',
  'dynamic_resources',
  'cluster_manager',
  'hds_config',
  'flags_path',
  'stats_sinks',
  'deferred_stat_options',
  'stats_config',
  'stats_flush_interval',
  'stats_flush_on_admin',
  'stats_eviction_interval',
  'watchdog',
  'watchdogs',
  'tracing',
  'layered_runtime',
  'admin',
  'overload_manager',
  'enable_dispatcher_stats',
  'header_prefix',
  'stats_server_version_override',
  'use_tcp_for_dns_lookups',
  'dns_resolution_config',
  'typed_dns_resolver_config',
  'bootstrap_extensions',
  'fatal_actions',
  'config_sources',
  'default_config_source',
  'default_socket_interface',
  'certificate_provider_instances',
  'inline_headers',
  'perf_tracing_file_path',
  'default_regex_engine',
  'xds_delegate_extension',
  'xds_config_tracker_extension',
  'listener_manager',
  'application_log_config',
  'grpc_async_client_manager_config',
  'memory_allocator_manager',
];

interface MessageShape {
  type: string;
  fields: readonly string[];
}

const SHAPES = {
  admin: {
    type: 'envoy.config.bootstrap.v3.Admin',
    fields: [
      'access_log',
      'access_log_path',
      'profile_path',
      'address',
      'socket_options',
      'ignore_global_conn_limit',
      'allow_paths',
    ],
  },
  address: {
    type: 'envoy.config.core.v3.Address',
    fields: ['socket_address', 'pipe', 'envoy_internal_address'],
  },
  socketAddress: {
    type: 'envoy.config.core.v3.SocketAddress',
    fields: [
      'protocol',
      'address',
      'port_value',
      'named_port',
      'resolver_name',
      'ipv4_compat',
      'network_namespace_filepath',
    ],
  },
  pipe: { type: 'envoy.config.core.v3.Pipe', fields: ['path', 'mode'] },
  node: {
    type: 'envoy.config.core.v3.Node',
    fields: [
      'id',
      'cluster',
      'metadata',
      'dynamic_parameters',
      'locality',
      'user_agent_name',
      'user_agent_version',
      'user_agent_build_version',
      'extensions',
      'client_features',
      'listening_addresses',
    ],
  },
  locality: { type: 'envoy.config.core.v3.Locality', fields: ['region', 'zone', 'sub_zone'] },
  dynamicResources: {
    type: 'envoy.config.bootstrap.v3.Bootstrap.DynamicResources',
    fields: ['lds_config', 'lds_resources_locator', 'cds_config', 'cds_resources_locator', 'ads_config'],
  },
  staticResources: {
    type: 'envoy.config.bootstrap.v3.Bootstrap.StaticResources',
    fields: ['listeners', 'clusters', 'secrets'],
  },
} satisfies Record<string, MessageShape>;

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

class Rejection extends Error {}

function parseFailure(path: string, detail: string, doc: Json): Rejection {
  const where = path === '' ? '' : `(${path}): `;
  return new Rejection(
    `Unable to parse JSON as proto (INVALID_ARGUMENT:${where}${detail}): ${JSON.stringify(doc)}`,
  );
}

/** protoc-gen-validate's nested error chain, as `MessageUtil::validate` reports it. */
function constraintFailure(chain: readonly [string, string][], reason: string): Rejection {
  const parts = chain.map(([type, fieldName], i) => {
    const short = type.slice(type.lastIndexOf('.') + 1);
    const pascal = camel(fieldName).replace(/^./, (c) => c.toUpperCase());
    const head = `${short}ValidationError.${pascal}`;
    return i < chain.length - 1 ? `${head}: embedded message failed validation` : `${head}: ${reason}`;
  });
  return new Rejection(`Proto constraint validation failed (${parts.join(' | caused by ')})`);
}

class Checker {
  constructor(
    private readonly doc: Json,
    private readonly options: ValidateOptions,
  ) {}

  unknownFields(obj: JsonObject, shape: MessageShape, path: string): void {
    const known = new Set<string>();
    for (const f of shape.fields) {
      known.add(f);
      known.add(camel(f));
    }
    for (const key of Object.keys(obj)) {
      if (known.has(key)) continue;
      const where = path === '' ? '' : `(${path}) `;
      const description = `type ${BOOTSTRAP_TYPE} reason INVALID_ARGUMENT:${where}${key}: Cannot find field.`;
      if (!this.options.allowUnknownStaticFields) {
        throw new Rejection(`Protobuf message (${description}) has unknown fields`);
      }
      this.options.onUnknownField?.(description);
    }
  }

  message(value: Json | undefined, path: string): JsonObject | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isObject(value))
      throw parseFailure(path, `invalid value ${JSON.stringify(value)} for type TYPE_MESSAGE`, this.doc);
    return value;
  }

  string(value: Json | undefined, path: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      throw parseFailure(path, `invalid value ${JSON.stringify(value)} for type TYPE_STRING`, this.doc);
    }
    return value;
  }

  uint32(value: Json | undefined, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    // Protobuf's JSON parser takes integers as numbers or as decimal strings.
    const n = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw parseFailure(path, `invalid value ${JSON.stringify(value)} for type TYPE_UINT32`, this.doc);
    }
    return n;
  }

  duration(value: Json | undefined, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    const ms = typeof value === 'string' ? parseDurationMs(value) : undefined;
    if (ms === undefined)
      throw parseFailure(path, `invalid value ${JSON.stringify(value)} for type TYPE_MESSAGE`, this.doc);
    return ms;
  }

  /** Any `@type` naming a v2 message: those types are no longer linked into Envoy. */
  noV2Types(value: Json, path: string): void {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        this.noV2Types(item, `${path}[${i}]`);
      });
      return;
    }
    if (!isObject(value)) return;
    const typeUrl = value['@type'];
    if (typeof typeUrl === 'string') {
      const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
      if (isV2Type(typeName)) {
        throw parseFailure(
          path,
          `invalid value Invalid type URL, unknown type: ${typeName} for type Any`,
          this.doc,
        );
      }
    }
    for (const [key, child] of Object.entries(value)) {
      if (key !== '@type') this.noV2Types(child, path === '' ? key : `${path}.${key}`);
    }
  }

  check(): void {
    const doc = this.doc;
    if (!isObject(doc)) throw parseFailure('', 'Root element must be a message.', doc);
    this.unknownFields(doc, { type: BOOTSTRAP_TYPE, fields: BOOTSTRAP_FIELDS }, '');
    this.noV2Types(doc, '');

    const node = this.message(field(doc, 'node'), 'node');
    if (node !== undefined) {
      this.unknownFields(node, SHAPES.node, 'node');
      this.string(field(node, 'id'), 'node.id');
      this.string(field(node, 'cluster'), 'node.cluster');
      this.message(field(node, 'metadata'), 'node.metadata');
      const locality = this.message(field(node, 'locality'), 'node.locality');
      if (locality !== undefined) this.unknownFields(locality, SHAPES.locality, 'node.locality');
    }

    const dynamic = this.message(field(doc, 'dynamic_resources'), 'dynamic_resources');
    if (dynamic !== undefined) {
      this.unknownFields(dynamic, SHAPES.dynamicResources, 'dynamic_resources');
      for (const name of ['lds_config', 'cds_config', 'ads_config']) {
        this.message(field(dynamic, name), `dynamic_resources.${name}`);
      }
    }
    const statics = this.message(field(doc, 'static_resources'), 'static_resources');
    if (statics !== undefined) this.unknownFields(statics, SHAPES.staticResources, 'static_resources');

    const flush = this.duration(field(doc, 'stats_flush_interval'), 'stats_flush_interval');
    if (flush !== undefined && (flush < 1 || flush >= 300_000)) {
      // bootstrap.proto: `duration = {lt {seconds: 300} gte {nanos: 1000000}}`.
      throw constraintFailure(
        [[BOOTSTRAP_TYPE, 'stats_flush_interval']],
        'value must be inside range [1ms, 5m0s)',
      );
    }

    const admin = this.message(field(doc, 'admin'), 'admin');
    if (admin !== undefined) this.checkAdmin(admin);
  }

  private checkAdmin(admin: JsonObject): void {
    this.unknownFields(admin, SHAPES.admin, 'admin');
    this.string(field(admin, 'access_log_path'), 'admin.access_log_path');
    const address = this.message(field(admin, 'address'), 'admin.address');
    if (address === undefined) return;
    this.unknownFields(address, SHAPES.address, 'admin.address');
    const chain: [string, string][] = [
      [BOOTSTRAP_TYPE, 'admin'],
      [SHAPES.admin.type, 'address'],
    ];
    const set = SHAPES.address.fields.filter(
      (f) => field(address, f) !== undefined && field(address, f) !== null,
    );
    if (set.length > 1) throw parseFailure('admin.address', 'oneof field "address" is already set', this.doc);
    if (set.length === 0) {
      throw constraintFailure([...chain, [SHAPES.address.type, 'address']], 'value is required');
    }
    const pipe = this.message(field(address, 'pipe'), 'admin.address.pipe');
    if (pipe !== undefined) {
      this.unknownFields(pipe, SHAPES.pipe, 'admin.address.pipe');
      const path = this.string(field(pipe, 'path'), 'admin.address.pipe.path') ?? '';
      if (path === '') {
        throw constraintFailure(
          [...chain, [SHAPES.address.type, 'pipe'], [SHAPES.pipe.type, 'path']],
          'value length must be at least 1 characters',
        );
      }
      const mode = this.uint32(field(pipe, 'mode'), 'admin.address.pipe.mode');
      if (mode !== undefined && mode > 0o777) {
        throw constraintFailure(
          [...chain, [SHAPES.address.type, 'pipe'], [SHAPES.pipe.type, 'mode']],
          'value must be less than or equal to 511',
        );
      }
      return;
    }
    const socket = this.message(field(address, 'socket_address'), 'admin.address.socket_address');
    if (socket === undefined) return;
    const socketChain: [string, string][] = [...chain, [SHAPES.address.type, 'socket_address']];
    this.unknownFields(socket, SHAPES.socketAddress, 'admin.address.socket_address');
    const host = this.string(field(socket, 'address'), 'admin.address.socket_address.address') ?? '';
    if (host === '') {
      throw constraintFailure(
        [...socketChain, [SHAPES.socketAddress.type, 'address']],
        'value length must be at least 1 characters',
      );
    }
    const protocol = field(socket, 'protocol');
    // Enum names match case-insensitively in Envoy's JSON loading; numbers are the enum values.
    const protocolOk =
      protocol === undefined ||
      protocol === null ||
      (typeof protocol === 'string' && ['TCP', 'UDP'].includes(protocol.toUpperCase())) ||
      protocol === 0 ||
      protocol === 1;
    if (!protocolOk) {
      throw parseFailure(
        'admin.address.socket_address.protocol',
        `invalid value ${JSON.stringify(protocol)} for type TYPE_ENUM`,
        this.doc,
      );
    }
    const port = this.uint32(field(socket, 'port_value'), 'admin.address.socket_address.port_value');
    if (port !== undefined && port > 65535) {
      throw constraintFailure(
        [...socketChain, [SHAPES.socketAddress.type, 'port_value']],
        'value must be less than or equal to 65535',
      );
    }
    this.string(field(socket, 'named_port'), 'admin.address.socket_address.named_port');
  }
}

/** Types from the v2 API (`envoy.api.v2.*`, `envoy.config.*.v2*.*`), removed in Envoy 1.18. */
export function isV2Type(typeName: string): boolean {
  return (
    /^envoy\.api\.v2(alpha|beta\d*)?\./.test(typeName) ||
    /^envoy\.config\.(?:[a-z0-9_]+\.)*v2(alpha\d*|beta\d*)?\./.test(typeName)
  );
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
  try {
    new Checker(doc, options).check();
    return undefined;
  } catch (err) {
    if (err instanceof Rejection) return err.message;
    throw err;
  }
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
