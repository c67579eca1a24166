/**
 * Go's `time.Duration` as Istio's flags take it (`time.ParseDuration`: "45s", "1m0s", "1h2m3.5s",
 * "300ms", "0") and print it (`Duration.String()`, as in the template parameters Istio exposes:
 * `connect_timeout` = "1s"). Values are carried as milliseconds (a float: Go accepts "1.5ms" and
 * "100us").
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

function trimFloat(n: number): string {
  // Go prints the shortest exact decimal; 12 significant digits is enough for ms inputs.
  return String(Number(n.toPrecision(12)));
}
