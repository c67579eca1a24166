/**
 * A statechart as a *timed* test model for `xstate/graph`.
 *
 * `new TestModel(machine)` traverses a machine purely (assigns and guards run, actions do not) and
 * offers `after` timers and invoke completions as synthetic events. Three things make that too
 * loose, or impossible, for the machines of this project, so the traversal goes through this thin
 * logic wrapper instead of the bare machine:
 *
 * 1. **Time.** The bare traversal may fire any `after` event of an active state at any moment: the
 *    same targetless timer twice (`ready` → `budgetReset`, which is armed once per entry), or the
 *    10 s `stuckTimeout` of `stopping` before its 5 s `killGrace`. Neither can happen. The wrapper
 *    keeps the pending timers of each snapshot (from the machine's own `raise(…, { delay })` entry
 *    actions and `cancel` exit actions, captured through the action executor) with their remaining
 *    time, offers only the earliest one(s), and advances the others when one fires. Remaining times
 *    are part of the abstract state, so paths are feasible under real timing.
 * 2. **Parents.** `sendParent` (cert-rotation) needs a parent to resolve against; the mock actor
 *    scope of `xstate/graph` has none and throws "Unable to send event to actor '#_parent'".
 * 3. **System ids.** `xstate/graph` reuses one mock actor system for the whole traversal; the root
 *    agent invokes its children with `systemId`s, and the second snapshot that enters `running`
 *    throws "Actor with system ID 'lifecycle' already exists". The wrapper gives every transition a
 *    fresh scope.
 *
 * The wrapper also records, for every snapshot it produces, which transition definitions the
 * machine selected (`@xstate.microstep` → `_transitions`, including `always`) and which actions it
 * would have executed, so paths can be chosen for coverage and effects can be checked.
 */
import {
  type ActorLogic,
  type AnyActorRef,
  type AnyActorScope,
  type AnyEventObject,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  createActor,
  createEmptyActor,
  type EventFromLogic,
  type ExecutableActionObject,
  fromTransition,
  type InputFrom,
  type SnapshotFrom,
} from 'xstate';

export interface PendingTimer {
  /** `xstate.after.<delay>.<stateId>` */
  type: string;
  remaining: number;
}

export interface StepRecord {
  /** Transition definitions selected, in microstep order (the external event's first). */
  transitions: AnyTransitionDefinition[];
  /** Actions the machine would execute, in order (`xstate.sendTo`, `xstate.spawnChild`, …). */
  actions: ExecutableActionObject[];
  /** The event that produced the snapshot. */
  event: AnyEventObject;
  /** Time that passed (the fired timer's remaining time; 0 for other events). */
  elapsed: number;
}

const timersOf = new WeakMap<object, readonly PendingTimer[]>();
const recordOf = new WeakMap<object, StepRecord>();

export const pendingTimers = (snapshot: object): readonly PendingTimer[] => timersOf.get(snapshot) ?? [];
export const stepRecord = (snapshot: object): StepRecord | undefined => recordOf.get(snapshot);

export const isAfterEvent = (type: string) => type.startsWith('xstate.after.');
export const isDoneActorEvent = (type: string) => type.startsWith('xstate.done.actor.');
export const isErrorActorEvent = (type: string) => type.startsWith('xstate.error.actor.');

/** Timers that may fire next: the pending ones with the least remaining time. */
export function dueTimers(snapshot: object): PendingTimer[] {
  const timers = pendingTimers(snapshot);
  if (timers.length === 0) return [];
  const min = Math.min(...timers.map((t) => t.remaining));
  return timers.filter((t) => t.remaining === min);
}

/** A canonical text for the pending timers (part of every serialized abstract state). */
export const timersKey = (snapshot: object): string =>
  pendingTimers(snapshot)
    .map((t) => `${t.type.replace(/^xstate\.after\./, '')}@${t.remaining}`)
    .sort()
    .join(',');

function makeScope(record: StepRecord): AnyActorScope {
  const parent = createEmptyActor();
  const self = createActor(
    fromTransition((s: undefined) => s, undefined),
    { parent } as { parent: AnyActorRef },
  );
  self.system.inspect((ev) => {
    if (ev.type === '@xstate.microstep' && ev.actorRef === self) record.transitions.push(...ev._transitions);
  });
  return {
    self,
    id: '',
    sessionId: self.sessionId,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    system: self.system,
    stopChild: () => {},
    actionExecutor: (action) => {
      record.actions.push(action);
    },
  };
}

function applyTimerActions(timers: PendingTimer[], actions: ExecutableActionObject[]): PendingTimer[] {
  let out = timers;
  for (const a of actions) {
    const params = a.params as Record<string, unknown> | undefined;
    if (a.type === 'xstate.cancel' && params) {
      out = out.filter((t) => t.type !== params.sendId);
    } else if (a.type === 'xstate.raise' && params && typeof params.delay === 'number') {
      const event = params.event as AnyEventObject;
      const type = typeof params.id === 'string' ? params.id : event.type;
      out = [...out.filter((t) => t.type !== type), { type, remaining: params.delay }];
    }
  }
  return out;
}

export type TimedLogic<M extends AnyStateMachine> = ActorLogic<
  SnapshotFrom<M>,
  EventFromLogic<M>,
  InputFrom<M>
> & {
  machine: M;
  /** One step of the model, outside any traversal. */
  step: (snapshot: SnapshotFrom<M>, event: AnyEventObject) => SnapshotFrom<M>;
  initial: (input: InputFrom<M>) => SnapshotFrom<M>;
};

export function timedLogic<M extends AnyStateMachine>(machine: M): TimedLogic<M> {
  const step = (snapshot: SnapshotFrom<M>, event: AnyEventObject): SnapshotFrom<M> => {
    let timers = [...pendingTimers(snapshot)];
    let elapsed = 0;
    if (isAfterEvent(event.type)) {
      const fired = timers.find((t) => t.type === event.type);
      if (!fired) throw new Error(`${event.type} is not pending in this snapshot`);
      elapsed = fired.remaining;
      timers = timers.filter((t) => t !== fired).map((t) => ({ ...t, remaining: t.remaining - elapsed }));
    }
    const record: StepRecord = { transitions: [], actions: [], event, elapsed };
    const raw = machine.transition(snapshot, event, makeScope(record)) as SnapshotFrom<M>;
    // Every step yields its own object, so per-snapshot bookkeeping never collides.
    const next = (raw === snapshot ? { ...(raw as object) } : raw) as SnapshotFrom<M>;
    timersOf.set(next, applyTimerActions(timers, record.actions));
    recordOf.set(next, record);
    return next;
  };
  const initial = (input: InputFrom<M>): SnapshotFrom<M> => {
    const record: StepRecord = { transitions: [], actions: [], event: { type: 'xstate.init' }, elapsed: 0 };
    const snapshot = machine.getInitialSnapshot(makeScope(record), input) as SnapshotFrom<M>;
    timersOf.set(snapshot, applyTimerActions([], record.actions));
    recordOf.set(snapshot, record);
    return snapshot;
  };
  return {
    machine,
    step,
    initial,
    transition: (snapshot, event) => step(snapshot, event),
    getInitialSnapshot: (_scope, input) => initial(input as InputFrom<M>),
    getPersistedSnapshot: (snapshot) => machine.getPersistedSnapshot(snapshot),
  };
}

/** The invocations of the active state nodes that are still running in this snapshot. */
export function activeInvocations(
  snapshot: SnapshotFrom<AnyStateMachine>,
): { id: string; src: string; node: AnyStateNode; child: AnyActorRef }[] {
  const out: { id: string; src: string; node: AnyStateNode; child: AnyActorRef }[] = [];
  const children = snapshot.children as Record<string, AnyActorRef | undefined>;
  for (const node of snapshot._nodes as AnyStateNode[]) {
    for (const inv of node.invoke) {
      const child = children[inv.id];
      if (child) out.push({ id: inv.id, src: typeof inv.src === 'string' ? inv.src : inv.id, node, child });
    }
  }
  return out;
}

/** The input an invoked or spawned child was created with (promise actors keep it in their snapshot). */
export function childInput<T>(child: AnyActorRef): T {
  return (child.getSnapshot() as { input?: T }).input as T;
}
