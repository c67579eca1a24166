/**
 * The restart and drain scenarios of the lifecycle, written as event labels and turned into paths
 * with `getPathsFromEvents`. Every one runs against the machine with fakes (machines.model.test.ts)
 * and, with the setup in `real`, against the real agent process and the Envoy simulator
 * (lifecycle.process.test.ts). Their model settings are the agent's real ones (termination drain
 * 1 s from the harness environment, backoff 200 ms doubling up to 30 s, budget as given), so that
 * timers mean the same on both sides.
 */
import type { LifecycleSettings } from '../../../machines/envoy-lifecycle.js';
import { MODEL_SETTINGS } from './model.js';

export const AFTER = (delay: string, state: string) => `xstate.after.${delay}.envoy.${state}`;

/** Render epoch 0, Envoy reports its spawn, then LIVE with CDS and LDS accepted. */
export const TO_READY = ['done prepareEpoch', 'SPAWNED current#0', 'ADMIN.STATUS ready'];
export const DRAIN_AND_STOP = [
  'done drainListeners',
  AFTER('terminationDrain', 'draining.waiting'),
  'EXITED discarded#0 code 0',
];
export const HOT_RESTART_TO_HANDOVER = [
  'HOT_RESTART',
  'done prepareEpoch',
  'done validateEpoch',
  'SPAWNED next#1',
];
const CRASH_WHILE_STARTING = ['done prepareEpoch', 'SPAWNED current#0', 'EXITED current#0 SIGSEGV'];

/** The agent's defaults as the process harness runs it (TERMINATION_DRAIN_DURATION_SECONDS=1). */
export const REAL_MODEL_SETTINGS: LifecycleSettings = {
  ...MODEL_SETTINGS,
  restartBackoffMaxMs: 30_000,
  terminationDrainMs: 1_000,
  adminLostThreshold: 3,
};

export interface RealSetup {
  /** Extra environment of the agent. */
  env?: Record<string, string>;
  /** ENVOY_SIM_* switches without the prefix. */
  sim?: Record<string, string>;
  /** Labels that the simulator produces on its own (a fault switch), instead of the test. */
  selfDriven?: string[];
  /**
   * Readiness never drops before this: every probe answered from the first 200 until the test's
   * first SHUTDOWN, QUIT or DRAIN is 200, or, with a state value, until the agent logs entering
   * that state if that is earlier (no margin around transitions, unlike the per-state check).
   */
  readyUntil?: 'test-acts' | string;
}

export interface Scenario {
  name: string;
  labels: string[];
  /** Model settings over REAL_MODEL_SETTINGS (the agent gets the same restart budget). */
  settings?: Partial<LifecycleSettings>;
  /** Also run against the real agent process, set up like this. */
  real?: RealSetup;
}

const LONG_DRAIN = { TERMINATION_DRAIN_DURATION_SECONDS: '60' };

export const LIFECYCLE_SCENARIOS: Scenario[] = [
  {
    name: 'crash → backoff → restart',
    labels: [
      ...TO_READY,
      'EXITED current#0 SIGSEGV',
      AFTER('restartBackoff', 'crashedBackoff'),
      ...TO_READY,
      'SHUTDOWN',
      ...DRAIN_AND_STOP,
    ],
    real: {},
  },
  {
    name: 'restart budget exhausted → exit 3',
    labels: [
      ...TO_READY,
      'EXITED current#0 SIGSEGV',
      AFTER('restartBackoff', 'crashedBackoff'),
      ...TO_READY,
      'EXITED current#0 SIGABRT',
    ],
    real: {},
  },
  {
    name: 'SIGTERM while starting',
    labels: ['done prepareEpoch', 'SPAWNED current#0', 'SHUTDOWN', 'EXITED discarded#0 code 0'],
    real: { sim: { NEVER_LIVE: '1' } },
  },
  {
    name: 'SIGTERM while live (config rejected)',
    labels: [
      'done prepareEpoch',
      'SPAWNED current#0',
      'ADMIN.STATUS live-no-config',
      'SHUTDOWN',
      ...DRAIN_AND_STOP,
    ],
    real: { sim: { XDS_REJECT: 'both' } },
  },
  { name: 'SIGTERM while ready', labels: [...TO_READY, 'SHUTDOWN', ...DRAIN_AND_STOP], real: {} },
  {
    name: 'SIGTERM during the crash backoff (third crash: 800 ms backoff)',
    settings: { restartBudget: 5 },
    labels: [
      ...CRASH_WHILE_STARTING,
      AFTER('restartBackoff', 'crashedBackoff'),
      ...CRASH_WHILE_STARTING,
      AFTER('restartBackoff', 'crashedBackoff'),
      ...CRASH_WHILE_STARTING,
      'SHUTDOWN',
    ],
    real: {
      sim: { NEVER_LIVE: '1', CRASH_AFTER_MS: '150' },
      selfDriven: ['EXITED current#0 SIGSEGV'],
    },
  },
  {
    name: 'SIGTERM while stopping (Envoy ignores SIGTERM: SIGKILL after the grace)',
    labels: [...TO_READY, 'QUIT', 'SHUTDOWN', AFTER('killGrace', 'stopping'), 'EXITED discarded#0 SIGKILL'],
    real: { sim: { IGNORE_SIGTERM: '1' } },
  },
  {
    name: 'SIGTERM with the zero-connection drain',
    settings: { exitOnZeroActiveConnections: true, minimumDrainMs: 1_000, maximumDrainMs: 2_000 },
    labels: [
      ...TO_READY,
      'SHUTDOWN',
      'done drainListeners',
      AFTER('minimumDrain', 'draining.minimumWait'),
      'CONNECTIONS 0',
      'EXITED discarded#0 code 0',
    ],
    real: {
      env: { EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true', MINIMUM_DRAIN_DURATION: '1s' },
      sim: { ACTIVE_CONNECTIONS: '4', CONNECTIONS_DRAIN_MS: '800' },
    },
  },
  {
    name: 'second SIGTERM skips the drain',
    labels: [...TO_READY, 'SHUTDOWN', 'done drainListeners', 'SHUTDOWN', 'EXITED discarded#0 code 0'],
    real: { env: LONG_DRAIN },
  },
  {
    name: 'Envoy exits during the drain',
    labels: [...TO_READY, 'SHUTDOWN', 'done drainListeners', 'EXITED current#0 code 0'],
    real: { env: LONG_DRAIN },
  },
  { name: 'QUIT (/quitquitquit)', labels: [...TO_READY, 'QUIT', 'EXITED discarded#0 code 0'], real: {} },
  {
    name: 'DRAIN (/drain), then SIGTERM',
    labels: [...TO_READY, 'DRAIN', 'done drainListeners', 'SHUTDOWN', 'EXITED discarded#0 code 0'],
    real: {},
  },
  {
    name: 'hot restart, then SIGTERM',
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      'ADMIN.STATUS ready@next',
      'EXITED retiring#0 code 0',
      'SHUTDOWN',
      ...DRAIN_AND_STOP,
    ],
    real: {},
  },
  {
    name: 'SIGTERM during a hot restart',
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      'SHUTDOWN',
      'done drainListeners',
      AFTER('terminationDrain', 'draining.waiting'),
      'EXITED discarded#1 code 0',
      'EXITED discarded#0 code 0',
    ],
    real: { sim: { FAULT_EPOCHS: '1', NEVER_LIVE: '1' } },
  },
  {
    // The child dies before its admin handshake: the parent keeps its admin port and serves on
    // while the child is retried. The dead child left Envoy's INITIALIZING flag set (envoy#33446),
    // so the retry is refused: no hot restart can succeed from this parent any more, and it is
    // replaced by a fresh epoch 0 (budget 2: the retry and the replacement).
    name: 'child crash before taking the admin port: parent serves while retried; the refused retry replaces it with a fresh epoch 0',
    settings: { restartBudget: 2 },
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      'EXITED next#1 SIGSEGV',
      AFTER('restartBackoff', 'hotRestarting.retrying'),
      'done prepareEpoch',
      'done validateEpoch',
      'SPAWNED next#1',
      'EXITED next#1 still-initializing',
      'EXITED discarded#0 code 0',
      AFTER('restartBackoff', 'crashedBackoff'),
      ...TO_READY,
      'SHUTDOWN',
      ...DRAIN_AND_STOP,
    ],
    real: {
      sim: { FAULT_EPOCHS: '1', CRASH_AFTER_MS: '0' },
      selfDriven: ['EXITED next#1 SIGSEGV', 'EXITED next#1 still-initializing'],
      // Ready while the parent serves and its child is retried; not ready from the replacement on.
      readyUntil: 'crashedBackoff',
    },
  },
  {
    // The same with the budget spent by the retry: the parent cannot be kept, so the agent stops (3).
    name: 'child crash before taking the admin port, budget 1: the refused retry stops the agent (exit 3)',
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      'EXITED next#1 SIGSEGV',
      AFTER('restartBackoff', 'hotRestarting.retrying'),
      'done prepareEpoch',
      'done validateEpoch',
      'SPAWNED next#1',
      'EXITED next#1 still-initializing',
      'EXITED discarded#0 code 0',
    ],
    real: {
      sim: { FAULT_EPOCHS: '1', CRASH_AFTER_MS: '0' },
      selfDriven: ['EXITED next#1 SIGSEGV', 'EXITED next#1 still-initializing'],
      readyUntil: 'stopping',
    },
  },
  {
    // A first refusal (no child of ours failed yet) may be another Envoy's flag: retried once.
    name: 'refused child with no failed child before it: retried, then promoted',
    settings: { restartBudget: 2 },
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      'EXITED next#1 still-initializing',
      AFTER('restartBackoff', 'hotRestarting.retrying'),
      'done prepareEpoch',
      'done validateEpoch',
      'SPAWNED next#1',
      'ADMIN.STATUS ready@next',
      'EXITED retiring#0 code 0',
    ],
  },
  {
    // The child never answered on the admin port: it gets SIGKILL at once (SIGTERM would make it
    // terminate its parent: docs/envoy-process.md, hot restart step 9), and the parent keeps
    // serving, untouched (the child that took the port is a regression path:
    // lifecycle/regressions.ts, "abandoned handover"). The real
    // simulator cannot get here: the agent's handover timeout is a fixed 60 s.
    name: 'handover timeout before the child took the admin port: abandoned, SIGKILL to the child only, parent serves on',
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      AFTER('handoverTimeout', 'hotRestarting.handover'),
      'EXITED next#1 SIGKILL',
    ],
  },
  {
    // The abandoned child died before going LIVE: Envoy's INITIALIZING flag stays set (envoy#33446),
    // and the machine remembers it across hot restarts (`childFailures`). The next rotation's child
    // is refused, so the parent is replaced by a fresh epoch 0 (budget 2: the abandon and the
    // replacement), which clears the flag; the rotation after that hot-restarts normally.
    name: 'abandoned child, then the next hot restart is refused: the parent is replaced by a fresh epoch 0',
    settings: { restartBudget: 2 },
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      AFTER('handoverTimeout', 'hotRestarting.handover'),
      'EXITED next#1 SIGKILL',
      ...HOT_RESTART_TO_HANDOVER,
      'EXITED next#1 still-initializing',
      'EXITED discarded#0 code 0',
      AFTER('restartBackoff', 'crashedBackoff'),
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      'ADMIN.STATUS ready@next',
      'EXITED retiring#0 code 0',
    ],
  },
  {
    // The child answers on the admin port (Envoy moved it from the parent) and then dies: the parent
    // can no longer be managed, so it is terminated and replaced by a fresh epoch 0.
    name: 'child crash after taking the admin port: parent terminated, fresh epoch 0',
    labels: [
      ...TO_READY,
      ...HOT_RESTART_TO_HANDOVER,
      'ADMIN.STATUS pre-init@next',
      'EXITED next#1 SIGSEGV',
      'EXITED discarded#0 code 0',
      AFTER('restartBackoff', 'crashedBackoff'),
      ...TO_READY,
      'SHUTDOWN',
      ...DRAIN_AND_STOP,
    ],
    real: {
      // Epoch 1 takes the admin port at once, stays initializing (its xDS would take 5 s), dies at 400 ms.
      sim: { FAULT_EPOCHS: '1', XDS_DELAY_MS: '5000', CRASH_AFTER_MS: '400' },
      selfDriven: ['EXITED next#1 SIGSEGV'],
    },
  },
];

export const scenarioSettings = (s: Scenario): LifecycleSettings => ({
  ...REAL_MODEL_SETTINGS,
  ...s.settings,
});
