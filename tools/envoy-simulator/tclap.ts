/**
 * The parts of TCLAP (the C++ command-line library Envoy uses, `tclap/CmdLine.h` 1.2.x) that a
 * caller can observe: which argument spellings match, how values are read, the order errors are
 * found in, and the text of `--help`, `--version` and a parse failure.
 *
 * Facts this relies on (TCLAP sources: `Arg.h`, `ValueArg.h`, `SwitchArg.h`, `MultiArg.h`,
 * `CmdLine.h`, `StdOutput.h`, `ArgException.h`):
 * - Envoy builds its `CmdLine` with the delimiter `' '`. `Arg::trimFlag` splits one argv element
 *   on that delimiter only, so `--flag=value` never matches a flag ("Couldn't find match for
 *   argument"); the value is the next argv element, whatever it looks like (even `-x`). A single
 *   element holding `--flag value` (with the space) does match.
 * - Arguments are tried in list order; `CmdLine::add` pushes to the front, so `--help` lists the
 *   options last-declared first, followed by TCLAP's own `--version`, `-h`/`--help` and
 *   `--`/`--ignore_rest`.
 * - A value flag or switch given twice is "Argument already set!"; a missing value is "Missing a
 *   value for this argument!"; numbers are read with `std::istringstream >>`.
 * - `--help` and `--version` act the moment they are parsed (later arguments are not looked at).
 * - After `--`, arguments that match nothing are ignored.
 */

export type ArgKind = 'switch' | 'value' | 'multi';

export interface ArgSpec {
  /** Long name without the leading `--`. */
  name: string;
  /** One-letter short flag without the `-`; TCLAP's ignore-rest switch uses `-`. */
  flag?: string;
  kind: ArgKind;
  /** `uint32` values are read as a C++ `uint32_t`; everything else is kept as text. */
  type?: 'string' | 'uint32';
  /** The `<...>` placeholder in usage texts (`string`, `uint32_t`). */
  typeDesc?: string;
  description: string;
  /** TCLAP's built-in arguments. */
  builtin?: 'help' | 'version' | 'ignore_rest';
}

export type ArgValue = boolean | string | number | string[];

export type ParseResult =
  | { kind: 'ok'; values: Map<string, ArgValue> }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'error'; argId: string; error: string };

class ArgError {
  constructor(
    readonly error: string,
    readonly argId: string,
  ) {}
}

/** `Arg::toString()`: `-c (--config-path)` or `(--base-id)`; used as the id of value errors. */
function argToString(spec: ArgSpec): string {
  return `${spec.flag !== undefined ? `-${spec.flag} ` : ''}(--${spec.name})`;
}

const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);

/**
 * `ValueArg<uint32_t>`'s `ExtractValue`: repeated `istream >> unsigned` until the stream is
 * exhausted. Leading blanks and a sign are accepted, a negative number wraps modulo 2^32 (as
 * libstdc++ does for unsigned types), anything left over fails, and two numbers are "More than one
 * valid value". An empty string reads nothing and leaves the default.
 */
export function extractUint32(text: string): { value: number | undefined } | { error: string } {
  const fail = { error: `Couldn't read argument value from string '${text}'` };
  let pos = 0;
  let valuesRead = 0;
  let value: number | undefined;
  while (pos < text.length) {
    while (pos < text.length && SPACE.has(text[pos] ?? '')) pos++;
    if (pos >= text.length) return fail;
    let negative = false;
    if (text[pos] === '+' || text[pos] === '-') {
      negative = text[pos] === '-';
      pos++;
    }
    const start = pos;
    while (pos < text.length && /[0-9]/.test(text[pos] ?? '')) pos++;
    if (pos === start) return fail;
    const magnitude = BigInt(text.slice(start, pos));
    if (magnitude > 0xffffffffn) return fail;
    value = Number(negative ? (0x100000000n - magnitude) % 0x100000000n : magnitude);
    valuesRead++;
  }
  if (valuesRead > 1) return { error: `More than one valid value parsed from string '${text}'` };
  return { value };
}

/**
 * Parses argv (without the program name) the way TCLAP's `CmdLine::parse` does for the given
 * argument list (in TCLAP list order).
 */
export function parseArgs(specs: readonly ArgSpec[], args: readonly string[]): ParseResult {
  const values = new Map<string, ArgValue>();
  let ignoreRest = false;
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? '';
      let matched = false;
      // Combined short switches (`-hh`) are blanked out one letter at a time.
      let combined = arg;
      for (const spec of specs) {
        // Every Envoy argument, and TCLAP's own, is "ignoreable": after `--` none of them match.
        if (ignoreRest) continue;
        if (spec.kind === 'switch') {
          const exact = arg === `--${spec.name}` || (spec.flag !== undefined && arg === `-${spec.flag}`);
          let viaCombined = false;
          if (!exact && spec.flag !== undefined && spec.flag !== '-') {
            const result = matchCombined(combined, spec.flag);
            if (result !== undefined) {
              combined = result;
              viaCombined = true;
            }
          }
          if (!exact && !viaCombined) continue;
          if (values.has(spec.name)) throw new ArgError('Argument already set!', argToString(spec));
          values.set(spec.name, true);
          if (spec.builtin === 'help') return { kind: 'help' };
          if (spec.builtin === 'version') return { kind: 'version' };
          if (spec.builtin === 'ignore_rest') ignoreRest = true;
          matched = true;
          break;
        }
        // ValueArg / MultiArg: split "flag value" held in one element at the first space.
        let flagText = arg;
        let inline = '';
        const space = arg.indexOf(' ');
        if (space > 1) {
          flagText = arg.slice(0, space);
          inline = arg.slice(space + 1);
        }
        const matches =
          flagText === `--${spec.name}` || (spec.flag !== undefined && flagText === `-${spec.flag}`);
        if (!matches) continue;
        if (spec.kind === 'value' && values.has(spec.name)) {
          throw new ArgError('Argument already set!', argToString(spec));
        }
        let raw = inline;
        if (raw === '') {
          i++;
          if (i >= args.length) throw new ArgError('Missing a value for this argument!', argToString(spec));
          raw = args[i] ?? '';
        }
        let value: ArgValue = raw;
        if (spec.type === 'uint32') {
          const read = extractUint32(raw);
          if ('error' in read) throw new ArgError(read.error, argToString(spec));
          // An empty value reads nothing: the option counts as set but keeps its default.
          value = read.value ?? '';
        }
        if (spec.kind === 'multi') {
          const list = values.get(spec.name);
          values.set(spec.name, [...(Array.isArray(list) ? list : []), String(value)]);
        } else {
          values.set(spec.name, value);
        }
        matched = true;
        break;
      }
      if (!matched && !ignoreRest) throw new ArgError("Couldn't find match for argument", arg);
    }
  } catch (err) {
    if (err instanceof ArgError) return { kind: 'error', argId: err.argId, error: err.error };
    throw err;
  }
  return { kind: 'ok', values };
}

/** `SwitchArg::combinedSwitchesMatch`: `-abc` sets each one-letter switch found in it. */
function matchCombined(text: string, flag: string): string | undefined {
  if (!text.startsWith('-') || text.startsWith('--') || text.includes(' ')) return undefined;
  for (let i = 1; i < text.length; i++) {
    if (text[i] === flag) return `${text.slice(0, i)}\x07${text.slice(i + 1)}`;
  }
  return undefined;
}

function shortId(spec: ArgSpec): string {
  let id = spec.flag !== undefined ? `-${spec.flag}` : `--${spec.name}`;
  if (spec.kind !== 'switch') id += ` <${spec.typeDesc ?? 'string'}>`;
  id = `[${id}]`;
  return spec.kind === 'multi' ? `${id} ... ` : id;
}

function longId(spec: ArgSpec): string {
  let id = '';
  const valuePart = spec.kind !== 'switch' ? ` <${spec.typeDesc ?? 'string'}>` : '';
  if (spec.flag !== undefined) id += `-${spec.flag}${valuePart},  `;
  id += `--${spec.name}${valuePart}`;
  return spec.kind === 'multi' ? `${id}  (accepted multiple times)` : id;
}

/** `StdOutput::spacePrint`: wraps at 75 columns on spaces, commas and pipes, honouring `\n`. */
function spacePrint(
  out: string[],
  s: string,
  maxWidth: number,
  indent: number,
  secondLineOffset: number,
): void {
  const len = s.length;
  if (len + indent <= maxWidth || maxWidth <= 0) {
    out.push(`${' '.repeat(indent)}${s}\n`);
    return;
  }
  let allowedLen = maxWidth - indent;
  let start = 0;
  let currentIndent = indent;
  while (start < len) {
    let stringLen = Math.min(len - start, allowedLen);
    if (stringLen === allowedLen) {
      while (stringLen >= 0 && ![' ', ',', '|'].includes(s[stringLen + start] ?? '')) stringLen--;
    }
    if (stringLen <= 0) stringLen = allowedLen;
    for (let i = 0; i < stringLen; i++) {
      if (s[start + i] === '\n') {
        stringLen = i + 1;
        break;
      }
    }
    out.push(`${' '.repeat(currentIndent)}${s.slice(start, start + stringLen).replace(/\n$/, '')}\n`);
    if (start === 0) {
      currentIndent += secondLineOffset;
      allowedLen -= secondLineOffset;
    }
    while (s[stringLen + start] === ' ' && start < len) start++;
    start += stringLen;
  }
}

function shortUsage(specs: readonly ArgSpec[], progName: string): string {
  const out: string[] = [];
  let s = `${progName} `;
  for (const spec of specs) s += ` ${shortId(spec)}`;
  const secondLineOffset = Math.min(progName.length + 2, Math.floor(75 / 2));
  spacePrint(out, s, 75, 3, secondLineOffset);
  return out.join('');
}

/** `StdOutput::usage`, printed on stdout by `--help`. */
export function usageText(specs: readonly ArgSpec[], progName: string, message: string): string {
  const out: string[] = ['\nUSAGE: \n\n', shortUsage(specs, progName), '\n\nWhere: \n\n'];
  for (const spec of specs) {
    spacePrint(out, longId(spec), 75, 3, 3);
    spacePrint(out, spec.description, 75, 5, 0);
    out.push('\n');
  }
  out.push('\n');
  spacePrint(out, message, 75, 3, 0);
  out.push('\n');
  return out.join('');
}

/** `StdOutput::version`, printed on stdout by `--version`. */
export function versionText(progName: string, version: string): string {
  return `\n${progName}  version: ${version}\n\n`;
}

/** `StdOutput::failure`, printed on stderr for a parse error. */
export function failureText(
  specs: readonly ArgSpec[],
  progName: string,
  argId: string,
  error: string,
): string {
  const id = argId === 'undefined' ? ' ' : `Argument: ${argId}`;
  return (
    `PARSE ERROR: ${id}\n             ${error}\n\n` +
    `Brief USAGE: \n${shortUsage(specs, progName)}\n` +
    `For complete USAGE and HELP type: \n   ${progName} --help\n\n`
  );
}
