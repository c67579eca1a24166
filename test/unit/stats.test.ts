import { describe, expect, it } from 'vitest';
import { drainListenersPath } from '../../src/envoy/admin.js';
import {
  activeConnections,
  adminStatusFromStats,
  parseStats,
  READINESS_STATS_PATH,
} from '../../src/envoy/stats.js';

describe('admin status from /stats (Istio probe_test.go vectors)', () => {
  it('complete and successful', () => {
    const s = adminStatusFromStats(
      'cluster_manager.cds.update_success: 1\nlistener_manager.lds.update_success: 1\nserver.state: 0\nlistener_manager.workers_started: 1\nserver.hot_restart_epoch: 0\n',
    );
    expect(s).toEqual({
      epoch: 0,
      state: 'LIVE',
      workersStarted: true,
      cds: { success: 1, rejected: 0 },
      lds: { success: 1, rejected: 0 },
    });
  });

  it('initializing, rejected and missing stats', () => {
    expect(adminStatusFromStats('server.state: 2\n').state).toBe('PRE_INITIALIZING');
    expect(adminStatusFromStats('server.state: 3\n').state).toBe('INITIALIZING');
    expect(adminStatusFromStats('server.state: 1\n').state).toBe('DRAINING');
    const rejected = adminStatusFromStats(
      'cluster_manager.cds.update_rejected: 1\nlistener_manager.lds.update_success: 1\n',
    );
    expect(rejected.cds).toEqual({ success: 0, rejected: 1 });
    // Empty body (nothing "used" yet): no state, no workers, no epoch.
    expect(adminStatusFromStats('')).toEqual({
      epoch: null,
      state: null,
      workersStarted: false,
      cds: { success: 0, rejected: 0 },
      lds: { success: 0, rejected: 0 },
    });
  });

  it('skips histograms and text readouts', () => {
    const stats = parseStats(
      'server.version: "1.2.3"\ncluster.x.upstream_rq_time: P0(nan,1) P25(nan,2)\nserver.live: 1\n',
    );
    expect([...stats]).toEqual([['server.live', 1]]);
  });

  it('asks for exactly the stats it needs, used only', () => {
    const filter = decodeURIComponent(READINESS_STATS_PATH.split('filter=')[1] ?? '');
    const re = new RegExp(filter);
    for (const name of [
      'server.state',
      'server.hot_restart_epoch',
      'listener_manager.workers_started',
      'cluster_manager.cds.update_success',
      'listener_manager.lds.update_rejected',
    ]) {
      expect(re.test(name), name).toBe(true);
    }
    expect(re.test('server.state_x')).toBe(false);
    expect(re.test('cluster_manager.cds.update_attempt')).toBe(false);
    expect(READINESS_STATS_PATH.startsWith('/stats?usedonly&filter=')).toBe(true);
  });
});

describe('active downstream connections (Istio 1.24 TestActiveConnections)', () => {
  it('sums the listeners, skipping workers, admin and the agent listeners', () => {
    const sample = [
      'http.10.112.32.70_9043.downstream_cx_active: 3',
      'listener.0.0.0.0_15021.downstream_cx_active: 1',
      'listener.0.0.0.0_15090.downstream_cx_active: 2',
      'listener.0.0.0.0_8443.downstream_cx_active: 6',
      'listener.0.0.0.0_8443.worker_0.downstream_cx_active: 6',
      'listener.0.0.0.0_9093.downstream_cx_active: 8',
      'listener.10.112.32.70_9043.downstream_cx_active: 1',
      'listener.10.112.40.186_2181.downstream_cx_active: 1',
      'listener.10.112.43.239_9043.downstream_cx_active: 2',
      'listener.10.112.49.68_9043.downstream_cx_active: 1',
      'listener.admin.downstream_cx_active: 1',
      'listener.admin.main_thread.downstream_cx_active: 1',
    ].join('\n');
    expect(activeConnections(sample)).toBe(19);
  });

  it('is 0 when only the agent listeners are busy, -1 when no stat is reported', () => {
    expect(activeConnections('listener.0.0.0.0_15021.downstream_cx_active: 1\n')).toBe(0);
    expect(activeConnections('')).toBe(-1);
  });
});

describe('drain request', () => {
  it('drains inbound only for sidecars, everything for routers, and holds with skip_exit', () => {
    expect(drainListenersPath('sidecar', false)).toBe('/drain_listeners?inboundonly&graceful');
    expect(drainListenersPath('router', false)).toBe('/drain_listeners?graceful');
    expect(drainListenersPath('sidecar', true)).toBe('/drain_listeners?inboundonly&graceful&skip_exit');
  });
});
