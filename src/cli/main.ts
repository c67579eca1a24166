/**
 * The command line of pilot-agent: a thin layer with one way out. `main` parses, runs one command and
 * returns its exit code; only `bin/pilot-agent.js` calls `process.exit`, after the log is flushed.
 *
 * Commands, as Istio's cobra tree: `proxy` (1.5), `version` (istio.io/pkg), `wait` (≥1.7),
 * `request` (≥1.11 flags). Go flag syntax is read by argv.ts and handed to commander as canonical
 * `--name=value` tokens; commander dispatches, renders `--help`, and holds the parsed values.
 * Every failure is one line on stderr, no stack, with the exit code of src/errors.ts.
 */
import { Command, CommanderError, type Option } from 'commander';
import {
  COMMAND_FLAGS,
  type FlagSpec,
  LOG_FLAGS,
  type LogFlagValues,
  PROXY_FLAGS,
  parseFlagValues,
  REQUEST_FLAGS,
  VERSION_FLAGS,
  WAIT_FLAGS,
} from '../config/flags.js';
import type { NetworkInterfaces } from '../config/identity.js';
import type { ResolveHost } from '../config/statsd.js';
import { AgentError, EXIT_CODES, messageOf, oneLine, usageError } from '../errors.js';
import { goQuote } from '../go/strconv.js';
import { createLogger, defaultScopeLevel, type Logger } from '../log.js';
import { canonicalTokens, tokenizeGoFlags } from './argv.js';
import { buildInfo } from './commands/build-info.js';
import { type RunProxy, runProxyCommand } from './commands/proxy.js';
import { runRequest } from './commands/request.js';
import { versionOutput } from './commands/version.js';
import { runWait } from './commands/wait.js';
import { commanderOption } from './options.js';

export interface CliIo {
  stdout: { write(chunk: string | Uint8Array): unknown };
  stderr: { write(chunk: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
  /** Where log lines go (default: `stdout`). */
  logDestination?: NodeJS.WritableStream;
  /** Whether stdout is a terminal (readable logs) or not (JSON logs). */
  isTTY?: boolean;
  /** Replaces `src/runtime/run-proxy.ts` (tests). */
  runProxy?: RunProxy;
  interfaces?: NetworkInterfaces | (() => NetworkInterfaces);
  resolveHost?: ResolveHost;
}

type CommandName = Exclude<keyof typeof COMMAND_FLAGS, 'pilot-agent'>;
const COMMANDS: readonly CommandName[] = ['proxy', 'version', 'wait', 'request'];
/** Istio sets cobra `FParseErrWhitelist.UnknownFlags` on the root and on `proxy` only. */
const TOLERATES_UNKNOWN: ReadonlySet<string> = new Set(['proxy']);

/**
 * Finds the subcommand the way cobra does: the first argument that is not a flag or the value of a
 * root flag. Returns the remaining arguments with the subcommand removed.
 */
function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') break;
    if (token.startsWith('-') && token !== '-') {
      const name = token.replace(/^--?/, '').split('=')[0] ?? '';
      const spec: FlagSpec | undefined = (LOG_FLAGS as Readonly<Record<string, FlagSpec>>)[name];
      if (spec !== undefined && spec.type !== 'bool' && !token.includes('=')) i++;
      continue;
    }
    return { command: token, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: [...argv] };
}

/** The raw strings commander parsed for the flags given on the command line. */
function givenValues(command: Command, options: ReadonlyMap<string, Option>): Map<string, string> {
  const given = new Map<string, string>();
  const values = command.opts<Record<string, unknown>>();
  for (const [name, option] of options) {
    const key = option.attributeName();
    if (command.getOptionValueSource(key) === 'cli') given.set(name, String(values[key]));
  }
  return given;
}

function addOptions(command: Command, table: Readonly<Record<string, FlagSpec>>): Map<string, Option> {
  const options = new Map<string, Option>();
  for (const [name, spec] of Object.entries(table)) {
    const option = commanderOption(name, spec);
    command.addOption(option);
    options.set(name, option);
  }
  return options;
}

interface Session {
  io: CliIo;
  log: Logger;
  logFlags: LogFlagValues;
  /** Unknown flags and unimplemented root flags given, as typed. */
  ignored: string[];
  exitCode: number;
}

function buildProgram(session: Session): Command {
  const { io } = session;
  const program = new Command('pilot-agent')
    .description('Istio Pilot agent runs in the sidecar or gateway container and bootstraps Envoy.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Errors are printed once, by `main`, as one line.
      outputError: () => {},
    })
    .configureHelp({ showGlobalOptions: true, helpWidth: 110 })
    .helpOption('-h, --help', 'Help for pilot-agent')
    .allowExcessArguments(true);
  addOptions(program, LOG_FLAGS);

  const proxy = program
    .command('proxy')
    .description('Envoy proxy agent: starts, supervises, hot-restarts and drains Envoy')
    .argument('[type]', 'node type: sidecar (default) or router; extra arguments are ignored')
    .helpOption('-h, --help', 'Help for proxy')
    .allowExcessArguments(true);
  const proxyOptions = addOptions(proxy, PROXY_FLAGS);
  proxy.action(async (type: string | undefined) => {
    const given = givenValues(proxy, proxyOptions);
    const outcome = await runProxyCommand({
      role: type,
      flags: parseFlagValues(PROXY_FLAGS, given),
      given: [...given.keys()],
      logFlags: session.logFlags,
      ignored: session.ignored,
      env: io.env,
      log: session.log,
      ...(io.runProxy ? { runProxy: io.runProxy } : {}),
      ...(io.interfaces ? { interfaces: io.interfaces } : {}),
      ...(io.resolveHost ? { resolveHost: io.resolveHost } : {}),
    });
    // A run that ends in failure says why, in one line, as every other failure does.
    if (outcome.exitCode !== 0) io.stderr.write(`${oneLine(outcome.reason)}\n`);
    session.exitCode = outcome.exitCode;
  });

  const version = program
    .command('version')
    .description('Prints out build version information')
    .helpOption('-h, --help', 'Help for version')
    .allowExcessArguments(true);
  const versionOptions = addOptions(version, VERSION_FLAGS);
  version.action(() => {
    const flags = parseFlagValues(VERSION_FLAGS, givenValues(version, versionOptions));
    io.stdout.write(versionOutput(flags, buildInfo()));
    session.exitCode = 0;
  });

  const wait = program
    .command('wait')
    .description('Waits until the Envoy proxy is ready')
    .helpOption('-h, --help', 'Help for wait')
    .allowExcessArguments(true);
  const waitOptions = addOptions(wait, WAIT_FLAGS);
  wait.action(async () => {
    session.exitCode = await runWait(
      parseFlagValues(WAIT_FLAGS, givenValues(wait, waitOptions)),
      session.log,
    );
  });

  const request = program
    .command('request')
    .description('Makes an HTTP request to the Envoy admin API (or another allowed local port)')
    .usage('[options] <method> <path> [<body>]')
    .argument('[args...]', '<method> <path> [<body>]')
    .helpOption('-h, --help', 'Help for request')
    .allowExcessArguments(true);
  const requestOptions = addOptions(request, REQUEST_FLAGS);
  request.action(async (args: string[]) => {
    const flags = parseFlagValues(REQUEST_FLAGS, givenValues(request, requestOptions));
    session.exitCode = await runRequest(args, flags, io);
  });
  return program;
}

function flush(log: Logger | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (log === undefined) resolve();
    else log.flush(() => resolve());
  });
}

/** Runs one pilot-agent command line (without the node and script arguments); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let log: Logger | undefined;
  try {
    const { command, rest } = splitCommand(argv);
    if (command !== undefined && command !== 'help' && !(COMMANDS as readonly string[]).includes(command)) {
      throw usageError(`unknown command ${goQuote(command)} for "pilot-agent"`);
    }
    const commandTable: Readonly<Record<string, FlagSpec>> =
      command === undefined || command === 'help' ? {} : COMMAND_FLAGS[command as CommandName];
    const tokens = tokenizeGoFlags(
      rest,
      { ...LOG_FLAGS, ...commandTable },
      { allowUnknown: command === undefined || TOLERATES_UNKNOWN.has(command) },
    );
    const rootGiven = new Map([...tokens.values].filter(([name]) => name in LOG_FLAGS));
    const commandGiven = new Map([...tokens.values].filter(([name]) => !(name in LOG_FLAGS)));

    const logFlags = parseFlagValues(LOG_FLAGS, rootGiven);
    const level = defaultScopeLevel(logFlags.log_output_level);
    if (typeof level !== 'string')
      throw usageError(`--log_output_level ${goQuote(logFlags.log_output_level)}: ${level.error}`);
    log = createLogger({
      ...(rootGiven.has('log_as_json') ? { json: logFlags.log_as_json } : {}),
      level,
      destination: io.logDestination ?? (io.stdout as NodeJS.WritableStream),
      ...(io.isTTY !== undefined ? { isTTY: io.isTTY } : {}),
    });
    const ignoredRoot = Object.entries(LOG_FLAGS)
      .filter(
        ([name, spec]) =>
          !spec.implemented && rootGiven.has(name) && logFlags[name as keyof LogFlagValues] !== spec.default,
      )
      .map(([name]) => `--${name}`);
    const session: Session = { io, log, logFlags, ignored: [...ignoredRoot, ...tokens.unknown], exitCode: 0 };
    const program = buildProgram(session);

    if (command === undefined) {
      // cobra: a root command without Run prints its help and succeeds.
      if (session.ignored.length > 0)
        log.warn(`Ignoring flags this agent does not implement: ${session.ignored.join(', ')}`);
      io.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(
      [
        ...canonicalTokens(rootGiven),
        command,
        ...canonicalTokens(commandGiven),
        ...(tokens.help ? ['--help'] : []),
        '--',
        ...tokens.positionals,
      ],
      { from: 'user' },
    );
    return session.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return err.exitCode;
      io.stderr.write(`${messageOf(err).replace(/^error: /, '')}\n`);
      return EXIT_CODES.usage;
    }
    if (err instanceof AgentError) {
      io.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    // A bug: one line for the user, the stack in the log for whoever debugs it.
    log?.error({ err }, 'internal error');
    const internal = new AgentError('internal', `internal error: ${messageOf(err)}`, { cause: err });
    io.stderr.write(`${internal.message}\n`);
    return internal.exitCode;
  } finally {
    await flush(log);
  }
}
