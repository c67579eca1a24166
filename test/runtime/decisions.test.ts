/**
 * The machines announce their decisions; the runtime's observers (log lines, metrics) act on them.
 * Here the real lifecycle machine runs on a simulated clock with fake effects, and the observers
 * the agent uses are attached through the same decision feed.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { agentMachine } from '../../machines/agent.js';
import { certRotationMachine } from '../../machines/cert-rotation.js';
import { envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';
import { createLogger } from '../../src/log.js';
import { lifecycleMetrics } from '../../src/runtime/agent-metrics.js';
import { decisionLog } from '../../src/runtime/decision-log.js';
import { type Decision, decisionFeed } from '../../src/runtime/decisions.js';
import { startLifecycle, status } from '../helpers/lifecycle-harness.js';

function observed() {
  let text = '';
  const destination = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = createLogger({ destination, isTTY: false, json: true, level: 'debug' });
  const registry = new Registry();
  const decisions: Decision[] = [];
  let snapshot: (() => ReturnType<ReturnType<typeof startLifecycle>['snapshot']>) | undefined;
  const h = startLifecycle({
    inspect: decisionFeed(
      (d) => decisions.push(d),
      decisionLog(log),
      lifecycleMetrics(registry, () => snapshot?.()),
    ),
  });
  snapshot = h.snapshot;
  const messages = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; msg: string });
  const metric = async (name: string) => (await registry.getSingleMetricAsString(name)).trim();
  return { h, decisions, messages, metric };
}

describe('decisions announced by the lifecycle, and what the observers make of them', () => {
  it('a start, a crash and its restart: one line per decision, counters and the state gauge follow', async () => {
    const { h, decisions, messages, metric } = observed();
    await h.toReady();
    expect(decisions.map((d) => d.type)).toEqual([
      'envoy.phase',
      'envoy.spawned',
      'envoy.ready',
      'envoy.phase',
    ]);
    expect(await metric('pilot_agent_envoy_state')).toContain('pilot_agent_envoy_state{state="ready"} 1');

    h.exited(h.lastSpawn(), { code: 1 });
    await h.settle();
    expect(messages().map((m) => `${m.level} ${m.msg}`)).toEqual([
      'info Envoy epoch 0 started (pid 1001)',
      'info Envoy epoch 0 is ready',
      'warn Envoy epoch 0 exit code 1: restarting it in 200 ms (restart 1 of 10)',
    ]);
    expect(await metric('pilot_agent_envoy_state')).toContain(
      'pilot_agent_envoy_state{state="crashedBackoff"} 1',
    );
    expect(await metric('pilot_agent_envoy_exits_total')).toContain(
      'pilot_agent_envoy_exits_total{outcome="error"} 1',
    );

    await h.tick(200);
    expect(await metric('pilot_agent_envoy_restarts_total')).toContain('pilot_agent_envoy_restarts_total 1');
    expect(decisions.at(-1)).toEqual({ type: 'envoy.phase', phase: 'starting' });
  });

  it('a hot restart: begun, the child started beside its parent, completed; the parent exits as expected', async () => {
    const { h, decisions, messages, metric } = observed();
    await h.toReady();
    h.actor.send({ type: 'HOT_RESTART', reason: 'SIGHUP' });
    await h.settle();
    h.spawned();
    h.status(status(1));
    await h.settle();
    h.exited(h.spawn(0));
    await h.settle();
    const types = decisions.map((d) => d.type);
    expect(types.slice(types.indexOf('envoy.hotRestartBegun'))).toEqual([
      'envoy.hotRestartBegun',
      'envoy.spawned',
      'envoy.hotRestartCompleted',
      'envoy.phase',
      'envoy.exited',
    ]);
    expect(messages().map((m) => m.msg)).toEqual([
      'Envoy epoch 0 started (pid 1001)',
      'Envoy epoch 0 is ready',
      'hot restart: starting epoch 1 beside epoch 0',
      'Envoy epoch 1 started beside epoch 0 (pid 1002)',
      'hot restart complete: epoch 1 serves',
      'Envoy epoch 0 exited normally',
    ]);
    expect(await metric('pilot_agent_envoy_hot_restarts_total')).toContain(
      'pilot_agent_envoy_hot_restarts_total 1',
    );
  });

  it('a failed child leaves its parent serving: the notice is logged with what follows', async () => {
    const { h, messages } = observed();
    await h.toReady();
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    await h.settle();
    h.spawned();
    h.exited(h.lastSpawn(), { code: 1, failure: 'still-initializing' });
    await h.settle();
    expect(messages().at(-1)).toMatchObject({
      level: 'warn',
      msg: 'hot restart to epoch 1 failed: epoch 1 refused: previous envoy process is still initializing; epoch 0 keeps serving; retrying after the restart backoff',
    });
  });

  it('a drain and stop: the drain is timed from its start to the stop decision', async () => {
    const { h, decisions, metric } = observed();
    await h.toReady();
    h.actor.send({ type: 'SHUTDOWN' });
    await h.settle();
    await h.tick(5_000);
    expect(decisions.filter((d) => d.type === 'envoy.draining' || d.type === 'envoy.stopping')).toEqual([
      { type: 'envoy.draining', mode: 'terminate' },
      { type: 'envoy.stopping', exitCode: 0, reason: 'shutdown complete' },
    ]);
    expect(await metric('pilot_agent_drain_duration_seconds')).toContain(
      'pilot_agent_drain_duration_seconds_count 1',
    );
  });
});

describe('observers name no state', () => {
  /** Every state key of the three machines, at any depth. */
  function stateNames(): string[] {
    const names = new Set<string>();
    const walk = (node: AnyStateNode) => {
      for (const [key, child] of Object.entries(node.states)) {
        names.add(key);
        walk(child);
      }
    };
    for (const m of [envoyLifecycleMachine, certRotationMachine, agentMachine]) walk(m.root);
    // The root agent's `active` state shares its name with XState's own snapshot status.
    names.delete('active');
    return [...names];
  }

  it('the decision log, the metrics and the memory trigger hold no state name as a string', () => {
    const files = ['decision-log.ts', 'agent-metrics.ts', 'memory.ts', 'decisions.ts'].map((f) =>
      readFileSync(new URL(`../../src/runtime/${f}`, import.meta.url), 'utf8'),
    );
    for (const name of stateNames()) {
      const quoted = new RegExp(`['"\`]${name}['"\`]`);
      for (const text of files) expect(quoted.test(text), `state name '${name}'`).toBe(false);
    }
  });
});
