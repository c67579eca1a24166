/**
 * Envoy's command line (`source/server/options_impl.cc`, 1.3x): the option table, TCLAP parsing,
 * then the semantic checks in the order `OptionsImpl` makes them, each with its exact
 * `error: ...` text. The result is either the options a server runs with, or what `main()` does
 * instead of serving (print and exit 0, or print and exit 1).
 *
 * Removed options (`--max-obj-name-len`, `--max-stats`, `--bootstrap-version`, `--v2-config-only`,
 * `--allow-deprecated-v1-api`, `--log-format-prefix-with-location`) are simply absent from the
 * table, so TCLAP rejects them as a current Envoy does.
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_LOG_FORMAT, LEVELS, type Level, LOGGER_IDS } from './logger.js';
import { type ArgSpec, type ArgValue, failureText, parseArgs, usageText, versionText } from './tclap.js';
import { ENVOY_VERSION, HOT_RESTART_DISABLED, HOT_RESTART_VERSION } from './version.js';

export type Mode = 'serve' | 'validate' | 'init_only';

export interface Options {
  baseId: number;
  useDynamicBaseId: boolean;
  skipHotRestartOnNoParent: boolean;
  skipHotRestartParentStats: boolean;
  baseIdPath: string;
  concurrency: number;
  configPath: string;
  configYaml: string;
  allowUnknownStaticFields: boolean;
  rejectUnknownDynamicFields: boolean;
  ignoreUnknownDynamicFields: boolean;
  skipDeprecatedLogs: boolean;
  adminAddressPath: string;
  localAddressIpVersion: 'v4' | 'v6';
  logLevel: Level;
  componentLogLevel: string;
  componentLogLevels: Map<string, Level>;
  logFormat: string;
  logFormatEscaped: boolean;
  enableFineGrainLogging: boolean;
  logPath: string;
  restartEpoch: number;
  serviceCluster: string;
  serviceNode: string;
  serviceZone: string;
  fileFlushIntervalMsec: number;
  fileFlushMinSizeKb: number;
  drainTimeS: number;
  drainStrategy: 'gradual' | 'immediate';
  parentShutdownTimeS: number;
  mode: Mode;
  disableHotRestart: boolean;
  enableMutexTracing: boolean;
  cpusetThreads: boolean;
  disabledExtensions: string[];
  socketPath: string;
  socketMode: number;
  enableCoreDump: boolean;
  statsTags: string[];
  /** `--allow-unknown-fields` was used: Envoy logs a deprecation warning for it. */
  deprecatedAllowUnknownFields: boolean;
}

/** What the command line makes the process do. */
export type CommandLine =
  | { kind: 'run'; options: Options }
  /** Print on stdout / stderr (verbatim, no newline added) and exit with `code`. */
  | { kind: 'exit'; code: 0 | 1; stdout: string; stderr: string }
  /** `socket_path_.at(0)` on an empty `--socket-path` throws `std::out_of_range` outside any
   * handler in `main`, so the C++ runtime aborts. */
  | { kind: 'abort'; stderr: string };

const LOG_LEVEL_HELP =
  'Log levels: [trace][debug][info][warning|warn][error][critical][off]\nDefault is [info]';

/** The options in declaration order (`options_impl.cc`), then TCLAP's three built-ins. */
const DECLARED: ArgSpec[] = [
  {
    name: 'base-id',
    kind: 'value',
    type: 'uint32',
    typeDesc: 'uint32_t',
    description: 'base ID so that multiple envoys can run on the same host if needed',
  },
  {
    name: 'use-dynamic-base-id',
    kind: 'switch',
    description:
      'the server chooses a base ID dynamically. Supersedes a static base ID. May not be used when the restart epoch is non-zero.',
  },
  {
    name: 'skip-hot-restart-on-no-parent',
    kind: 'switch',
    description:
      'When hot restarting, by default envoy will fail if there is no parent. If this flag is set, it will skip hot restarting and start as a new envoy instead.',
  },
  {
    name: 'skip-hot-restart-parent-stats',
    kind: 'switch',
    description:
      'When hot restarting, by default the child instance copies stats from the parent instance periodically during the draining period. If this flag is set, the child will not copy the stats.',
  },
  {
    name: 'base-id-path',
    kind: 'value',
    typeDesc: 'string',
    description: 'path to which the base ID is written',
  },
  {
    name: 'concurrency',
    kind: 'value',
    type: 'uint32',
    typeDesc: 'uint32_t',
    description: '# of worker threads to run',
  },
  {
    name: 'config-path',
    flag: 'c',
    kind: 'value',
    typeDesc: 'string',
    description: 'Path to configuration file',
  },
  {
    name: 'config-yaml',
    kind: 'value',
    typeDesc: 'string',
    description: 'Inline YAML configuration, merges with the contents of --config-path',
  },
  {
    name: 'allow-unknown-fields',
    kind: 'switch',
    description: 'allow unknown fields in static configuration (DEPRECATED)',
  },
  {
    name: 'allow-unknown-static-fields',
    kind: 'switch',
    description: 'allow unknown fields in static configuration',
  },
  {
    name: 'reject-unknown-dynamic-fields',
    kind: 'switch',
    description: 'reject unknown fields in dynamic configuration',
  },
  {
    name: 'ignore-unknown-dynamic-fields',
    kind: 'switch',
    description: 'ignore unknown fields in dynamic configuration',
  },
  {
    name: 'skip-deprecated-logs',
    kind: 'switch',
    description: 'Skips the logging of deprecated field warnings during Protobuf message validation',
  },
  {
    name: 'log-stacktrace-single-entry',
    kind: 'switch',
    description: 'Log the backtrace of a crash as a single log entry',
  },
  { name: 'admin-address-path', kind: 'value', typeDesc: 'string', description: 'Admin address path' },
  {
    name: 'local-address-ip-version',
    kind: 'value',
    typeDesc: 'string',
    description: 'The local IP address version (v4 or v6).',
  },
  { name: 'log-level', flag: 'l', kind: 'value', typeDesc: 'string', description: LOG_LEVEL_HELP },
  {
    name: 'component-log-level',
    kind: 'value',
    typeDesc: 'string',
    description: 'Comma separated list of component log levels. For example upstream:debug,config:trace',
  },
  {
    name: 'log-format',
    kind: 'value',
    typeDesc: 'string',
    description: `Log message format in spdlog syntax (see https://github.com/gabime/spdlog/wiki/3.-Custom-formatting)\nDefault is "${DEFAULT_LOG_FORMAT}"`,
  },
  {
    name: 'log-format-escaped',
    kind: 'switch',
    description: 'Escape c-style escape sequences in the application logs',
  },
  {
    name: 'enable-fine-grain-logging',
    kind: 'switch',
    description: 'Logger mode: enable file level log control (Fine-Grain Logger) or not',
  },
  { name: 'log-path', kind: 'value', typeDesc: 'string', description: 'Path to logfile' },
  {
    name: 'restart-epoch',
    kind: 'value',
    type: 'uint32',
    typeDesc: 'uint32_t',
    description: 'hot restart epoch #',
  },
  { name: 'hot-restart-version', kind: 'switch', description: 'hot restart compatibility version' },
  { name: 'service-cluster', kind: 'value', typeDesc: 'string', description: 'Cluster name' },
  { name: 'service-node', kind: 'value', typeDesc: 'string', description: 'Node name' },
  { name: 'service-zone', kind: 'value', typeDesc: 'string', description: 'Zone name' },
  {
    name: 'file-flush-interval-msec',
    kind: 'value',
    type: 'uint32',
    typeDesc: 'uint32_t',
    description: 'Interval for log flushing in msec',
  },
  {
    name: 'file-flush-min-size-kb',
    kind: 'value',
    type: 'uint32',
    typeDesc: 'uint32_t',
    description: 'Minimum size in KB of buffered log data before a flush',
  },
  {
    name: 'drain-time-s',
    kind: 'value',
    type: 'uint32',
    typeDesc: 'uint32_t',
    description: 'Hot restart and LDS removal drain time in seconds',
  },
  {
    name: 'drain-strategy',
    kind: 'value',
    typeDesc: 'string',
    description: "Hot restart drain sequence behaviour, one of 'gradual' (default) or 'immediate'.",
  },
  {
    name: 'parent-shutdown-time-s',
    kind: 'value',
    type: 'uint32',
    typeDesc: 'uint32_t',
    description: 'Hot restart parent shutdown time in seconds',
  },
  {
    name: 'mode',
    kind: 'value',
    typeDesc: 'string',
    description:
      "One of 'serve' (default; validate configs and then serve traffic normally) or 'validate' (validate configs and exit).",
  },
  { name: 'disable-hot-restart', kind: 'switch', description: 'Disable hot restart functionality' },
  {
    name: 'enable-mutex-tracing',
    kind: 'switch',
    description: 'Enable mutex contention tracing functionality',
  },
  {
    name: 'cpuset-threads',
    kind: 'switch',
    description: 'Get the default # of worker threads from cpuset size',
  },
  {
    name: 'disable-extensions',
    kind: 'value',
    typeDesc: 'string',
    description: 'Comma-separated list of extensions to disable',
  },
  { name: 'socket-path', kind: 'value', typeDesc: 'string', description: 'Path to hot restart socket file' },
  { name: 'socket-mode', kind: 'value', typeDesc: 'string', description: 'Socket file permission' },
  { name: 'enable-core-dump', kind: 'switch', description: 'Enable core dumps' },
  {
    name: 'stats-tag',
    kind: 'multi',
    typeDesc: 'string',
    description:
      "This flag provides a universal tag for all stats generated by Envoy. The format is ``tag:value``. Only alphanumeric values are allowed for tag names. For tag values all characters are permitted except for '.' (dot). This flag can be repeated multiple times to set multiple universal tags. Multiple values for the same tag name are not allowed.",
  },
];

const BUILTINS: ArgSpec[] = [
  {
    name: 'version',
    kind: 'switch',
    builtin: 'version',
    description: 'Displays version information and exits.',
  },
  {
    name: 'help',
    flag: 'h',
    kind: 'switch',
    builtin: 'help',
    description: 'Displays usage information and exits.',
  },
  {
    name: 'ignore_rest',
    flag: '-',
    kind: 'switch',
    builtin: 'ignore_rest',
    description: 'Ignores the rest of the labeled arguments following this flag.',
  },
];

/** TCLAP's list order: `CmdLine::add` pushes to the front, after the built-ins were added. */
export const ENVOY_ARGS: readonly ArgSpec[] = [...[...DECLARED].reverse(), ...BUILTINS];

/** `MalformedArgvException` from the semantic checks: one `error: ...` line. */
class Malformed extends Error {}

/** `OptionsImpl::parseAndValidateLogLevel`: spdlog names plus `warn` as an alias. */
function parseLogLevel(text: string): Level {
  if (text === 'warn') return 'warning';
  const level = LEVELS.find((l) => l === text);
  if (level === undefined) throw new Malformed(`error: invalid log level specified '${text}'`);
  return level;
}

function parseComponentLogLevels(text: string, fineGrain: boolean): Map<string, Level> {
  const levels = new Map<string, Level>();
  if (text === '') return levels;
  if (fineGrain) {
    throw new Malformed('error: --component-log-level will not work with --enable-fine-grain-logging');
  }
  for (const item of text.split(',')) {
    const parts = item.split(':');
    if (parts.length !== 2)
      throw new Malformed(`error: component log level not correctly specified '${item}'`);
    const [name, levelText] = parts as [string, string];
    const level = parseLogLevel(levelText);
    if (!(LOGGER_IDS as readonly string[]).includes(name)) {
      throw new Malformed(`error: invalid component specified '${name}'`);
    }
    levels.set(name, level);
  }
  return levels;
}

/** `StringUtil::atoull(value, out, 8)`: digits 0-7 only, at least one. */
function parseOctal(text: string): number | undefined {
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : undefined;
}

/** `Stats::TagUtility::isTagNameValid` / `isTagValueValid`. */
function parseStatsTag(text: string): string {
  const colon = text.indexOf(':');
  if (colon < 0) throw new Malformed(`error: misformatted stats-tag '${text}'`);
  const name = text.slice(0, colon);
  const value = text.slice(colon + 1);
  if (!/^[a-zA-Z0-9]*$/.test(name)) {
    throw new Malformed(`error: misformatted stats-tag '${text}' contains invalid char in '${name}'`);
  }
  if (value.includes('.')) {
    throw new Malformed(`error: misformatted stats-tag '${text}' contains invalid char in '${value}'`);
  }
  return `${name}:${value}`;
}

class Values {
  constructor(private readonly map: Map<string, ArgValue>) {}
  isSet(name: string): boolean {
    return this.map.has(name);
  }
  flag(name: string): boolean {
    return this.map.get(name) === true;
  }
  text(name: string, fallback: string): string {
    const v = this.map.get(name);
    return typeof v === 'string' ? v : fallback;
  }
  /** A number flag given as an empty string reads nothing and keeps its default (TCLAP). */
  uint(name: string, fallback: number): number {
    const v = this.map.get(name);
    return typeof v === 'number' ? v : fallback;
  }
  list(name: string): string[] {
    const v = this.map.get(name);
    return Array.isArray(v) ? v : [];
  }
}

/**
 * Reads argv (without node and the script) as Envoy's `OptionsImpl` constructor would.
 * `progName` stands in for `argv[0]` in TCLAP's texts.
 */
export function parseCommandLine(argv: readonly string[], progName: string): CommandLine {
  const parsed = parseArgs(ENVOY_ARGS, argv);
  if (parsed.kind === 'help') {
    return { kind: 'exit', code: 0, stdout: usageText(ENVOY_ARGS, progName, 'envoy'), stderr: '' };
  }
  if (parsed.kind === 'version') {
    return { kind: 'exit', code: 0, stdout: versionText(progName, ENVOY_VERSION), stderr: '' };
  }
  if (parsed.kind === 'error') {
    // StdOutput::failure prints the block, then main() prints the exception text (`<id> -- <error>`).
    const what = `${parsed.argId} -- ${parsed.error}`;
    return {
      kind: 'exit',
      code: 1,
      stdout: '',
      stderr: `${failureText(ENVOY_ARGS, progName, parsed.argId, parsed.error)}${what}\n`,
    };
  }
  const v = new Values(parsed.values);
  try {
    return semanticChecks(v);
  } catch (err) {
    if (err instanceof Malformed) return { kind: 'exit', code: 1, stdout: '', stderr: `${err.message}\n` };
    throw err;
  }
}

function semanticChecks(v: Values): CommandLine {
  const logLevel = v.isSet('log-level') ? parseLogLevel(v.text('log-level', 'info')) : 'info';
  const enableFineGrainLogging = v.flag('enable-fine-grain-logging');
  const componentLogLevel = v.text('component-log-level', '');
  const componentLogLevels = parseComponentLogLevels(componentLogLevel, enableFineGrainLogging);

  const modeText = v.text('mode', 'serve');
  if (modeText !== 'serve' && modeText !== 'validate' && modeText !== 'init_only') {
    throw new Malformed(`error: unknown mode '${modeText}'`);
  }
  const ipVersion = v.text('local-address-ip-version', 'v4');
  if (ipVersion !== 'v4' && ipVersion !== 'v6') {
    throw new Malformed(`error: unknown IP address version '${ipVersion}'`);
  }
  const restartEpoch = v.uint('restart-epoch', 0);
  const useDynamicBaseId = v.flag('use-dynamic-base-id');
  if (useDynamicBaseId && restartEpoch > 0) {
    throw new Malformed(`error: cannot use --restart-epoch=${restartEpoch} with --use-dynamic-base-id`);
  }
  // 0 is raised to 1 (`std::max(1U, concurrency)`); the default is the hardware thread count.
  const concurrency = Math.max(1, v.uint('concurrency', availableParallelism()));

  const socketPath = v.text('socket-path', '@envoy_domain_socket');
  if (socketPath === '') {
    return {
      kind: 'abort',
      stderr:
        "terminate called after throwing an instance of 'std::out_of_range'\n  what():  basic_string::at: __n (which is 0) >= this->size() (which is 0)\n",
    };
  }
  let socketMode = 0;
  if (!socketPath.startsWith('@')) {
    const modeValue = parseOctal(v.text('socket-mode', '600'));
    if (modeValue === undefined)
      throw new Malformed(`error: invalid socket-mode '${v.text('socket-mode', '600')}'`);
    socketMode = modeValue;
  }
  const drainStrategy = v.text('drain-strategy', 'gradual');
  if (drainStrategy !== 'gradual' && drainStrategy !== 'immediate') {
    // Upstream bug kept on purpose: the message quotes --mode, not the bad strategy
    // (options_impl.cc formats `mode.getValue()`).
    throw new Malformed(`error: unknown drain-strategy '${modeText}'`);
  }
  const disableHotRestart = v.flag('disable-hot-restart');
  if (v.flag('hot-restart-version')) {
    // `std::cerr << hot_restart_version_cb(...)`: no newline.
    return {
      kind: 'exit',
      code: 0,
      stdout: '',
      stderr: disableHotRestart ? HOT_RESTART_DISABLED : HOT_RESTART_VERSION,
    };
  }
  const disabled = v.text('disable-extensions', '');
  const statsTags = v.list('stats-tag').map(parseStatsTag);

  return {
    kind: 'run',
    options: {
      baseId: v.uint('base-id', 0),
      useDynamicBaseId,
      skipHotRestartOnNoParent: v.flag('skip-hot-restart-on-no-parent'),
      skipHotRestartParentStats: v.flag('skip-hot-restart-parent-stats'),
      baseIdPath: v.text('base-id-path', ''),
      concurrency,
      configPath: v.text('config-path', ''),
      configYaml: v.text('config-yaml', ''),
      allowUnknownStaticFields: v.flag('allow-unknown-static-fields') || v.flag('allow-unknown-fields'),
      rejectUnknownDynamicFields: v.flag('reject-unknown-dynamic-fields'),
      ignoreUnknownDynamicFields: v.flag('ignore-unknown-dynamic-fields'),
      skipDeprecatedLogs: v.flag('skip-deprecated-logs'),
      adminAddressPath: v.text('admin-address-path', ''),
      localAddressIpVersion: ipVersion,
      logLevel,
      componentLogLevel,
      componentLogLevels,
      logFormat: v.text('log-format', DEFAULT_LOG_FORMAT),
      logFormatEscaped: v.flag('log-format-escaped'),
      enableFineGrainLogging,
      logPath: v.text('log-path', ''),
      restartEpoch,
      serviceCluster: v.text('service-cluster', ''),
      serviceNode: v.text('service-node', ''),
      serviceZone: v.text('service-zone', ''),
      fileFlushIntervalMsec: v.uint('file-flush-interval-msec', 10000),
      fileFlushMinSizeKb: v.uint('file-flush-min-size-kb', 64),
      drainTimeS: v.uint('drain-time-s', 600),
      drainStrategy,
      parentShutdownTimeS: v.uint('parent-shutdown-time-s', 900),
      mode: modeText,
      disableHotRestart,
      enableMutexTracing: v.flag('enable-mutex-tracing'),
      cpusetThreads: v.flag('cpuset-threads'),
      disabledExtensions: disabled === '' ? [] : disabled.split(','),
      socketPath,
      socketMode,
      enableCoreDump: v.flag('enable-core-dump'),
      statsTags,
      deprecatedAllowUnknownFields: v.flag('allow-unknown-fields'),
    },
  };
}

/** A cheap look at `--restart-epoch` before parsing, for the record's `start` line. */
export function peekEpoch(argv: readonly string[]): number | null {
  const i = argv.indexOf('--restart-epoch');
  if (i < 0) return 0;
  const value = Number(argv[i + 1]);
  return Number.isInteger(value) && value >= 0 ? value : null;
}
