/**
 * What an admin poll's `AdminStatus` means for the lifecycle: whether Envoy is LIVE, whether its
 * configuration was accepted, which epoch answered, and — when it is not ready — Istio's words
 * for why (`pilot/cmd/pilot-agent/status/ready/probe.go`, release-1.5).
 */
import type { AdminStatus, LifecycleContext } from './types.js';

/** Whether a status shows Envoy done initialising: LIVE with its workers started. */
export const isLiveStatus = (s: AdminStatus): boolean => s.state === 'LIVE' && s.workersStarted;

/** CDS and LDS both accepted at least once (Istio 1.5's readiness rule). */
export const configAccepted = (s: AdminStatus): boolean => s.cds.success > 0 && s.lds.success > 0;

/** Whether a status came from this epoch (`epoch: null`: the stats did not say). */
export const isFromEpoch = (s: AdminStatus, epoch: number): boolean => s.epoch === null || s.epoch === epoch;

/** The reason an Envoy that answers (or stopped answering) is not ready, in Istio's wording. */
export function statusReason(c: LifecycleContext): string {
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
