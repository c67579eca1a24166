/**
 * The Envoy lifecycle's vocabulary: what it is told (events), what it keeps (context), what its
 * actors take and give, and what it announces (decisions). Types only; the chart is in
 * `machines/envoy-lifecycle.ts`.
 */

import type { RunOutcome } from '../../src/errors.js';

/** `envoy.admin.v3.ServerInfo.State`, as `server.state` reports it (0, 1, 2, 3). */
export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

/** What one admin poll saw. `state: null` means `server.state` was not written yet. */
export interface AdminStatus {
  /** `server.hot_restart_epoch` of the process that answered (the admin port moves to the child). */
  epoch: number | null;
  state: ServerState | null;
  workersStarted: boolean;
  cds: { success: number; rejected: number };
  lds: { success: number; rejected: number };
}

/** Envoy's hot-restart failures, recognised by the process actor from Envoy's stderr. */
export type HotRestartFailure = 'still-initializing' | 'parent-gone' | 'socket-in-use';

/**
 * What an Envoy process is to the lifecycle: `current` serves or is starting, `next` is a
 * hot-restart child, `retiring` is a parent handed over to its child (it exits 0 after Envoy's
 * parent-shutdown time), `discarded` was told to stop.
 */
export type ProcRole = 'current' | 'next' | 'retiring' | 'discarded';

export interface EnvoyProc {
  seq: number;
  epoch: number;
  pid: number | null;
  role: ProcRole;
}

export interface ExitInfo {
  epoch: number;
  code: number | null;
  signal: string | null;
}

/** Timings and limits; the runtime fills them from `LifecycleConfig`. */
export interface LifecycleSettings {
  restartBudget: number;
  restartBackoffInitialMs: number;
  restartBackoffMaxMs: number;
  budgetResetMs: number;
  killGraceMs: number;
  /** After SIGKILL, how long to wait for the exit before reporting an unkillable Envoy. */
  stuckTimeoutMs: number;
  terminationDrainMs: number;
  exitOnZeroActiveConnections: boolean;
  minimumDrainMs: number;
  maximumDrainMs: number;
  /** Longest wait for a hot-restart child to go LIVE before it is abandoned. */
  handoverTimeoutMs: number;
  pollStartingMs: number;
  pollReadyMs: number;
  /** Consecutive failed admin polls after which a ready Envoy no longer counts as ready. */
  adminLostThreshold: number;
}

export interface LifecycleInput {
  settings: LifecycleSettings;
}

/** The lifecycle ends with the run's outcome: its exit code and why. */
export type LifecycleOutput = RunOutcome;

export type LifecycleEvent =
  | { type: 'SHUTDOWN' }
  | { type: 'QUIT' }
  | { type: 'DRAIN' }
  | { type: 'HOT_RESTART'; reason: string }
  | { type: 'EPOCH.SPAWNED'; seq: number; epoch: number; pid: number }
  | { type: 'EPOCH.SPAWN_FAILED'; seq: number; epoch: number; errno: string; message: string }
  | {
      type: 'EPOCH.EXITED';
      seq: number;
      epoch: number;
      code: number | null;
      signal: string | null;
      failure: HotRestartFailure | null;
    }
  | { type: 'ADMIN.STATUS'; status: AdminStatus }
  | { type: 'ADMIN.UNREACHABLE'; reason: string }
  | { type: 'CONNECTIONS'; active: number };

export type ExitedEvent = Extract<LifecycleEvent, { type: 'EPOCH.EXITED' }>;

/** Commands an `envoyEpoch` actor accepts. */
export type EpochCommand = { type: 'SIGNAL'; signal: 'SIGTERM' | 'SIGKILL' };

export interface EpochInput {
  seq: number;
  epoch: number;
  args: string[];
  /** The generated bootstrap, removed by the actor once its process is gone (null: user's file). */
  configFile: string | null;
}

export interface LaunchPlan {
  epoch: number;
  args: string[];
  configFile: string | null;
}

export interface LifecycleContext {
  settings: LifecycleSettings;
  /** Epoch of the current process; every fresh start is 0. */
  epoch: number;
  /** The argv prepared for the next spawn. */
  launch: LaunchPlan | null;
  seq: number;
  procs: EnvoyProc[];
  restarts: number;
  hotRestarts: number;
  restartPending: boolean;
  /** During a hot restart: the child has answered on the admin port, so the parent no longer does. */
  adminMoved: boolean;
  /**
   * Hot-restart children of the current parent that died before going LIVE. Each leaves Envoy's
   * INITIALIZING flag set, and it stays set until a child goes LIVE or a fresh epoch 0 starts
   * (envoy#33446), so this is reset only there, not at each hot restart.
   */
  childFailures: number;
  /** The current epoch has had CDS and LDS accepted at least once. */
  configSeen: boolean;
  status: AdminStatus | null;
  adminFailures: number;
  adminError: string | null;
  lastExit: ExitInfo | null;
  /** Why the last hot restart did not happen (shown in logs and /debug). */
  notice: string | null;
  drainMode: 'terminate' | 'hold';
  activeConnections: number | null;
  exitCode: number;
  exitReason: string;
}

/**
 * The lifecycle's phases, as metrics and dashboards name them (`pilot_agent_envoy_state`). Each
 * top-level state announces its phase on entry; renaming a state does not rename its phase.
 */
export const LIFECYCLE_PHASES = [
  'starting',
  'live',
  'ready',
  'hotRestarting',
  'crashedBackoff',
  'draining',
  'stopping',
] as const;
export type LifecyclePhase = (typeof LIFECYCLE_PHASES)[number];

/** What became of a hot restart that did not complete. */
export type HotRestartOutcome =
  /** The preparation or validation failed, or the child could not be spawned: epoch N keeps serving. */
  | 'refused'
  /** The child died before taking over: epoch N keeps serving, the hot restart is retried. */
  | 'retry'
  /** As `retry`, with the restart budget spent: epoch N keeps serving, no retry. */
  | 'keep-parent'
  /** The parent can no longer be managed: it is replaced by a fresh epoch 0. */
  | 'replace-parent'
  /** As `replace-parent`, with the restart budget spent: the agent stops. */
  | 'give-up'
  /** The parent exited during the hot restart: a fresh epoch 0 is started. */
  | 'fresh-start'
  /** The child did not go LIVE in time: it is killed, epoch N keeps serving. */
  | 'abandon';

/** How a hot-restart request that did not start one at once was handled. */
export type HotRestartDeferral =
  /** Envoy is LIVE but not ready: the hot restart starts once it is. */
  | 'until-ready'
  /** A hot restart is under way: one more follows it (requests coalesce). */
  | 'after-current'
  /** The epoch being started serves nothing yet: it is restarted cold with the new certificates. */
  | 'cold-restart'
  /** A fresh epoch 0 is about to start, or Envoy is stopping: nothing to do. */
  | 'not-needed';

/**
 * What the lifecycle decided, announced with XState's `emit` for observers (log lines, metrics,
 * the memory trigger, the debug feed). Observers read these and nothing else of the chart's
 * structure, so renaming a state changes no log line and no metric.
 */
export type LifecycleDecision =
  | { type: 'envoy.phase'; phase: LifecyclePhase }
  | { type: 'envoy.spawned'; seq: number; epoch: number; pid: number; role: 'current' | 'next' }
  | {
      type: 'envoy.exited';
      seq: number;
      epoch: number;
      pid: number | null;
      code: number | null;
      signal: string | null;
      failure: HotRestartFailure | null;
      /** The agent had told this process to stop, or it was a retiring parent. */
      expected: boolean;
    }
  /** LIVE with its workers started, waiting for its configuration. */
  | { type: 'envoy.live'; epoch: number }
  | { type: 'envoy.ready'; epoch: number }
  | { type: 'envoy.unready'; epoch: number; reason: string }
  | {
      type: 'envoy.crashed';
      epoch: number;
      code: number | null;
      signal: string | null;
      /** The restart this crash will cost, 1-based, out of `budget`. */
      restart: number;
      budget: number;
      backoffMs: number;
    }
  | { type: 'envoy.restarting'; restart: number; budget: number }
  | { type: 'envoy.budgetRestored'; budget: number }
  | { type: 'envoy.hotRestartBegun'; fromEpoch: number; toEpoch: number }
  | { type: 'envoy.hotRestartCompleted'; epoch: number; ready: boolean }
  | { type: 'envoy.hotRestartFailed'; toEpoch: number; outcome: HotRestartOutcome; notice: string }
  | { type: 'envoy.hotRestartDeferred'; reason: string; deferral: HotRestartDeferral }
  | { type: 'envoy.draining'; mode: 'terminate' | 'hold' }
  | { type: 'envoy.stopping'; exitCode: number; reason: string }
  | { type: 'envoy.killing'; pids: (number | null)[] }
  | { type: 'envoy.stuck'; exitCode: number; reason: string };
