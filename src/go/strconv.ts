/**
 * The value syntaxes Istio's flags and environment variables accept, as Go parses them, so the same
 * command line means the same thing here. Each parser returns `undefined` for what Go rejects; the
 * caller owns the error message (it knows the flag or variable name).
 */

/** Go `strconv.ParseBool`: used by pflag bool flags and `istio.io/pkg/env` bool variables. */
export function parseGoBool(text: string): boolean | undefined {
  switch (text) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

const DIGITS: Record<number, RegExp> = {
  2: /^[01]+(?:_[01]+)*$/,
  8: /^[0-7]+(?:_[0-7]+)*$/,
  10: /^[0-9]+(?:_[0-9]+)*$/,
  16: /^[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*$/,
};

/**
 * Go `strconv.ParseInt(text, 0, 64)` / `ParseUint(text, 0, bits)` as pflag's IntVar, Uint16Var and
 * Uint32Var call them: optional sign, then `0x`/`0o`/`0b` prefixes or a leading `0` for octal,
 * underscores only between digits (or right after a prefix). Returns `undefined` for a syntax error;
 * range checks are the caller's (it names the type in its message).
 */
export function parseGoInteger(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('+') || rest.startsWith('-')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '') return undefined;
  let base = 10;
  let prefixed = false;
  if (/^0[xX]/.test(rest)) {
    base = 16;
    rest = rest.slice(2);
    prefixed = true;
  } else if (/^0[oO]/.test(rest)) {
    base = 8;
    rest = rest.slice(2);
    prefixed = true;
  } else if (/^0[bB]/.test(rest)) {
    base = 2;
    rest = rest.slice(2);
    prefixed = true;
  } else if (rest.length > 1 && rest.startsWith('0')) {
    // Go base 0: a leading "0" means octal ("010" is 8).
    base = 8;
    rest = rest.slice(1);
    prefixed = true;
  }
  // Go allows one underscore right after a base prefix ("0x_1F").
  if (prefixed && rest.startsWith('_')) rest = rest.slice(1);
  const pattern = DIGITS[base];
  if (pattern === undefined || !pattern.test(rest)) return undefined;
  const value = Number.parseInt(rest.replaceAll('_', ''), base);
  return Number.isSafeInteger(value) ? sign * value : undefined;
}

/** Go `strconv.Atoi`: decimal only, optional sign (what `istio.io/pkg/env` int variables use). */
export function parseGoAtoi(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Go's `%q` for the printable strings flags carry: JSON string syntax is the same for everything
 * except non-ASCII escapes, which do not occur in flag values we print.
 */
export function goQuote(text: string): string {
  return JSON.stringify(text);
}
