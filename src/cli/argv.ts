/**
 * Go flag syntax, as Istio's command lines are written for it (cobra/pflag, plus Go's `flag`
 * package habit of single-dash long names):
 *   --name value   --name=value   -name value   -name=value
 *   --bool         --bool=true|false (never `--bool false`: the `false` stays a positional argument)
 *   -s  -s=false  -o json  -ojson  -o=json      (shorthands)
 *   --             ends flag parsing
 * A value flag takes the next argument whatever it looks like (pflag does), so `--concurrency -1`
 * reaches the range check instead of becoming a flag. Unknown flags are tolerated where Istio sets
 * cobra's `UnknownFlags` (root and `proxy`): like pflag's `stripUnknownFlagValue`, an unknown
 * `--flag` without `=` also swallows the next argument unless that starts with `-`.
 *
 * commander cannot express these rules, so this module turns the argument list into canonical
 * `--name=value` tokens that commander then parses for the command it dispatches.
 */

import type { FlagSpec } from '../config/flags.js';
import { usageError } from '../errors.js';

export interface TokenizedArgs {
  /** Raw value of each flag given, by canonical name (last occurrence wins, as in pflag). */
  values: Map<string, string>;
  /** Unknown flags as typed, without their values (`--foo`, `-x`). */
  unknown: string[];
  positionals: string[];
  help: boolean;
}

export function tokenizeGoFlags(
  args: readonly string[],
  table: Readonly<Record<string, FlagSpec>>,
  options: { allowUnknown: boolean },
): TokenizedArgs {
  const shorts = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) if (spec.short) shorts.set(spec.short, name);
  const out: TokenizedArgs = { values: new Map(), unknown: [], positionals: [], help: false };

  const unknown = (typed: string, hasValue: boolean, index: number): number => {
    if (!options.allowUnknown) {
      const short = /^-[^-]/.test(typed) && typed.length === 2;
      throw usageError(
        short ? `unknown shorthand flag: '${typed[1]}' in ${typed}` : `unknown flag: ${typed}`,
      );
    }
    out.unknown.push(typed);
    const next = args[index + 1];
    return !hasValue && next !== undefined && !next.startsWith('-') ? index + 1 : index;
  };

  for (let i = 0; i < args.length; i++) {
    const token = args[i] ?? '';
    if (token === '--') {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    if (token === '-' || !token.startsWith('-')) {
      out.positionals.push(token);
      continue;
    }
    const doubleDash = token.startsWith('--');
    const body = token.slice(doubleDash ? 2 : 1);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const attached = eq < 0 ? undefined : body.slice(eq + 1);

    if (name === 'help' || (!doubleDash && name === 'h')) {
      out.help = true;
      continue;
    }
    let canonical: string | undefined;
    let value = attached;
    if (doubleDash || table[name] !== undefined) {
      canonical = table[name] !== undefined ? name : undefined;
    } else {
      // A shorthand: `-o json`, `-ojson`, `-o=json`, `-s`, `-s=false`.
      canonical = shorts.get(body[0] ?? '');
      if (canonical !== undefined) {
        const rest = body.slice(1);
        value = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
        if (table[canonical]?.type === 'bool' && value !== undefined && !rest.startsWith('='))
          canonical = undefined;
      }
    }
    if (canonical === undefined) {
      i = unknown(doubleDash ? `--${name}` : `-${name}`, attached !== undefined, i);
      continue;
    }
    const spec = table[canonical];
    if (spec?.type === 'bool') {
      out.values.set(canonical, value ?? 'true');
      continue;
    }
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined) throw usageError(`flag needs an argument: --${canonical}`);
      value = next;
      i++;
    }
    out.values.set(canonical, value);
  }
  return out;
}

/** `--name=value` tokens for commander, in table order. */
export function canonicalTokens(values: ReadonlyMap<string, string>): string[] {
  return [...values].map(([name, value]) => `--${name}=${value}`);
}
