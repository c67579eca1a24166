/**
 * One log line per lifecycle state change, with the facts an operator needs to read a crash loop
 * or a hot restart from the log alone: epoch, pid, exit code or signal, and the reason.
 */
import type { Logger } from 'pino';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { LifecycleContext, LifecycleEvent } from '../../machines/envoy-lifecycle.js';
import { type LifecycleSnapshot, readinessOf } from '../../machines/readiness.js';

const stateText = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `${k}.${stateText(v)}`)
        .join(',');

export function transitionLogger(log: Logger, lifecycleId = 'lifecycle') {
  let previous = '';
  return (ev: InspectionEvent) => {
    if (ev.type !== '@xstate.snapshot' || (ev.actorRef as AnyActorRef).id !== lifecycleId) return;
    const snapshot = ev.snapshot as LifecycleSnapshot;
    const event = ev.event as LifecycleEvent;
    const c: LifecycleContext = snapshot.context;
    const state = stateText(snapshot.value);

    if (event.type === 'EPOCH.EXITED') {
      const fields = {
        epoch: event.epoch,
        code: event.code,
        signal: event.signal,
        failure: event.failure ?? undefined,
      };
      if (event.signal === 'SIGKILL' && state !== 'stopping' && !state.startsWith('starting')) {
        log.warn(
          fields,
          'Envoy was killed (SIGKILL): it may have been out of memory, check memory usage and limits',
        );
      } else {
        log.info(
          fields,
          event.code === 0
            ? `Envoy epoch ${event.epoch} exited normally`
            : `Envoy epoch ${event.epoch} exited with an error`,
        );
      }
    }
    if (state === previous) return;
    const from = previous;
    previous = state;
    const current = c.procs.find((p) => p.role === 'current');
    const readiness = readinessOf(snapshot);
    log.info(
      {
        from: from || undefined,
        to: state,
        event: event.type,
        epoch: c.epoch,
        pid: current?.pid ?? undefined,
        restarts: c.restarts,
        ready: readiness.ready,
        reason: readiness.reason || undefined,
        notice: c.notice ?? undefined,
      },
      `envoy lifecycle: ${from ? `${from} -> ` : ''}${state}`,
    );
  };
}
