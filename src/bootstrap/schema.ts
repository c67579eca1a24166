/**
 * Checks an Envoy v3 bootstrap (as parsed JSON) against the real API definitions, the way Envoy's
 * JSON loader would: the `.proto` files shipped by `@grpc/grpc-js-xds` (data-plane-api, xds, udpa,
 * protoc-gen-validate) are loaded with protobufjs and the document is walked against the reflected
 * types. protobufjs itself cannot do this (its `fromObject` silently drops unknown fields and knows
 * no JSON forms of the well-known types), hence the walk.
 *
 * Rules, after the proto3 JSON mapping and Envoy's loader (`MessageUtil::loadFromJson`):
 * - fields by proto name or lowerCamelCase JSON name; anything else is `unknown field` (Envoy
 *   without `--allow-unknown-static-fields`); the same field twice, or two members of a oneof, is an
 *   error; `null` means "not set";
 * - `google.protobuf.Any`: `@type` must name a type in the loaded protos; v2 types
 *   (`envoy.api.v2.*`, `envoy.config.*.v2*`) are rejected as current Envoy does;
 * - enums by name, case-insensitively (Envoy parses enums case-insensitively), or by defined number;
 * - Duration as `"1.5s"`, Timestamp as RFC 3339, wrappers as bare scalars, Struct/Value/ListValue
 *   as any JSON, 64-bit integers as numbers or decimal strings, bytes as base64;
 * - repeated fields as arrays, maps as objects with keys valid for the key type.
 * protoc-gen-validate constraints (`min_len`, `gt`, …) are not enforced.
 *
 * The protos are loaded on first use (about 100 files, well under a second) and cached.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

/** Files whose types a bootstrap may reference: the Bootstrap itself and common `@type` extensions. */
const ROOT_FILES = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/grpc/v3/als.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/datadog.proto',
  'envoy/config/trace/v3/lightstep.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/config/metrics/v3/stats.proto',
  'envoy/config/metrics/v3/metrics_service.proto',
  'udpa/type/v1/typed_struct.proto',
  'xds/type/v3/typed_struct.proto',
];

const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

let cachedRoot: protobuf.Root | undefined;

/** The loaded API (lazily, once per process). */
export function envoyApiRoot(): protobuf.Root {
  cachedRoot ??= loadEnvoyProtos(ROOT_FILES);
  return cachedRoot;
}

/**
 * Loads `.proto` files of Envoy's API (paths such as `envoy/service/discovery/v3/discovery.proto`)
 * and everything they import, with protobufjs, field names as in the .proto files.
 */
export function loadEnvoyProtos(files: readonly string[]): protobuf.Root {
  const require = createRequire(import.meta.url);
  const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  // google/protobuf/descriptor.proto (imported by the annotation protos) ships with protobufjs.
  const includeDirs = [
    path.join(deps, 'envoy-api'),
    path.join(deps, 'xds'),
    path.join(deps, 'protoc-gen-validate'),
    path.join(deps, 'googleapis'),
    path.dirname(require.resolve('protobufjs/package.json')),
  ];
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return existsSync(target) ? target : null;
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

export interface ValidateOptions {
  /**
   * Envoy's `--allow-unknown-static-fields`: unknown fields are not errors; each one's path goes to
   * `onUnknownField` instead (Envoy logs it and counts `server.static_unknown_fields`).
   */
  allowUnknownFields?: boolean;
  onUnknownField?: (path: string) => void;
}

/** Errors for `doc` as an Envoy v3 Bootstrap; empty when Envoy's JSON loader would accept it. */
export function validateBootstrapV3(doc: unknown, options: ValidateOptions = {}): string[] {
  return validateEnvoyJson(BOOTSTRAP_TYPE, doc, options);
}

/** Errors for `doc` as the JSON form of the message `typeName` (e.g. `envoy.config.cluster.v3.Cluster`). */
export function validateEnvoyJson(typeName: string, doc: unknown, options: ValidateOptions = {}): string[] {
  const root = envoyApiRoot();
  const walk: Walk = { root, errors: [], options };
  walkMessage(walk, root.lookupType(typeName), doc, '');
  return walk.errors;
}

type Json = unknown;

/** One validation: the API, the errors found so far, the caller's options. */
interface Walk {
  root: protobuf.Root;
  errors: string[];
  options: ValidateOptions;
}

function join(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

function at(p: string): string {
  return p === '' ? '(root)' : p;
}

function kind(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const V2_TYPE = /^envoy\.(api\.v2|config\.[a-z0-9_.]+\.v2(alpha\d*)?|service\.[a-z0-9_.]+\.v2(alpha\d*)?)\./;

function walkMessage(w: Walk, type: protobuf.Type, value: Json, p: string): void {
  const special = WELL_KNOWN[type.fullName.replace(/^\./, '')];
  if (special) {
    const problem = special(value);
    if (problem) w.errors.push(`${at(p)}: ${problem}`);
    return;
  }
  if (type.fullName === '.google.protobuf.Any') {
    walkAny(w, value, p);
    return;
  }
  if (!isObject(value)) {
    w.errors.push(`${at(p)}: expected an object (${type.name}), got ${kind(value)}`);
    return;
  }
  walkFields(w, type, value, p, new Set());
}

function walkFields(
  w: Walk,
  type: protobuf.Type,
  value: Record<string, Json>,
  p: string,
  skip: ReadonlySet<string>,
): void {
  const seen = new Map<string, string>();
  const oneofs = new Map<string, string>();
  for (const [key, fieldValue] of Object.entries(value)) {
    if (skip.has(key)) continue;
    const fp = join(p, key);
    const field = type.fields[key] ?? type.fieldsArray.find((f) => f.jsonName === key);
    if (!field) {
      if (w.options.allowUnknownFields) w.options.onUnknownField?.(fp);
      else w.errors.push(`${fp}: unknown field`);
      continue;
    }
    const earlier = seen.get(field.name);
    if (earlier !== undefined) {
      w.errors.push(`${fp}: field given twice (also as "${earlier}")`);
      continue;
    }
    seen.set(field.name, key);
    if (fieldValue === null && field.resolvedType?.fullName !== '.google.protobuf.Value') continue;
    const oneof = field.partOf;
    if (oneof) {
      const other = oneofs.get(oneof.name);
      if (other !== undefined) w.errors.push(`${fp}: oneof "${oneof.name}" already set by "${other}"`);
      else oneofs.set(oneof.name, key);
    }
    walkField(w, field, fieldValue, fp);
  }
}

function walkField(w: Walk, field: protobuf.Field, value: Json, p: string): void {
  if (field instanceof protobuf.MapField) {
    if (!isObject(value)) {
      w.errors.push(`${p}: expected an object (map), got ${kind(value)}`);
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      const keyProblem = checkMapKey(field.keyType, k);
      if (keyProblem) w.errors.push(`${p}["${k}"]: ${keyProblem}`);
      walkSingle(w, field, v, `${p}["${k}"]`);
    }
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) {
      w.errors.push(`${p}: expected an array, got ${kind(value)}`);
      return;
    }
    value.forEach((item, i) => {
      walkSingle(w, field, item, `${p}[${i}]`);
    });
    return;
  }
  walkSingle(w, field, value, p);
}

function walkSingle(w: Walk, field: protobuf.Field, value: Json, p: string): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    walkMessage(w, resolved, value, p);
    return;
  }
  const problem =
    resolved instanceof protobuf.Enum ? checkEnum(resolved, value) : checkScalar(field.type, value);
  if (problem) w.errors.push(`${p}: ${problem}`);
}

function walkAny(w: Walk, value: Json, p: string): void {
  if (!isObject(value)) {
    w.errors.push(`${at(p)}: expected an object (Any), got ${kind(value)}`);
    return;
  }
  const url = value['@type'];
  if (typeof url !== 'string' || !url.includes('/')) {
    w.errors.push(`${join(p, '@type')}: missing or malformed type URL`);
    return;
  }
  const typeName = url.slice(url.lastIndexOf('/') + 1);
  if (V2_TYPE.test(typeName)) {
    w.errors.push(`${join(p, '@type')}: ${typeName} is a v2 type; Envoy accepts only the v3 API`);
    return;
  }
  let inner: protobuf.ReflectionObject | null = null;
  try {
    inner = w.root.lookup(typeName);
  } catch {
    inner = null;
  }
  if (!(inner instanceof protobuf.Type)) {
    w.errors.push(`${join(p, '@type')}: unknown type ${typeName}`);
    return;
  }
  if (WELL_KNOWN[typeName] || typeName === 'google.protobuf.Any') {
    // Well-known types with a special JSON form are wrapped as {"@type": …, "value": <form>}.
    for (const key of Object.keys(value)) {
      if (key !== '@type' && key !== 'value') w.errors.push(`${join(p, key)}: unknown field`);
    }
    walkMessage(w, inner, value.value, join(p, 'value'));
    return;
  }
  walkFields(w, inner, value, p, new Set(['@type']));
}

const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const UINT32 = [0, 2 ** 32 - 1] as const;

function checkScalar(type: string, value: Json): string | undefined {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? undefined : `expected a string, got ${kind(value)}`;
    case 'bool':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${kind(value)}`;
    case 'bytes':
      return typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value)
        ? undefined
        : `expected base64 bytes, got ${kind(value)}`;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return checkInteger(value, BigInt(INT32[0]), BigInt(INT32[1]));
    case 'uint32':
    case 'fixed32':
      return checkInteger(value, BigInt(UINT32[0]), BigInt(UINT32[1]));
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return checkInteger(value, -(2n ** 63n), 2n ** 63n - 1n);
    case 'uint64':
    case 'fixed64':
      return checkInteger(value, 0n, 2n ** 64n - 1n);
    case 'double':
    case 'float':
      if (typeof value === 'number') return undefined;
      if (typeof value === 'string' && (/^(NaN|-?Infinity)$/.test(value) || Number.isFinite(Number(value)))) {
        return undefined;
      }
      return `expected a number, got ${kind(value)}`;
    default:
      return `unsupported field type ${type}`;
  }
}

/** Integers may be JSON numbers or decimal strings (proto3 JSON accepts both). */
function checkInteger(value: Json, min: bigint, max: bigint): string | undefined {
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return `expected an integer, got ${value}`;
    n = BigInt(value);
  } else if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    n = BigInt(value);
  } else {
    return `expected an integer, got ${kind(value)}`;
  }
  return n < min || n > max ? `integer ${value} out of range` : undefined;
}

function checkEnum(type: protobuf.Enum, value: Json): string | undefined {
  if (type.fullName === '.google.protobuf.NullValue') {
    return value === null || value === 'NULL_VALUE' ? undefined : `expected null, got ${kind(value)}`;
  }
  const names = Object.keys(type.values);
  if (typeof value === 'string') {
    const match = names.find((n) => n.toLowerCase() === value.toLowerCase());
    return match ? undefined : `unknown ${type.name} value "${value}" (expected one of ${names.join(', ')})`;
  }
  if (typeof value === 'number') {
    return Object.values(type.values).includes(value) ? undefined : `unknown ${type.name} number ${value}`;
  }
  return `expected an enum name (${type.name}), got ${kind(value)}`;
}

function checkMapKey(keyType: string, key: string): string | undefined {
  switch (keyType) {
    case 'string':
      return undefined;
    case 'bool':
      return key === 'true' || key === 'false' ? undefined : 'map key must be "true" or "false"';
    default:
      return checkScalar(keyType, key) ? `map key must be a ${keyType}` : undefined;
  }
}

const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function wrapper(scalar: string): (v: Json) => string | undefined {
  return (v) => checkScalar(scalar, v);
}

/** Well-known types whose JSON form is not an object of their fields. */
const WELL_KNOWN: Readonly<Record<string, (value: Json) => string | undefined>> = {
  'google.protobuf.Duration': (v) => {
    if (typeof v !== 'string' || !DURATION.test(v))
      return `expected a duration such as "1.5s", got ${JSON.stringify(v)}`;
    return Math.abs(Number.parseFloat(v)) > 315_576_000_000 ? `duration ${v} out of range` : undefined;
  },
  'google.protobuf.Timestamp': (v) =>
    typeof v === 'string' && TIMESTAMP.test(v) ? undefined : `expected an RFC 3339 timestamp, got ${kind(v)}`,
  'google.protobuf.FieldMask': (v) =>
    typeof v === 'string' ? undefined : `expected a field mask string, got ${kind(v)}`,
  'google.protobuf.Struct': (v) => (isObject(v) ? undefined : `expected an object (Struct), got ${kind(v)}`),
  'google.protobuf.ListValue': (v) =>
    Array.isArray(v) ? undefined : `expected an array (ListValue), got ${kind(v)}`,
  'google.protobuf.Value': () => undefined,
  'google.protobuf.Empty': (v) =>
    isObject(v) && Object.keys(v).length === 0 ? undefined : `expected {} (Empty), got ${JSON.stringify(v)}`,
  'google.protobuf.BoolValue': wrapper('bool'),
  'google.protobuf.StringValue': wrapper('string'),
  'google.protobuf.BytesValue': wrapper('bytes'),
  'google.protobuf.Int32Value': wrapper('int32'),
  'google.protobuf.UInt32Value': wrapper('uint32'),
  'google.protobuf.Int64Value': wrapper('int64'),
  'google.protobuf.UInt64Value': wrapper('uint64'),
  'google.protobuf.FloatValue': wrapper('float'),
  'google.protobuf.DoubleValue': wrapper('double'),
};
