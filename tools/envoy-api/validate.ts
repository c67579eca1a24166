/**
 * Checks an Envoy v3 document (as parsed JSON) against the real API definitions (descriptor.ts),
 * the way Envoy loads a bootstrap (`MessageUtil::loadFromJson`, then `MessageUtil::validate`):
 *
 * 1. the proto3 JSON mapping: fields by proto name or lowerCamelCase JSON name; anything else is an
 *    unknown field; the same field twice, or two members of a oneof, is an error; `null` means "not
 *    set"; `google.protobuf.Any` must name a type in the loaded protos (v2 types, `envoy.api.v2.*`
 *    and `envoy.config.*.v2*`, are not: current Envoy rejects them); enums by name,
 *    case-insensitively (Envoy parses them so), or by defined number; Duration as `"1.5s"`,
 *    Timestamp as RFC 3339, wrappers as bare scalars, Struct/Value/ListValue as any JSON, 64-bit
 *    integers as numbers or decimal strings, bytes as base64; repeated fields as arrays, maps as
 *    objects with keys valid for the key type;
 * 2. protoc-gen-validate rules, once the document parses: required messages and oneofs, string
 *    lengths, numeric and duration bounds, defined enum values, item counts, as the generated C++
 *    validators check them (field by field, stopping at the first failure, not inside `Any`).
 *    Rules are read as protobufjs reads the annotations; an empty bound (`gt {}`) is not seen.
 *
 * One walk, two readers: `validateEnvoyJson` lists every problem with its JSON path (tests);
 * `envoyVerdict` words the first one as Envoy does (the Envoy simulator).
 */
import { formatGoDuration } from '../../src/go/duration.js';
import { type EnvoyApi, envoyApi, type FieldInfo, type Rules, type TypeInfo } from './descriptor.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

type Json = unknown;

/** A problem of the JSON mapping: unknown field, wrong type, unknown `@type`… */
export interface ParseIssue {
  kind: 'unknown-field' | 'parse';
  /** JSON path of the value (`static_resources.clusters[1].foo`). */
  path: string;
  /** The problem, as `validateEnvoyJson` states it. */
  problem: string;
  /** What protobuf's JSON parser says (`INVALID_ARGUMENT:(<parent>) <key>: Cannot find field.` …). */
  envoy: string;
}

/** The first protoc-gen-validate rule the document breaks. */
export interface ConstraintIssue {
  path: string;
  /** The rule's wording (`value must be less than or equal to 65535`). */
  reason: string;
  /** The generated validators' chain: `BootstrapValidationError.Admin: embedded message failed validation | caused by …`. */
  chain: string;
}

export interface Checked {
  /** In document order. */
  parse: ParseIssue[];
  /** Checked only when the document parses (`parse` is empty): Envoy validates a parsed message. */
  constraint?: ConstraintIssue;
}

/** Walks `doc` as the JSON form of the message `typeName` (`envoy.config.cluster.v3.Cluster`). */
export function checkEnvoyJson(typeName: string, doc: Json, api: EnvoyApi = envoyApi()): Checked {
  const type = api.type(typeName);
  if (!type) throw new Error(`unknown message type ${typeName}`);
  const w: Walk = { api, issues: [] };
  walkMessage(w, typeName, doc, '');
  if (w.issues.length > 0) return { parse: w.issues };
  const constraint = validateMessage(api, typeName, doc, '');
  return constraint ? { parse: [], constraint: constraint.issue } : { parse: [] };
}

export interface ValidateOptions {
  /**
   * Envoy's `--allow-unknown-static-fields`: unknown fields are not errors; each one's path goes to
   * `onUnknownField` instead.
   */
  allowUnknownFields?: boolean;
  onUnknownField?: (path: string) => void;
}

/** Every problem with `doc` as the message `typeName`, one line each; empty when Envoy accepts it. */
export function validateEnvoyJson(typeName: string, doc: Json, options: ValidateOptions = {}): string[] {
  const checked = checkEnvoyJson(typeName, doc);
  const errors: string[] = [];
  for (const issue of checked.parse) {
    if (issue.kind === 'unknown-field' && options.allowUnknownFields) options.onUnknownField?.(issue.path);
    else errors.push(`${issue.path}: ${issue.problem}`);
  }
  if (errors.length === 0 && checked.parse.every((i) => i.kind === 'unknown-field')) {
    const constraint =
      checked.constraint ?? (checked.parse.length > 0 ? constraintsOnly(typeName, doc) : undefined);
    if (constraint) errors.push(`${at(constraint.path)}: ${constraint.reason}`);
  }
  return errors;
}

/** Errors for `doc` as an Envoy v3 Bootstrap; empty when Envoy's loader would accept it. */
export function validateBootstrapV3(doc: Json, options: ValidateOptions = {}): string[] {
  return validateEnvoyJson(BOOTSTRAP_TYPE, doc, options);
}

/** Constraints of a document whose only parse problems are unknown fields (Envoy ignores those then). */
function constraintsOnly(typeName: string, doc: Json): ConstraintIssue | undefined {
  return validateMessage(envoyApi(), typeName, doc, '')?.issue;
}

export interface VerdictOptions {
  allowUnknownStaticFields: boolean;
  /** Called once per document with unknown fields allowed: Envoy's `Unknown field: <description>`. */
  onUnknownField?: (description: string) => void;
}

/**
 * What Envoy says about `doc` as a message `typeName`: `undefined` when it loads, else the reason
 * Envoy reports (`Unable to parse JSON as proto (…)`, `Protobuf message (…) has unknown fields`,
 * `Proto constraint validation failed (…)`). As `MessageUtil::loadFromJson`: a document that fails
 * even with unknown fields ignored is a parse error (the first problem); otherwise its first
 * unknown field is rejected or, when allowed, reported once; then the rules are checked.
 */
export function envoyVerdict(typeName: string, doc: Json, options: VerdictOptions): string | undefined {
  const checked = checkEnvoyJson(typeName, doc);
  const parse = checked.parse.find((i) => i.kind === 'parse');
  if (parse) return `Unable to parse JSON as proto (INVALID_ARGUMENT:${parse.envoy}): ${JSON.stringify(doc)}`;
  const unknown = checked.parse[0];
  if (unknown) {
    const description = `type ${typeName} reason INVALID_ARGUMENT:${unknown.envoy}`;
    if (!options.allowUnknownStaticFields) return `Protobuf message (${description}) has unknown fields`;
    options.onUnknownField?.(description);
  }
  const constraint = checked.constraint ?? (unknown ? constraintsOnly(typeName, doc) : undefined);
  return constraint ? `Proto constraint validation failed (${constraint.chain})` : undefined;
}

// ---------------------------------------------------------------------------------------------
// The JSON mapping

interface Walk {
  api: EnvoyApi;
  issues: ParseIssue[];
}

function join(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

function at(p: string): string {
  return p === '' ? '(root)' : p;
}

/** Protobuf's prefix for a problem at `p`: `(p): ` (nothing at the root). */
function where(p: string): string {
  return p === '' ? '' : `(${p}): `;
}

function kind(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Types from the v2 API (`envoy.api.v2.*`, `envoy.config.*.v2*.*`), removed in Envoy 1.18. */
export function isV2Type(typeName: string): boolean {
  return (
    /^envoy\.api\.v2(alpha|beta\d*)?\./.test(typeName) ||
    /^envoy\.config\.(?:[a-z0-9_]+\.)*v2(alpha\d*|beta\d*)?\./.test(typeName)
  );
}

const PROTO_TYPE: Readonly<Record<string, string>> = {
  string: 'TYPE_STRING',
  bool: 'TYPE_BOOL',
  bytes: 'TYPE_BYTES',
  int32: 'TYPE_INT32',
  sint32: 'TYPE_SINT32',
  sfixed32: 'TYPE_SFIXED32',
  uint32: 'TYPE_UINT32',
  fixed32: 'TYPE_FIXED32',
  int64: 'TYPE_INT64',
  sint64: 'TYPE_SINT64',
  sfixed64: 'TYPE_SFIXED64',
  uint64: 'TYPE_UINT64',
  fixed64: 'TYPE_FIXED64',
  double: 'TYPE_DOUBLE',
  float: 'TYPE_FLOAT',
};

function fail(w: Walk, p: string, problem: string, value: Json, protoType: string): void {
  w.issues.push({
    kind: 'parse',
    path: at(p),
    problem,
    envoy: `${where(p)}invalid value ${JSON.stringify(value)} for type ${protoType}`,
  });
}

function walkMessage(w: Walk, typeName: string, value: Json, p: string): void {
  const special = WELL_KNOWN[typeName];
  if (special) {
    const problem = special(value);
    if (problem) fail(w, p, problem, value, 'TYPE_MESSAGE');
    return;
  }
  if (typeName === 'google.protobuf.Any') {
    walkAny(w, value, p);
    return;
  }
  const type = w.api.type(typeName) as TypeInfo;
  if (!isObject(value)) {
    const short = typeName.slice(typeName.lastIndexOf('.') + 1);
    if (p === '') {
      w.issues.push({
        kind: 'parse',
        path: at(p),
        problem: `expected an object (${short}), got ${kind(value)}`,
        envoy: 'Root element must be a message.',
      });
    } else fail(w, p, `expected an object (${short}), got ${kind(value)}`, value, 'TYPE_MESSAGE');
    return;
  }
  walkFields(w, type, value, p, new Set());
}

function fieldOf(type: TypeInfo, key: string): FieldInfo | undefined {
  return type.fields.find((f) => f.name === key) ?? type.fields.find((f) => f.json === key);
}

function walkFields(
  w: Walk,
  type: TypeInfo,
  value: Record<string, Json>,
  p: string,
  skip: ReadonlySet<string>,
): void {
  const seen = new Map<string, string>();
  const oneofs = new Map<string, string>();
  for (const [key, fieldValue] of Object.entries(value)) {
    if (skip.has(key)) continue;
    const fp = join(p, key);
    const field = fieldOf(type, key);
    if (!field) {
      w.issues.push({
        kind: 'unknown-field',
        path: fp,
        problem: 'unknown field',
        envoy: `${p === '' ? '' : `(${p}) `}${key}: Cannot find field.`,
      });
      continue;
    }
    const earlier = seen.get(field.name);
    if (earlier !== undefined) {
      w.issues.push({
        kind: 'parse',
        path: fp,
        problem: `field given twice (also as "${earlier}")`,
        envoy: `${where(fp)}field "${field.name}" is already set`,
      });
      continue;
    }
    seen.set(field.name, key);
    if (fieldValue === null && field.type !== 'google.protobuf.Value') continue;
    if (field.oneof) {
      const other = oneofs.get(field.oneof);
      if (other !== undefined) {
        w.issues.push({
          kind: 'parse',
          path: fp,
          problem: `oneof "${field.oneof}" already set by "${other}"`,
          envoy: `${where(p)}oneof field "${field.oneof}" is already set`,
        });
      } else oneofs.set(field.oneof, key);
    }
    walkField(w, field, fieldValue, fp);
  }
}

function walkField(w: Walk, field: FieldInfo, value: Json, p: string): void {
  if (field.mapKey) {
    if (!isObject(value)) {
      fail(w, p, `expected an object (map), got ${kind(value)}`, value, 'TYPE_MESSAGE');
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      const keyProblem = checkMapKey(field.mapKey, k);
      if (keyProblem) fail(w, `${p}["${k}"]`, keyProblem, k, PROTO_TYPE[field.mapKey] ?? 'TYPE_STRING');
      walkSingle(w, field, v, `${p}["${k}"]`);
    }
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) {
      fail(w, p, `expected an array, got ${kind(value)}`, value, protoTypeOf(field));
      return;
    }
    value.forEach((item, i) => {
      walkSingle(w, field, item, `${p}[${i}]`);
    });
    return;
  }
  walkSingle(w, field, value, p);
}

function protoTypeOf(field: FieldInfo): string {
  if (field.kind === 'message') return 'TYPE_MESSAGE';
  if (field.kind === 'enum') return 'TYPE_ENUM';
  return PROTO_TYPE[field.type] ?? 'TYPE_MESSAGE';
}

function walkSingle(w: Walk, field: FieldInfo, value: Json, p: string): void {
  if (field.kind === 'message') {
    walkMessage(w, field.type, value, p);
    return;
  }
  const problem =
    field.kind === 'enum' ? checkEnum(w.api, field.type, value) : checkScalar(field.type, value);
  if (problem) fail(w, p, problem, value, protoTypeOf(field));
}

function walkAny(w: Walk, value: Json, p: string): void {
  if (!isObject(value)) {
    fail(w, p, `expected an object (Any), got ${kind(value)}`, value, 'TYPE_MESSAGE');
    return;
  }
  const url = value['@type'];
  const tp = join(p, '@type');
  if (typeof url !== 'string' || !url.includes('/')) {
    w.issues.push({
      kind: 'parse',
      path: tp,
      problem: 'missing or malformed type URL',
      envoy: `${where(p)}invalid value Invalid type URL, type URLs must be of the form 'type.googleapis.com/<typename>', got: ${String(url)} for type Any`,
    });
    return;
  }
  const typeName = url.slice(url.lastIndexOf('/') + 1);
  const unknownType = `${where(p)}invalid value Invalid type URL, unknown type: ${typeName} for type Any`;
  if (isV2Type(typeName)) {
    w.issues.push({
      kind: 'parse',
      path: tp,
      problem: `${typeName} is a v2 type; Envoy accepts only the v3 API`,
      envoy: unknownType,
    });
    return;
  }
  const inner = w.api.type(typeName);
  if (!inner && !WELL_KNOWN[typeName]) {
    w.issues.push({ kind: 'parse', path: tp, problem: `unknown type ${typeName}`, envoy: unknownType });
    return;
  }
  if (WELL_KNOWN[typeName] || typeName === 'google.protobuf.Any') {
    // Well-known types with a special JSON form are wrapped as {"@type": …, "value": <form>}.
    for (const key of Object.keys(value)) {
      if (key !== '@type' && key !== 'value') {
        w.issues.push({
          kind: 'unknown-field',
          path: join(p, key),
          problem: 'unknown field',
          envoy: `${p === '' ? '' : `(${p}) `}${key}: Cannot find field.`,
        });
      }
    }
    walkMessage(w, typeName, value.value, join(p, 'value'));
    return;
  }
  walkFields(w, inner as TypeInfo, value, p, new Set(['@type']));
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

function checkEnum(api: EnvoyApi, typeName: string, value: Json): string | undefined {
  if (typeName === 'google.protobuf.NullValue') {
    return value === null || value === 'NULL_VALUE' ? undefined : `expected null, got ${kind(value)}`;
  }
  const values = api.enums[typeName] ?? {};
  const names = Object.keys(values);
  const short = typeName.slice(typeName.lastIndexOf('.') + 1);
  if (typeof value === 'string') {
    const match = names.find((n) => n.toLowerCase() === value.toLowerCase());
    return match ? undefined : `unknown ${short} value "${value}" (expected one of ${names.join(', ')})`;
  }
  if (typeof value === 'number') {
    return Object.values(values).includes(value) ? undefined : `unknown ${short} number ${value}`;
  }
  return `expected an enum name (${short}), got ${kind(value)}`;
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

// ---------------------------------------------------------------------------------------------
// protoc-gen-validate

const WRAPPERS = new Set(
  Object.keys(WELL_KNOWN).filter((t) => t.endsWith('Value') && t !== 'google.protobuf.Value'),
);

/** A rule broken at `path`, wrapped in the chain of messages that contain it. */
interface Broken {
  issue: ConstraintIssue;
}

const pascal = (snake: string): string =>
  snake.replace(/(^|_)([a-z0-9])/g, (_m, _s: string, c: string) => c.toUpperCase());

function shortName(typeName: string): string {
  return typeName.slice(typeName.lastIndexOf('.') + 1);
}

/** The member of `obj` for `field` (either spelling); `undefined` when absent or null. */
function member(obj: Record<string, Json>, field: FieldInfo): Json | undefined {
  const v = field.name in obj ? obj[field.name] : obj[field.json as string];
  return v === null ? undefined : v;
}

/** protobuf-JSON Duration text → seconds (a float). */
function seconds(text: string): number {
  return Number.parseFloat(text);
}

/** A Duration bound of the rules under `prefix` (`''` or `repeated.items.`), in seconds. */
function durationRule(rules: Rules, prefix: string, bound: string): number | undefined {
  const s = rules[`${prefix}duration.${bound}.seconds`];
  const n = rules[`${prefix}duration.${bound}.nanos`];
  if (s === undefined && n === undefined) return undefined;
  return Number(s ?? 0) + Number(n ?? 0) / 1e9;
}

function durationReason(rules: Rules, prefix: string, value: Json): string | undefined {
  if (typeof value !== 'string') return undefined;
  const bound = (b: string) => durationRule(rules, prefix, b);
  return bounds(
    seconds(value),
    { lt: bound('lt'), lte: bound('lte'), gt: bound('gt'), gte: bound('gte') },
    goDuration,
  );
}

const goDuration = (s: number): string => formatGoDuration(s * 1000);

/** The `ltgt` template of protoc-gen-validate: the reason `value` breaks the bounds, if it does. */
function bounds(
  value: number,
  b: { lt?: number; lte?: number; gt?: number; gte?: number },
  show: (n: number) => string,
): string | undefined {
  const { lt, lte, gt, gte } = b;
  if (lt !== undefined) {
    if (gt !== undefined) {
      if (lt > gt)
        return value <= gt || value >= lt
          ? `value must be inside range (${show(gt)}, ${show(lt)})`
          : undefined;
      return value >= lt && value <= gt
        ? `value must be outside range [${show(lt)}, ${show(gt)}]`
        : undefined;
    }
    if (gte !== undefined) {
      if (lt > gte)
        return value < gte || value >= lt
          ? `value must be inside range [${show(gte)}, ${show(lt)})`
          : undefined;
      return value >= lt && value < gte
        ? `value must be outside range [${show(lt)}, ${show(gte)})`
        : undefined;
    }
    return value >= lt ? `value must be less than ${show(lt)}` : undefined;
  }
  if (lte !== undefined) {
    if (gt !== undefined) {
      if (lte > gt)
        return value <= gt || value > lte
          ? `value must be inside range (${show(gt)}, ${show(lte)}]`
          : undefined;
      return value > lte && value <= gt
        ? `value must be outside range (${show(lte)}, ${show(gt)}]`
        : undefined;
    }
    if (gte !== undefined) {
      if (lte > gte)
        return value < gte || value > lte
          ? `value must be inside range [${show(gte)}, ${show(lte)}]`
          : undefined;
      return value > lte && value < gte
        ? `value must be outside range (${show(lte)}, ${show(gte)})`
        : undefined;
    }
    return value > lte ? `value must be less than or equal to ${show(lte)}` : undefined;
  }
  if (gt !== undefined) return value <= gt ? `value must be greater than ${show(gt)}` : undefined;
  if (gte !== undefined)
    return value < gte ? `value must be greater than or equal to ${show(gte)}` : undefined;
  return undefined;
}

/** The rules of one kind (`uint32`, `string`, `repeated.items.string`…) as plain values. */
function pick(rules: Rules, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(rules)) {
    if (k.startsWith(`${prefix}.`) && !k.slice(prefix.length + 1).includes('.') && typeof v === 'number')
      out[k.slice(prefix.length + 1)] = v;
  }
  return out;
}

const NUMERIC = [
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
  'sfixed32',
  'sfixed64',
  'double',
  'float',
];

/** The reason a single value (not a list) breaks `rules` under `prefix`, if it does. */
function scalarReason(
  api: EnvoyApi,
  field: FieldInfo,
  rules: Rules,
  prefix: string,
  value: Json,
): string | undefined {
  const scalar = WRAPPERS.has(field.type) ? wrapperScalar(field.type) : field.type;
  if (field.kind === 'enum') {
    if (rules[`${prefix}enum.defined_only`] === true) {
      const values = api.enums[field.type] ?? {};
      const n =
        typeof value === 'number'
          ? value
          : (values[
              Object.keys(values).find((k) => k.toLowerCase() === String(value ?? '').toLowerCase()) ?? ''
            ] ?? 0);
      if (!Object.values(values).includes(n)) return 'value must be one of the defined enum values';
    }
    return undefined;
  }
  if (field.type === 'google.protobuf.Duration') return durationReason(rules, prefix, value);
  if (scalar === 'string') {
    const s = pick(rules, `${prefix}string`);
    if (rules[`${prefix}string.ignore_empty`] === true && value === '') return undefined;
    const text = typeof value === 'string' ? value : '';
    const runes = [...text].length;
    if (s.min_len !== undefined && s.max_len === undefined && runes < s.min_len)
      return `value length must be at least ${s.min_len} characters`;
    if (s.max_len !== undefined && s.min_len === undefined && runes > s.max_len)
      return `value length must be at most ${s.max_len} characters`;
    if (s.min_len !== undefined && s.max_len !== undefined && (runes < s.min_len || runes > s.max_len))
      return `value must have between ${s.min_len} and ${s.max_len} characters inclusive`;
    const bytes = Buffer.byteLength(text);
    if (s.min_bytes !== undefined && bytes < s.min_bytes)
      return `value length must be at least ${s.min_bytes} bytes`;
    if (s.max_bytes !== undefined && bytes > s.max_bytes)
      return `value length must be at most ${s.max_bytes} bytes`;
    return undefined;
  }
  if (NUMERIC.includes(scalar)) {
    const n = pick(rules, `${prefix}${scalar}`);
    const v = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : 0;
    return bounds(v, n, String);
  }
  return undefined;
}

/** `google.protobuf.UInt32Value` → `uint32`: rules on a wrapper apply to the value inside. */
function wrapperScalar(type: string): string {
  return shortName(type)
    .replace(/Value$/, '')
    .toLowerCase();
}

/** The first rule `value` (a message `typeName`) breaks, as the generated C++ validator finds it. */
function validateMessage(api: EnvoyApi, typeName: string, value: Json, p: string): Broken | undefined {
  const type = api.type(typeName);
  if (!type || !isObject(value)) return undefined;
  const errorType = `${shortName(typeName)}ValidationError`;
  const fail = (fieldName: string, path: string, reason: string, index = ''): Broken => ({
    issue: { path, reason, chain: `${errorType}.${pascal(fieldName)}${index}: ${reason}` },
  });
  const wrap = (fieldName: string, index: string, inner: Broken): Broken => ({
    issue: {
      ...inner.issue,
      chain: `${errorType}.${pascal(fieldName)}${index}: embedded message failed validation | caused by ${inner.issue.chain}`,
    },
  });
  const check = (field: FieldInfo): Broken | undefined => {
    const v = member(value, field);
    // Most fields are absent and have no rule: nothing to check, no path to build.
    if (field.rules === undefined && (v === undefined || field.kind !== 'message')) return undefined;
    const json = field.json as string;
    const fp = join(p, !(field.name in value) && json in value ? json : field.name);
    const rules = field.rules ?? {};
    if (field.repeated && !field.mapKey) {
      const items = Array.isArray(v) ? v : [];
      const min = rules['repeated.min_items'];
      const max = rules['repeated.max_items'];
      if (typeof min === 'number' && typeof max === 'number' && min === max && items.length !== min)
        return fail(field.name, fp, `value must contain exactly ${min} item(s)`);
      if (typeof min === 'number' && typeof max === 'number' && (items.length < min || items.length > max))
        return fail(field.name, fp, `value must contain between ${min} and ${max} items, inclusive`);
      if (typeof min === 'number' && max === undefined && items.length < min)
        return fail(field.name, fp, `value must contain at least ${min} item(s)`);
      if (typeof max === 'number' && min === undefined && items.length > max)
        return fail(field.name, fp, `value must contain no more than ${max} item(s)`);
      for (let i = 0; i < items.length; i++) {
        const ip = `${fp}[${i}]`;
        if (field.kind === 'message' && field.type !== 'google.protobuf.Any') {
          const inner = validateMessage(api, field.type, items[i], ip);
          if (inner) return wrap(field.name, '[i]', inner);
        } else {
          const reason = scalarReason(api, field, rules, 'repeated.items.', items[i]);
          if (reason) return fail(field.name, ip, reason, '[i]');
        }
      }
      return undefined;
    }
    if (field.mapKey) return undefined;
    if (field.kind === 'message' && !WRAPPERS.has(field.type) && field.type !== 'google.protobuf.Duration') {
      if (v === undefined) {
        const required = rules['message.required'] === true || rules['any.required'] === true;
        return required ? fail(field.name, fp, 'value is required') : undefined;
      }
      if (field.type === 'google.protobuf.Any') return undefined;
      const inner = validateMessage(api, field.type, v, fp);
      if (inner) return wrap(field.name, '', inner);
      return undefined;
    }
    if (field.type === 'google.protobuf.Duration') {
      if (v === undefined) {
        if (rules['duration.required'] === true) return fail(field.name, fp, 'value is required');
        return undefined;
      }
      const reason = durationReason(rules, '', v);
      if (reason) return fail(field.name, fp, reason);
      return undefined;
    }
    // A wrapper that is absent is not checked; an absent plain scalar is its default.
    if (WRAPPERS.has(field.type) && v === undefined) return undefined;
    const reason = scalarReason(api, field, rules, '', v);
    return reason ? fail(field.name, fp, reason) : undefined;
  };
  // As the generated validators: fields outside oneofs in declaration order, then each oneof's
  // member that is set (or "value is required" for a required oneof with none).
  for (const field of type.fields) {
    if (field.oneof) continue;
    const broken = check(field);
    if (broken) return broken;
  }
  const oneofs = [...new Set(type.fields.flatMap((f) => (f.oneof ? [f.oneof] : [])))];
  for (const oneof of oneofs) {
    const set = type.fields.find((f) => f.oneof === oneof && member(value, f) !== undefined);
    if (set) {
      const broken = check(set);
      if (broken) return broken;
    } else if (type.requiredOneofs?.includes(oneof)) {
      return fail(oneof, p, 'value is required');
    }
  }
  return undefined;
}
