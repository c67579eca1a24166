/**
 * The one pino root logger of the agent (habit 12). Decided once, here:
 * - JSON lines when stdout is not a terminal (containers, log collectors) or with `--log_as_json`;
 *   on a terminal, one readable line per event (`terminalLine`): time, level, message, and as many
 *   of the event's fields as fit the terminal's width, written synchronously (no worker thread
 *   that could lose the last lines at exit).
 * - Key material never reaches the log: `privateKey`, `key`, `token` and `accessToken` fields are
 *   censored at any depth pino's redact paths reach, and PEM blocks are cut out of every string
 *   (messages included), since certificates and keys travel through config and error text.
 * Istio's levels (`debug`, `info`, `warn`, `error`, `fatal`, `none`) map onto pino's, `none` being
 * `silent`.
 */

import type { DestinationStream, Level, LoggerOptions, Logger as PinoLogger } from 'pino';
import { pino } from 'pino';

export type Logger = PinoLogger;

/** Istio log level names (`istio.io/pkg/log`). */
export const ISTIO_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal', 'none'] as const;
export type IstioLevel = (typeof ISTIO_LEVELS)[number];

export interface LoggerOptionsInput {
  /** Force JSON (true) or readable output (false); default: JSON unless `isTTY`. */
  json?: boolean;
  /** An Istio level name; default `info`. */
  level?: IstioLevel;
  /** Where lines go; default stdout. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Whether the destination is a terminal; default `process.stdout.isTTY`. */
  isTTY?: boolean;
}

const CENSOR = '[REDACTED]';
const SECRET_KEYS = ['privateKey', 'key', 'token', 'accessToken'];
/** pino `redact` paths: the field itself and up to three levels down (e.g. `proxyConfig.*.tlsSettings.privateKey`). */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;

/** Replaces every PEM block (complete or cut off) in a string. */
export function scrubPem(text: string): string {
  return text.replace(PEM_BLOCK, '[REDACTED PEM]');
}

function scrubValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubPem(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, depth + 1);
  return out;
}

function pinoLevel(level: IstioLevel): Level | 'silent' {
  return level === 'none' ? 'silent' : level;
}

/**
 * A log stream whose reader went away (a closed pipe: EPIPE) must not take the agent down or make
 * it spin: the error has nowhere to be reported, and an unhandled stream error would become an
 * uncaught exception, whose report is one more write to the same broken stream.
 */
function ignoreBrokenStream(stream: unknown): void {
  const s = stream as {
    on?: (event: string, listener: (err: Error) => void) => unknown;
    listenerCount?: (e: string) => number;
  };
  if (typeof s.on !== 'function') return;
  if (typeof s.listenerCount === 'function' && s.listenerCount('error') > 0) return;
  s.on('error', () => {});
}

export function createLogger(options: LoggerOptionsInput = {}): Logger {
  const destination = options.destination ?? process.stdout;
  ignoreBrokenStream(destination);
  const isTTY = options.isTTY ?? process.stdout.isTTY === true;
  const json = options.json ?? !isTTY;
  const config: LoggerOptions = {
    level: pinoLevel(options.level ?? 'info'),
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: {
      // `level: "info"` instead of pino's number, as Istio's JSON logs carry the level name.
      level: (label) => ({ level: label }),
      log: (object) => scrubValue(object, 0) as Record<string, unknown>,
    },
    hooks: {
      // Messages and printf arguments are not seen by `formatters.log`.
      logMethod(args, method) {
        const cleaned = args.map((a) => (typeof a === 'string' ? scrubPem(a) : a)) as Parameters<
          typeof method
        >;
        method.apply(this, cleaned);
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    base: undefined,
  };
  if (json) return pino(config, destination as DestinationStream);
  const out = destination as NodeJS.WritableStream & { columns?: number };
  const width = () => (typeof out.columns === 'number' && out.columns > 0 ? out.columns : DEFAULT_WIDTH);
  return pino(config, {
    write(line: string) {
      out.write(
        `${terminalLine(JSON.parse(line) as Record<string, unknown>, { color: isTTY, width: width() })}\n`,
      );
    },
  });
}

/** Columns assumed when the terminal does not say. */
const DEFAULT_WIDTH = 120;
/** Longest value shown for one field. */
const MAX_VALUE = 48;
/** What every line shows in its own way, or not at all. */
const HEADER = new Set(['level', 'time', 'msg']);

const COLORS: Record<string, string> = {
  trace: '90',
  debug: '90',
  info: '32',
  warn: '33',
  error: '31',
  fatal: '35',
};

function fieldText(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = /^[\w.:/@+,-]+$/.test(value) ? value : JSON.stringify(value);
  else if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null))
    text = value.map((v) => String(v)).join(',');
  else if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { message?: unknown }).message === 'string'
  )
    text = JSON.stringify((value as { message: string }).message);
  else text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 3)}...` : text;
}

/** Values that say nothing on a terminal line: absent, null, empty. */
function isEmpty(value: unknown): boolean {
  return (
    value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)
  );
}

/**
 * One log event as one terminal line: `HH:MM:SS.mmm LEVEL message key=value …`. The rule is the
 * same for every event, whatever fields it carries: fields follow in the order they were logged,
 * except empty ones and those whose value the message already says; each value is cut at 48
 * characters; a field that would make the line wrap is left out, and `…` at the end says that
 * some were. The message is never cut, and the JSON output (not a terminal) carries everything.
 */
export function terminalLine(
  record: Record<string, unknown>,
  options: { color: boolean; width: number },
): string {
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const time = typeof record.time === 'string' ? new Date(record.time) : new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
  const level = String(record.level ?? 'info');
  const message = String(record.msg ?? '').replace(/\s*\n\s*/g, ' ');
  let line = `${clock} ${paint(COLORS[level] ?? '0', level.toUpperCase().padEnd(5))} ${message}`;
  // Two columns are kept for the marker of fields left out.
  let room = options.width - 2 - (clock.length + 7 + message.length);
  let leftOut = false;
  for (const [key, value] of Object.entries(record)) {
    if (HEADER.has(key) || isEmpty(value)) continue;
    if (typeof value === 'string' && value.length >= 3 && message.includes(value)) continue;
    const field = ` ${key}=${fieldText(value)}`;
    if (field.length > room) {
      leftOut = true;
      continue;
    }
    line += paint('2', field);
    room -= field.length;
  }
  return leftOut ? `${line}${paint('2', ' \u2026')}` : line;
}

/**
 * Istio `--log_output_level`: `<scope>:<level>,...` or a bare `<level>` for the default scope.
 * Returns the default scope's level (the only scope this agent has), or an error naming the entry.
 */
export function defaultScopeLevel(spec: string): IstioLevel | { error: string } {
  let bare: IstioLevel | undefined;
  let scoped: IstioLevel | undefined;
  for (const entry of spec.split(',')) {
    const pieces = entry.split(':');
    if (pieces.length > 2) return { error: `invalid output level format '${entry}'` };
    const name = pieces[pieces.length - 1] ?? '';
    if (!(ISTIO_LEVELS as readonly string[]).includes(name))
      return { error: `invalid output level '${entry}'` };
    // Istio's GetOutputLevel("default"): the first bare level wins, else the first `default:` entry.
    if (pieces.length === 1) bare ??= name as IstioLevel;
    else if (pieces[0] === 'default') scoped ??= name as IstioLevel;
  }
  return bare ?? scoped ?? 'info';
}
