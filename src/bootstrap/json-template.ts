/**
 * A JSON document described once over Istio's template parameters (params.ts), with two
 * renderings that cannot drift apart:
 *
 * - `evaluate`: the document for one parameter map, as the agent writes it (the built-in
 *   bootstrap, v3.ts); parameters that hold JSON text or Go durations are checked and converted
 *   here, so a bad value is an error naming the parameter rather than a file Envoy rejects;
 * - `goTemplate`: the same document as a Go `text/template` using only Istio's parameters and Go's
 *   builtins — what Istio ships its built-in bootstrap as, and what a user starts an
 *   `ISTIO_BOOTSTRAP` template from (`npm run docs` writes it; a test renders it for every golden
 *   case and compares it with `evaluate`).
 *
 * A description is plain JSON (objects, arrays, strings, numbers, booleans, null) in which the
 * nodes made by the functions below stand for parameters, optional members and repeated elements.
 * What the template form cannot do the same way: it pastes parameters into JSON strings without
 * escaping (as Istio's templates do), and pastes Go-formatted durations ("1m0s") where `evaluate`
 * writes protobuf-JSON ("60s"); the two agree for durations under a minute.
 */
import { AgentError, messageOf } from '../errors.js';
import { parseGoDuration } from '../go/duration.js';
import { GoEnum, GoStruct, type GoValue, goTruth } from '../go/value.js';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A parameter path: `['config', 'ProxyAdminPort']` is `.config.ProxyAdminPort`; `[]` is `.`. */
type Path = readonly string[];

/** A condition over the parameters, with its Go template form. */
export interface Cond {
  readonly go: string;
  /** Whether `go` must be parenthesised as an argument. */
  readonly compound: boolean;
  readonly test: (root: GoValue) => boolean;
}

/** How a parameter's text becomes a JSON value. */
type Conversion =
  | 'string' // pasted inside quotes
  | 'js' // pasted inside quotes through Go's `js` escaper (regular expressions)
  | 'number' // pasted bare
  | 'duration' // a Go duration, written as protobuf-JSON
  | 'json' // JSON text, pasted bare
  | 'socket-address' // `{"address": …, "port_value": …}` text, pasted bare
  | 'unix-path'; // `unix:<path>`, written as the path (Go's `slice … 5`) inside quotes

class Param {
  constructor(
    readonly path: Path,
    readonly conversion: Conversion,
  ) {}
}

/** A string made of literal text and string parameters (`"(" + tag + "=\\.=(.*?);\\.;)"`). */
class Concat {
  constructor(readonly parts: readonly (string | Param)[]) {}
}

/** An object member or array element present only when a condition holds (`if` / `else if`). */
class When {
  constructor(readonly branches: readonly (readonly [Cond, Spec])[]) {}
}

/** Array elements, one per item of a list parameter (`range`); `item` refers to the item. */
class Each {
  constructor(
    readonly path: Path,
    readonly element: Spec,
  ) {}
}

export type Spec = Json | Param | Concat | When | Each | Spec[] | { [key: string]: Spec };

const name = (path: Path): string => path.join('.') || '.';
const split = (dotted: string): Path => (dotted === '.' ? [] : dotted.replace(/^\./, '').split('.'));

/** A string parameter (`.nodeID`), or the current list item (`.`). */
export const text = (path: string): Param => new Param(split(path), 'string');
/** A string parameter through Go's `js` escaper, for regular expressions in JSON strings. */
export const jsText = (path: string): Param => new Param(split(path), 'js');
export const num = (path: string): Param => new Param(split(path), 'number');
/** A Go duration parameter, written as a protobuf-JSON Duration ("1m0s" → "60s"). */
export const duration = (path: string): Param => new Param(split(path), 'duration');
/** A parameter holding JSON text that Istio's converters made (TLS settings, keepalive, metadata). */
export const json = (path: string): Param => new Param(split(path), 'json');
/** A parameter holding Istio's socket-address text: `{"address": "h", "port_value": p}`. */
export const socketAddress = (path: string): Param => new Param(split(path), 'socket-address');
/** A `unix:<path>` parameter (Istio's `sds_uds_path`) as its path, for a `pipe` address. */
export const unixPath = (path: string): Param => new Param(split(path), 'unix-path');
export function concat(...parts: (string | Param)[]): Concat {
  for (const p of parts) {
    if (typeof p !== 'string' && p.conversion !== 'string' && p.conversion !== 'js')
      throw new Error(`${name(p.path)}: only string parameters can be part of a string`);
  }
  return new Concat(parts);
}
export const when = (cond: Cond, spec: Spec): When => new When([[cond, spec]]);
/** The first branch whose condition holds (`if … else if …`); none: absent. */
export const firstOf = (...branches: (readonly [Cond, Spec])[]): When => new When(branches);
export const each = (path: string, element: Spec): Each => new Each(split(path), element);

function lookup(root: GoValue, path: Path): GoValue {
  let value = root;
  for (const key of path) {
    if (value instanceof GoStruct) value = value.fields[key];
    else if (value !== null && typeof value === 'object' && !Array.isArray(value))
      value = (value as { [key: string]: GoValue })[key];
    else return undefined;
  }
  return value;
}

/** A parameter is true in `if` as in Go (empty strings and lists, 0 and a missing key are false). */
export const has = (path: string): Cond => ({
  go: path,
  compound: false,
  test: (root) => goTruth(lookup(root, split(path))),
});

/** `eq <path> <n>`: enums compare by number, as in Go (`eq .config.ControlPlaneAuthPolicy 1`). */
export const eq = (path: string, n: number): Cond => ({
  go: `eq ${path} ${n}`,
  compound: true,
  test: (root) => {
    const value = lookup(root, split(path));
    return (value instanceof GoEnum ? value.value : value) === n;
  },
});

const argument = (c: Cond): string => (c.compound ? `(${c.go})` : c.go);
export const or = (...conds: Cond[]): Cond => ({
  go: `or ${conds.map(argument).join(' ')}`,
  compound: true,
  test: (root) => conds.some((c) => c.test(root)),
});
export const and = (...conds: Cond[]): Cond => ({
  go: `and ${conds.map(argument).join(' ')}`,
  compound: true,
  test: (root) => conds.every((c) => c.test(root)),
});

// ---------------------------------------------------------------------------------------------
// evaluate

function convert(param: Param, value: GoValue): Json {
  const key = name(param.path);
  if (param.conversion === 'number') {
    if (typeof value !== 'number')
      throw new AgentError('bootstrap', `template parameter ${key} is not a number`);
    return value;
  }
  if (typeof value !== 'string') {
    if (param.conversion === 'socket-address' && value === undefined)
      throw new AgentError('bootstrap', `template parameter ${key} is missing (empty address)`);
    throw new AgentError('bootstrap', `template parameter ${key} is missing`);
  }
  switch (param.conversion) {
    case 'string':
    case 'js':
      return value;
    case 'duration':
      return protoDuration(key, value);
    case 'json':
      return parseJson(key, value);
    case 'socket-address':
      return checkedSocketAddress(key, value);
    case 'unix-path':
      if (!value.startsWith(UNIX_PREFIX) || value.length === UNIX_PREFIX.length) {
        throw new AgentError(
          'bootstrap',
          `template parameter ${key}: "${value}" is not a unix:<path> address`,
        );
      }
      return value.slice(UNIX_PREFIX.length);
  }
}

const UNIX_PREFIX = 'unix:';

/** The document for one parameter map. */
export function evaluate(spec: Spec, root: GoValue, item: GoValue = root): Json {
  if (spec instanceof Param) return convert(spec, spec.path.length === 0 ? item : lookup(root, spec.path));
  if (spec instanceof Concat) {
    return spec.parts.map((p) => (typeof p === 'string' ? p : String(evaluate(p, root, item)))).join('');
  }
  if (spec instanceof When || spec instanceof Each) {
    throw new Error('a conditional or repeated entry belongs in an object or an array');
  }
  if (Array.isArray(spec)) return spec.flatMap((entry) => entries(entry, root, item));
  if (spec !== null && typeof spec === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [key, member] of Object.entries(spec)) {
      if (member instanceof Each) throw new Error(`${key}: a repeated entry belongs in an array`);
      const values = entries(member, root, item);
      if (values.length > 0) out[key] = values[0] as Json;
    }
    return out;
  }
  return spec;
}

function entries(entry: Spec, root: GoValue, item: GoValue): Json[] {
  if (entry instanceof When) {
    const chosen = entry.branches.find(([cond]) => cond.test(root));
    return chosen ? [evaluate(chosen[1], root, item)] : [];
  }
  if (entry instanceof Each) {
    const list = lookup(root, entry.path);
    return Array.isArray(list) ? list.map((element) => evaluate(entry.element, root, element)) : [];
  }
  return [evaluate(entry, root, item)];
}

function parseJson(key: string, text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new AgentError('bootstrap', `template parameter ${key} is not JSON (${messageOf(err)}): ${text}`);
  }
}

/** An address parameter (`{"address": "h", "port_value": p}` text) as a checked socket address. */
function checkedSocketAddress(key: string, text: string): Json {
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

// ---------------------------------------------------------------------------------------------
// goTemplate

/** An entry this short without optional or repeated parts stays on one line in the template. */
const INLINE_WIDTH = 100;

const action = (path: Path): string => (path.length === 0 ? '.' : `.${path.join('.')}`);
/** Text the template writes as it is, kept clear of template delimiters. */
const verbatim = (s: string): string => s.replaceAll('{{', '{{"{{"}}');

/** The entry on one line, when it has no optional or repeated part. */
function oneLine(spec: Spec): string | undefined {
  if (spec instanceof When || spec instanceof Each) return undefined;
  if (spec instanceof Param || spec instanceof Concat) return write(spec, '', '');
  if (Array.isArray(spec)) {
    const items = spec.map(oneLine);
    return items.every((i) => i !== undefined) ? `[${items.join(', ')}]` : undefined;
  }
  if (spec !== null && typeof spec === 'object') {
    const members = Object.entries(spec).map(([k, v]) => {
      const value = oneLine(v);
      return value === undefined ? undefined : `${JSON.stringify(k)}: ${value}`;
    });
    return members.every((m) => m !== undefined) ? `{${members.join(', ')}}` : undefined;
  }
  return verbatim(JSON.stringify(spec));
}

function paramText(param: Param): string {
  switch (param.conversion) {
    case 'string':
    case 'duration':
      return `"{{ ${action(param.path)} }}"`;
    case 'js':
      return `"{{ js ${action(param.path)} }}"`;
    case 'unix-path':
      return `"{{ slice ${action(param.path)} ${UNIX_PREFIX.length} }}"`;
    default:
      return `{{ ${action(param.path)} }}`;
  }
}

/** Whether any entry before this one is written: nothing, always, or only under some conditions. */
type Before = { kind: 'none' } | { kind: 'always' } | { kind: 'some'; conds: Cond[] } | { kind: 'unknown' };

function comma(before: Before, at: string): string {
  switch (before.kind) {
    case 'none':
      return '';
    case 'always':
      return ',';
    case 'some':
      return `{{ if ${before.conds.length === 1 ? before.conds[0]?.go : or(...before.conds).go} }},{{ end }}`;
    case 'unknown':
      throw new Error(
        `${at}: an entry after a list that may be empty needs an entry always written before it`,
      );
  }
}

function after(before: Before, written: Before): Before {
  if (before.kind === 'always' || written.kind === 'always') return { kind: 'always' };
  if (before.kind === 'unknown' || written.kind === 'unknown') return { kind: 'unknown' };
  const conds = [
    ...(before.kind === 'some' ? before.conds : []),
    ...(written.kind === 'some' ? written.conds : []),
  ];
  return conds.length > 0 ? { kind: 'some', conds } : { kind: 'none' };
}

function writeEntries(list: readonly (readonly [string | null, Spec])[], indent: string, at: string): string {
  const inner = `${indent}  `;
  let out = '';
  let before: Before = { kind: 'none' };
  for (const [key, entry] of list) {
    const head = key === null ? '' : `${JSON.stringify(key)}: `;
    const where = key === null ? at : `${at}.${key}`;
    if (entry instanceof When) {
      const c = comma(before, where);
      entry.branches.forEach(([cond, spec], i) => {
        out += `\n${inner}{{- ${i === 0 ? 'if' : 'else if'} ${cond.go} }}${c}\n${inner}${head}${write(spec, inner, where)}`;
      });
      out += `\n${inner}{{- end }}`;
      before = after(before, { kind: 'some', conds: entry.branches.map(([cond]) => cond) });
    } else if (entry instanceof Each) {
      if (key !== null) throw new Error(`${where}: a repeated entry belongs in an array`);
      if (before.kind !== 'none' && before.kind !== 'always')
        throw new Error(`${where}: a list after optional entries needs an entry always written before it`);
      const c = before.kind === 'none' ? '{{ if $i }},{{ end }}' : ',';
      out += `\n${inner}{{- range $i, $item := ${action(entry.path)} }}${c}\n${inner}${write(entry.element, inner, where)}\n${inner}{{- end }}`;
      before = after(before, { kind: 'unknown' });
    } else {
      out += `${comma(before, where)}\n${inner}${head}${write(entry, inner, where)}`;
      before = { kind: 'always' };
    }
  }
  return out;
}

function write(spec: Spec, indent: string, at: string): string {
  if (spec instanceof Param) return paramText(spec);
  if (spec instanceof Concat) {
    const body = spec.parts
      .map((p) =>
        typeof p === 'string' ? verbatim(JSON.stringify(p).slice(1, -1)) : paramText(p).slice(1, -1),
      )
      .join('');
    return `"${body}"`;
  }
  if (spec instanceof When || spec instanceof Each) {
    throw new Error(`${at}: a conditional or repeated entry belongs in an object or an array`);
  }
  const line = oneLine(spec);
  if (line !== undefined && line.length + indent.length <= INLINE_WIDTH) return line;
  if (Array.isArray(spec)) {
    if (spec.length === 0) return '[]';
    return `[${writeEntries(
      spec.map((e) => [null, e] as const),
      indent,
      at,
    )}\n${indent}]`;
  }
  if (spec !== null && typeof spec === 'object') {
    const members = Object.entries(spec);
    if (members.length === 0) return '{}';
    return `{${writeEntries(members, indent, at)}\n${indent}}`;
  }
  return JSON.stringify(spec);
}

/** The description as a Go template over the same parameters; `header` goes in a leading comment. */
export function goTemplate(spec: Spec, header: string): string {
  return `{{- /*\n${header.replace(/\*\//g, '* /')}\n*/ -}}\n${write(spec, '', '')}\n`;
}
