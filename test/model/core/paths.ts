/**
 * Path generation over a timed model (timed-model.ts) with `xstate/graph`'s `TestModel`, and the
 * bookkeeping that makes generated paths executable and measurable.
 *
 * Events carry payloads derived from the snapshot they are offered in (sequence numbers, epochs,
 * pids of the processes the machine tracks, an invoked actor's input). Two snapshots with the same
 * abstract state may still differ in those concrete numbers (one reached `ready` after three
 * spawns, the other after one), so every event also has a *label* that names it abstractly
 * ("EPOCH.EXITED current#0 SIGSEGV"). Labels are what the traversal serializes, and replaying a path
 * re-binds each label to the concrete snapshot at hand. Replays check that they reproduce the
 * path's abstract states: that is what proves the abstraction (serializeState) keeps every fact a
 * guard reads.
 *
 * A model may also follow a *world* beside the machine (`ModelSpec.world`): facts outside the
 * machine that decide which events can come next, or what a property expects, such as what a peer
 * believes. It is carried per snapshot (`worldOf`), so that the events and the abstraction can read
 * it: two snapshots with the same machine state but a different world are different states of the
 * model.
 */
import type {
  AnyEventObject,
  AnyMachineSnapshot,
  AnyStateMachine,
  AnyStateNode,
  InputFrom,
  SnapshotFrom,
} from 'xstate';
import {
  adjacencyMapToArray,
  type StatePath,
  TestModel,
  type TestParam,
  type TestPath,
  type TestPathResult,
} from 'xstate/graph';
import { CoverageTracker, inventory, type MachineInventory } from './coverage.js';
import { dueTimers, stepRecord, type TimedLogic, timedLogic, timersKey } from './timed-model.js';

const labels = new WeakMap<object, string>();

/** Gives an event its abstract name. */
export function labelled<E extends AnyEventObject>(event: E, label: string): E {
  labels.set(event, label);
  return event;
}

export const labelOf = (event: AnyEventObject): string => labels.get(event) ?? event.type;

const worlds = new WeakMap<object, unknown>();

/** The world a model follows beside the machine, as it is in this snapshot. */
export const worldOf = <W>(snapshot: object): W => worlds.get(snapshot) as W;

export interface WorldSpec<M extends AnyStateMachine, W> {
  initial: W;
  /** The world once `event` took the machine from `before` to `after` (a method: any W fits `unknown`). */
  next(world: W, event: AnyEventObject, before: SnapshotFrom<M>, after: SnapshotFrom<M>): W;
}

/** The timed logic with a world carried along every step. */
function withWorld<M extends AnyStateMachine, W>(
  logic: TimedLogic<M>,
  world: WorldSpec<M, W>,
): TimedLogic<M> {
  const step = (snapshot: SnapshotFrom<M>, event: AnyEventObject): SnapshotFrom<M> => {
    const next = logic.step(snapshot, event);
    worlds.set(next, world.next(worldOf<W>(snapshot), event, snapshot, next));
    return next;
  };
  const initial = (input: InputFrom<M>): SnapshotFrom<M> => {
    const snapshot = logic.initial(input);
    worlds.set(snapshot, world.initial);
    return snapshot;
  };
  return {
    ...logic,
    step,
    initial,
    transition: (snapshot, event) => step(snapshot, event),
    getInitialSnapshot: (_scope, input) => initial(input as InputFrom<M>),
  };
}

export interface ModelSpec<M extends AnyStateMachine> {
  name: string;
  machine: M;
  input: Parameters<TimedLogic<M>['initial']>[0];
  /** Domain events offered in a snapshot (timers are added by the model), each `labelled`. */
  events: (snapshot: SnapshotFrom<M>) => AnyEventObject[];
  /** The facts of a snapshot (and its world) that decide its transitions (timers and status are added). */
  abstract: (snapshot: SnapshotFrom<M>) => unknown;
  limit: number;
  /** Facts outside the machine that the model follows (see the file's header). */
  world?: WorldSpec<M, unknown>;
}

export type Snap<M extends AnyStateMachine> = SnapshotFrom<M>;

/** Generic code sees a snapshot of an unknown machine through the members all of them have. */
const any = (s: unknown): AnyMachineSnapshot => s as AnyMachineSnapshot;

export interface GeneratedPath<M extends AnyStateMachine> {
  id: string;
  kind: 'shortest' | 'coverage' | 'scenario';
  description: string;
  labels: string[];
  testPath: TestPath<Snap<M>, AnyEventObject>;
}

export class Model<M extends AnyStateMachine> {
  readonly logic: TimedLogic<M>;
  readonly inv: MachineInventory;
  readonly testModel: TestModel<Snap<M>, AnyEventObject, unknown>;

  constructor(readonly spec: ModelSpec<M>) {
    const timed = timedLogic(spec.machine);
    this.logic = spec.world ? withWorld(timed, spec.world) : timed;
    this.inv = inventory(spec.machine);
    this.testModel = new TestModel<Snap<M>, AnyEventObject, unknown>(
      this.logic as unknown as TestModel<Snap<M>, AnyEventObject, unknown>['testLogic'],
      {
        events: (s) => this.eventsOf(s),
        serializeState: (s) => this.serialize(s),
        serializeEvent: (e) => labelOf(e),
        limit: spec.limit,
        input: spec.input,
      },
    );
  }

  /** Domain events plus the timer(s) due next; nothing once the machine is done. */
  eventsOf(s: Snap<M>): AnyEventObject[] {
    if (any(s).status !== 'active') return [];
    return [...this.spec.events(s), ...dueTimers(s).map((t) => labelled({ type: t.type }, t.type))];
  }

  serialize(s: Snap<M>): string {
    return JSON.stringify([any(s).status, any(s).value, this.spec.abstract(s), timersKey(s)]);
  }

  initial(): Snap<M> {
    return this.logic.initial(this.spec.input);
  }

  /** The concrete event with this label in `s`, or an error naming what was offered. */
  rebind(s: Snap<M>, label: string): AnyEventObject {
    const offered = this.eventsOf(s);
    const event = offered.find((e) => labelOf(e) === label);
    if (!event) {
      throw new Error(
        `event "${label}" is not offered in ${this.serialize(s)}; offered: ${offered.map(labelOf).join(', ')}`,
      );
    }
    return event;
  }

  step(s: Snap<M>, label: string): Snap<M> {
    return this.logic.step(s, this.rebind(s, label));
  }

  /** Replays labels from the initial snapshot; returns every snapshot (initial first). */
  replay(path: readonly string[]): Snap<M>[] {
    const out = [this.initial()];
    for (const label of path) {
      const last = out[out.length - 1] as Snap<M>;
      out.push(this.step(last, label));
    }
    return out;
  }

  /** Builds an executable TestPath from labels, checking it against the expected abstract states. */
  toTestPath(
    path: readonly string[],
    expected?: readonly string[],
  ): { testPath: TestPath<Snap<M>, AnyEventObject>; snapshots: Snap<M>[] } {
    const snapshots = this.replay(path);
    if (expected) {
      snapshots.forEach((s, i) => {
        const want = expected[i];
        if (want !== undefined && this.serialize(s) !== want) {
          throw new Error(
            `replay of [${path.join(' → ')}] diverged at step ${i}: ${this.serialize(s)} instead of ${want}`,
          );
        }
      });
    }
    const steps = snapshots.map((state, i) => ({
      state,
      event: i === 0 ? { type: 'xstate.init' } : (stepRecord(state)?.event ?? { type: 'xstate.init' }),
    }));
    const last = snapshots[snapshots.length - 1] as Snap<M>;
    const statePath: StatePath<Snap<M>, AnyEventObject> = { state: last, steps, weight: path.length };
    const description = `${stateText(any(last).value)} ← ${path.length === 0 ? 'init' : path.join(' → ')}`;
    return {
      snapshots,
      testPath: {
        ...statePath,
        description,
        test: (params: TestParam<Snap<M>, AnyEventObject>): Promise<TestPathResult> =>
          this.testModel.testPath(statePath, params),
      },
    };
  }

  /**
   * Scenario: the labels are bound to concrete events by one replay, then resolved through
   * `getPathsFromEvents`, whose traversal over that fixed event list needs concrete identities
   * (the same label, "SPAWNED current#0", names a different process after a restart).
   */
  scenario(path: readonly string[]): TestPath<Snap<M>, AnyEventObject> {
    const { snapshots } = this.toTestPath(path);
    const events = snapshots.slice(1).map((s) => stepRecord(s)?.event as AnyEventObject);
    const concrete = (e: AnyEventObject) => JSON.stringify(e);
    const found = this.testModel.getPathsFromEvents(events, {
      serializeState: (s) =>
        JSON.stringify([any(s).status, any(s).value, any(s).context, timersKey(s), worlds.get(s) ?? null]),
      serializeEvent: concrete,
      input: this.spec.input,
      limit: this.spec.limit,
      filterEvents: (s, e) => this.eventsOf(s).some((o) => concrete(o) === concrete(e)),
      fromState: snapshots[0],
    });
    const first = found[0];
    if (!first) throw new Error(`getPathsFromEvents found no path for [${path.join(' → ')}]`);
    // Executed by label replay (see class comment); the library's path fixes the expected states.
    return this.toTestPath(
      path,
      first.steps.map((s) => this.serialize(s.state)),
    ).testPath;
  }

  /** A scenario as an executable path (`scenario()`), named. */
  scenarioPath(name: string, labels: readonly string[]): GeneratedPath<M> {
    const testPath = this.scenario(labels);
    return {
      id: `scenario: ${name}`,
      kind: 'scenario',
      description: testPath.description,
      labels: [...labels],
      testPath,
    };
  }

  generate(): Generated<M> {
    const started = performance.now();
    const adjacency = this.testModel.getAdjacencyMap();
    const edges = adjacencyMapToArray(adjacency);
    const traversalMs = performance.now() - started;

    // What the model can reach at all (static coverage).
    const reachable = new CoverageTracker(this.inv);
    const init = this.initial();
    reachable.recordTransitions(stepRecord(init)?.transitions ?? []);
    for (const value of Object.values(adjacency)) reachable.recordStates(nodeIds(value.state));
    for (const edge of edges) reachable.recordTransitions(stepRecord(edge.nextState)?.transitions ?? []);

    // One shortest path to every abstract state; executed: the ones that are not a prefix of another.
    const all = this.testModel.getShortestPaths({ allowDuplicatePaths: true });
    const shortestTo = new Map<string, string[]>();
    for (const p of all)
      shortestTo.set(
        this.serialize(p.state),
        p.steps.slice(1).map((s) => labelOf(s.event)),
      );
    // The library's own de-duplication (the default of getShortestPaths) would traverse again.
    const dedup = withoutPrefixes(
      all.map((p) => ({
        labels: p.steps.slice(1).map((s) => labelOf(s.event)),
        expected: p.steps.map((s) => this.serialize(s.state)),
      })),
    );

    const paths: GeneratedPath<M>[] = [];
    // What the selected paths take (by replay), to find the transitions they still miss.
    const covered = new CoverageTracker(this.inv);
    const add = (kind: GeneratedPath<M>['kind'], p: readonly string[], expected?: readonly string[]) => {
      const { testPath, snapshots } = this.toTestPath(p, expected);
      for (const s of snapshots) {
        covered.recordStates(nodeIds(s));
        covered.recordTransitions(stepRecord(s)?.transitions ?? []);
      }
      paths.push({
        id: `${kind}-${paths.length + 1}`,
        kind,
        description: testPath.description,
        labels: [...p],
        testPath,
      });
    };
    for (const p of dedup) add('shortest', p.labels, p.expected);
    // Transitions the shortest paths miss: shortest path to a source snapshot plus the edge.
    const byDepth = [...edges].sort(
      (a, b) =>
        (shortestTo.get(this.serialize(a.state))?.length ?? Infinity) -
        (shortestTo.get(this.serialize(b.state))?.length ?? Infinity),
    );
    for (const t of this.inv.transitions) {
      if (covered.transitions.has(t.key) || !reachable.transitions.has(t.key)) continue;
      const edge = byDepth.find((e) =>
        (stepRecord(e.nextState)?.transitions ?? []).some((d) => this.inv.keyOf(d) === t.key),
      );
      const prefix = edge && shortestTo.get(this.serialize(edge.state));
      if (!edge || !prefix) continue;
      add('coverage', [...prefix, labelOf(edge.event)]);
    }
    return {
      states: Object.values(adjacency).map((v) => v.state),
      adjacencyStates: Object.keys(adjacency).length,
      adjacencyEdges: edges.length,
      shortestAll: all.length,
      traversalMs,
      reachable,
      paths,
    };
  }
}

export interface Generated<M extends AnyStateMachine> {
  /** One snapshot per abstract state the traversal reached. */
  states: Snap<M>[];
  adjacencyStates: number;
  adjacencyEdges: number;
  shortestAll: number;
  traversalMs: number;
  /** Coverage of the whole traversal: what any path could reach. */
  reachable: CoverageTracker;
  paths: GeneratedPath<M>[];
}

/** Drops every path that is a prefix of another one (A → B is part of A → B → C). */
function withoutPrefixes<T extends { labels: string[] }>(paths: T[]): T[] {
  const sorted = [...paths].sort((a, b) => b.labels.length - a.labels.length);
  const prefixes = new Set<string>();
  const kept: T[] = [];
  for (const p of sorted) {
    const key = JSON.stringify(p.labels);
    if (prefixes.has(key)) continue;
    kept.push(p);
    for (let i = 0; i <= p.labels.length; i++) prefixes.add(JSON.stringify(p.labels.slice(0, i)));
  }
  return kept;
}

export const nodeIds = (s: { _nodes: AnyStateNode[] }): string[] => s._nodes.map((n) => n.id);

export function stateText(value: unknown): string {
  if (typeof value === 'string') return value;
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}.${stateText(v)}`)
    .join(',');
}
