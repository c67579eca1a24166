/**
 * The agent's own metrics. Gauges read the lifecycle's current snapshot when scraped (readiness,
 * epoch, processes, budget); counters, the state gauge and the drain histogram follow the
 * decisions the machines announce. Nothing here decides anything, and nothing names a state.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LIFECYCLE_PHASES, type LifecyclePhase } from '../../machines/envoy-lifecycle.js';
import { type LifecycleSnapshot, readinessOf } from '../../machines/readiness.js';
import { type DecisionObserver, onDecisions } from './decisions.js';

/** Registers the lifecycle metrics; returns the decision observer that keeps the counters. */
export function lifecycleMetrics(
  registry: Registry,
  lifecycle: () => LifecycleSnapshot | undefined,
): DecisionObserver {
  let phase: LifecyclePhase | undefined;
  new Gauge({
    name: 'pilot_agent_envoy_state',
    help: 'Envoy lifecycle state of the agent: 1 for the current state, 0 for the others',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const current = lifecycle()?.status === 'active' ? phase : undefined;
      for (const state of LIFECYCLE_PHASES) this.set({ state }, state === current ? 1 : 0);
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

  let drainStarted: number | undefined;
  return onDecisions({
    'envoy.phase': (d) => {
      phase = d.phase;
    },
    'envoy.exited': (d) =>
      exits.inc({ outcome: d.signal ? `signal:${d.signal}` : d.code === 0 ? 'clean' : 'error' }),
    'envoy.restarting': () => restarts.inc(),
    'envoy.hotRestartCompleted': () => hotRestarts.inc(),
    'envoy.draining': () => {
      drainStarted = Date.now();
    },
    'envoy.stopping': () => {
      if (drainStarted === undefined) return;
      drains.observe((Date.now() - drainStarted) / 1000);
      drainStarted = undefined;
    },
    'certs.rotated': () => rotations.inc(),
    'certs.rejected': () => rejectedRotations.inc(),
  });
}

/**
 * SDS mode's metrics (registered only in SDS mode): streams open now (read from the root agent when
 * scraped), and what the stream machines decided: responses sent, ACKed, NACKed, secrets withheld.
 * No label names a secret: `file-cert:` names are file paths, as many as Envoy asks for.
 */
export function sdsMetrics(registry: Registry, openStreams: () => number): DecisionObserver {
  new Gauge({
    name: 'pilot_agent_sds_streams',
    help: 'SDS streams Envoy has open on the agent (one per secret it subscribes to)',
    registers: [registry],
    collect() {
      this.set(openStreams());
    },
  });
  const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
  const pushes = counter(
    'pilot_agent_sds_pushes_total',
    'SDS responses sent to Envoy (a first answer or new content)',
  );
  const acks = counter('pilot_agent_sds_acks_total', 'SDS responses Envoy applied (ACK)');
  const nacks = counter(
    'pilot_agent_sds_nacks_total',
    'SDS responses Envoy rejected (NACK): it keeps what it had',
  );
  const withheld = counter(
    'pilot_agent_sds_withheld_total',
    'Times a requested secret was withheld: its files missing, torn or outside their validity period',
  );
  return onDecisions({
    'sds.pushed': () => pushes.inc(),
    'sds.acked': () => acks.inc(),
    'sds.nacked': () => nacks.inc(),
    'sds.withheld': () => withheld.inc(),
  });
}
