/**
 * The values a Go `text/template` sees, modelled closely enough that Istio's bootstrap templates
 * (and users' copies of them) behave as they do under Go: a missing map key is distinct from a
 * nil value, a struct rejects unknown fields, a protobuf enum prints its name but compares as an
 * integer, a `*types.Duration` prints through its `String()` method.
 *
 * Plain JS values map to Go as: string → string, integer number → int, boolean → bool, null →
 * untyped nil, array → `[]interface{}`, plain object → `map[string]interface{}` (an `undefined`
 * property counts as an absent key).
 */

/** A Go struct (always behind a pointer, as protobuf messages are): unknown fields are an error. */
export class GoStruct<
  F extends { readonly [field: string]: GoValue } = { readonly [field: string]: GoValue },
> {
  constructor(
    /** Go type name used in error messages, e.g. `*v1alpha1.ProxyConfig`. */
    readonly typeName: string,
    readonly fields: F,
    /** `encoding/json` names of the fields (protobuf Go structs carry camelCase tags, all omitempty). */
    readonly jsonNames: { readonly [field: string]: string } = {},
  ) {}
}

/** A typed nil pointer (`(*v1alpha1.Tracing)(nil)`): false in `if`, an error when a field is read. */
export class GoNilPointer {
  constructor(readonly typeName: string) {}
}

/** A Go integer enum with a `String()` method (protobuf enums): prints its name, compares as int. */
export class GoEnum {
  constructor(
    readonly typeName: string,
    readonly name: string,
    readonly value: number,
  ) {}
}

/** A pointer to a value whose `String()` method is what templates print (gogo `*types.Duration`). */
export class GoStringer {
  constructor(
    readonly typeName: string,
    readonly text: string,
    /** What `encoding/json` would produce for the underlying struct. */
    readonly json: GoValue,
  ) {}
}

/** A float64 (from a template literal such as `1.5`); plain JS numbers are Go ints. */
export class GoFloat {
  constructor(readonly value: number) {}
}

export type GoValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly GoValue[]
  | GoMap
  | GoStruct
  | GoNilPointer
  | GoEnum
  | GoStringer
  | GoFloat;

export interface GoMap {
  readonly [key: string]: GoValue;
}

export function isGoMap(value: GoValue): value is GoMap {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/** Go's name for the dynamic type of a value, for error messages. */
export function goTypeName(value: GoValue): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'int';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return '[]interface {}';
  if (value instanceof GoFloat) return 'float64';
  if (value instanceof GoStruct || value instanceof GoNilPointer) return value.typeName;
  if (value instanceof GoEnum || value instanceof GoStringer) return value.typeName;
  return 'map[string]interface {}';
}

/** Go's `template.IsTrue`: the truth of a value in `if`, `with`, `and`, `or`, `not`. */
export function goTruth(value: GoValue): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof GoFloat) return value.value !== 0;
  if (value instanceof GoEnum) return value.value !== 0;
  if (value instanceof GoNilPointer) return false;
  if (value instanceof GoStruct || value instanceof GoStringer) return true;
  return Object.values(value as GoMap).some((v) => v !== undefined);
}

/**
 * `fmt.Sprint` of one value, as `{{ .x }}` prints it. Scalars, slices, maps, enums and Stringers are
 * exact; a struct prints its fields in Go's `&{a b}` shape, which matches Go only for structs without
 * a `String()` method (real protobuf messages print as compact text protos; nobody templates that).
 */
export function goFormat(value: GoValue, nested = false): string {
  if (value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map((v: GoValue) => goFormat(v, true)).join(' ')}]`;
  if (value instanceof GoFloat) return formatGoFloat(value.value);
  if (value instanceof GoEnum) return value.name;
  if (value instanceof GoStringer) return value.text;
  if (value instanceof GoNilPointer) return '<nil>';
  if (value instanceof GoStruct) {
    const inner = Object.values(value.fields).map((v) => goFormat(v, true));
    return `${nested ? '' : '&'}{${inner.join(' ')}}`;
  }
  const map = value as GoMap;
  const entries = sortedKeys(map)
    .filter((k) => map[k] !== undefined)
    .map((k) => `${k}:${goFormat(map[k], true)}`);
  return `map[${entries.join(' ')}]`;
}

/** Go's `%v` for a float64: `strconv.FormatFloat(v, 'g', -1, 64)` (shortest digits; %e form when exp < -4 || exp >= 6). */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa = '0', expText = '0'] = v.toExponential().split('e');
  const exp = Number(expText);
  // strconv's 'g' with the shortest precision uses eprec = 6, which is why Go prints 1e6 as "1e+06".
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    const abs = Math.abs(exp);
    return `${mantissa}e${sign}${abs < 10 ? `0${abs}` : abs}`;
  }
  return String(v);
}

/** Map keys in Go's order: byte-wise on the UTF-8 encoding (what `sort.Strings` gives). */
export function sortedKeys(map: GoMap | { readonly [key: string]: unknown }): string[] {
  return Object.keys(map).sort(compareGoStrings);
}

export function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
