/**
 * Runs the envoy lifecycle machine on a SimulatedClock with fake actors, so a test can play the
 * part of Envoy (spawned, exited, admin status) and of time, and see what the machine asked for:
 * spawns with their argv, signals per process, drain calls, renders and validations.
 */
import {
  type AnyActorRef,
  createActor,
  fromCallback,
  fromPromise,
  type InspectionEvent,
  SimulatedClock,
} from 'xstate';
import {
  type AdminStatus,
  type EpochCommand,
  type EpochInput,
  envoyLifecycleMachine,
  type HotRestartFailure,
  type LaunchPlan,
  type LifecycleSettings,
} from '../../machines/envoy-lifecycle.js';
import { type Readiness, readinessOf } from '../../machines/readiness.js';

export const TEST_SETTINGS: LifecycleSettings = {
  restartBudget: 10,
  restartBackoffInitialMs: 200,
  restartBackoffMaxMs: 30_000,
  budgetResetMs: 60_000,
  killGraceMs: 5_000,
  stuckTimeoutMs: 5_000,
  terminationDrainMs: 5_000,
  exitOnZeroActiveConnections: false,
  minimumDrainMs: 5_000,
  maximumDrainMs: 45_000,
  handoverTimeoutMs: 60_000,
  pollStartingMs: 100,
  pollReadyMs: 1_000,
  adminLostThreshold: 3,
};

export interface SpawnRecord extends EpochInput {
  signals: EpochCommand['signal'][];
  stopped: boolean;
}

export interface HarnessOptions {
  settings?: Partial<LifecycleSettings>;
  /** Reject the n-th (1-based) prepareEpoch call, or every call with `true`. */
  prepareFails?: boolean | number;
  /** Reject validateEpoch with this reason. */
  validateFails?: string;
  /** Observes the actor system, as the runtime's observers do. */
  inspect?: (ev: InspectionEvent) => void;
}

/** A status as Envoy reports it through `/stats?usedonly`. */
export function status(epoch: number, partial: Partial<AdminStatus> = {}): AdminStatus {
  return {
    epoch,
    state: 'LIVE',
    workersStarted: true,
    cds: { success: 1, rejected: 0 },
    lds: { success: 1, rejected: 0 },
    ...partial,
  };
}

/** Fake effects for the lifecycle: they record what the machine asked for. */
export function fakeEffects(options: HarnessOptions = {}) {
  const spawns: SpawnRecord[] = [];
  const prepared: number[] = [];
  const validated: LaunchPlan[] = [];
  const drainRequests: { skipExit: boolean }[] = [];
  const pollers: number[] = [];
  const machine = envoyLifecycleMachine.provide({
    actors: {
      envoyEpoch: fromCallback<EpochCommand, EpochInput>(({ input, receive }) => {
        const record: SpawnRecord = { ...input, signals: [], stopped: false };
        spawns.push(record);
        receive((cmd) => record.signals.push(cmd.signal));
        return () => {
          record.stopped = true;
        };
      }),
      prepareEpoch: fromPromise<LaunchPlan, { epoch: number }>(async ({ input }) => {
        prepared.push(input.epoch);
        const fails = options.prepareFails;
        if (fails === true || fails === prepared.length)
          throw new Error(`cannot render envoy-rev${input.epoch}.json`);
        const configFile = `/etc/istio/proxy/envoy-rev${input.epoch}.json`;
        return {
          epoch: input.epoch,
          configFile,
          args: ['-c', configFile, '--restart-epoch', String(input.epoch)],
        };
      }),
      validateEpoch: fromPromise<void, LaunchPlan>(async ({ input }) => {
        validated.push(input);
        if (options.validateFails) throw new Error(options.validateFails);
      }),
      adminPoller: fromCallback<{ type: string }, { intervalMs: number }>(({ input }) => {
        pollers.push(input.intervalMs);
      }),
      drainListeners: fromPromise<void, { skipExit: boolean }>(async ({ input }) => {
        drainRequests.push(input);
      }),
      connectionPoller: fromCallback(() => {}),
    },
  });
  const settings = { ...TEST_SETTINGS, ...options.settings };
  return { machine, settings, spawns, prepared, validated, drainRequests, pollers };
}

export function startLifecycle(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const { machine, settings, spawns, prepared, validated, drainRequests, pollers } = fakeEffects(options);
  const actor = createActor(machine, {
    clock,
    input: { settings },
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  actor.start();

  const lastSpawn = (): SpawnRecord => {
    const s = spawns.at(-1);
    if (!s) throw new Error('nothing was spawned');
    return s;
  };

  const h = {
    actor,
    clock,
    spawns,
    prepared,
    validated,
    pollers,
    drainRequests,
    get drains() {
      return drainRequests.length;
    },
    snapshot: () => actor.getSnapshot(),
    value: () => actor.getSnapshot().value,
    matches: (v: Parameters<ReturnType<typeof actor.getSnapshot>['matches']>[0]) =>
      actor.getSnapshot().matches(v),
    readiness: (): Readiness => readinessOf(actor.getSnapshot()),
    lastSpawn,
    /** The i-th spawned process (0-based). */
    spawn: (i: number): SpawnRecord => {
      const s = spawns[i];
      if (!s) throw new Error(`no spawn #${i}`);
      return s;
    },
    /** Lets promise actors (render, validate, drain) settle. */
    settle: async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    },
    tick: async (ms: number) => {
      clock.increment(ms);
      await h.settle();
    },
    spawned: (record: SpawnRecord = lastSpawn(), pid = 1000 + record.seq) =>
      actor.send({ type: 'EPOCH.SPAWNED', seq: record.seq, epoch: record.epoch, pid }),
    exited: (
      record: SpawnRecord,
      how: { code?: number | null; signal?: string | null; failure?: HotRestartFailure | null } = {},
    ) =>
      actor.send({
        type: 'EPOCH.EXITED',
        seq: record.seq,
        epoch: record.epoch,
        code: how.code ?? (how.signal ? null : 0),
        signal: how.signal ?? null,
        failure: how.failure ?? null,
      }),
    status: (s: AdminStatus) => actor.send({ type: 'ADMIN.STATUS', status: s }),
    /** Drives a fresh start to `ready`: render, spawn, LIVE with config. */
    toReady: async () => {
      await h.settle();
      h.spawned();
      h.status(status(lastSpawn().epoch));
      await h.settle();
    },
    children: () => Object.keys(actor.getSnapshot().children as Record<string, AnyActorRef | undefined>),
  };
  return h;
}

export type Harness = ReturnType<typeof startLifecycle>;
