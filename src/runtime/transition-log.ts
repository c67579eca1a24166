/**
 * One log line per lifecycle state change, with the facts an operator needs to read a crash loop
 * or a hot restart from the log alone: epoch, pid, exit code or signal, and the reason. And the
 * certificate rotation's decisions: a new set, a set that does not validate yet, one that never
 * did (one error line), and the wait for missing files.
 */
import type { Logger } from 'pino';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { CertContext } from '../../machines/cert-rotation.js';
import type { LifecycleContext, LifecycleEvent } from '../../machines/envoy-lifecycle.js';
import { type LifecycleSnapshot, readinessOf } from '../../machines/readiness.js';

const stateText = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `${k}.${stateText(v)}`)
        .join(',');

/** Log lines for the certificate rotation: only its decisions, not its every settle window. */
function certLogger(log: Logger) {
  let previous = '';
  let rotations = 0;
  return (snapshot: { value: unknown; context: CertContext }) => {
    const state = stateText(snapshot.value);
    const c = snapshot.context;
    if (c.rotations > rotations) {
      rotations = c.rotations;
      log.info({ sha256: c.current }, 'certificates changed: hot-restarting Envoy with the new set');
    }
    if (state === previous) return;
    const from = previous;
    previous = state;
    const problems = c.rejected
      ? [...c.rejected.missing.map((f) => `${f}: missing`), ...c.rejected.problems]
      : [];
    if (state === 'initial.waitingForFiles') {
      log.info({ missing: c.rejected?.missing }, 'waiting for certificate files');
    } else if (state === 'torn') {
      log.warn({ problems }, 'certificate rotation incomplete: waiting for the rest of it');
    } else if (state === 'rejected') {
      log.error(
        { problems },
        `certificate rotation rejected: ${problems.join('; ')}; Envoy keeps serving the previous certificates`,
      );
    } else if (state === 'watching' && from === 'checking') {
      log.debug('certificates unchanged');
    }
  };
}

export function transitionLogger(log: Logger, lifecycleId = 'lifecycle') {
  let previous = '';
  const certs = certLogger(log.child({ component: 'certs' }));
  return (ev: InspectionEvent) => {
    if (ev.type !== '@xstate.snapshot') return;
    const id = (ev.actorRef as AnyActorRef).id;
    if (id === 'certs') return certs(ev.snapshot as unknown as { value: unknown; context: CertContext });
    if (id !== lifecycleId) return;
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
