/**
 * The simulator's own knobs, all read once at start from `ENVOY_SIM_*` environment variables
 * (README.md lists them). Fault switches change timing and failure only, never the protocol: a
 * simulated Envoy with every fault switched off behaves as the notes describe real Envoy.
 *
 * A malformed value is a mistake in the test harness, not something Envoy could see, so it stops
 * the simulator with its own `envoy-simulator:` message and exit code 2 before any Envoy
 * behaviour starts.
 */

export const FATAL_SIGNALS = ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGILL'] as const;
/** The signals Envoy's `SignalAction` catches, prints a backtrace for, and re-raises. */
export type FatalSignal = (typeof FATAL_SIGNALS)[number];

/** `ENVOY_SIM_SDS_NACK`: which SDS secrets every response is rejected for. */
export interface SdsNackFault {
  all: boolean;
  names: ReadonlySet<string>;
}

/** Switches that may be limited to some epochs with `ENVOY_SIM_FAULT_EPOCHS`. */
export interface Faults {
  /** Crash this many ms after start; 0 crashes before the admin listener binds. */
  crashAfterMs: number | undefined;
  crashSignal: FatalSignal;
  /** With a crash armed: exit with this code instead of dying by `crashSignal`. */
  exitCode: number | undefined;
  /** SIGTERM/SIGINT are logged but never start a shutdown. */
  ignoreSigterm: boolean;
  /** The xDS server never answers the first CDS/LDS request. */
  neverLive: boolean;
  xdsDelayMs: number;
  xdsReject: { cds: boolean; lds: boolean };
  /** Extra time spent in the server constructor, before the main loop and the admin listener. */
  startDelayMs: number;
  adminDelayMs: number;
  adminFail: '500' | 'reset' | undefined;
  sdsNack: SdsNackFault;
}

export interface SimEnv {
  recordPath: string | undefined;
  shmDir: string;
  activeConnections: number;
  connectionsDrainMs: number;
  sendmsgRetries: number;
  sendmsgRetryMs: number;
  /** The fault switches, or the all-off set when `epoch` is not in `ENVOY_SIM_FAULT_EPOCHS`. */
  faultsFor(epoch: number): Faults;
}

export class SimEnvError extends Error {
  override readonly name = 'SimEnvError';
}

const NO_FAULTS: Faults = {
  crashAfterMs: undefined,
  crashSignal: 'SIGSEGV',
  exitCode: undefined,
  ignoreSigterm: false,
  neverLive: false,
  xdsDelayMs: 200,
  xdsReject: { cds: false, lds: false },
  startDelayMs: 0,
  adminDelayMs: 0,
  adminFail: undefined,
  sdsNack: { all: false, names: new Set() },
};

type Env = Record<string, string | undefined>;

function present(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function nonNegativeInt(env: Env, name: string): number | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  if (!/^[0-9]+$/.test(raw.trim())) {
    throw new SimEnvError(`${name}='${raw}' is not a non-negative integer`);
  }
  return Number.parseInt(raw.trim(), 10);
}

function flag(env: Env, name: string): boolean {
  const raw = present(env, name);
  if (raw === undefined) return false;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new SimEnvError(`${name}='${raw}' must be 1 or 0`);
}

/** `1`/`all`: every secret; `0`: none; otherwise a comma-separated list of secret names. */
function sdsNack(env: Env): SdsNackFault {
  const raw = present(env, 'ENVOY_SIM_SDS_NACK');
  if (raw === undefined || raw === '0') return NO_FAULTS.sdsNack;
  if (raw === '1' || raw === 'all') return { all: true, names: new Set() };
  const names = raw.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) {
    throw new SimEnvError(
      `ENVOY_SIM_SDS_NACK='${raw}' must be 1, all, 0 or a comma-separated list of secret names`,
    );
  }
  return { all: false, names: new Set(names) };
}

function readFaults(env: Env): Faults {
  const signal = present(env, 'ENVOY_SIM_CRASH_SIGNAL') ?? NO_FAULTS.crashSignal;
  const crashSignal = FATAL_SIGNALS.find(
    (s) => s === signal.toUpperCase() || s === `SIG${signal.toUpperCase()}`,
  );
  if (crashSignal === undefined) {
    throw new SimEnvError(`ENVOY_SIM_CRASH_SIGNAL='${signal}' must be one of ${FATAL_SIGNALS.join(', ')}`);
  }
  const exitCode = nonNegativeInt(env, 'ENVOY_SIM_EXIT_CODE');
  if (exitCode !== undefined && exitCode > 255) {
    throw new SimEnvError(`ENVOY_SIM_EXIT_CODE='${exitCode}' must be at most 255`);
  }
  const reject = present(env, 'ENVOY_SIM_XDS_REJECT');
  if (reject !== undefined && !['cds', 'lds', 'both'].includes(reject)) {
    throw new SimEnvError(`ENVOY_SIM_XDS_REJECT='${reject}' must be cds, lds or both`);
  }
  const adminFail = present(env, 'ENVOY_SIM_ADMIN_FAIL');
  if (adminFail !== undefined && adminFail !== '500' && adminFail !== 'reset') {
    throw new SimEnvError(`ENVOY_SIM_ADMIN_FAIL='${adminFail}' must be 500 or reset`);
  }
  return {
    crashAfterMs: nonNegativeInt(env, 'ENVOY_SIM_CRASH_AFTER_MS'),
    crashSignal,
    exitCode,
    ignoreSigterm: flag(env, 'ENVOY_SIM_IGNORE_SIGTERM'),
    neverLive: flag(env, 'ENVOY_SIM_NEVER_LIVE'),
    xdsDelayMs: nonNegativeInt(env, 'ENVOY_SIM_XDS_DELAY_MS') ?? NO_FAULTS.xdsDelayMs,
    xdsReject: { cds: reject === 'cds' || reject === 'both', lds: reject === 'lds' || reject === 'both' },
    startDelayMs: nonNegativeInt(env, 'ENVOY_SIM_START_DELAY_MS') ?? 0,
    adminDelayMs: nonNegativeInt(env, 'ENVOY_SIM_ADMIN_DELAY_MS') ?? 0,
    adminFail,
    sdsNack: sdsNack(env),
  };
}

function readFaultEpochs(env: Env): Set<number> | undefined {
  const raw = present(env, 'ENVOY_SIM_FAULT_EPOCHS');
  if (raw === undefined) return undefined;
  const epochs = new Set<number>();
  for (const part of raw.split(',')) {
    const text = part.trim();
    if (!/^[0-9]+$/.test(text)) {
      throw new SimEnvError(`ENVOY_SIM_FAULT_EPOCHS='${raw}' must be a comma-separated list of epochs`);
    }
    epochs.add(Number.parseInt(text, 10));
  }
  return epochs;
}

export function readSimEnv(env: Env): SimEnv {
  const faults = readFaults(env);
  const faultEpochs = readFaultEpochs(env);
  return {
    recordPath: present(env, 'ENVOY_SIM_RECORD'),
    shmDir: present(env, 'ENVOY_SIM_SHM_DIR') ?? '/dev/shm',
    activeConnections: nonNegativeInt(env, 'ENVOY_SIM_ACTIVE_CONNECTIONS') ?? 0,
    connectionsDrainMs: nonNegativeInt(env, 'ENVOY_SIM_CONNECTIONS_DRAIN_MS') ?? 1000,
    // Envoy's SENDMSG_MAX_RETRIES = 10 and CONNECTION_REFUSED_RETRY_DELAY = 1 s
    // (hot_restarting_base.cc); the knobs only shorten them for tests.
    sendmsgRetries: nonNegativeInt(env, 'ENVOY_SIM_SENDMSG_RETRIES') ?? 10,
    sendmsgRetryMs: nonNegativeInt(env, 'ENVOY_SIM_SENDMSG_RETRY_MS') ?? 1000,
    faultsFor(epoch: number): Faults {
      return faultEpochs === undefined || faultEpochs.has(epoch) ? faults : NO_FAULTS;
    },
  };
}
