/**
 * The Envoy lifecycle: one statechart that decides everything about the Envoy processes of one
 * pod — when to start an epoch, when it is ready, when to restart it after a crash, when to
 * hot-restart it into the next epoch, how to drain and stop it. It performs no I/O: processes,
 * admin calls and files are actors and actions named here and provided from `src/` through
 * `.provide()`, and every wait is a named delay, so the same definition runs the daemon, the
 * simulated-clock tests, the model-based paths and the diagrams. What it decides it announces
 * (`emit`, typed as `LifecycleDecision`); observers read those, not its states.
 *
 * Protocol (facts come in as events, decisions are transitions):
 *
 * - **Epochs.** Every Envoy process is spawned as its own `envoyEpoch` actor (id `envoy-<seq>`,
 *   seq counts spawns) and is tracked in `context.procs` with a role (lifecycle/process-table.ts):
 *   `current`, `next` (a hot-restart child), `retiring` (a parent handed over to its child) and
 *   `discarded` (told to stop). Exits of `retiring` and `discarded` processes are expected; exits
 *   of `current` and `next` decide.
 * - **Fresh starts** are always epoch 0 and begin only once no Envoy process is left (`clearing`):
 *   a fresh epoch 0 unlinks Envoy's shared memory and binds the same hot-restart socket slot, so a
 *   survivor would make it fail (Envoy `HotRestartImpl`, source/server/hot_restart_impl.cc).
 * - **Readiness** is the `ready` tag (states `ready` and `hotRestarting`), never a flag kept by
 *   hand: Envoy `server.state` LIVE, workers started, CDS and LDS accepted at least once by this
 *   epoch (Istio 1.5's rule, pilot/cmd/pilot-agent/status/ready/probe.go), and not shutting down.
 *   `adminPoller` reports the facts.
 * - **Crashes** of the current epoch (signal or non-zero code) go to `crashedBackoff` (not ready at
 *   once), then a fresh epoch 0 after `restartBackoff` (200 ms doubling, capped). The budget
 *   (`settings.restartBudget`) is spent by crashes and failed hot restarts and given back after
 *   `budgetReset` of uninterrupted readiness; when it is spent the agent stops with exit code 3.
 *   Envoy exiting 0 on its own stops the agent with 0. These rules hold in every state that does
 *   not decide otherwise (`CURRENT_EPOCH_EXIT`).
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
import {
  and,
  assign,
  type EventObject,
  emit,
  enqueueActions,
  fromCallback,
  fromPromise,
  not,
  setup,
} from 'xstate';
// Pure data: the one catalogue of exit codes (the machine decides which one a run ends with).
import { EXIT_CODES } from '../src/errors.js';
import { configAccepted, isFromEpoch, isLiveStatus, statusReason } from './lifecycle/admin-status.js';
import {
  allDiscarded,
  isExpectedRole,
  killedProcs,
  newestToStop,
  nextOf,
  procOf,
  promoted,
  retiringOverCap,
  roleOf,
  withoutProc,
  withPid,
  withProc,
} from './lifecycle/process-table.js';
import { describeExit, errorText, hotRestartFailureText, unusableParentText } from './lifecycle/texts.js';
import type {
  AdminStatus,
  EpochCommand,
  EpochInput,
  ExitedEvent,
  ExitInfo,
  HotRestartDeferral,
  HotRestartOutcome,
  LaunchPlan,
  LifecycleContext,
  LifecycleDecision,
  LifecycleEvent,
  LifecycleInput,
  LifecycleOutput,
  LifecyclePhase,
} from './lifecycle/types.js';
import { notProvided } from './not-provided.js';

export { isLiveStatus } from './lifecycle/admin-status.js';
export type * from './lifecycle/types.js';
export { LIFECYCLE_PHASES } from './lifecycle/types.js';

/** The wait before the next fresh start after `restarts` restarts: 200 ms doubling, capped. */
const restartBackoffMs = (c: LifecycleContext): number =>
  Math.min(
    c.settings.restartBackoffMaxMs,
    c.settings.restartBackoffInitialMs * 2 ** Math.max(0, c.restarts - 1),
  );

/**
 * Whether an admin status shows the `current` epoch (or the hot-restart child, `next`) LIVE with
 * its workers started and, for `ready`, with CDS and LDS accepted at least once. The current epoch
 * may have had its configuration accepted by an earlier poll; a child is judged on this one.
 */
function statusShows(
  context: LifecycleContext,
  event: LifecycleEvent,
  of: 'current' | 'next',
  level: 'live' | 'ready',
): boolean {
  if (event.type !== 'ADMIN.STATUS') return false;
  const s = event.status;
  if (of === 'current' ? !isFromEpoch(s, context.epoch) : s.epoch !== nextOf(context.procs)?.epoch)
    return false;
  if (!isLiveStatus(s)) return false;
  return level === 'live' || configAccepted(s) || (of === 'current' && context.configSeen);
}

const hotRestartFailed = (
  context: LifecycleContext,
  params: { notice: string; outcome: HotRestartOutcome },
): LifecycleDecision => ({
  type: 'envoy.hotRestartFailed',
  toEpoch: context.epoch + 1,
  outcome: params.outcome,
  notice: params.notice,
});

export const envoyLifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as LifecycleInput,
    output: {} as LifecycleOutput,
    emitted: {} as LifecycleDecision,
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
    /** The hot restart starts afresh: nothing prepared, the admin port with the parent. */
    resetHandover: assign({ launch: null, adminMoved: false }),

    /**
     * Spawns the prepared launch as a process of this role. Before a hot-restart child (`next`),
     * retiring parents beyond Envoy's three-process cap are told to stop.
     */
    spawnEpoch: enqueueActions(({ context, enqueue }, params: { role: 'current' | 'next' }) => {
      const launch = context.launch;
      if (!launch) return;
      const seq = context.seq + 1;
      if (params.role === 'next') {
        for (const old of retiringOverCap(context.procs)) {
          enqueue.sendTo(`envoy-${old.seq}`, { type: 'SIGNAL', signal: 'SIGTERM' });
        }
      }
      enqueue.assign({
        seq,
        procs: withProc(context.procs, { seq, epoch: launch.epoch, pid: null, role: params.role }),
      });
      enqueue.spawnChild('envoyEpoch', {
        id: `envoy-${seq}`,
        input: { seq, epoch: launch.epoch, args: launch.args, configFile: launch.configFile },
      });
    }),

    /** A process is up: its pid is known, and announced. */
    recordPid: enqueueActions(({ context, enqueue }, params: { seq: number; epoch: number; pid: number }) => {
      const role = roleOf(context.procs, params.seq);
      enqueue.assign({ procs: withPid(context.procs, params.seq, params.pid) });
      if (role === 'current' || role === 'next') {
        enqueue.emit({ type: 'envoy.spawned', seq: params.seq, epoch: params.epoch, pid: params.pid, role });
      }
    }),

    /** A spawn that never made a process: it is forgotten. */
    forgetSpawn: enqueueActions(({ context, enqueue }, params: { seq: number }) => {
      enqueue.assign({ procs: withoutProc(context.procs, params.seq) });
      enqueue.stopChild(`envoy-${params.seq}`);
    }),

    /**
     * A process exited: it is announced, forgotten, and its actor stopped (removing its bootstrap).
     * Its exit is expected when its role says so, or when the caller knows the agent killed it.
     */
    forgetProc: enqueueActions(({ context, enqueue }, params: ExitedEvent & { killedByAgent?: boolean }) => {
      const proc = procOf(context.procs, params.seq);
      enqueue.emit({
        type: 'envoy.exited',
        seq: params.seq,
        epoch: params.epoch,
        pid: proc?.pid ?? null,
        code: params.code,
        signal: params.signal,
        failure: params.failure,
        expected: params.killedByAgent === true || isExpectedRole(proc?.role),
      });
      enqueue.assign({ procs: withoutProc(context.procs, params.seq) });
      enqueue.stopChild(`envoy-${params.seq}`);
    }),

    /** An exit that decides what happens next, remembered for readiness and reports. */
    rememberExit: assign({
      lastExit: (_, params: ExitInfo) => ({ epoch: params.epoch, code: params.code, signal: params.signal }),
    }),

    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    restoreBudget: enqueueActions(({ context, enqueue }) => {
      if (context.restarts === 0) return;
      enqueue.assign({ restarts: 0 });
      enqueue.emit({ type: 'envoy.budgetRestored', budget: context.settings.restartBudget });
    }),
    countChildFailure: assign({ childFailures: ({ context }) => context.childFailures + 1 }),

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
     * Every process left is to stop and its exit becomes expected. Only the newest is told now
     * (process-table.ts `newestToStop`); older ones when the newer one has gone
     * (`terminateNewestDiscarded`).
     */
    discardAll: enqueueActions(({ context, enqueue }) => {
      const procs = allDiscarded(context.procs);
      const newest = newestToStop(procs);
      if (newest) enqueue.sendTo(`envoy-${newest.seq}`, { type: 'SIGNAL', signal: 'SIGTERM' });
      enqueue.assign({ procs });
    }),

    /** After an exit: the newest process still to stop gets its SIGTERM. */
    terminateNewestDiscarded: enqueueActions(({ context, enqueue }) => {
      const newest = newestToStop(context.procs);
      if (newest) enqueue.sendTo(`envoy-${newest.seq}`, { type: 'SIGNAL', signal: 'SIGTERM' });
    }),

    killAll: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: 'envoy.killing', pids: context.procs.map((p) => p.pid) });
      for (const p of context.procs) enqueue.sendTo(`envoy-${p.seq}`, { type: 'SIGNAL', signal: 'SIGKILL' });
    }),

    /**
     * SIGKILL, not SIGTERM: a hot-restart child that shuts down gracefully first tells its parent
     * to terminate (Envoy `HotRestartingChild`, source/server/hot_restarting_child.cc), which would
     * end the epoch still serving.
     */
    killNext: enqueueActions(({ context, enqueue }) => {
      const next = context.procs.filter((q) => q.role === 'next');
      enqueue.emit({ type: 'envoy.killing', pids: next.map((p) => p.pid) });
      for (const p of next) enqueue.sendTo(`envoy-${p.seq}`, { type: 'SIGNAL', signal: 'SIGKILL' });
    }),

    recordStatus: assign(({ context }, params: { status: AdminStatus }) => {
      const mine = isFromEpoch(params.status, context.epoch);
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

    /** The child answers on the admin port: Envoy moved it from the parent during the handover. */
    markAdminMoved: assign({ adminMoved: true }),

    /** The hot-restart child took over: it becomes current, its parent retires. */
    promoteNext: enqueueActions(({ context, enqueue }, params: { status: AdminStatus }) => {
      const next = nextOf(context.procs);
      const epoch = next ? next.epoch : context.epoch;
      const ready = configAccepted(params.status);
      enqueue.assign({
        epoch,
        procs: promoted(context.procs),
        status: params.status,
        configSeen: ready,
        hotRestarts: context.hotRestarts + 1,
        childFailures: 0,
        notice: null,
      });
      enqueue.emit({ type: 'envoy.hotRestartCompleted', epoch, ready });
    }),

    markRestartPending: assign({ restartPending: true }),
    clearRestartPending: assign({ restartPending: false }),

    /** A hot restart that did not complete: why (kept for logs and /debug) and what follows. */
    reportHotRestartFailure: enqueueActions(
      ({ context, enqueue }, params: { notice: string; outcome: HotRestartOutcome }) => {
        enqueue.assign({ notice: params.notice });
        enqueue.emit(hotRestartFailed(context, params));
      },
    ),
    /** As `reportHotRestartFailure`, when the agent stops: the notice stays as it was. */
    announceHotRestartFailure: emit(({ context }, params: { notice: string; outcome: HotRestartOutcome }) =>
      hotRestartFailed(context, params),
    ),

    /** An Envoy process survived SIGKILL: nothing more the agent can do about it. */
    failStuck: enqueueActions(({ context, enqueue }) => {
      const exitCode = EXIT_CODES['envoy-stuck'];
      const reason = `Envoy process(es) ${killedProcs(context.procs)
        .map((p) => p.pid ?? '?')
        .join(', ')} survived SIGKILL`;
      enqueue.assign({ exitCode, exitReason: reason });
      enqueue.emit({ type: 'envoy.stuck', exitCode, reason });
    }),

    fail: assign((_, params: { exitCode: number; reason: string }) => ({
      exitCode: params.exitCode,
      exitReason: params.reason,
    })),
    setExitReason: assign({ exitReason: (_, params: { reason: string }) => params.reason }),

    holdAfterDrain: assign({ drainMode: 'hold' as const }),
    recordConnections: assign({ activeConnections: (_, params: { active: number }) => params.active }),

    announcePhase: emit((_, params: { phase: LifecyclePhase }) => ({
      type: 'envoy.phase' as const,
      phase: params.phase,
    })),
    announceLive: emit(({ context }) => ({ type: 'envoy.live' as const, epoch: context.epoch })),
    announceReady: emit(({ context }) => ({ type: 'envoy.ready' as const, epoch: context.epoch })),
    announceUnready: emit(({ context }) => ({
      type: 'envoy.unready' as const,
      epoch: context.epoch,
      reason: statusReason(context),
    })),
    announceCrash: emit(({ context }) => ({
      type: 'envoy.crashed' as const,
      epoch: context.lastExit?.epoch ?? context.epoch,
      code: context.lastExit?.code ?? null,
      signal: context.lastExit?.signal ?? null,
      restart: context.restarts,
      budget: context.settings.restartBudget,
      backoffMs: restartBackoffMs(context),
    })),
    announceRestart: emit(({ context }) => ({
      type: 'envoy.restarting' as const,
      restart: context.restarts,
      budget: context.settings.restartBudget,
    })),
    announceHotRestartBegun: emit(({ context }) => ({
      type: 'envoy.hotRestartBegun' as const,
      fromEpoch: context.epoch,
      toEpoch: context.epoch + 1,
    })),
    announceDeferral: emit(({ event }, params: { deferral: HotRestartDeferral }) => ({
      type: 'envoy.hotRestartDeferred' as const,
      reason: event.type === 'HOT_RESTART' ? event.reason : event.type,
      deferral: params.deferral,
    })),
    announceDraining: emit(({ context }) => ({ type: 'envoy.draining' as const, mode: context.drainMode })),
    announceStopping: emit(({ context }) => ({
      type: 'envoy.stopping' as const,
      exitCode: context.exitCode,
      reason: context.exitReason,
    })),
  },
  guards: {
    isCurrent: ({ context, event }) => 'seq' in event && roleOf(context.procs, event.seq) === 'current',
    isNext: ({ context, event }) => 'seq' in event && roleOf(context.procs, event.seq) === 'next',
    isExpectedExit: ({ context, event }) =>
      'seq' in event && isExpectedRole(roleOf(context.procs, event.seq)),
    exitedCleanly: ({ event }) => event.type === 'EPOCH.EXITED' && event.code === 0 && event.signal === null,
    budgetLeft: ({ context }) => context.restarts < context.settings.restartBudget,
    hasNext: ({ context }) => nextOf(context.procs) !== undefined,
    noProcs: ({ context }) => context.procs.length === 0,
    restartPending: ({ context }) => context.restartPending,
    isLatestSpawn: ({ context, event }) => 'seq' in event && event.seq === context.seq,
    statusIsReady: ({ context, event }) => statusShows(context, event, 'current', 'ready'),
    statusIsLive: ({ context, event }) => statusShows(context, event, 'current', 'live'),
    nextIsLive: ({ context, event }) => statusShows(context, event, 'next', 'live'),
    nextIsReady: ({ context, event }) => statusShows(context, event, 'next', 'ready'),
    /**
     * The parent can no longer be hot-restarted or managed: its child took the admin port, or a
     * retry was refused with "still initializing" after one of our children failed — Envoy keeps
     * that flag set until a fresh epoch 0 (envoy#33446), so no retry can succeed.
     */
    parentUnusable: ({ context, event }) =>
      context.adminMoved ||
      (event.type === 'EPOCH.EXITED' && event.failure === 'still-initializing' && context.childFailures > 0),
    statusFromNext: ({ context, event }) =>
      event.type === 'ADMIN.STATUS' && nextOf(context.procs)?.epoch === event.status.epoch,
    adminLost: ({ context }) => context.adminFailures + 1 >= context.settings.adminLostThreshold,
    exitOnZeroConnections: ({ context }) => context.settings.exitOnZeroActiveConnections,
    holdAfterDrain: ({ context }) => context.drainMode === 'hold',
    noActiveConnections: ({ event }) => event.type === 'CONNECTIONS' && event.active <= 0,
  },
  delays: {
    restartBackoff: ({ context }) => restartBackoffMs(context),
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
    'EPOCH.SPAWNED': { actions: { type: 'recordPid', params: ({ event }) => event } },
    'EPOCH.EXITED': [
      {
        guard: 'isExpectedExit',
        actions: [{ type: 'forgetProc', params: ({ event }) => event }, 'terminateNewestDiscarded'],
      },
      ...currentEpochExit(),
    ],
    'EPOCH.SPAWN_FAILED': {
      target: '.stopping',
      actions: [
        { type: 'forgetSpawn', params: ({ event }) => event },
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
      entry: ['beginFreshStart', { type: 'announcePhase', params: { phase: 'starting' } }],
      initial: 'clearing',
      on: {
        SHUTDOWN: {
          target: 'stopping',
          actions: { type: 'setExitReason', params: { reason: 'shutdown before Envoy was live' } },
        },
        // The epoch being started serves nothing yet: restart it cold with the new certificates.
        HOT_RESTART: {
          target: 'starting',
          reenter: true,
          actions: { type: 'announceDeferral', params: { deferral: 'cold-restart' } },
        },
      },
      states: {
        clearing: {
          description: 'Every Envoy left from before is stopped: a fresh epoch 0 needs the slot free.',
          entry: 'discardAll',
          always: { guard: 'noProcs', target: 'preparing' },
          after: {
            killGrace: { actions: 'killAll' },
            stuckTimeout: { target: '#envoy.stopped', actions: 'failStuck' },
          },
        },
        preparing: {
          description: "Render envoy-rev0.json and build Envoy's argv.",
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
          description: 'Epoch 0 is being spawned; its pid is not known yet.',
          entry: { type: 'spawnEpoch', params: { role: 'current' } },
          on: {
            'EPOCH.SPAWNED': {
              guard: 'isLatestSpawn',
              target: 'initializing',
              actions: { type: 'recordPid', params: ({ event }) => event },
            },
          },
        },
        initializing: {
          description: 'Envoy runs; its admin API is polled until it reports LIVE.',
          invoke: {
            src: 'adminPoller',
            input: ({ context }) => ({ intervalMs: context.settings.pollStartingMs }),
          },
          on: {
            'ADMIN.STATUS': [
              {
                guard: 'statusIsReady',
                target: '#envoy.ready',
                actions: [{ type: 'recordStatus', params: ({ event }) => event }, 'announceReady'],
              },
              {
                guard: 'statusIsLive',
                target: '#envoy.live',
                actions: [{ type: 'recordStatus', params: ({ event }) => event }, 'announceLive'],
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
      entry: { type: 'announcePhase', params: { phase: 'live' } },
      invoke: {
        src: 'adminPoller',
        input: ({ context }) => ({ intervalMs: context.settings.pollStartingMs }),
      },
      on: {
        'ADMIN.STATUS': [
          {
            guard: 'statusIsReady',
            target: 'ready',
            actions: [{ type: 'recordStatus', params: ({ event }) => event }, 'announceReady'],
          },
          { actions: { type: 'recordStatus', params: ({ event }) => event } },
        ],
        'ADMIN.UNREACHABLE': { actions: { type: 'recordAdminFailure', params: ({ event }) => event } },
        // Hot restarts start from `ready` only, so readiness stays true through them.
        HOT_RESTART: {
          actions: ['markRestartPending', { type: 'announceDeferral', params: { deferral: 'until-ready' } }],
        },
        SHUTDOWN: 'draining',
      },
    },

    ready: {
      description: 'Envoy serves: LIVE, workers started, CDS and LDS accepted.',
      tags: ['ready'],
      entry: { type: 'announcePhase', params: { phase: 'ready' } },
      always: { guard: 'restartPending', target: 'hotRestarting' },
      invoke: { src: 'adminPoller', input: ({ context }) => ({ intervalMs: context.settings.pollReadyMs }) },
      after: { budgetReset: { actions: 'restoreBudget' } },
      on: {
        'ADMIN.STATUS': [
          {
            guard: not('statusIsReady'),
            target: 'live',
            actions: [{ type: 'recordStatus', params: ({ event }) => event }, 'announceUnready'],
          },
          { actions: { type: 'recordStatus', params: ({ event }) => event } },
        ],
        'ADMIN.UNREACHABLE': [
          {
            guard: 'adminLost',
            target: 'live',
            actions: [{ type: 'recordAdminFailure', params: ({ event }) => event }, 'announceUnready'],
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
      entry: [
        'clearRestartPending',
        'resetHandover',
        { type: 'announcePhase', params: { phase: 'hotRestarting' } },
        'announceHotRestartBegun',
      ],
      initial: 'preparing',
      on: {
        // Rotations during a hot restart coalesce into one more hot restart after it.
        HOT_RESTART: {
          actions: [
            'markRestartPending',
            { type: 'announceDeferral', params: { deferral: 'after-current' } },
          ],
        },
        SHUTDOWN: 'draining',
        'EPOCH.EXITED': [
          // The child had taken the admin port: the parent cannot be managed any more.
          {
            guard: and(['isNext', 'parentUnusable', 'budgetLeft']),
            target: 'crashedBackoff',
            actions: [
              { type: 'forgetProc', params: ({ event }) => event },
              { type: 'rememberExit', params: ({ event }) => event },
              'countRestart',
              {
                type: 'reportHotRestartFailure',
                params: ({ context, event }) => ({
                  notice: `${unusableParentText(context, event)}; replacing epoch ${event.epoch - 1} with a fresh epoch 0`,
                  outcome: 'replace-parent',
                }),
              },
            ],
          },
          {
            guard: and(['isNext', 'parentUnusable']),
            target: 'stopping',
            actions: [
              { type: 'forgetProc', params: ({ event }) => event },
              { type: 'rememberExit', params: ({ event }) => event },
              {
                type: 'announceHotRestartFailure',
                params: ({ context, event }) => ({
                  notice: `${unusableParentText(context, event)}; restart budget spent`,
                  outcome: 'give-up',
                }),
              },
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
              { type: 'forgetProc', params: ({ event }) => event },
              { type: 'rememberExit', params: ({ event }) => event },
              'countRestart',
              'countChildFailure',
              {
                type: 'reportHotRestartFailure',
                params: ({ event }) => ({ notice: hotRestartFailureText(event), outcome: 'retry' }),
              },
            ],
          },
          {
            guard: 'isNext',
            target: 'ready',
            actions: [
              { type: 'forgetProc', params: ({ event }) => event },
              { type: 'rememberExit', params: ({ event }) => event },
              // It still left Envoy's INITIALIZING flag set: the next refusal must be understood.
              'countChildFailure',
              {
                type: 'reportHotRestartFailure',
                params: ({ event }) => ({
                  notice: `${hotRestartFailureText(event)}; restart budget spent, epoch ${event.epoch - 1} keeps serving`,
                  outcome: 'keep-parent',
                }),
              },
            ],
          },
          // The parent went away under its child: start over from a fresh epoch 0.
          {
            guard: and(['isCurrent', 'exitedCleanly', 'hasNext']),
            target: 'starting',
            actions: [
              { type: 'forgetProc', params: ({ event }) => event },
              { type: 'rememberExit', params: ({ event }) => event },
              {
                type: 'reportHotRestartFailure',
                params: ({ event }) => ({
                  notice: `epoch ${event.epoch} exited during the hot restart`,
                  outcome: 'fresh-start',
                }),
              },
            ],
          },
          // Any other exit of the serving parent — a crash, or exit 0 before a child was spawned —
          // is decided as in every other state.
          ...currentEpochExit(),
        ],
      },
      states: {
        preparing: {
          description: "Render epoch N+1's bootstrap and argv.",
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
                type: 'reportHotRestartFailure',
                params: ({ event }) => ({
                  notice: `hot restart refused: ${errorText(event.error)}`,
                  outcome: 'refused',
                }),
              },
            },
          },
        },
        validating: {
          description: "Envoy checks epoch N+1's bootstrap (--mode validate) before it is started.",
          invoke: {
            src: 'validateEpoch',
            input: ({ context }) =>
              context.launch ?? { epoch: context.epoch + 1, args: [], configFile: null },
            onDone: 'spawning',
            onError: {
              target: '#envoy.ready',
              actions: {
                type: 'reportHotRestartFailure',
                params: ({ event }) => ({
                  notice: `hot restart refused: Envoy rejected the new bootstrap: ${errorText(event.error)}`,
                  outcome: 'refused',
                }),
              },
            },
          },
        },
        spawning: {
          description: 'Epoch N+1 is being spawned with --restart-epoch N+1.',
          entry: { type: 'spawnEpoch', params: { role: 'next' } },
          on: {
            'EPOCH.SPAWNED': {
              guard: 'isLatestSpawn',
              target: 'handover',
              actions: { type: 'recordPid', params: ({ event }) => event },
            },
            'EPOCH.SPAWN_FAILED': {
              target: '#envoy.ready',
              actions: [
                { type: 'forgetSpawn', params: ({ event }) => event },
                {
                  type: 'reportHotRestartFailure',
                  params: ({ event }) => ({
                    notice: `hot restart failed: ${event.message}`,
                    outcome: 'refused',
                  }),
                },
              ],
            },
          },
        },
        handover: {
          description: 'The child joins its parent; it is promoted once its admin API reports it LIVE.',
          invoke: {
            src: 'adminPoller',
            input: ({ context }) => ({ intervalMs: context.settings.pollStartingMs }),
          },
          after: {
            handoverTimeout: {
              target: 'abandoning',
              actions: {
                type: 'reportHotRestartFailure',
                params: ({ context }) => ({
                  notice: `epoch ${context.epoch + 1} did not go live within ${context.settings.handoverTimeoutMs} ms`,
                  outcome: 'abandon',
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
              { guard: 'statusFromNext', actions: 'markAdminMoved' },
            ],
          },
        },
        retrying: {
          description: 'The child failed before taking over; epoch N serves; retried after the backoff.',
          // Back to rendering: the failed child's bootstrap file was removed with it.
          after: { restartBackoff: 'preparing' },
        },
        abandoning: {
          description: 'The child did not go LIVE in time: it is killed; epoch N keeps serving.',
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
                { type: 'forgetProc', params: ({ event }) => ({ ...event, killedByAgent: true }) },
                { type: 'rememberExit', params: ({ event }) => event },
                'countRestart',
                'countChildFailure',
              ],
            },
          },
        },
      },
    },

    crashedBackoff: {
      description: 'The current epoch died: not ready; a fresh epoch 0 after the restart backoff.',
      entry: ['discardAll', { type: 'announcePhase', params: { phase: 'crashedBackoff' } }],
      after: { restartBackoff: { target: 'starting', actions: 'announceRestart' } },
      on: {
        SHUTDOWN: {
          target: 'stopping',
          actions: { type: 'setExitReason', params: { reason: 'shutdown during restart backoff' } },
        },
        // The next fresh start renders the new certificates anyway.
        HOT_RESTART: { actions: { type: 'announceDeferral', params: { deferral: 'not-needed' } } },
      },
    },

    draining: {
      description: 'Not ready: Envoy drains its listeners before it is stopped (or held, after DRAIN).',
      tags: ['draining'],
      entry: [{ type: 'announcePhase', params: { phase: 'draining' } }, 'announceDraining'],
      initial: 'requesting',
      on: {
        // A second SIGTERM/SIGINT, or the first one after DRAIN: stop now.
        SHUTDOWN: 'stopping',
        HOT_RESTART: { actions: { type: 'announceDeferral', params: { deferral: 'not-needed' } } },
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
              { type: 'forgetProc', params: ({ event }) => event },
              { type: 'rememberExit', params: ({ event }) => event },
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
          description: 'POST /drain_listeners to Envoy.',
          invoke: {
            src: 'drainListeners',
            input: ({ context }) => ({ skipExit: context.drainMode === 'hold' }),
            onDone: 'settling',
            // Istio ignores a failed drain call too: the wait still protects in-flight requests.
            onError: 'settling',
          },
        },
        settling: {
          description: 'Choose the wait: held, until no connection is left, or the fixed drain time.',
          always: [
            { guard: 'holdAfterDrain', target: 'held' },
            { guard: 'exitOnZeroConnections', target: 'minimumWait' },
            { target: 'waiting' },
          ],
        },
        waiting: {
          description: 'TERMINATION_DRAIN_DURATION_SECONDS, then Envoy is stopped.',
          after: { terminationDrain: '#envoy.stopping' },
        },
        minimumWait: {
          description: 'MINIMUM_DRAIN_DURATION before active connections are counted.',
          after: { minimumDrain: 'counting' },
        },
        counting: {
          description: 'Until no downstream connection is left, at most until --drainDuration.',
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
      entry: ['discardAll', { type: 'announcePhase', params: { phase: 'stopping' } }, 'announceStopping'],
      always: { guard: 'noProcs', target: 'stopped' },
      after: {
        killGrace: { actions: 'killAll' },
        stuckTimeout: { target: 'stopped', actions: 'failStuck' },
      },
      on: {
        SHUTDOWN: {},
        QUIT: {},
        DRAIN: {},
        HOT_RESTART: { actions: { type: 'announceDeferral', params: { deferral: 'not-needed' } } },
        'EPOCH.EXITED': {
          actions: [{ type: 'forgetProc', params: ({ event }) => event }, 'terminateNewestDiscarded'],
        },
        'EPOCH.SPAWN_FAILED': { actions: { type: 'forgetSpawn', params: ({ event }) => event } },
      },
    },

    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ exitCode: context.exitCode, reason: context.exitReason }),
});

/**
 * What an exit of the current epoch means wherever no state decides otherwise: exit 0 stops the
 * agent with 0; a crash restarts Envoy from a fresh epoch 0 after the backoff while the budget lasts,
 * else stops the agent with exit code 3. A function so that each state using it gets its own
 * transition objects.
 */
function currentEpochExit() {
  return [
    {
      guard: and(['isCurrent', 'exitedCleanly']),
      target: '#envoy.stopping',
      actions: [
        { type: 'forgetProc', params: ({ event }: { event: ExitedEvent }) => event },
        { type: 'rememberExit', params: ({ event }: { event: ExitedEvent }) => event },
        {
          type: 'setExitReason',
          params: ({ event }: { event: ExitedEvent }) => ({ reason: `Envoy epoch ${event.epoch} exited 0` }),
        },
      ],
    },
    {
      guard: and(['isCurrent', 'budgetLeft']),
      target: '#envoy.crashedBackoff',
      actions: [
        { type: 'forgetProc', params: ({ event }: { event: ExitedEvent }) => event },
        { type: 'rememberExit', params: ({ event }: { event: ExitedEvent }) => event },
        'countRestart',
        'announceCrash',
      ],
    },
    {
      guard: 'isCurrent',
      target: '#envoy.stopping',
      actions: [
        { type: 'forgetProc', params: ({ event }: { event: ExitedEvent }) => event },
        { type: 'rememberExit', params: ({ event }: { event: ExitedEvent }) => event },
        {
          type: 'fail',
          params: ({ context, event }: { context: LifecycleContext; event: ExitedEvent }) => ({
            exitCode: EXIT_CODES['crash-loop'],
            reason: `Envoy epoch ${event.epoch} ${describeExit(event)}; restart budget of ${context.settings.restartBudget} spent`,
          }),
        },
      ],
    },
  ] as const;
}
