/**
 * Readiness as the status server reports it, derived from the lifecycle's snapshot alone: the
 * `ready` tag says whether, the state and context say why not. Nothing here calls Envoy; a probe
 * costs one snapshot read (Istio 1.5 called the admin API twice per probe:
 * pilot/cmd/pilot-agent/status/ready/probe.go reads /server_info and /stats).
 */
import type { SnapshotFrom } from 'xstate';
import type { agentMachine } from './agent.js';
import type { envoyLifecycleMachine } from './envoy-lifecycle.js';
import { statusReason } from './lifecycle/admin-status.js';

export type LifecycleSnapshot = SnapshotFrom<typeof envoyLifecycleMachine>;

export interface Readiness {
  ready: boolean;
  /** One line; empty when ready. */
  reason: string;
}

/**
 * The agent's readiness: while the root still waits for the certificate files Envoy needs, that;
 * afterwards, the lifecycle's.
 */
export function agentReadiness(
  root: SnapshotFrom<typeof agentMachine>,
  lifecycle: LifecycleSnapshot | undefined,
): Readiness {
  return root.matches({ active: 'waitingForCerts' })
    ? { ready: false, reason: 'waiting for the certificate files Envoy needs' }
    : readinessOf(lifecycle);
}

export function readinessOf(snapshot: LifecycleSnapshot | undefined): Readiness {
  if (snapshot?.status !== 'active') {
    return { ready: false, reason: 'agent is not running' };
  }
  if (snapshot.hasTag('ready')) return { ready: true, reason: '' };
  return { ready: false, reason: notReadyReason(snapshot) };
}

function notReadyReason(snapshot: LifecycleSnapshot): string {
  const c = snapshot.context;
  if (snapshot.matches('draining')) {
    return c.drainMode === 'hold'
      ? 'server is draining: drain requested, waiting for termination'
      : 'server is terminating: draining listeners';
  }
  if (snapshot.matches('stopping')) return 'server is terminating: stopping Envoy';
  if (snapshot.matches('crashedBackoff')) {
    const exit = c.lastExit;
    const how = exit
      ? exit.signal
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.code}`
      : 'exited';
    return `Envoy epoch ${exit?.epoch ?? c.epoch} ${how}; restart ${c.restarts} of ${c.settings.restartBudget} pending`;
  }
  if (snapshot.matches({ starting: 'clearing' })) return 'waiting for the previous Envoy process to exit';
  if (snapshot.matches({ starting: 'preparing' })) return 'generating the Envoy bootstrap';
  if (snapshot.matches({ starting: 'spawning' })) return 'starting Envoy';
  return statusReason(c);
}
