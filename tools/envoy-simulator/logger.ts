/**
 * Envoy's application log: spdlog loggers named after Envoy's logger ids (`main`, `config`,
 * `admin`, ...), one sink (stderr, or the `--log-path` file), one pattern (`--log-format`, default
 * `[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v` since about 1.16), a global level (`-l`) and
 * per-logger levels (`--component-log-level`).
 *
 * The pattern formatter covers the spdlog flags a supervisor is likely to pass, plus Envoy's own
 * `%j` (message escaped for a JSON string) and `%_` (newlines escaped), which Istio's JSON log
 * formats use. Writes are synchronous (`writeSync`), so a line logged just before the process dies
 * by a signal is on the file descriptor already.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** spdlog's level names, in order (`spdlog::level::level_string_views`). */
export const LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type Level = (typeof LEVELS)[number];

/** Envoy's logger ids (`ALL_LOGGER_IDS` in `source/common/common/logger.h`, 1.3x). */
export const LOGGER_IDS = [
  'admin',
  'alternate_protocols_cache',
  'aws',
  'assert',
  'backtrace',
  'basic_auth',
  'cache_filter',
  'client',
  'config',
  'connection',
  'conn_handler',
  'decompression',
  'dns',
  'dubbo',
  'envoy_bug',
  'ext_authz',
  'ext_proc',
  'rocketmq',
  'file',
  'filter',
  'forward_proxy',
  'geolocation',
  'grpc',
  'happy_eyeballs',
  'hc',
  'health_checker',
  'http',
  'http2',
  'hystrix',
  'init',
  'io',
  'jwt',
  'kafka',
  'key_value_store',
  'lua',
  'main',
  'matcher',
  'misc',
  'mongo',
  'multi_connection',
  'oauth2',
  'quic',
  'quic_stream',
  'pool',
  'rate_limit_quota',
  'rbac',
  'rds',
  'redis',
  'router',
  'runtime',
  'stats',
  'secret',
  'tap',
  'testing',
  'thrift',
  'tracing',
  'upstream',
  'udp',
  'wasm',
  'websocket',
  'golang',
] as const;
export type LoggerId = (typeof LOGGER_IDS)[number];

export const DEFAULT_LOG_FORMAT = '[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v';

/** Where a log call sits in Envoy's source tree: rendered by `%g`, `%s`, `%#` and `%@`. */
export type Site = `${string}.${'cc' | 'h'}:${number}`;

interface LogRecord {
  time: Date;
  level: Level;
  logger: LoggerId;
  site: Site;
  message: string;
}

type Piece = (r: LogRecord) => string;

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAYS_FULL = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_FULL = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function tzOffset(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** JSON string escaping without the surrounding quotes (Envoy's `%j`). */
function jsonEscape(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** C-style escaping of control characters, keeping trailing whitespace (`--log-format-escaped`). */
function cEscape(text: string): string {
  const trimmed = text.replace(/\s+$/, '');
  const tail = text.slice(trimmed.length);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point.
  const escaped = trimmed.replace(/[\x00-\x1f\x7f\\]/g, (ch) => {
    switch (ch) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\\':
        return '\\\\';
      default:
        return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
  return escaped + tail;
}

const SHORT_LEVEL: Record<Level, string> = {
  trace: 'T',
  debug: 'D',
  info: 'I',
  warning: 'W',
  error: 'E',
  critical: 'C',
  off: 'O',
};

function siteFile(site: Site): string {
  return site.slice(0, site.lastIndexOf(':'));
}

function siteLine(site: Site): string {
  return site.slice(site.lastIndexOf(':') + 1);
}

function flagPiece(flag: string, escapeMessage: boolean): Piece | undefined {
  const hours12 = (d: Date): number => d.getHours() % 12 || 12;
  switch (flag) {
    case 'v':
      return (r) => (escapeMessage ? cEscape(r.message) : r.message);
    case 'j':
      return (r) => jsonEscape(r.message);
    case '_':
      return (r) => r.message.replace(/\n/g, '\\n');
    case 't':
      // The main thread's id equals the process id on Linux, and every log line here is the
      // main thread's.
      return () => String(process.pid);
    case 'P':
      return () => String(process.pid);
    case 'n':
      return (r) => r.logger;
    case 'l':
      return (r) => r.level;
    case 'L':
      return (r) => SHORT_LEVEL[r.level];
    case 'a':
      return (r) => WEEKDAYS[r.time.getDay()] ?? '';
    case 'A':
      return (r) => WEEKDAYS_FULL[r.time.getDay()] ?? '';
    case 'b':
    case 'h':
      return (r) => MONTHS[r.time.getMonth()] ?? '';
    case 'B':
      return (r) => MONTHS_FULL[r.time.getMonth()] ?? '';
    case 'c':
      return (r) => {
        const d = r.time;
        return `${WEEKDAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${d.getFullYear()}`;
      };
    case 'C':
      return (r) => pad(r.time.getFullYear() % 100);
    case 'Y':
      return (r) => String(r.time.getFullYear());
    case 'D':
    case 'x':
      return (r) =>
        `${pad(r.time.getMonth() + 1)}/${pad(r.time.getDate())}/${pad(r.time.getFullYear() % 100)}`;
    case 'm':
      return (r) => pad(r.time.getMonth() + 1);
    case 'd':
      return (r) => pad(r.time.getDate());
    case 'H':
      return (r) => pad(r.time.getHours());
    case 'I':
      return (r) => pad(hours12(r.time));
    case 'M':
      return (r) => pad(r.time.getMinutes());
    case 'S':
      return (r) => pad(r.time.getSeconds());
    case 'e':
      return (r) => pad(r.time.getMilliseconds(), 3);
    case 'f':
      return (r) => `${pad(r.time.getMilliseconds(), 3)}000`;
    case 'F':
      return (r) => `${pad(r.time.getMilliseconds(), 3)}000000`;
    case 'p':
      return (r) => (r.time.getHours() < 12 ? 'AM' : 'PM');
    case 'r':
      return (r) =>
        `${pad(hours12(r.time))}:${pad(r.time.getMinutes())}:${pad(r.time.getSeconds())} ${r.time.getHours() < 12 ? 'AM' : 'PM'}`;
    case 'R':
      return (r) => `${pad(r.time.getHours())}:${pad(r.time.getMinutes())}`;
    case 'T':
    case 'X':
      return (r) => `${pad(r.time.getHours())}:${pad(r.time.getMinutes())}:${pad(r.time.getSeconds())}`;
    case 'z':
      return (r) => tzOffset(r.time);
    case 'E':
      return (r) => String(Math.floor(r.time.getTime() / 1000));
    case '@':
      return (r) => r.site;
    case 's':
      return (r) => {
        const file = siteFile(r.site);
        return file.slice(file.lastIndexOf('/') + 1);
      };
    case 'g':
      return (r) => siteFile(r.site);
    case '#':
      return (r) => siteLine(r.site);
    case '!':
      return () => '';
    case '%':
      return () => '%';
    default:
      return undefined;
  }
}

/**
 * Compiles an spdlog pattern. Unknown flags are copied through as spdlog does. Alignment specs
 * (`%-8l`, `%=10n`, `%5t`, with an optional `!` to truncate) are honoured.
 */
export function compilePattern(pattern: string, escapeMessage = false): (r: LogRecord) => string {
  const pieces: Piece[] = [];
  let literal = '';
  const flushLiteral = (): void => {
    if (literal !== '') {
      const text = literal;
      pieces.push(() => text);
      literal = '';
    }
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch !== '%' || i === pattern.length - 1) {
      literal += ch;
      continue;
    }
    const spec = /^([-=]?)([0-9]*)(!?)(.)/s.exec(pattern.slice(i + 1));
    if (spec === null) {
      literal += ch;
      continue;
    }
    const [whole, align, width, truncate, flagChar] = spec as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    const piece = flagPiece(flagChar, escapeMessage);
    if (piece === undefined) {
      // spdlog prints an unknown flag verbatim.
      literal += `%${whole}`;
      i += whole.length;
      continue;
    }
    flushLiteral();
    const w = width === '' ? 0 : Number.parseInt(width, 10);
    if (w === 0) {
      pieces.push(piece);
    } else {
      pieces.push((r) => {
        let text = piece(r);
        if (text.length > w && truncate === '!') text = text.slice(0, w);
        if (text.length >= w) return text;
        const gap = w - text.length;
        if (align === '-') return text + ' '.repeat(gap);
        if (align === '=')
          return ' '.repeat(Math.floor(gap / 2)) + text + ' '.repeat(gap - Math.floor(gap / 2));
        return ' '.repeat(gap) + text;
      });
    }
    i += whole.length;
  }
  flushLiteral();
  return (r) => pieces.map((p) => p(r)).join('');
}

export interface LoggerOptions {
  level: Level;
  componentLevels: ReadonlyMap<string, Level>;
  format: string;
  escape: boolean;
  path: string | undefined;
}

export class LogFileError extends Error {
  override readonly name = 'LogFileError';
}

export class Logger {
  private format: (r: LogRecord) => string;
  private level: Level;
  private componentLevels: ReadonlyMap<string, Level>;
  private fd = 2;
  private path: string | undefined;

  constructor(options: Partial<LoggerOptions> = {}) {
    this.level = options.level ?? 'info';
    this.componentLevels = options.componentLevels ?? new Map();
    this.format = compilePattern(options.format ?? DEFAULT_LOG_FORMAT, options.escape ?? false);
  }

  configure(options: LoggerOptions): void {
    this.level = options.level;
    this.componentLevels = options.componentLevels;
    this.format = compilePattern(options.format, options.escape);
  }

  /**
   * Sends the log to a file instead of stderr. Envoy opens it for appending through its access
   * log manager; a failure here is the `Failed to open log-file` startup error.
   */
  openFile(path: string): void {
    try {
      this.fd = openSync(path, 'a');
      this.path = path;
    } catch (err) {
      const reason = err instanceof Error && 'code' in err ? describeErrno(String(err.code)) : String(err);
      throw new LogFileError(
        `Failed to open log-file '${path}'. e.what(): unable to open file '${path}': ${reason}`,
      );
    }
  }

  /** SIGUSR1: close and reopen the `--log-path` file (so log rotation works). */
  reopen(): void {
    if (this.path === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
    try {
      this.fd = openSync(this.path, 'a');
    } catch {
      this.fd = 2;
    }
  }

  enabled(logger: LoggerId, level: Level): boolean {
    const threshold = this.componentLevels.get(logger) ?? this.level;
    return LEVELS.indexOf(level) >= LEVELS.indexOf(threshold) && threshold !== 'off' && level !== 'off';
  }

  log(level: Level, logger: LoggerId, site: Site, message: string): void {
    if (!this.enabled(logger, level)) return;
    const line = `${this.format({ time: new Date(), level, logger, site, message })}\n`;
    try {
      writeSync(this.fd, line);
    } catch {
      // A closed stderr must not crash the simulated Envoy.
    }
  }

  trace(logger: LoggerId, site: Site, message: string): void {
    this.log('trace', logger, site, message);
  }
  debug(logger: LoggerId, site: Site, message: string): void {
    this.log('debug', logger, site, message);
  }
  info(logger: LoggerId, site: Site, message: string): void {
    this.log('info', logger, site, message);
  }
  warn(logger: LoggerId, site: Site, message: string): void {
    this.log('warning', logger, site, message);
  }
  error(logger: LoggerId, site: Site, message: string): void {
    this.log('error', logger, site, message);
  }
  critical(logger: LoggerId, site: Site, message: string): void {
    this.log('critical', logger, site, message);
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNREFUSED: 'Connection refused',
  EROFS: 'Read-only file system',
};

/** `strerror()` for the errno names Node reports. */
export function describeErrno(code: string): string {
  return ERRNO_TEXT[code] ?? code;
}
