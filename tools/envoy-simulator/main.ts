/**
 * The simulator's `main()`: what `source/exe/main_common.cc` and `MainCommonBase` do around the
 * server, in the same order.
 *
 * 1. Options (TCLAP, then the semantic checks): `--help`/`--version`/`--hot-restart-version` exit
 *    0, errors exit 1.
 * 2. `--mode validate`: load and check the bootstrap only (no sockets, no shared memory).
 * 3. Otherwise the hot restarter (unless `--disable-hot-restart`): sockets, shared memory,
 *    PDEATHSIG. Its errors are printed bare on stderr (logging is not set up yet) and exit 1.
 * 4. The server constructor; `init_only` stops there (exit 0), `serve` runs the main loop.
 *
 * Signals follow `RunHelper`: handlers exist only once `run()` starts. Before that SIGTERM,
 * SIGINT and SIGHUP take their default action (death by the signal); the simulator listens only
 * to record the signal, then re-raises it with the listener removed.
 */
import { writeFileSync, writeSync } from 'node:fs';
import { loadBootstrap } from './bootstrap.js';
import { type Dying, dieBySignal, raiseSignal } from './crash.js';
import { type Faults, readSimEnv, type SimEnv, SimEnvError } from './env.js';
import { DomainSocketInUse, HotRestart, HotRestartError } from './hot-restart.js';
import { Logger } from './logger.js';
import { type Options, parseCommandLine, peekEpoch } from './options.js';
import { Recorder } from './record.js';
import { ConfigError, SimServer } from './server.js';

type Phase = 'constructing' | 'running';

function out(fd: 1 | 2, text: string): void {
  if (text === '') return;
  try {
    writeSync(fd, text);
  } catch {
    // A closed pipe: nothing to report it to.
  }
}

class Process {
  phase: Phase = 'constructing';
  server: SimServer | undefined;
  /** Set when PDEATHSIG is about to be emulated, to label the recorded signal. */
  pdeathsig = false;

  constructor(
    readonly recorder: Recorder,
    readonly logger: Logger,
  ) {}

  get dying(): Dying {
    return { logger: this.logger, recorder: this.recorder };
  }

  exit(code: number): never {
    this.recorder.write({ event: 'exit', code });
    this.recorder.close();
    process.exit(code);
  }
}

/**
 * Installs the listeners for every signal Envoy handles, switching behaviour on the phase. A
 * listener also keeps Node from starting its inspector on SIGUSR1.
 */
function installSignals(p: Process, faults: Faults): void {
  const terminating = (name: 'SIGTERM' | 'SIGINT'): void => {
    const source = p.pdeathsig && name === 'SIGTERM' ? 'pdeathsig' : undefined;
    p.pdeathsig = false;
    p.recorder.write(source === undefined ? { event: 'signal', name } : { event: 'signal', name, source });
    if (faults.ignoreSigterm) {
      // ENVOY_SIM_IGNORE_SIGTERM: the signal is seen (and logged once running) but no shutdown
      // ever starts; only SIGKILL ends the process.
      if (p.phase === 'running') {
        p.logger.warn(
          'main',
          'source/server/server.cc:915',
          name === 'SIGTERM' ? 'caught ENVOY_SIGTERM' : 'caught SIGINT',
        );
      }
      return;
    }
    if (p.phase !== 'running') raiseSignal(p, name);
    p.logger.warn(
      'main',
      'source/server/server.cc:915',
      name === 'SIGTERM' ? 'caught ENVOY_SIGTERM' : 'caught SIGINT',
    );
    void p.server?.shutdown();
  };
  process.on('SIGTERM', () => terminating('SIGTERM'));
  process.on('SIGINT', () => terminating('SIGINT'));
  process.on('SIGHUP', () => {
    p.recorder.write({ event: 'signal', name: 'SIGHUP' });
    if (p.phase !== 'running') raiseSignal(p, 'SIGHUP');
    p.logger.warn(
      'main',
      'source/server/server.cc:927',
      'caught and eating SIGHUP. See documentation for how to hot restart.',
    );
  });
  process.on('SIGUSR1', () => {
    p.recorder.write({ event: 'signal', name: 'SIGUSR1' });
    // Before run() Envoy would die by SIGUSR1; Node cannot be made to (its inspector owns the
    // default), so the simulator ignores it then. See README "Deviations".
    if (p.phase !== 'running') return;
    p.logger.info('main', 'source/server/server.cc:922', 'caught SIGUSR1. Reopening access logs.');
    p.server?.reopenLogs();
  });
}

/**
 * `prctl(PR_SET_PDEATHSIG, SIGTERM)`: Linux sends SIGTERM when the process that forked Envoy
 * dies. Node has no prctl, so the parent pid is polled and the signal sent to ourselves.
 */
function emulatePdeathsig(p: Process): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      p.pdeathsig = true;
      process.kill(process.pid, 'SIGTERM');
    }
  }, 100);
  timer.unref();
}

/** `ENVOY_SIM_CRASH_AFTER_MS`: a crash (or, with `ENVOY_SIM_EXIT_CODE`, an abnormal exit). */
function crash(p: Process, faults: Faults): never {
  if (faults.exitCode !== undefined) return p.exit(faults.exitCode);
  return dieBySignal(p.dying, faults.crashSignal);
}

async function setUpHotRestart(p: Process, options: Options, env: SimEnv): Promise<HotRestart> {
  const config = (baseId: number) => ({
    socketPath: options.socketPath,
    socketMode: options.socketMode,
    baseId,
    epoch: options.restartEpoch,
    shmDir: env.shmDir,
    sendmsgRetries: env.sendmsgRetries,
    sendmsgRetryMs: env.sendmsgRetryMs,
    logger: p.logger,
    recorder: p.recorder,
  });
  let hr: HotRestart | undefined;
  if (options.useDynamicBaseId) {
    // `& 0x0FFFFFFF` keeps the scaled id in range; up to 100 tries (main_common.cc).
    for (let i = 0; i < 100 && hr === undefined; i++) {
      try {
        hr = await HotRestart.bind(config(Math.floor(Math.random() * 0x10000000) & 0x0fffffff), p.dying);
      } catch (err) {
        if (!(err instanceof DomainSocketInUse)) throw err;
      }
    }
    if (hr === undefined) throw new HotRestartError('unable to select a dynamic base id');
  } else {
    hr = await HotRestart.bind(config(options.baseId), p.dying);
  }
  if (options.skipHotRestartOnNoParent && options.restartEpoch > 0) await hr.probeParent();
  hr.attachSharedMemory();
  return hr;
}

async function validateMode(p: Process, options: Options): Promise<never> {
  const loaded = await loadBootstrap(options);
  if (!loaded.ok) {
    p.logger.critical(
      'main',
      'source/server/config_validation/server.cc:64',
      `error initializing configuration '${options.configPath}': ${loaded.reason}`,
    );
    return p.exit(1);
  }
  for (const description of loaded.bootstrap.unknownFields) {
    p.logger.warn(
      'misc',
      'source/common/protobuf/message_validator_impl.cc:21',
      `Unknown field: ${description}`,
    );
  }
  out(1, `configuration '${options.configPath}' OK\n`);
  return p.exit(0);
}

async function serve(
  p: Process,
  options: Options,
  env: SimEnv,
  faults: Faults,
  startTime: number,
): Promise<void> {
  installSignals(p, faults);
  if (faults.crashAfterMs !== undefined && faults.crashAfterMs > 0) {
    setTimeout(() => crash(p, faults), Math.max(0, faults.crashAfterMs - (Date.now() - startTime)));
  }

  let hotRestart: HotRestart | undefined;
  if (!options.disableHotRestart) {
    try {
      hotRestart = await setUpHotRestart(p, options, env);
    } catch (err) {
      if (err instanceof DomainSocketInUse || err instanceof HotRestartError) {
        out(2, `${err.message}\n`);
        return p.exit(1);
      }
      throw err;
    }
    emulatePdeathsig(p);
  }
  if (options.baseIdPath !== '') {
    try {
      writeFileSync(options.baseIdPath, String(hotRestart?.baseId ?? 0));
    } catch {
      p.logger.critical(
        'main',
        'source/exe/main_common.cc:108',
        `cannot open base id output file ${options.baseIdPath} for writing.`,
      );
    }
  }
  if (faults.crashAfterMs === 0) crash(p, faults);

  const server = new SimServer({
    options,
    faults,
    env,
    logger: p.logger,
    recorder: p.recorder,
    hotRestart,
    startTime,
    exit: (code) => p.exit(code),
  });
  p.server = server;
  hotRestart?.serveAsParent(server);
  try {
    await server.construct();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    p.logger.critical(
      'main',
      'source/server/server.cc:131',
      `error initializing configuration '${options.configPath}': ${err.message}`,
    );
    server.terminateServer();
    out(2, `${err.message}\n`);
    return p.exit(1);
  }
  if (options.mode === 'init_only') {
    server.terminateServer();
    return p.exit(0);
  }
  p.phase = 'running';
  server.run();
}

/** A bug in the simulator itself: loud, and distinct from every status Envoy can produce. */
function internalError(err: unknown): never {
  out(
    2,
    `envoy-simulator: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(70);
}

export async function main(argv: readonly string[], progName: string): Promise<void> {
  process.on('uncaughtException', internalError);
  process.on('unhandledRejection', internalError);
  try {
    await start(argv, progName);
  } catch (err) {
    internalError(err);
  }
}

async function start(argv: readonly string[], progName: string): Promise<void> {
  const startTime = Date.now();
  let env: SimEnv;
  try {
    env = readSimEnv(process.env);
  } catch (err) {
    if (err instanceof SimEnvError) {
      out(2, `envoy-simulator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let recorder: Recorder;
  try {
    recorder = new Recorder(env.recordPath);
  } catch (err) {
    out(
      2,
      `envoy-simulator: cannot open ENVOY_SIM_RECORD='${env.recordPath}': ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(2);
  }
  recorder.epoch = peekEpoch(argv);
  recorder.write({ event: 'start', argv: [...argv] });
  const logger = new Logger();
  const p = new Process(recorder, logger);

  const cmd = parseCommandLine(argv, progName);
  if (cmd.kind === 'exit') {
    out(1, cmd.stdout);
    out(2, cmd.stderr);
    return p.exit(cmd.code);
  }
  if (cmd.kind === 'abort') {
    // std::terminate() → abort(); Envoy's SignalAction, installed first thing in main(), prints
    // its backtrace for that SIGABRT too.
    out(2, cmd.stderr);
    return dieBySignal(p.dying, 'SIGABRT');
  }
  const options = cmd.options;
  recorder.epoch = options.restartEpoch;
  logger.configure({
    level: options.logLevel,
    componentLevels: options.componentLogLevels,
    format: options.logFormat,
    escape: options.logFormatEscaped,
    path: undefined,
  });
  if (options.deprecatedAllowUnknownFields) {
    logger.warn(
      'main',
      'source/server/options_impl.cc:245',
      '--allow-unknown-fields is deprecated, use --allow-unknown-static-fields instead.',
    );
  }
  if (options.mode === 'validate') return validateMode(p, options);
  return serve(p, options, env, env.faultsFor(options.restartEpoch), startTime);
}
