/**
 * Go's `encoding/json.Marshal`, for the few places where Istio hands the template JSON text it made
 * with it: the node metadata (`meta_json_str`) and the `toJSON` template function. Matching it byte
 * for byte matters because templates paste that text verbatim: map keys are sorted, the output is
 * compact, and `<`, `>`, `&`, U+2028 and U+2029 are escaped (Marshal's HTML-safe default).
 */

import {
  GoEnum,
  GoFloat,
  GoNilPointer,
  GoStringer,
  GoStruct,
  type GoValue,
  isGoMap,
  sortedKeys,
} from './value.js';

export function goJsonMarshal(value: GoValue): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goJsonString(value);
  if (typeof value === 'number') return goJsonNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map((v: GoValue) => goJsonMarshal(v)).join(',')}]`;
  if (value instanceof GoFloat) return goJsonNumber(value.value);
  if (value instanceof GoEnum) return String(value.value);
  if (value instanceof GoStringer) return goJsonMarshal(value.json);
  if (value instanceof GoNilPointer) return 'null';
  if (value instanceof GoStruct) {
    const parts: string[] = [];
    for (const [field, v] of Object.entries(value.fields)) {
      const name = value.jsonNames[field];
      // Protobuf Go structs tag every field `json:"name,omitempty"`; untagged fields keep the Go name.
      if (name !== undefined && isEmptyForOmit(v)) continue;
      parts.push(`${goJsonString(name ?? field)}:${goJsonMarshal(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (isGoMap(value)) {
    const parts = sortedKeys(value)
      .filter((k) => value[k] !== undefined)
      .map((k) => `${goJsonString(k)}:${goJsonMarshal(value[k])}`);
    return `{${parts.join(',')}}`;
  }
  return 'null';
}

function isEmptyForOmit(v: GoValue): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return true;
  if (v instanceof GoNilPointer) return true;
  if (v instanceof GoEnum) return v.value === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (isGoMap(v)) return Object.keys(v).length === 0;
  return false;
}

/** Go formats JSON floats with 'f' unless |v| < 1e-6 or >= 1e21, which is also what JS does. */
function goJsonNumber(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  return String(n);
}

const HEX = '0123456789abcdef';

/** A JSON string literal the way `encoding/json` (Go ≥ 1.22, HTML escaping on) writes it. */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '<':
      case '>':
      case '&':
        out += `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
        continue;
      case '\u2028':
        out += '\\u2028';
        continue;
      case '\u2029':
        out += '\\u2029';
        continue;
    }
    if (c < 0x20) {
      out += `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate is not valid UTF-8; Go replaces invalid bytes with U+FFFD.
      out += '\\ufffd';
    } else {
      out += ch;
    }
  }
  return `${out}"`;
}
