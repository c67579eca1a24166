/**
 * The functions of Go's `text/template` (`funcs.go`): the predefined ones (`and`, `or`, `not`,
 * `len`, `index`, `slice`, `print*`, comparisons, escapers) with Go's argument checks and comparison rules,
 * and the shape of caller-supplied functions.
 */

import {
  compareGoStrings,
  GoEnum,
  GoFloat,
  GoNilPointer,
  GoStringer,
  type GoValue,
  goFormat,
  goTruth,
  goTypeName,
  isGoMap,
} from '../value.js';
import type { Arg } from './parse.js';

/** A template function. `undefined` arguments are Go's invalid value (a missing key). */
export type GoFunc = (...args: GoValue[]) => GoValue;

/** "No final argument" (Go's `missingVal`), distinct from an invalid value passed down a pipeline. */
export const NO_FINAL: unique symbol = Symbol('no final');
export type Final = GoValue | typeof NO_FINAL;

/** What a predefined function needs from the execution (exec.ts). */
export interface CallState {
  /** Evaluated arguments plus the pipeline's final value, checked against an arity. */
  values(
    dot: GoValue,
    line: number,
    name: string,
    args: Arg[],
    final: Final,
    min: number,
    max?: number,
  ): GoValue[];
  /** `and` / `or`: short-circuit, returning the deciding argument. */
  shortCircuit(dot: GoValue, line: number, name: 'and' | 'or', args: Arg[], final: Final): GoValue;
  fail(message: string, line?: number): never;
}

type Builtin = (state: CallState, line: number, args: Arg[], dot: GoValue, final: Final) => GoValue;

/** An error returned by a function: reported as `error calling <name>: <message>`. */
export class CallError extends Error {}

const ANY = Number.POSITIVE_INFINITY;

/** Go's predefined functions (text/template/funcs.go). */
export const BUILTINS: Readonly<Record<string, Builtin>> = {
  and: (s, line, args, dot, final) => s.shortCircuit(dot, line, 'and', args, final),
  or: (s, line, args, dot, final) => s.shortCircuit(dot, line, 'or', args, final),
  not: (s, line, args, dot, final) => !goTruth(s.values(dot, line, 'not', args, final, 1)[0]),
  len: (s, line, args, dot, final) => goLen(s.values(dot, line, 'len', args, final, 1)[0]),
  index: (s, line, args, dot, final) => {
    const [item, ...keys] = s.values(dot, line, 'index', args, final, 1, ANY);
    return goIndex(item, keys);
  },
  slice: (s, line, args, dot, final) => {
    const [item, ...indexes] = s.values(dot, line, 'slice', args, final, 1, ANY);
    return goSlice(item, indexes);
  },
  print: (s, line, args, dot, final) => goSprint(s.values(dot, line, 'print', args, final, 0, ANY)),
  println: (s, line, args, dot, final) =>
    `${s
      .values(dot, line, 'println', args, final, 0, ANY)
      .map((v) => goFormat(v === undefined ? null : v))
      .join(' ')}\n`,
  printf: (s, line, args, dot, final) => {
    const [format, ...rest] = s.values(dot, line, 'printf', args, final, 1, ANY);
    if (typeof format !== 'string') {
      return s.fail(`wrong type for value; expected string; got ${goTypeName(format)}`, line);
    }
    return goSprintf(format, rest);
  },
  eq: (s, line, args, dot, final) => {
    const [first, ...others] = s.values(dot, line, 'eq', args, final, 1, ANY);
    if (others.length === 0) throw new CallError('missing argument for comparison');
    return others.some((other) => goEqual(first, other));
  },
  ne: (s, line, args, dot, final) => {
    const [a, b] = s.values(dot, line, 'ne', args, final, 2);
    return !goEqual(a, b);
  },
  lt: (s, line, args, dot, final) => goLess(...pair(s.values(dot, line, 'lt', args, final, 2))),
  le: (s, line, args, dot, final) => {
    const [a, b] = pair(s.values(dot, line, 'le', args, final, 2));
    return goLess(a, b) || goEqual(a, b);
  },
  gt: (s, line, args, dot, final) => {
    const [a, b] = pair(s.values(dot, line, 'gt', args, final, 2));
    return !goLess(a, b) && !goEqual(a, b);
  },
  ge: (s, line, args, dot, final) => !goLess(...pair(s.values(dot, line, 'ge', args, final, 2))),
  js: (s, line, args, dot, final) => jsEscape(escaperArg(s.values(dot, line, 'js', args, final, 0, ANY))),
  html: (s, line, args, dot, final) =>
    htmlEscape(escaperArg(s.values(dot, line, 'html', args, final, 0, ANY))),
  urlquery: (s, line, args, dot, final) =>
    encodeURIComponent(escaperArg(s.values(dot, line, 'urlquery', args, final, 0, ANY)))
      .replace(/%20/g, '+')
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
};

function pair(values: GoValue[]): [GoValue, GoValue] {
  return [values[0], values[1]];
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other';

function basicKind(v: GoValue): BasicKind {
  if (v === undefined) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || v instanceof GoEnum) return 'int';
  if (v instanceof GoFloat) return 'float';
  if (typeof v === 'string') return 'string';
  return 'other';
}

function numeric(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (v instanceof GoEnum) return v.value;
  if (v instanceof GoFloat) return v.value;
  return Number.NaN;
}

/** Go's `eq` for two arguments (Go ≥ 1.18: comparisons with a missing value are false, not errors). */
function goEqual(a: GoValue, b: GoValue): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka !== kb) {
    if (ka === 'invalid' || kb === 'invalid') return false;
    throw new CallError('incompatible types for comparison');
  }
  switch (ka) {
    case 'bool':
    case 'string':
      return a === b;
    case 'int':
    case 'float':
      return numeric(a) === numeric(b);
    case 'invalid':
      return false;
    default:
      if (Array.isArray(a) || isGoMap(a))
        throw new CallError(`non-comparable type ${goFormat(a)}: invalid type for comparison`);
      if ((a === null || a instanceof GoNilPointer) && (b === null || b instanceof GoNilPointer)) return true;
      return a === b;
  }
}

function goLess(a: GoValue, b: GoValue): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'bool' || ka === 'other' || ka === 'invalid') throw new CallError('invalid type for comparison');
  if (ka !== kb) throw new CallError('incompatible types for comparison');
  if (ka === 'string') return compareGoStrings(a as string, b as string) < 0;
  return numeric(a) < numeric(b);
}

function goLen(v: GoValue): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v)) return v.length;
  if (isGoMap(v)) return Object.values(v).filter((x) => x !== undefined).length;
  if (v === undefined || v === null) throw new CallError('len of nil pointer');
  throw new CallError(`len of type ${goTypeName(v)}`);
}

function goIndex(item: GoValue, keys: GoValue[]): GoValue {
  let value = item;
  for (const key of keys) {
    if (value === undefined || value === null) throw new CallError('index of untyped nil');
    if (Array.isArray(value)) {
      if (typeof key !== 'number')
        throw new CallError(`cannot index slice/array with type ${goTypeName(key)}`);
      if (key < 0 || key >= value.length) throw new CallError(`index out of range: ${key}`);
      value = value[key];
    } else if (typeof value === 'string') {
      if (typeof key !== 'number')
        throw new CallError(`cannot index slice/array with type ${goTypeName(key)}`);
      const bytes = Buffer.from(value, 'utf8');
      if (key < 0 || key >= bytes.length) throw new CallError(`index out of range: ${key}`);
      value = bytes[key] ?? 0;
    } else if (isGoMap(value)) {
      if (typeof key !== 'string') throw new CallError(`value has type ${goTypeName(key)}; should be string`);
      // A missing key yields the element type's zero value: nil for map[string]interface{}.
      value = Object.hasOwn(value, key) && value[key] !== undefined ? value[key] : null;
    } else {
      throw new CallError(`can't index item of type ${goTypeName(value)}`);
    }
  }
  return value;
}

/**
 * Go's `slice` (Go ≥ 1.13): `slice x 1 2` is `x[1:2]`. Strings are sliced by bytes, as in Go; a
 * cut inside a multi-byte character gives U+FFFD where Go would keep the raw byte. The three-index
 * form needs a slice's capacity, which lists here do not have beyond their length.
 */
function goSlice(item: GoValue, indexes: GoValue[]): GoValue {
  if (item === undefined || item === null) throw new CallError('slice of untyped nil');
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  let length: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new CallError('cannot 3-index slice a string');
    length = Buffer.byteLength(item, 'utf8');
  } else if (Array.isArray(item)) {
    length = item.length;
  } else {
    throw new CallError(`can't slice item of type ${goTypeName(item)}`);
  }
  const idx = [0, length, length];
  indexes.forEach((index, i) => {
    if (index === undefined || index === null) throw new CallError('cannot index slice/array with nil');
    if (typeof index !== 'number' && !(index instanceof GoEnum))
      throw new CallError(`cannot index slice/array with type ${goTypeName(index)}`);
    const x = numeric(index);
    if (x < 0 || x > length) throw new CallError(`index out of range: ${x}`);
    idx[i] = x;
  });
  const [low = 0, high = length, max = length] = idx;
  if (low > high) throw new CallError(`invalid slice index: ${low} > ${high}`);
  if (indexes.length === 3 && high > max) throw new CallError(`invalid slice index: ${high} > ${max}`);
  if (typeof item === 'string') return Buffer.from(item, 'utf8').subarray(low, high).toString('utf8');
  return (item as GoValue[]).slice(low, high);
}

/** `fmt.Sprint`: operands separated by a space when neither side is a string. */
function goSprint(values: GoValue[]): string {
  let out = '';
  values.forEach((v, i) => {
    const prev = values[i - 1];
    if (i > 0 && typeof v !== 'string' && typeof prev !== 'string') out += ' ';
    out += goFormat(v === undefined ? null : v);
  });
  return out;
}

/** The argument text the escaper functions see (`evalArgs`: a lone string as is, else Sprint). */
function escaperArg(values: GoValue[]): string {
  if (values.length === 1 && typeof values[0] === 'string') return values[0];
  return goSprint(values);
}

/** `fmt.Sprintf` for the verbs templates use: %v %s %d %q %t %x %X %f %e %g %%, width and '-'. */
function goSprintf(format: string, args: GoValue[]): string {
  let argIndex = 0;
  return (
    format.replace(
      /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g,
      (_m, flags: string, width?: string, prec?: string, verb?: string) => {
        if (verb === '%') return '%';
        if (argIndex >= args.length) return `%!${verb}(MISSING)`;
        const raw = args[argIndex++];
        const v = raw === undefined ? null : raw;
        const bad = (): string =>
          v === null ? `%!${verb}(<nil>)` : `%!${verb}(${goTypeName(v)}=${goFormat(v)})`;
        let text: string;
        switch (verb) {
          case 'v':
            text = goFormat(v);
            break;
          case 's':
            text =
              typeof v === 'string' || v instanceof GoStringer || v instanceof GoEnum || Array.isArray(v)
                ? goFormat(v)
                : bad();
            break;
          case 'd':
            text = typeof v === 'number' || v instanceof GoEnum ? String(numeric(v)) : bad();
            break;
          case 'q':
            text = typeof v === 'string' ? JSON.stringify(v) : bad();
            break;
          case 't':
            text = typeof v === 'boolean' ? String(v) : bad();
            break;
          case 'x':
          case 'X': {
            const t =
              typeof v === 'number'
                ? v.toString(16)
                : typeof v === 'string'
                  ? Buffer.from(v).toString('hex')
                  : bad();
            text = verb === 'X' ? t.toUpperCase() : t;
            break;
          }
          case 'f':
          case 'e':
          case 'g': {
            const n = numeric(v);
            if (Number.isNaN(n)) {
              text = bad();
            } else if (verb === 'f') {
              text = n.toFixed(prec === undefined ? 6 : Number(prec));
            } else if (verb === 'e') {
              text = n.toExponential(prec === undefined ? 6 : Number(prec)).replace(/e([+-])(\d)$/, 'e$10$2');
            } else {
              text = goFormat(new GoFloat(n));
            }
            break;
          }
          default:
            text = bad();
        }
        const w = width === undefined ? 0 : Number(width);
        if (text.length < w) {
          const pad = (flags.includes('0') && !flags.includes('-') ? '0' : ' ').repeat(w - text.length);
          text = flags.includes('-') ? text + pad : pad + text;
        }
        return text;
      },
    ) +
    (argIndex < args.length
      ? `%!(EXTRA ${args
          .slice(argIndex)
          .map((a) => `${goTypeName(a ?? null)}=${goFormat(a ?? null)}`)
          .join(', ')})`
      : '')
  );
}

/** Go's `template.JSEscapeString` (uppercase hex, `\'` for the apostrophe, as Go writes them). */
export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (c < 0x20) {
      out += `\\u00${c.toString(16).toUpperCase().padStart(2, '0')}`;
    } else if (c >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) {
      // unicode.IsPrint: letters, marks, numbers, punctuation, symbols (and only the ASCII space).
      out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Go's `template.HTMLEscapeString`. */
function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === '\0'
      ? '\uFFFD'
      : c === '"'
        ? '&#34;'
        : c === "'"
          ? '&#39;'
          : c === '&'
            ? '&amp;'
            : c === '<'
              ? '&lt;'
              : '&gt;',
  );
}
