/**
 * Readiness as the status server reports it, derived from the lifecycle's snapshot alone: the
 * `ready` tag says whether, the state and context say why not. Nothing here calls Envoy; a probe
 * costs one snapshot read (Istio 1.5 called the admin API twice per probe, spec §5.2).
 */
import type { SnapshotFrom } from 'xstate';
import type { AdminStatus, envoyLifecycleMachine, LifecycleContext } from './envoy-lifecycle.js';

export type LifecycleSnapshot = SnapshotFrom<typeof envoyLifecycleMachine>;

export interface Readiness {
  ready: boolean;
  /** One line; empty when ready. */
  reason: string;
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

/** Istio's wording (spec §5.2, §5.7) for an Envoy that answers but is not ready. */
function statusReason(c: LifecycleContext): string {
  const s: AdminStatus | null = c.status;
  if (!s) {
    return c.adminError
      ? `Envoy admin API not answering: ${c.adminError}`
      : 'waiting for the Envoy admin API';
  }
  if (c.adminError && c.adminFailures >= c.settings.adminLostThreshold) {
    return `Envoy admin API not answering: ${c.adminError}`;
  }
  if (s.state === null) return 'server.state is not yet updated';
  if (s.state !== 'LIVE') return `server is not live, current state is: ${s.state}`;
  if (!s.workersStarted) return 'workers have not yet started';
  if (!c.configSeen) {
    const counts = `cds updates: ${s.cds.success} successful, ${s.cds.rejected} rejected; lds updates: ${s.lds.success} successful, ${s.lds.rejected} rejected`;
    if (s.cds.rejected > 0 || s.lds.rejected > 0)
      return `config received from XDS server, but was rejected: ${counts}`;
    if (s.cds.success > 0 || s.lds.success > 0) return `config not fully received from XDS server: ${counts}`;
    return `config not received from XDS server (is Istiod running?): ${counts}`;
  }
  return 'Envoy is not ready';
}
