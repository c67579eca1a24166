/**
 * Reading Envoy's `/stats` text: pure functions, no I/O. One admin request gives everything the
 * readiness rule needs (Istio makes two, `pilot/cmd/pilot-agent/status/ready/probe.go`): server
 * state, the hot-restart epoch of the process that answered (the admin port moves to the child
 * during a hot restart), workers, and the CDS/LDS counters.
 */
import type { AdminStatus, ServerState } from '../../machines/envoy-lifecycle.js';

/**
 * `GET` path polled for readiness. `usedonly`: a stat not yet written is absent, so `server.state`
 * is missing until the first server stats refresh (docs/envoy-process.md, "Stats for readiness and
 * draining").
 */
export const READINESS_STATS_PATH =
  '/stats?usedonly&filter=' +
  encodeURIComponent(
    '^(server\\.(state|hot_restart_epoch)|listener_manager\\.workers_started|(cluster_manager\\.cds|listener_manager\\.lds)\\.update_(success|rejected))$',
  );

/** `GET` path for counting open downstream connections while draining (Istio ≥ 1.12). */
export const ACTIVE_CONNECTIONS_STATS_PATH =
  '/stats?usedonly&filter=' + encodeURIComponent('downstream_cx_active$');

const SERVER_STATES: readonly ServerState[] = ['LIVE', 'DRAINING', 'PRE_INITIALIZING', 'INITIALIZING'];

/**
 * Parses `name: value` lines into numbers. As Istio's `util.ParseStats`: lines that do not split
 * into exactly a name and an unsigned integer are skipped (histograms, text readouts).
 */
export function parseStats(text: string): Map<string, number> {
  const stats = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.indexOf(':', colon + 1) !== -1) continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d+$/.test(value)) continue;
    stats.set(line.slice(0, colon).trim(), Number(value));
  }
  return stats;
}

export function adminStatusFromStats(text: string): AdminStatus {
  const stats = parseStats(text);
  const state = stats.get('server.state');
  const epoch = stats.get('server.hot_restart_epoch');
  return {
    epoch: epoch ?? null,
    state: state === undefined ? null : (SERVER_STATES[state] ?? null),
    workersStarted: (stats.get('listener_manager.workers_started') ?? 0) > 0,
    cds: {
      success: stats.get('cluster_manager.cds.update_success') ?? 0,
      rejected: stats.get('cluster_manager.cds.update_rejected') ?? 0,
    },
    lds: {
      success: stats.get('listener_manager.lds.update_success') ?? 0,
      rejected: stats.get('listener_manager.lds.update_rejected') ?? 0,
    },
  };
}

/** Listeners that belong to the mesh plumbing, not to the application's traffic. */
const OWN_LISTENERS = new Set([
  'listener.0.0.0.0_15021.downstream_cx_active',
  'listener.0.0.0.0_15090.downstream_cx_active',
  'listener.admin.downstream_cx_active',
  'listener.admin.main_thread.downstream_cx_active',
]);

/**
 * Open downstream connections, as Istio's `activeProxyConnections` counts them: the sum of the
 * per-listener `downstream_cx_active` gauges, skipping per-worker copies and Envoy's own
 * listeners. -1 when Envoy reported no such stat at all (Istio stops waiting then).
 */
export function activeConnections(text: string): number {
  let seen = false;
  let total = 0;
  for (const [name, value] of parseStats(text)) {
    if (!name.endsWith('downstream_cx_active')) continue;
    seen = true;
    if (!name.startsWith('listener.') || name.includes('worker_') || OWN_LISTENERS.has(name)) continue;
    total += value;
  }
  return seen ? total : -1;
}
