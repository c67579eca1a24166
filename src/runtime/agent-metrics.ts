/**
 * The agent's own metrics, derived from the same machine snapshots as readiness and the logs:
 * gauges read the current snapshot when scraped, counters follow what the snapshots show
 * happened. Nothing here decides anything.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { CertContext } from '../../machines/cert-rotation.js';
import type { LifecycleEvent } from '../../machines/envoy-lifecycle.js';
import { type LifecycleSnapshot, readinessOf } from '../../machines/readiness.js';

const topState = (value: unknown): string =>
  typeof value === 'string' ? value : (Object.keys(value as object)[0] ?? '');

/** Registers the lifecycle metrics; returns the inspection observer that keeps the counters. */
export function lifecycleMetrics(registry: Registry, lifecycle: () => LifecycleSnapshot | undefined) {
  const states = ['starting', 'live', 'ready', 'hotRestarting', 'crashedBackoff', 'draining', 'stopping'];
  new Gauge({
    name: 'pilot_agent_envoy_state',
    help: 'Envoy lifecycle state of the agent: 1 for the current state, 0 for the others',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const current = topState(lifecycle()?.value);
      for (const state of states) this.set({ state }, state === current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pilot_agent_envoy_ready',
    help: 'Whether /healthz/ready answers 200 (1) or 503 (0)',
    registers: [registry],
    collect() {
      this.set(readinessOf(lifecycle()).ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pilot_agent_envoy_epoch',
    help: 'Hot-restart epoch of the Envoy process that serves',
    registers: [registry],
    collect() {
      this.set(lifecycle()?.context.epoch ?? 0);
    },
  });
  new Gauge({
    name: 'pilot_agent_envoy_processes',
    help: 'Envoy processes the agent is running (up to 3 during a hot restart)',
    registers: [registry],
    collect() {
      this.set(lifecycle()?.context.procs.length ?? 0);
    },
  });
  new Gauge({
    name: 'pilot_agent_envoy_restart_budget_remaining',
    help: 'Crash restarts left before the agent gives up (given back after a stable period)',
    registers: [registry],
    collect() {
      const c = lifecycle()?.context;
      this.set(c ? Math.max(0, c.settings.restartBudget - c.restarts) : 0);
    },
  });
  const exits = new Counter({
    name: 'pilot_agent_envoy_exits_total',
    help: 'Envoy process exits, by how they ended',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const restarts = new Counter({
    name: 'pilot_agent_envoy_restarts_total',
    help: 'Envoy restarts after a crash (fresh epoch 0)',
    registers: [registry],
  });
  const hotRestarts = new Counter({
    name: 'pilot_agent_envoy_hot_restarts_total',
    help: 'Completed hot restarts into a new epoch',
    registers: [registry],
  });
  const rotations = new Counter({
    name: 'pilot_agent_cert_rotations_total',
    help: 'Certificate rotations detected (new, valid content)',
    registers: [registry],
  });
  const rejectedRotations = new Counter({
    name: 'pilot_agent_cert_rotations_rejected_total',
    help: 'Certificate rotations that never validated (torn pair, bad PEM, expired leaf)',
    registers: [registry],
  });
  const drains = new Histogram({
    name: 'pilot_agent_drain_duration_seconds',
    help: 'Time from the start of a drain to the moment Envoy was told to stop',
    buckets: [0.5, 1, 2, 5, 10, 20, 45, 60, 120],
    registers: [registry],
  });

  let lastLifecycleState = '';
  let lastHotRestarts = 0;
  let lastRotations = 0;
  let lastCertState = '';
  let drainStarted: number | undefined;

  return (ev: InspectionEvent) => {
    if (ev.type !== '@xstate.snapshot') return;
    const id = (ev.actorRef as AnyActorRef).id;
    if (id === 'lifecycle') {
      const snapshot = ev.snapshot as LifecycleSnapshot;
      const event = ev.event as LifecycleEvent;
      const state = topState(snapshot.value);
      if (event.type === 'EPOCH.EXITED') {
        exits.inc({
          outcome: event.signal ? `signal:${event.signal}` : event.code === 0 ? 'clean' : 'error',
        });
      }
      if (state !== lastLifecycleState) {
        if (lastLifecycleState === 'crashedBackoff' && state === 'starting') restarts.inc();
        if (state === 'draining') drainStarted = Date.now();
        if (lastLifecycleState === 'draining' && drainStarted !== undefined) {
          drains.observe((Date.now() - drainStarted) / 1000);
          drainStarted = undefined;
        }
        lastLifecycleState = state;
      }
      const done = snapshot.context.hotRestarts;
      if (done > lastHotRestarts) hotRestarts.inc(done - lastHotRestarts);
      lastHotRestarts = done;
    } else if (id === 'certs') {
      const snapshot = ev.snapshot as unknown as { value: unknown; context: CertContext };
      const done = snapshot.context.rotations;
      if (done > lastRotations) rotations.inc(done - lastRotations);
      lastRotations = done;
      const state = topState(snapshot.value);
      if (state === 'rejected' && lastCertState !== 'rejected') rejectedRotations.inc();
      lastCertState = state;
    }
  };
}
