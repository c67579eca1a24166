/**
 * The two admin pollers the lifecycle invokes. Each is a fact sensor: it reports what Envoy said
 * and decides nothing. Polls are sequential (the next one is scheduled when the previous answer or
 * timeout is in), so a slow admin API never piles up requests.
 */
import { type EventObject, fromCallback } from 'xstate';
import type { AdminStatus, LifecycleEvent } from '../../machines/envoy-lifecycle.js';
import { messageOf } from '../errors.js';
import type { AdminClient } from './admin.js';
import {
  ACTIVE_CONNECTIONS_STATS_PATH,
  activeConnections,
  adminStatusFromStats,
  READINESS_STATS_PATH,
} from './stats.js';

function pollEvery(intervalMs: number, poll: () => Promise<void>): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    await poll();
    if (!stopped) timer = setTimeout(loop, intervalMs);
  };
  void loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

const sameStatus = (a: AdminStatus | undefined, b: AdminStatus) =>
  a !== undefined && JSON.stringify(a) === JSON.stringify(b);

/** `adminPoller`: ADMIN.STATUS when what Envoy reports changes, ADMIN.UNREACHABLE on every failure. */
export function adminPollerActor(admin: AdminClient) {
  return fromCallback<EventObject, { intervalMs: number }>(({ input, sendBack }) => {
    let last: AdminStatus | undefined;
    const report = (event: LifecycleEvent) => sendBack(event);
    return pollEvery(input.intervalMs, async () => {
      try {
        const res = await admin.get(READINESS_STATS_PATH);
        if (res.status !== 200) throw new Error(`unexpected status ${res.status}`);
        const status = adminStatusFromStats(res.body);
        if (sameStatus(last, status)) return;
        last = status;
        report({ type: 'ADMIN.STATUS', status });
      } catch (err) {
        last = undefined;
        report({ type: 'ADMIN.UNREACHABLE', reason: messageOf(err) });
      }
    });
  });
}

/**
 * `connectionPoller`: CONNECTIONS with the open downstream connections. Like Istio ≥ 1.23 it
 * tolerates 4 failed requests in a row and gives up waiting (reports -1) on the 5th; stats that
 * are missing altogether also report -1.
 */
export function connectionPollerActor(admin: AdminClient) {
  return fromCallback<EventObject, { intervalMs: number }>(({ input, sendBack }) => {
    let failures = 0;
    const report = (event: LifecycleEvent) => sendBack(event);
    return pollEvery(input.intervalMs, async () => {
      try {
        const res = await admin.get(ACTIVE_CONNECTIONS_STATS_PATH);
        if (res.status !== 200) throw new Error(`unexpected status ${res.status}`);
        failures = 0;
        report({ type: 'CONNECTIONS', active: activeConnections(res.body) });
      } catch {
        failures += 1;
        if (failures >= 5) report({ type: 'CONNECTIONS', active: -1 });
      }
    });
  });
}
