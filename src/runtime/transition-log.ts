/**
 * A debug-level trace of the statecharts: one line each time a machine's state value changes,
 * with the event that changed it (`--log_output_level debug`). It names states because that is
 * what it traces; operators read the decision log (decision-log.ts), which does not. For the Envoy
 * lifecycle each line also carries what a probe would answer, the epoch, the serving pid, the
 * restart count and the last hot-restart notice, so a run can be replayed from the log.
 */
import type { Logger } from 'pino';
import { type AnyActorRef, type AnyMachineSnapshot, type InspectionEvent, isMachineSnapshot } from 'xstate';
import { envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';
import { currentOf } from '../../machines/lifecycle/process-table.js';
import { type LifecycleSnapshot, readinessOf } from '../../machines/readiness.js';

/** `{ starting: 'spawning' }` → `starting.spawning`; parallel regions joined with commas. */
export const stateText = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `${k}.${stateText(v)}`)
        .join(',');

function lifecycleFields(snapshot: LifecycleSnapshot) {
  const c = snapshot.context;
  const readiness = readinessOf(snapshot);
  return {
    epoch: c.epoch,
    pid: currentOf(c.procs)?.pid ?? undefined,
    restarts: c.restarts,
    ready: readiness.ready,
    reason: readiness.reason || undefined,
    notice: c.notice ?? undefined,
  };
}

export function transitionLogger(log: Logger) {
  /** The last state value seen, per actor. */
  const previous = new Map<string, string>();
  return (ev: InspectionEvent) => {
    if (ev.type !== '@xstate.snapshot' || !isMachineSnapshot(ev.snapshot) || !log.isLevelEnabled('debug'))
      return;
    const snapshot = ev.snapshot as AnyMachineSnapshot;
    const actor = ev.actorRef as AnyActorRef;
    const to = stateText(snapshot.value);
    const from = previous.get(actor.sessionId) ?? '';
    if (to === from) return;
    previous.set(actor.sessionId, to);
    if (snapshot.status !== 'active') previous.delete(actor.sessionId);
    const machine = snapshot.machine.id;
    const lifecycle = machine === envoyLifecycleMachine.id;
    log.debug(
      {
        machine,
        from: from || undefined,
        to,
        event: ev.event.type,
        ...(lifecycle ? lifecycleFields(snapshot as LifecycleSnapshot) : {}),
      },
      `${lifecycle ? 'envoy lifecycle' : machine}: ${from ? `${from} -> ` : ''}${to}`,
    );
  };
}
