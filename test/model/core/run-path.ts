/**
 * Runs one generated path through `TestModel.testPath` against a machine-level system under test:
 * each step's event is caused for real (`cause`), the effects the fakes logged during the step are
 * compared with the actions the model step declared, then the reached state is checked.
 */

import { expect } from 'vitest';
import type { AnyEventObject, AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { TestParam } from 'xstate/graph';
import type { CoverageTracker } from './coverage.js';
import type { GeneratedPath, Snap } from './paths.js';
import { type Effect, type EffectLog, expectedEffects } from './sut-kit.js';
import { stepRecord } from './timed-model.js';

export interface MachineSut<S> {
  log: EffectLog;
  start(): Promise<void>;
  cause(event: AnyEventObject, elapsed: number): Promise<void>;
  activeNodeIds(): string[];
  stop(): void;
  /** Compares the system with the model snapshot reached by the same step. */
  checkState(model: S): void;
  /** Properties of a step the model does not state itself (optional). */
  checkStep?(model: S, effects: Effect[]): void;
}

function grouped(effects: Effect[]) {
  return {
    starts: effects.filter((e) => e.kind === 'start'),
    signals: effects.filter((e) => e.kind === 'signal'),
    sends: effects.filter((e) => e.kind === 'send'),
    toParent: effects.filter((e) => e.kind === 'parent'),
    stops: effects
      .filter((e) => e.kind === 'stop')
      .map((e) => e.id)
      .sort(),
  };
}

export function compareEffects(got: Effect[], want: Effect[]): void {
  const g = grouped(got);
  const w = grouped(want);
  expect(g.starts, 'children started (spawns and invocations, with their inputs)').toEqual(w.starts);
  expect(g.signals, 'signals sent to Envoy processes, in order').toEqual(w.signals);
  expect(g.sends, 'commands sent to children, in order').toEqual(w.sends);
  expect(g.toParent, 'events sent to the parent, in order').toEqual(w.toParent);
  expect(g.stops, 'children stopped').toEqual(w.stops);
}

export async function runPath<M extends AnyStateMachine>(
  path: GeneratedPath<M>,
  sut: MachineSut<Snap<M>>,
  options: {
    coverage: CoverageTracker;
    callbackSrcs: ReadonlySet<string>;
    /** Called with every reached model state and the labels that led to it. */
    onState?: (model: Snap<M>, labels: readonly string[]) => void;
    /** Effects this system does not observe (left out on both sides). */
    ignore?: (effect: Effect) => boolean;
  },
): Promise<void> {
  let reached = 0;
  const exec = async (step: { state: Snap<M> }) => {
    const rec = stepRecord(step.state);
    if (!rec) throw new Error('model step without record');
    if (rec.event.type === 'xstate.init') await sut.start();
    else await sut.cause(rec.event, rec.elapsed);
    const keep = (e: Effect) => !options.ignore?.(e);
    const effects = sut.log.take().filter(keep);
    compareEffects(effects, expectedEffects(rec.actions, options.callbackSrcs).filter(keep));
    sut.checkStep?.(step.state, effects);
  };
  const events = Object.fromEntries(path.testPath.steps.map((s) => [s.event.type, exec])) as TestParam<
    Snap<M>,
    AnyEventObject
  >['events'];
  try {
    await path.testPath.test({
      events,
      states: {
        '*': (state) => {
          sut.checkState(state);
          options.coverage.recordStates(sut.activeNodeIds());
          options.onState?.(state, path.labels.slice(0, reached));
          reached += 1;
        },
      },
    });
  } finally {
    sut.stop();
  }
}

/** The parts every machine snapshot comparison shares. */
export function checkCommon(real: AnyMachineSnapshot, model: AnyMachineSnapshot): void {
  expect(real.matches(model.value), `matches ${JSON.stringify(model.value)}`).toBe(true);
  expect(real.value, 'state value').toEqual(model.value);
  expect(real.status, 'status').toBe(model.status);
  expect(real.context, 'context').toEqual(model.context);
  expect(real.output, 'output').toEqual(model.output);
  expect([...real.tags].sort(), 'tags').toEqual([...model.tags].sort());
  expect(Object.keys(real.children).sort(), 'children').toEqual(Object.keys(model.children).sort());
}
