/**
 * The Envoy lifecycle: one statechart that decides everything about the Envoy processes of one
 * pod — when to start an epoch, when it is ready, when to restart it after a crash, when to
 * hot-restart it into the next epoch, how to drain and stop it. It performs no I/O: processes,
 * admin calls and files are actors and actions named here and provided from `src/` through
 * `.provide()`, and every wait is a named delay, so the same definition runs the daemon, the
 * simulated-clock tests, the model-based paths and the diagrams.
 *
 * Protocol (facts come in as events, decisions are transitions):
 *
 * - **Epochs.** Every Envoy process is spawned as its own `envoyEpoch` actor (id `envoy-<seq>`,
 *   seq counts spawns) and is tracked in `context.procs` with a role: `current` (the epoch that
 *   serves or is starting), `next` (a hot-restart child), `retiring` (a parent handed over to its
 *   child; it exits 0 after Envoy's parent-shutdown time) and `discarded` (told to stop). Exits of
 *   `retiring` and `discarded` processes are expected; exits of `current` and `next` decide.
 * - **Fresh starts** are always epoch 0 and begin only once no Envoy process is left (`clearing`):
 *   a fresh epoch 0 unlinks Envoy's shared memory and binds the same hot-restart socket slot, so a
 *   survivor would make it fail (envoy-process-behaviour §2.1–2.2).
 * - **Readiness** is the `ready` tag (states `ready` and `hotRestarting`), never a flag kept by
 *   hand: Envoy `server.state` LIVE, workers started, CDS and LDS accepted at least once by this
 *   epoch (Istio 1.5 rule, spec §5.2), and not shutting down. `adminPoller` reports the facts.
 * - **Crashes** of the current epoch (signal or non-zero code) go to `crashedBackoff` (not ready at
 *   once), then a fresh epoch 0 after `restartBackoff` (200 ms doubling, capped). The budget
 *   (`settings.restartBudget`) is spent by crashes and failed hot restarts and given back after
 *   `budgetReset` of uninterrupted readiness; when it is spent the agent stops with exit code 3.
 *   Envoy exiting 0 on its own stops the agent with 0.
 * - **Hot restart** (`HOT_RESTART`: certificate rotation or SIGHUP) runs only from `ready`: the
 *   current epoch is LIVE with its workers started (so the child never meets "previous envoy process
 *   is still initializing" because of us) and readiness stays true throughout. A request while
 *   `live` waits until `ready`; a request while starting restarts the not-yet-serving epoch cold;
 *   requests during a hot restart coalesce into one more afterwards. It renders and validates epoch
 *   N+1's bootstrap, spawns it, and promotes it when its admin API reports it LIVE with workers
 *   started. A child that fails before answering on the admin port leaves the parent serving and is
 *   retried with the restart backoff while the budget lasts. A child that had already taken the
 *   admin port and then died leaves a parent that can no longer be drained, observed or hot-restarted
 *   (Envoy keeps its INITIALIZING flag set until a fresh epoch 0, envoy#33446): it is replaced by a
 *   fresh epoch 0 through the crash backoff, as is a parent that dies mid-handover.
 * - **Shutdown**: `SHUTDOWN` (SIGTERM/SIGINT) drains (not ready at once) by asking Envoy to drain
 *   its listeners, waits `terminationDrain` — or, in zero-connection mode, `minimumDrain` and then
 *   until no downstream connection is left (bounded by `maximumDrain`) — then `stopping` sends
 *   SIGTERM to every process, SIGKILL after `killGrace`, and stops only when none is left. A second
 *   `SHUTDOWN` skips the rest of the drain; Envoy exiting ends it early. `QUIT` stops without a
 *   drain; `DRAIN` drains and holds Envoy until `SHUTDOWN`, which then stops at once.
 */
import { and, assign, type EventObject, enqueueActions, fromCallback, fromPromise, not, setup } from 'xstate';
// Pure data: the one catalogue of exit codes (the machine decides which one a run ends with).
import { EXIT_CODES } from '../src/errors.js';

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

export interface LifecycleOutput {
  exitCode: number;
  reason: string;
}

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

const notProvided = (name: string) => () => {
  throw new Error(`${name} is not provided: the runtime must .provide() it`);
};

type ExitedEvent = Extract<LifecycleEvent, { type: 'EPOCH.EXITED' }>;

const roleOf = (context: LifecycleContext, seq: number): ProcRole | undefined =>
  context.procs.find((p) => p.seq === seq)?.role;

const withoutProc = (context: LifecycleContext, seq: number): EnvoyProc[] =>
  context.procs.filter((p) => p.seq !== seq);

const describeExit = (e: { code: number | null; signal: string | null }): string =>
  e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;

/** Whether a status shows Envoy done initialising: LIVE with its workers started. */
export const isLiveStatus = (s: AdminStatus): boolean => s.state === 'LIVE' && s.workersStarted;

const configAccepted = (s: AdminStatus): boolean => s.cds.success > 0 && s.lds.success > 0;

const isCurrentEpochStatus = (context: LifecycleContext, s: AdminStatus): boolean =>
  s.epoch === null || s.epoch === context.epoch;

export const envoyLifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as LifecycleInput,
    output: {} as LifecycleOutput,
  },
  actors: {
    /** One Envoy process (src/envoy/process.ts). */
    envoyEpoch: fromCallback<EpochCommand, EpochInput>(notProvided('envoyEpoch')),
    /** Renders `envoy-rev<epoch>.json` and builds Envoy's argv (src/bootstrap, src/envoy/argv.ts). */
    prepareEpoch: fromPromise<LaunchPlan, { epoch: number }>(notProvided('prepareEpoch')),
    /** Runs `<binary> <argv> --mode validate`; rejects with Envoy's reason (and removes the file). */
    validateEpoch: fromPromise<void, LaunchPlan>(notProvided('validateEpoch')),
    /** Polls the admin API every `intervalMs`, sending ADMIN.STATUS / ADMIN.UNREACHABLE. */
    adminPoller: fromCallback<EventObject, { intervalMs: number }>(notProvided('adminPoller')),
    /** POST /drain_listeners (inbound only for sidecars, graceful; skip_exit when held). */
    drainListeners: fromPromise<void, { skipExit: boolean }>(notProvided('drainListeners')),
    /** Counts active downstream connections every second, sending CONNECTIONS. */
    connectionPoller: fromCallback<EventObject, { intervalMs: number }>(notProvided('connectionPoller')),
  },
  actions: {
    storeLaunch: assign({ launch: (_, params: LaunchPlan) => params }),

    spawnCurrent: enqueueActions(({ context, enqueue }) => {
      const launch = context.launch;
      if (!launch) return;
      const seq = context.seq + 1;
      enqueue.assign({
        seq,
        procs: [...context.procs, { seq, epoch: launch.epoch, pid: null, role: 'current' as const }],
      });
      enqueue.spawnChild('envoyEpoch', {
        id: `envoy-${seq}`,
        input: { seq, epoch: launch.epoch, args: launch.args, configFile: launch.configFile },
      });
    }),

    spawnNext: enqueueActions(({ context, enqueue }) => {
      const launch = context.launch;
      if (!launch) return;
      const seq = context.seq + 1;
      // Envoy keeps at most three processes (MaxConcurrentProcesses); the child's start asks
      // its parent to end the grandparent, but never rely on a grandparent that ignores that.
      const retiring = context.procs.filter((p) => p.role === 'retiring');
      for (const old of retiring.slice(0, Math.max(0, context.procs.length - 2))) {
        enqueue.sendTo(`envoy-${old.seq}`, { type: 'SIGNAL', signal: 'SIGTERM' });
      }
      enqueue.assign({
        seq,
        procs: [...context.procs, { seq, epoch: launch.epoch, pid: null, role: 'next' as const }],
      });
      enqueue.spawnChild('envoyEpoch', {
        id: `envoy-${seq}`,
        input: { seq, epoch: launch.epoch, args: launch.args, configFile: launch.configFile },
      });
    }),

    recordPid: assign({
      procs: ({ context }, params: { seq: number; pid: number }) =>
        context.procs.map((p) => (p.seq === params.seq ? { ...p, pid: params.pid } : p)),
    }),

    /** Forgets an exited process and stops its actor (which removes its bootstrap file). */
    forgetProc: enqueueActions(({ context, enqueue }, params: { seq: number }) => {
      enqueue.assign({ procs: withoutProc(context, params.seq) });
      enqueue.stopChild(`envoy-${params.seq}`);
    }),

    /** An exit that matters: the process is forgotten and its exit remembered for reports. */
    forgetExit: enqueueActions(({ context, enqueue }, params: ExitInfo & { seq: number }) => {
      enqueue.assign({
        procs: withoutProc(context, params.seq),
        lastExit: { epoch: params.epoch, code: params.code, signal: params.signal },
      });
      enqueue.stopChild(`envoy-${params.seq}`);
    }),

    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    resetRestarts: assign({ restarts: 0 }),

    /** A fresh start: epoch 0, nothing known about it yet. */
    beginFreshStart: assign({
      epoch: 0,
      launch: null,
      childFailures: 0,
      // The fresh epoch renders the current certificates: a pending hot restart is served by it.
      restartPending: false,
      configSeen: false,
      status: null,
      adminFailures: 0,
      adminError: null,
    }),

    /**
     * Every process left is to stop and its exit becomes expected. Only the newest is told now:
     * a hot-restart child that gets SIGTERM terminates its parent itself, and a parent killed
     * first leaves its child retrying a vanished socket and aborting (envoy-process-behaviour
     * §2.3 step 9, §2.5). Older ones are told when the newer one has gone (terminateNewestDiscarded).
     */
    discardAll: enqueueActions(({ context, enqueue }) => {
      const newest = context.procs.at(-1);
      if (newest) enqueue.sendTo(`envoy-${newest.seq}`, { type: 'SIGNAL', signal: 'SIGTERM' });
      enqueue.assign({ procs: context.procs.map((p) => ({ ...p, role: 'discarded' as const })) });
    }),

    /** After an exit: the newest process still to stop gets its SIGTERM. */
    terminateNewestDiscarded: enqueueActions(({ context, enqueue }) => {
      const newest = context.procs.filter((p) => p.role === 'discarded').at(-1);
      if (newest) enqueue.sendTo(`envoy-${newest.seq}`, { type: 'SIGNAL', signal: 'SIGTERM' });
    }),

    killAll: enqueueActions(({ context, enqueue }) => {
      for (const p of context.procs) enqueue.sendTo(`envoy-${p.seq}`, { type: 'SIGNAL', signal: 'SIGKILL' });
    }),

    /**
     * SIGKILL, not SIGTERM: a hot-restart child that shuts down gracefully first tells its parent
     * to terminate (envoy-process-behaviour §2.3 step 9), which would end the epoch still serving.
     */
    killNext: enqueueActions(({ context, enqueue }) => {
      for (const p of context.procs.filter((q) => q.role === 'next')) {
        enqueue.sendTo(`envoy-${p.seq}`, { type: 'SIGNAL', signal: 'SIGKILL' });
      }
    }),

    recordStatus: assign(({ context }, params: { status: AdminStatus }) => {
      const mine = isCurrentEpochStatus(context, params.status);
      return {
        status: mine ? params.status : context.status,
        configSeen: context.configSeen || (mine && configAccepted(params.status)),
        adminFailures: 0,
        adminError: null,
      };
    }),

    recordAdminFailure: assign({
      adminFailures: ({ context }) => context.adminFailures + 1,
      adminError: (_, params: { reason: string }) => params.reason,
    }),

    /** The hot-restart child took over: it becomes current, its parent retires. */
    promoteNext: assign(({ context }, params: { status: AdminStatus }) => {
      const next = context.procs.find((p) => p.role === 'next');
      return {
        epoch: next ? next.epoch : context.epoch,
        procs: context.procs.map((p) =>
          p.role === 'next'
            ? { ...p, role: 'current' as const }
            : p.role === 'current'
              ? { ...p, role: 'retiring' as const }
              : p,
        ),
        status: params.status,
        configSeen: configAccepted(params.status),
        hotRestarts: context.hotRestarts + 1,
        childFailures: 0,
        notice: null,
      };
    }),

    markRestartPending: assign({ restartPending: true }),
    clearRestartPending: assign({ restartPending: false }),
    setNotice: assign({ notice: (_, params: { notice: string }) => params.notice }),

    /** An Envoy process survived SIGKILL: nothing more the agent can do about it. */
    failStuck: assign(({ context }) => ({
      exitCode: EXIT_CODES['envoy-stuck'],
      // The ones that were killed: every process when stopping, the child alone when abandoning.
      exitReason: `Envoy process(es) ${context.procs
        .filter((p) => p.role === 'discarded' || p.role === 'next')
        .map((p) => p.pid ?? '?')
        .join(', ')} survived SIGKILL`,
    })),

    fail: assign((_, params: { exitCode: number; reason: string }) => ({
      exitCode: params.exitCode,
      exitReason: params.reason,
    })),
    setExitReason: assign({ exitReason: (_, params: { reason: string }) => params.reason }),

    holdAfterDrain: assign({ drainMode: 'hold' as const }),
    recordConnections: assign({ activeConnections: (_, params: { active: number }) => params.active }),
  },
  guards: {
    isCurrent: ({ context, event }) => 'seq' in event && roleOf(context, event.seq) === 'current',
    isNext: ({ context, event }) => 'seq' in event && roleOf(context, event.seq) === 'next',
    isExpectedExit: ({ context, event }) => {
      if (!('seq' in event)) return false;
      const role = roleOf(context, event.seq);
      return role === 'retiring' || role === 'discarded' || role === undefined;
    },
    exitedCleanly: ({ event }) => event.type === 'EPOCH.EXITED' && event.code === 0 && event.signal === null,
    budgetLeft: ({ context }) => context.restarts < context.settings.restartBudget,
    hasNext: ({ context }) => context.procs.some((p) => p.role === 'next'),
    noProcs: ({ context }) => context.procs.length === 0,
    restartPending: ({ context }) => context.restartPending,
    isLatestSpawn: ({ context, event }) => 'seq' in event && event.seq === context.seq,
    statusIsReady: ({ context, event }) =>
      event.type === 'ADMIN.STATUS' &&
      isCurrentEpochStatus(context, event.status) &&
      isLiveStatus(event.status) &&
      (context.configSeen || configAccepted(event.status)),
    statusIsLive: ({ context, event }) =>
      event.type === 'ADMIN.STATUS' &&
      isCurrentEpochStatus(context, event.status) &&
      isLiveStatus(event.status),
    /**
     * The parent can no longer be hot-restarted or managed: its child took the admin port, or a
     * retry was refused with "still initializing" after one of our children failed — Envoy keeps
     * that flag set until a fresh epoch 0 (envoy#33446), so no retry can succeed.
     */
    parentUnusable: ({ context, event }) =>
      context.adminMoved ||
      (event.type === 'EPOCH.EXITED' && event.failure === 'still-initializing' && context.childFailures > 0),
    statusFromNext: ({ context, event }) =>
      event.type === 'ADMIN.STATUS' &&
      context.procs.some((p) => p.role === 'next' && p.epoch === event.status.epoch),
    nextIsLive: ({ context, event }) => {
      const next = context.procs.find((p) => p.role === 'next');
      return (
        event.type === 'ADMIN.STATUS' &&
        next !== undefined &&
        event.status.epoch === next.epoch &&
        isLiveStatus(event.status)
      );
    },
    nextIsReady: ({ context, event }) => {
      const next = context.procs.find((p) => p.role === 'next');
      return (
        event.type === 'ADMIN.STATUS' &&
        next !== undefined &&
        event.status.epoch === next.epoch &&
        isLiveStatus(event.status) &&
        configAccepted(event.status)
      );
    },
    adminLost: ({ context }) => context.adminFailures + 1 >= context.settings.adminLostThreshold,
    exitOnZeroConnections: ({ context }) => context.settings.exitOnZeroActiveConnections,
    holdAfterDrain: ({ context }) => context.drainMode === 'hold',
    noActiveConnections: ({ event }) => event.type === 'CONNECTIONS' && event.active <= 0,
  },
  delays: {
    restartBackoff: ({ context }) =>
      Math.min(
        context.settings.restartBackoffMaxMs,
        context.settings.restartBackoffInitialMs * 2 ** Math.max(0, context.restarts - 1),
      ),
    budgetReset: ({ context }) => context.settings.budgetResetMs,
    killGrace: ({ context }) => context.settings.killGraceMs,
    stuckTimeout: ({ context }) => context.settings.killGraceMs + context.settings.stuckTimeoutMs,
    terminationDrain: ({ context }) => context.settings.terminationDrainMs,
    minimumDrain: ({ context }) => context.settings.minimumDrainMs,
    maximumDrain: ({ context }) =>
      Math.max(0, context.settings.maximumDrainMs - context.settings.minimumDrainMs),
    handoverTimeout: ({ context }) => context.settings.handoverTimeoutMs,
  },
}).createMachine({
  id: 'envoy',
  context: ({ input }) => ({
    settings: input.settings,
    epoch: 0,
    launch: null,
    seq: 0,
    procs: [],
    restarts: 0,
    hotRestarts: 0,
    restartPending: false,
    adminMoved: false,
    childFailures: 0,
    configSeen: false,
    status: null,
    adminFailures: 0,
    adminError: null,
    lastExit: null,
    notice: null,
    drainMode: 'terminate',
    activeConnections: null,
    exitCode: 0,
    exitReason: 'shutdown complete',
  }),
  initial: 'starting',
  on: {
    'EPOCH.SPAWNED': {
      actions: { type: 'recordPid', params: ({ event }) => ({ seq: event.seq, pid: event.pid }) },
    },
    // Exits not decided by the active state: expected exits, and the current epoch's end.
    'EPOCH.EXITED': [
      {
        guard: 'isExpectedExit',
        actions: [{ type: 'forgetProc', params: ({ event }) => event }, 'terminateNewestDiscarded'],
      },
      {
        guard: and(['isCurrent', 'exitedCleanly']),
        target: '.stopping',
        actions: [
          { type: 'forgetExit', params: ({ event }) => event },
          {
            type: 'setExitReason',
            params: ({ event }) => ({ reason: `Envoy epoch ${event.epoch} exited 0` }),
          },
        ],
      },
      {
        guard: and(['isCurrent', 'budgetLeft']),
        target: '.crashedBackoff',
        actions: [{ type: 'forgetExit', params: ({ event }) => event }, 'countRestart'],
      },
      {
        guard: 'isCurrent',
        target: '.stopping',
        actions: [
          { type: 'forgetExit', params: ({ event }) => event },
          {
            type: 'fail',
            params: ({ context, event }) => ({
              exitCode: EXIT_CODES['crash-loop'],
              reason: `Envoy epoch ${event.epoch} ${describeExit(event)}; restart budget of ${context.settings.restartBudget} spent`,
            }),
          },
        ],
      },
    ],
    'EPOCH.SPAWN_FAILED': {
      target: '.stopping',
      actions: [
        { type: 'forgetProc', params: ({ event }) => event },
        {
          type: 'fail',
          params: ({ event }) => ({
            exitCode:
              event.errno === 'ENOENT' ? EXIT_CODES['envoy-not-found'] : EXIT_CODES['envoy-not-executable'],
            reason: event.message,
          }),
        },
      ],
    },
    QUIT: {
      target: '.stopping',
      actions: { type: 'setExitReason', params: { reason: 'quit requested' } },
    },
    DRAIN: { target: '.draining', actions: 'holdAfterDrain' },
  },
  states: {
    starting: {
      description: 'A fresh epoch 0: wait until no Envoy is left, render, spawn, wait for LIVE.',
      entry: 'beginFreshStart',
      initial: 'clearing',
      on: {
        SHUTDOWN: {
          target: 'stopping',
          actions: { type: 'setExitReason', params: { reason: 'shutdown before Envoy was live' } },
        },
        // The epoch being started serves nothing yet: restart it cold with the new certificates.
        HOT_RESTART: { target: 'starting', reenter: true },
      },
      states: {
        clearing: {
          entry: 'discardAll',
          always: { guard: 'noProcs', target: 'preparing' },
          after: {
            killGrace: { actions: 'killAll' },
            stuckTimeout: { target: '#envoy.stopped', actions: 'failStuck' },
          },
        },
        preparing: {
          invoke: {
            src: 'prepareEpoch',
            input: ({ context }) => ({ epoch: context.epoch }),
            onDone: {
              target: 'spawning',
              actions: { type: 'storeLaunch', params: ({ event }) => event.output },
            },
            onError: {
              target: '#envoy.stopping',
              actions: {
                type: 'fail',
                params: ({ event }) => ({ exitCode: EXIT_CODES.bootstrap, reason: errorText(event.error) }),
              },
            },
          },
        },
        spawning: {
          entry: 'spawnCurrent',
          on: {
            'EPOCH.SPAWNED': {
              guard: 'isLatestSpawn',
              target: 'initializing',
              actions: { type: 'recordPid', params: ({ event }) => event },
            },
          },
        },
        initializing: {
          invoke: {
            src: 'adminPoller',
            input: ({ context }) => ({ intervalMs: context.settings.pollStartingMs }),
          },
          on: {
            'ADMIN.STATUS': [
              {
                guard: 'statusIsReady',
                target: '#envoy.ready',
                actions: { type: 'recordStatus', params: ({ event }) => event },
              },
              {
                guard: 'statusIsLive',
                target: '#envoy.live',
                actions: { type: 'recordStatus', params: ({ event }) => event },
              },
              { actions: { type: 'recordStatus', params: ({ event }) => event } },
            ],
            'ADMIN.UNREACHABLE': {
              actions: { type: 'recordAdminFailure', params: ({ event }) => event },
            },
          },
        },
      },
    },

    live: {
      description: 'Envoy is LIVE but not ready: config not accepted yet, or health check failing.',
      invoke: {
        src: 'adminPoller',
        input: ({ context }) => ({ intervalMs: context.settings.pollStartingMs }),
      },
      on: {
        'ADMIN.STATUS': [
          {
            guard: 'statusIsReady',
            target: 'ready',
            actions: { type: 'recordStatus', params: ({ event }) => event },
          },
          { actions: { type: 'recordStatus', params: ({ event }) => event } },
        ],
        'ADMIN.UNREACHABLE': { actions: { type: 'recordAdminFailure', params: ({ event }) => event } },
        // Hot restarts start from `ready` only, so readiness stays true through them.
        HOT_RESTART: { actions: 'markRestartPending' },
        SHUTDOWN: 'draining',
      },
    },

    ready: {
      description: 'Envoy serves: LIVE, workers started, CDS and LDS accepted.',
      tags: ['ready'],
      always: { guard: 'restartPending', target: 'hotRestarting' },
      invoke: { src: 'adminPoller', input: ({ context }) => ({ intervalMs: context.settings.pollReadyMs }) },
      after: { budgetReset: { actions: 'resetRestarts' } },
      on: {
        'ADMIN.STATUS': [
          {
            guard: not('statusIsReady'),
            target: 'live',
            actions: { type: 'recordStatus', params: ({ event }) => event },
          },
          { actions: { type: 'recordStatus', params: ({ event }) => event } },
        ],
        'ADMIN.UNREACHABLE': [
          {
            guard: 'adminLost',
            target: 'live',
            actions: { type: 'recordAdminFailure', params: ({ event }) => event },
          },
          { actions: { type: 'recordAdminFailure', params: ({ event }) => event } },
        ],
        HOT_RESTART: 'hotRestarting',
        SHUTDOWN: 'draining',
      },
    },

    hotRestarting: {
      description: 'Epoch N serves while epoch N+1 is rendered, validated, spawned and handed over.',
      tags: ['ready'],
      entry: ['clearRestartPending', assign({ launch: null, adminMoved: false })],
      initial: 'preparing',
      on: {
        // Rotations during a hot restart coalesce into one more hot restart after it.
        HOT_RESTART: { actions: 'markRestartPending' },
        SHUTDOWN: 'draining',
        'EPOCH.EXITED': [
          // The child had taken the admin port: the parent cannot be managed any more.
          {
            guard: and(['isNext', 'parentUnusable', 'budgetLeft']),
            target: 'crashedBackoff',
            actions: [
              { type: 'forgetExit', params: ({ event }) => event },
              'countRestart',
              {
                type: 'setNotice',
                params: ({ context, event }) => ({
                  notice: `${unusableParentText(context, event)}; replacing epoch ${event.epoch - 1} with a fresh epoch 0`,
                }),
              },
            ],
          },
          {
            guard: and(['isNext', 'parentUnusable']),
            target: 'stopping',
            actions: [
              { type: 'forgetExit', params: ({ event }) => event },
              {
                type: 'fail',
                params: ({ context, event }) => ({
                  exitCode: EXIT_CODES['crash-loop'],
                  reason: `${unusableParentText(context, event)}; restart budget of ${context.settings.restartBudget} spent`,
                }),
              },
            ],
          },
          // Child failures before it took over: the parent keeps serving; retry while the budget lasts.
          {
            guard: and(['isNext', 'budgetLeft']),
            target: '.retrying',
            actions: [
              { type: 'forgetExit', params: ({ event }) => event },
              'countRestart',
              assign({ childFailures: ({ context }) => context.childFailures + 1 }),
              {
                type: 'setNotice',
                params: ({ event }) => ({ notice: hotRestartFailureText(event) }),
              },
            ],
          },
          {
            guard: 'isNext',
            target: 'ready',
            actions: [
              { type: 'forgetExit', params: ({ event }) => event },
              // It still left Envoy's INITIALIZING flag set: the next refusal must be understood.
              assign({ childFailures: ({ context }) => context.childFailures + 1 }),
              {
                type: 'setNotice',
                params: ({ event }) => ({
                  notice: `${hotRestartFailureText(event)}; restart budget spent, epoch ${event.epoch - 1} keeps serving`,
                }),
              },
            ],
          },
          // The parent went away under its child: start over from a fresh epoch 0.
          {
            guard: and(['isCurrent', 'exitedCleanly', 'hasNext']),
            target: 'starting',
            actions: [
              { type: 'forgetExit', params: ({ event }) => event },
              {
                type: 'setNotice',
                params: ({ event }) => ({ notice: `epoch ${event.epoch} exited during the hot restart` }),
              },
            ],
          },
        ],
      },
      states: {
        preparing: {
          invoke: {
            src: 'prepareEpoch',
            input: ({ context }) => ({ epoch: context.epoch + 1 }),
            onDone: {
              target: 'validating',
              actions: { type: 'storeLaunch', params: ({ event }) => event.output },
            },
            onError: {
              target: '#envoy.ready',
              actions: {
                type: 'setNotice',
                params: ({ event }) => ({ notice: `hot restart refused: ${errorText(event.error)}` }),
              },
            },
          },
        },
        validating: {
          invoke: {
            src: 'validateEpoch',
            input: ({ context }) =>
              context.launch ?? { epoch: context.epoch + 1, args: [], configFile: null },
            onDone: 'spawning',
            onError: {
              target: '#envoy.ready',
              actions: {
                type: 'setNotice',
                params: ({ event }) => ({
                  notice: `hot restart refused: Envoy rejected the new bootstrap: ${errorText(event.error)}`,
                }),
              },
            },
          },
        },
        spawning: {
          entry: 'spawnNext',
          on: {
            'EPOCH.SPAWNED': {
              guard: 'isLatestSpawn',
              target: 'handover',
              actions: { type: 'recordPid', params: ({ event }) => event },
            },
            'EPOCH.SPAWN_FAILED': {
              target: '#envoy.ready',
              actions: [
                { type: 'forgetProc', params: ({ event }) => event },
                {
                  type: 'setNotice',
                  params: ({ event }) => ({ notice: `hot restart failed: ${event.message}` }),
                },
              ],
            },
          },
        },
        handover: {
          invoke: {
            src: 'adminPoller',
            input: ({ context }) => ({ intervalMs: context.settings.pollStartingMs }),
          },
          after: {
            handoverTimeout: {
              target: 'abandoning',
              actions: {
                type: 'setNotice',
                params: ({ context }) => ({
                  notice: `epoch ${context.epoch + 1} did not go live within ${context.settings.handoverTimeoutMs} ms`,
                }),
              },
            },
          },
          on: {
            'ADMIN.STATUS': [
              {
                guard: 'nextIsReady',
                target: '#envoy.ready',
                actions: { type: 'promoteNext', params: ({ event }) => event },
              },
              {
                guard: 'nextIsLive',
                target: '#envoy.live',
                actions: { type: 'promoteNext', params: ({ event }) => event },
              },
              // The child answers on the admin port: Envoy moved it from the parent (§2.3 step 3).
              { guard: 'statusFromNext', actions: assign({ adminMoved: true }) },
            ],
          },
        },
        retrying: {
          // Back to rendering: the failed child's bootstrap file was removed with it.
          after: { restartBackoff: 'preparing' },
        },
        abandoning: {
          // The child keeps its role until it is gone, so that a later hot restart cannot
          // collide with it on the same hot-restart socket slot. A child that had taken the admin
          // port leaves an unusable parent: that exit falls through to the branches above.
          entry: 'killNext',
          after: { stuckTimeout: { target: '#envoy.stopped', actions: 'failStuck' } },
          on: {
            'EPOCH.EXITED': {
              guard: and(['isNext', not('parentUnusable')]),
              target: '#envoy.ready',
              actions: [
                { type: 'forgetExit', params: ({ event }) => event },
                'countRestart',
                assign({ childFailures: ({ context }) => context.childFailures + 1 }),
              ],
            },
          },
        },
      },
    },

    crashedBackoff: {
      description: 'The current epoch died: not ready; a fresh epoch 0 after the restart backoff.',
      entry: 'discardAll',
      after: { restartBackoff: 'starting' },
      on: {
        SHUTDOWN: {
          target: 'stopping',
          actions: { type: 'setExitReason', params: { reason: 'shutdown during restart backoff' } },
        },
        // The next fresh start renders the new certificates anyway.
        HOT_RESTART: {},
      },
    },

    draining: {
      description: 'Not ready: Envoy drains its listeners before it is stopped (or held, after DRAIN).',
      tags: ['draining'],
      initial: 'requesting',
      on: {
        // A second SIGTERM/SIGINT, or the first one after DRAIN: stop now.
        SHUTDOWN: 'stopping',
        HOT_RESTART: {},
        DRAIN: {},
        'EPOCH.EXITED': [
          {
            guard: 'isExpectedExit',
            actions: { type: 'forgetProc', params: ({ event }) => event },
          },
          {
            guard: 'isCurrent',
            target: 'stopping',
            actions: [
              { type: 'forgetExit', params: ({ event }) => event },
              {
                type: 'setExitReason',
                params: ({ event }) => ({
                  reason: `Envoy epoch ${event.epoch} ${describeExit(event)} while draining`,
                }),
              },
            ],
          },
          // A hot-restart child that dies while its parent drains changes nothing.
          { actions: { type: 'forgetProc', params: ({ event }) => event } },
        ],
      },
      states: {
        requesting: {
          invoke: {
            src: 'drainListeners',
            input: ({ context }) => ({ skipExit: context.drainMode === 'hold' }),
            onDone: 'settling',
            // Istio ignores a failed drain call too: the wait still protects in-flight requests.
            onError: 'settling',
          },
        },
        settling: {
          always: [
            { guard: 'holdAfterDrain', target: 'held' },
            { guard: 'exitOnZeroConnections', target: 'minimumWait' },
            { target: 'waiting' },
          ],
        },
        waiting: {
          after: { terminationDrain: '#envoy.stopping' },
        },
        minimumWait: {
          after: { minimumDrain: 'counting' },
        },
        counting: {
          invoke: { src: 'connectionPoller', input: { intervalMs: 1000 } },
          after: { maximumDrain: '#envoy.stopping' },
          on: {
            CONNECTIONS: [
              {
                guard: 'noActiveConnections',
                target: '#envoy.stopping',
                actions: { type: 'recordConnections', params: ({ event }) => event },
              },
              { actions: { type: 'recordConnections', params: ({ event }) => event } },
            ],
          },
        },
        held: {
          description: 'Drained on request (POST /drain); the next SIGTERM stops Envoy at once.',
        },
      },
    },

    stopping: {
      description: 'SIGTERM to every Envoy process, SIGKILL after the grace; done when none is left.',
      tags: ['stopping'],
      entry: 'discardAll',
      always: { guard: 'noProcs', target: 'stopped' },
      after: {
        killGrace: { actions: 'killAll' },
        stuckTimeout: { target: 'stopped', actions: 'failStuck' },
      },
      on: {
        SHUTDOWN: {},
        QUIT: {},
        DRAIN: {},
        HOT_RESTART: {},
        'EPOCH.EXITED': {
          actions: [{ type: 'forgetProc', params: ({ event }) => event }, 'terminateNewestDiscarded'],
        },
        'EPOCH.SPAWN_FAILED': { actions: { type: 'forgetProc', params: ({ event }) => event } },
      },
    },

    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ exitCode: context.exitCode, reason: context.exitReason }),
});

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why the parent can no longer be hot-restarted (see the `parentUnusable` guard). */
function unusableParentText(context: LifecycleContext, event: ExitedEvent): string {
  return context.adminMoved
    ? `${hotRestartFailureText(event)} after taking the admin port`
    : `${hotRestartFailureText(event)} (Envoy keeps the flag set by the failed child until a fresh epoch 0)`;
}

function hotRestartFailureText(event: ExitedEvent): string {
  switch (event.failure) {
    case 'still-initializing':
      return `epoch ${event.epoch} refused: previous envoy process is still initializing`;
    case 'parent-gone':
      return `epoch ${event.epoch} found no parent to hand over from`;
    case 'socket-in-use':
      return `epoch ${event.epoch} could not bind its hot-restart socket (base id in use?)`;
    default:
      return `epoch ${event.epoch} ${describeExit(event)} during the hot restart`;
  }
}
