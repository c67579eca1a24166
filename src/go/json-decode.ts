/**
 * Reading the JSON that Istio's injector writes into environment variables the way Go's
 * `encoding/json` reads it into a struct, so a value Istio accepts means the same thing here:
 * object keys match struct fields case-insensitively (the injector's tests rely on `"gRPC"` for
 * the `grpc` field), unknown keys are ignored, a later key for the same field overrides an earlier
 * one, and `null` leaves a field unset.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Go folds keys with Unicode simple case folding, under which `ſ` (U+017F) equals `s` and the
 * Kelvin sign (U+212A) equals `k`; upper- then lower-casing gives the same classes for field names.
 */
function fold(key: string): string {
  return key.toUpperCase().toLowerCase();
}

/** The value Go would decode into struct field `field` of `obj`; `undefined` when unset or null. */
export function goField(obj: JsonObject, field: string): JsonValue | undefined {
  const wanted = fold(field);
  let found: JsonValue | undefined;
  for (const [key, value] of Object.entries(obj)) {
    if (key === field || fold(key) === wanted) found = value;
  }
  return found === null ? undefined : found;
}

/** `JSON.stringify` for error messages, cut so one bad value cannot flood the log line. */
export function shortJson(value: JsonValue | undefined): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
