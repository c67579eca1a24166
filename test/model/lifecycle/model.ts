/**
 * The envoy lifecycle as a test model: which facts can arrive in a snapshot (with payloads derived
 * from the processes and invocations the snapshot tracks), and which facts of a snapshot decide
 * its transitions.
 */
import type { AnyEventObject, SnapshotFrom } from 'xstate';
import {
  type AdminStatus,
  type EnvoyProc,
  envoyLifecycleMachine,
  type HotRestartFailure,
  isLiveStatus,
  type LaunchPlan,
  type LifecycleSettings,
} from '../../../machines/envoy-lifecycle.js';
import { labelled, Model } from '../core/paths.js';
import { activeInvocations, childInput } from '../core/timed-model.js';

export type LifecycleSnap = SnapshotFrom<typeof envoyLifecycleMachine>;

/**
 * Small numbers keep the abstract state space small: a budget of 1 (one restart, then exit 3),
 * a capped backoff (200 → 400 ms) and 2 failed admin polls to lose readiness.
 */
export const MODEL_SETTINGS: LifecycleSettings = {
  restartBudget: 1,
  restartBackoffInitialMs: 200,
  restartBackoffMaxMs: 400,
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
  adminLostThreshold: 2,
};

/** Envoy keeps at most three processes; four lets the model reach spawnNext's grandparent SIGTERM. */
export const MAX_PROCS = 4;

export const configFileOf = (epoch: number) => `/etc/istio/proxy/envoy-rev${epoch}.json`;

export const launchPlan = (epoch: number): LaunchPlan => ({
  epoch,
  configFile: configFileOf(epoch),
  args: ['-c', configFileOf(epoch), '--restart-epoch', String(epoch)],
});

export const pidOf = (seq: number) => 1000 + seq;

interface ExitVariant {
  label: string;
  code: number | null;
  signal: string | null;
  failure: HotRestartFailure | null;
}

const exit = (
  label: string,
  code: number | null,
  signal: string | null,
  failure: HotRestartFailure | null = null,
) => ({
  label,
  code,
  signal,
  failure,
});

/** How a process of each role can end (signals are Envoy's crash signals and the OOM killer's). */
export const EXIT_VARIANTS: Record<EnvoyProc['role'], ExitVariant[]> = {
  current: [
    exit('code 0', 0, null),
    exit('code 1', 1, null),
    exit('code 134', 134, null),
    exit('SIGSEGV', null, 'SIGSEGV'),
    exit('SIGKILL', null, 'SIGKILL'),
    exit('SIGABRT', null, 'SIGABRT'),
  ],
  next: [
    exit('still-initializing', 1, null, 'still-initializing'),
    exit('parent-gone', null, 'SIGABRT', 'parent-gone'),
    exit('socket-in-use', 1, null, 'socket-in-use'),
    exit('SIGSEGV', null, 'SIGSEGV'),
    exit('SIGKILL', null, 'SIGKILL'),
    exit('code 0', 0, null),
  ],
  retiring: [exit('code 0', 0, null), exit('SIGKILL', null, 'SIGKILL')],
  discarded: [exit('code 0', 0, null), exit('SIGKILL', null, 'SIGKILL')],
};

const counts = (success: number, rejected = 0) => ({ success, rejected });

/** Admin statuses as Envoy reports them, by name. */
export const STATUS_VARIANTS: Record<string, (epoch: number | null) => AdminStatus> = {
  ready: (epoch) => ({ epoch, state: 'LIVE', workersStarted: true, cds: counts(1), lds: counts(1) }),
  'live-no-config': (epoch) => ({
    epoch,
    state: 'LIVE',
    workersStarted: true,
    cds: counts(1),
    lds: counts(0, 1),
  }),
  'live-no-workers': (epoch) => ({
    epoch,
    state: 'LIVE',
    workersStarted: false,
    cds: counts(1),
    lds: counts(1),
  }),
  'pre-init': (epoch) => ({
    epoch,
    state: 'PRE_INITIALIZING',
    workersStarted: false,
    cds: counts(0),
    lds: counts(0),
  }),
  draining: (epoch) => ({ epoch, state: 'DRAINING', workersStarted: true, cds: counts(1), lds: counts(1) }),
};

function statusEvents(s: LifecycleSnap, add: (e: AnyEventObject, label: string) => void): void {
  const c = s.context;
  for (const [name, make] of Object.entries(STATUS_VARIANTS)) {
    add({ type: 'ADMIN.STATUS', status: make(c.epoch) }, `ADMIN.STATUS ${name}`);
  }
  add({ type: 'ADMIN.STATUS', status: STATUS_VARIANTS.ready?.(null) }, 'ADMIN.STATUS ready@epoch-unknown');
  const next = c.procs.find((p) => p.role === 'next');
  if (next) {
    for (const name of ['ready', 'live-no-config', 'pre-init']) {
      add({ type: 'ADMIN.STATUS', status: STATUS_VARIANTS[name]?.(next.epoch) }, `ADMIN.STATUS ${name}@next`);
    }
  }
  add({ type: 'ADMIN.UNREACHABLE', reason: 'timeout after 1000 ms' }, 'ADMIN.UNREACHABLE');
}

export function lifecycleEvents(s: LifecycleSnap): AnyEventObject[] {
  const out: AnyEventObject[] = [];
  const add = (e: AnyEventObject, label: string) => out.push(labelled(e, label));
  const c = s.context;

  add({ type: 'SHUTDOWN' }, 'SHUTDOWN');
  add({ type: 'QUIT' }, 'QUIT');
  add({ type: 'DRAIN' }, 'DRAIN');
  add({ type: 'HOT_RESTART', reason: 'SIGHUP' }, 'HOT_RESTART');

  c.procs.forEach((p, i) => {
    const who = `${p.role}#${i}`;
    const ids = { seq: p.seq, epoch: p.epoch };
    if (p.pid === null) {
      add({ type: 'EPOCH.SPAWNED', ...ids, pid: pidOf(p.seq) }, `SPAWNED ${who}`);
      add(
        {
          type: 'EPOCH.SPAWN_FAILED',
          ...ids,
          errno: 'ENOENT',
          message: '--binaryPath /x/envoy: no such file',
        },
        `SPAWN_FAILED ${who} ENOENT`,
      );
      if (p.role === 'current') {
        add(
          {
            type: 'EPOCH.SPAWN_FAILED',
            ...ids,
            errno: 'EACCES',
            message: '--binaryPath /x/envoy: permission denied',
          },
          `SPAWN_FAILED ${who} EACCES`,
        );
      }
      return;
    }
    for (const v of EXIT_VARIANTS[p.role]) {
      add(
        { type: 'EPOCH.EXITED', ...ids, code: v.code, signal: v.signal, failure: v.failure },
        `EXITED ${who} ${v.label}`,
      );
    }
  });

  for (const inv of activeInvocations(s)) {
    const done = `xstate.done.actor.${inv.id}`;
    const error = `xstate.error.actor.${inv.id}`;
    switch (inv.src) {
      case 'adminPoller':
        statusEvents(s, add);
        break;
      case 'connectionPoller':
        for (const active of [3, 0, -1]) add({ type: 'CONNECTIONS', active }, `CONNECTIONS ${active}`);
        break;
      case 'prepareEpoch': {
        const { epoch } = childInput<{ epoch: number }>(inv.child);
        add({ type: done, actorId: inv.id, output: launchPlan(epoch) }, `done ${inv.src}`);
        add(
          { type: error, actorId: inv.id, error: new Error(`cannot render envoy-rev${epoch}.json`) },
          `error ${inv.src}`,
        );
        break;
      }
      case 'validateEpoch': {
        // Spawning the validated epoch adds a process: bounded like Envoy's MaxConcurrentProcesses.
        if (c.procs.length < MAX_PROCS)
          add({ type: done, actorId: inv.id, output: undefined }, `done ${inv.src}`);
        const plan = childInput<LaunchPlan>(inv.child);
        add(
          {
            type: error,
            actorId: inv.id,
            error: new Error(`error initializing configuration '${plan.configFile}': bad listener`),
          },
          `error ${inv.src}`,
        );
        break;
      }
      case 'drainListeners':
        add({ type: done, actorId: inv.id, output: undefined }, `done ${inv.src}`);
        add(
          { type: error, actorId: inv.id, error: new Error('connect ECONNREFUSED 127.0.0.1:15000') },
          `error ${inv.src}`,
        );
        break;
      default:
        break;
    }
  }
  return out;
}

/**
 * The facts guards read (and the delays that depend on them), per region: a fact that no guard of a
 * state or of any state it can still reach reads is left out, so `stopping` does not multiply by
 * whether the config was ever seen. `launch` is always freshly stored right before the spawn that
 * reads it; sequence numbers and epochs only as far as a guard compares them. `adminMoved` (whether
 * the hot-restart child has answered on the admin port) and `childFailures` (children of the current
 * parent that died before going LIVE) are read only by `parentUnusable`, in `hotRestarting`'s exit
 * handling. `adminMoved` is reset on entering `hotRestarting`, so it counts there only.
 * `childFailures` is not: it outlives a hot restart that ends with the parent serving (Envoy's
 * INITIALIZING flag stays set, envoy#33446) and is reset only by a fresh start (`starting`'s entry)
 * and by a promotion, so it is kept wherever the parent can still be hot-restarted from: `live`,
 * `ready` and `hotRestarting` (and `starting`, where it is always 0); `crashedBackoff`, `draining`,
 * `stopping` and `stopped` only lead to a fresh start or the end. `parentUnusable` compares it with
 * 0, so only whether one failed is kept. The serving epoch's status is read by no guard since hot
 * restarts start from `ready` only; it stays, coarsely, because the readiness properties (run.ts)
 * and the readiness reason are made of it.
 */
export function lifecycleAbstract(s: LifecycleSnap): unknown {
  const c = s.context;
  const region = typeof s.value === 'string' ? s.value : Object.keys(s.value)[0];
  const roles = c.procs.map((p) => `${p.role}${p.pid === null ? '-' : '+'}`);
  if (region === 'stopped') return { exitCode: c.exitCode };
  if (region === 'stopping') return { procs: roles, exitCode: c.exitCode };
  if (region === 'draining') return { procs: roles, drainMode: c.drainMode };
  const base = {
    // isLatestSpawn only matters before the spawn is reported; only a child's epoch is ever compared.
    procs: c.procs.map(
      (p) =>
        `${p.role}${p.pid === null ? (p.seq === c.seq ? '-*' : '-') : '+'}${p.role === 'next' ? p.epoch - c.epoch : ''}`,
    ),
    restarts: Math.min(c.restarts, c.settings.restartBudget + 1),
    pending: c.restartPending,
  };
  if (region === 'crashedBackoff') return base;
  return {
    ...base,
    ...(region === 'hotRestarting' ? { adminMoved: c.adminMoved } : {}),
    childFailed: c.childFailures > 0,
    configSeen: c.configSeen,
    status: c.status === null ? 'none' : isLiveStatus(c.status) ? 'live' : 'not-live',
    adminFailures: Math.min(c.adminFailures, c.settings.adminLostThreshold),
  };
}

export function lifecycleModel(name: string, settings: Partial<LifecycleSettings> = {}) {
  return new Model({
    name,
    machine: envoyLifecycleMachine,
    input: { settings: { ...MODEL_SETTINGS, ...settings } },
    events: lifecycleEvents,
    abstract: lifecycleAbstract,
    limit: 400_000,
  });
}
