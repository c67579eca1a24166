/**
 * Durations as Istio's flags take them (Go's `time.ParseDuration`: "45s", "1m0s", "1h2m3.5s",
 * "300ms", "0") and as the two outputs need them: Go's `Duration.String()` for the template
 * parameters Istio exposes (`connect_timeout` = "1s"), and protobuf-JSON ("0.250s") for the v3
 * bootstrap. Values are carried as milliseconds (a float: Go accepts "1.5ms" and "100us").
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// µ (U+00B5) and μ (U+03BC) escaped: a regex literal keeps its characters in the bundle, and one
// non-ASCII character makes V8 hold the whole bundle's source at two bytes per character.
const PART = /^([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/;

/**
 * Parses a Go duration string into milliseconds. Returns `undefined` for anything Go's parser
 * would reject (so the caller can name the flag in its own error message).
 */
export function parseGoDuration(text: string): number | undefined {
  let rest = text.trim();
  if (rest === '') return undefined;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const m = PART.exec(rest);
    if (!m) return undefined;
    const [whole, num, unit] = m as unknown as [string, string, string];
    if (num === '' || num === '.') return undefined;
    total += Number(num) * (UNIT_MS[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/** Go's `time.Duration.String()` for a millisecond value: "1m0s", "1.5s", "250ms", "0s". */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  let out: string;
  if (rest < 1000) {
    if (rest >= 1) out = `${trimFloat(rest)}ms`;
    else if (rest >= 1e-3) out = `${trimFloat(rest * 1e3)}µs`;
    else out = `${trimFloat(rest * 1e6)}ns`;
  } else {
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const s = `${trimFloat(rest / 1000)}s`;
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? `-${out}` : out;
}

/** protobuf-JSON `google.protobuf.Duration`: seconds with up to 9 fractional digits, "0.250s". */
export function formatProtoDuration(ms: number): string {
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

function trimFloat(n: number): string {
  // Go prints the shortest exact decimal; 12 significant digits is enough for ms inputs.
  return String(Number(n.toPrecision(12)));
}
