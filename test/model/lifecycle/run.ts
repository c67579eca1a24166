/**
 * Executes one generated lifecycle path against the machine with fake actors (sut.ts): every step
 * is caused for real, then the machine's snapshot, readiness, timers, running children and the
 * effects of the step are compared with the model, and independent properties are checked (hard
 * ones here, findings in properties.ts).
 */
import { expect } from 'vitest';
import type { envoyLifecycleMachine } from '../../../machines/envoy-lifecycle.js';
import { readinessOf } from '../../../machines/readiness.js';
import type { CoverageTracker } from '../core/coverage.js';
import type { Findings } from '../core/findings.js';
import type { GeneratedPath } from '../core/paths.js';
import { checkCommon, type MachineSut, runPath } from '../core/run-path.js';
import type { Effect } from '../core/sut-kit.js';
import { activeInvocations, childInput, pendingTimers } from '../core/timed-model.js';
import type { LifecycleSnap } from './model.js';
import { LifecycleProperties } from './properties.js';
import { LIFECYCLE_CALLBACK_SRCS, LifecycleSut } from './sut.js';

const POLLERS = new Set(['adminPoller', 'connectionPoller']);
const PROMISES = new Set(['prepareEpoch', 'validateEpoch', 'drainListeners']);

const byType = (a: { type: string }, b: { type: string }) => a.type.localeCompare(b.type);
const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));

function checkState(sut: LifecycleSut, model: LifecycleSnap): void {
  const real = sut.snapshot();
  checkCommon(real, model);
  expect(readinessOf(real), 'readiness').toEqual(readinessOf(model));
  expect([...sut.pendingTimers()].sort(byType), 'pending timers').toEqual(
    [...pendingTimers(model)].sort(byType),
  );
  const invocations = model.status === 'active' ? activeInvocations(model) : [];
  expect(byId(sut.runningPollers()), 'running pollers').toEqual(
    byId(
      invocations
        .filter((i) => POLLERS.has(i.src))
        .map((i) => ({
          id: i.id,
          src: i.src,
          intervalMs: childInput<{ intervalMs: number }>(i.child).intervalMs,
        })),
    ),
  );
  expect(
    byId([...sut.promises.pending].map(([id, d]) => ({ id, src: d.src, input: d.input }))),
    'pending effects (render, validate, drain)',
  ).toEqual(
    byId(
      invocations
        .filter((i) => PROMISES.has(i.src))
        .map((i) => ({ id: i.id, src: i.src, input: childInput(i.child) })),
    ),
  );
  const expectedProcs = model.status === 'active' ? model.context.procs.map((p) => p.seq) : [];
  expect(sut.runningProcs().sort(), 'Envoy processes running').toEqual(expectedProcs.sort());
}

/** Properties of the lifecycle that the model does not state itself. */
function checkStep(sut: LifecycleSut, model: LifecycleSnap, effects: Effect[]): void {
  const roles = model.context.procs.map((p) => p.role);
  expect(roles.filter((r) => r === 'current').length, 'at most one current epoch').toBeLessThanOrEqual(1);
  expect(roles.filter((r) => r === 'next').length, 'at most one hot-restart child').toBeLessThanOrEqual(1);
  for (const e of effects) {
    if (e.kind !== 'start' || e.src !== 'envoyEpoch') continue;
    const input = e.input as { seq: number; epoch: number };
    const others = sut.runningProcs().filter((seq) => seq !== input.seq);
    if (input.epoch === 0) {
      expect(others, 'a fresh epoch 0 starts only when no Envoy is left').toEqual([]);
    } else {
      const epochs = others.map((seq) => sut.procs.get(seq)?.input.epoch);
      expect(epochs, `epoch ${input.epoch} starts only while epoch ${input.epoch - 1} runs`).toContain(
        input.epoch - 1,
      );
    }
  }
}

export async function runLifecyclePath(
  path: GeneratedPath<typeof envoyLifecycleMachine>,
  settings: LifecycleSnap['context']['settings'],
  coverage: CoverageTracker,
  findings: Findings,
): Promise<void> {
  const sut = new LifecycleSut(settings, coverage);
  const adapter: MachineSut<LifecycleSnap> = {
    log: sut.log,
    start: () => sut.start(),
    cause: (event, elapsed) => sut.cause(event, elapsed),
    activeNodeIds: () => sut.activeNodeIds(),
    stop: () => sut.stop(),
    checkState: (model) => checkState(sut, model),
    checkStep: (model, effects) => checkStep(sut, model, effects),
  };
  const properties = new LifecycleProperties(findings);
  await runPath(path, adapter, {
    coverage,
    callbackSrcs: LIFECYCLE_CALLBACK_SRCS,
    onState: (model, labels) => properties.check(model, labels),
  });
}
