/**
 * Turns the runtime pieces of an XState 5 machine (guards, event types, actions, invocations) into
 * the short texts the diagrams show. Everything here reads what `setup().createMachine()` stored on
 * the StateNode tree; nothing is copied from the machine sources, so a renamed guard or delay shows
 * up renamed in the next generation.
 */
import { type AnyStateNode, type AnyTransitionDefinition, and, not, or, stateIn } from 'xstate';

/**
 * `and([...])`, `or([...])` and `not(g)` return a predicate function carrying `check` (the
 * combinator's evaluator, shared by every instance) and `guards` (the operands as written: names,
 * `{ type, params }` objects or nested combinators). Comparing `check` with the one of a throwaway
 * instance identifies the combinator without relying on function names surviving a bundler.
 */
const CHECK = {
  and: checkOf(and([])),
  or: checkOf(or([])),
  not: checkOf(not('x')),
  in: checkOf(stateIn('x')),
} as const;

type Operator = 'and' | 'or' | 'not';

function checkOf(value: unknown): unknown {
  return typeof value === 'function' && 'check' in value ? value.check : undefined;
}

function operatorOf(guard: unknown): { op: Operator; operands: readonly unknown[] } | undefined {
  if (typeof guard !== 'function' || !('guards' in guard) || !Array.isArray(guard.guards)) return undefined;
  const check = checkOf(guard);
  const byCheck = (['and', 'or', 'not'] as const).find(
    (op) => CHECK[op] !== undefined && CHECK[op] === check,
  );
  // Fallback for a second copy of xstate (CJS next to ESM): the predicates are named after the
  // combinator in every build xstate ships.
  const op = byCheck ?? (['and', 'or', 'not'] as const).find((o) => o === guard.name);
  return op ? { op, operands: guard.guards } : undefined;
}

const SYMBOL: Record<Exclude<Operator, 'not'>, string> = { and: ' ∧ ', or: ' ∨ ' };

/** A guard as text: `budgetLeft`, `isCurrent ∧ exitedCleanly`, `¬statusIsReady`, `¬(a ∨ b)`. */
export function guardText(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (guard && typeof guard === 'object' && 'type' in guard) return String(guard.type);
  if (typeof guard !== 'function') return 'guard';
  const combinator = operatorOf(guard);
  if (combinator) {
    const { op, operands } = combinator;
    if (op === 'not') return `¬${operandText(operands[0], op)}`;
    return operands.map((g) => operandText(g, op)).join(SYMBOL[op]);
  }
  if (checkOf(guard) === CHECK.in && 'stateValue' in guard) {
    const value = guard.stateValue;
    return `in ${typeof value === 'string' ? value.replace(/^#/, '') : JSON.stringify(value)}`;
  }
  // An inline arrow gets its property name (`guard`) as its function name: say what it is instead.
  return guard.name && guard.name !== 'guard' ? guard.name : 'inline guard';
}

/** Parenthesises a nested binary combinator unless it repeats its parent's associative operator. */
function operandText(operand: unknown, parent: Operator): string {
  const text = guardText(operand);
  const inner = operatorOf(operand);
  if (!inner || inner.op === 'not' || inner.op === parent) return text;
  return `(${text})`;
}

export type EdgeKind = 'event' | 'always' | 'after' | 'done' | 'error' | 'snapshot' | 'finished';

/** What triggers a transition, named as in the machine's code. */
export function triggerOf(t: AnyTransitionDefinition): { kind: EdgeKind; text: string } {
  const type = String(t.eventType ?? '');
  if (type === '') return { kind: 'always', text: 'always' };
  const source = t.source;
  if (type.startsWith('xstate.after.')) {
    // The event type embeds the delay and the state id, both of which may contain dots; the
    // state's own `after` list keeps the delay as written (a name, a number or a function).
    const delayed = source.after.find((d) => d.eventType === type);
    const delay: unknown = delayed?.delay;
    if (typeof delay === 'string') return { kind: 'after', text: `after ${delay}` };
    if (typeof delay === 'number') return { kind: 'after', text: `after ${delay} ms` };
    return { kind: 'after', text: 'after (inline delay)' };
  }
  for (const [prefix, kind] of [
    ['xstate.done.actor.', 'done'],
    ['xstate.error.actor.', 'error'],
    ['xstate.snapshot.', 'snapshot'],
  ] as const) {
    if (type.startsWith(prefix))
      return { kind, text: `${kind} ${actorNameById(source, type.slice(prefix.length))}` };
  }
  if (type.startsWith('xstate.done.state.')) return { kind: 'finished', text: 'onDone' };
  return { kind: 'event', text: type };
}

/** Invoke ids are generated (`<index>.<stateId>`) unless the config names one. */
function isGeneratedInvokeId(node: AnyStateNode, id: string, index: number): boolean {
  return id === `${index}.${node.id}`;
}

function actorNameById(node: AnyStateNode, id: string): string {
  const invoke = node.invoke.find((i) => i.id === id);
  return invoke ? actorName(invoke.src, id) : id;
}

function actorName(src: unknown, id: string): string {
  return typeof src === 'string' ? src : id;
}

/** `invoke adminPoller`, or `invoke envoyLifecycle as lifecycle` when the config names the id. */
export function invokeTexts(node: AnyStateNode): string[] {
  return node.invoke.map((i, index) => {
    const name = actorName(i.src, i.id);
    return isGeneratedInvokeId(node, i.id, index) || i.id === name
      ? `invoke ${name}`
      : `invoke ${name} as ${i.id}`;
  });
}

/** The invoked actors' logic names, for tests and the state tables. */
export function invokedActors(node: AnyStateNode): string[] {
  return node.invoke.map((i) => actorName(i.src, i.id));
}

const hasType = (value: unknown): value is { type: unknown } =>
  (typeof value === 'function' || (typeof value === 'object' && value !== null)) && 'type' in value;

function staticEventType(event: unknown): string {
  return event && typeof event === 'object' && 'type' in event ? String(event.type) : '…';
}

function prop(value: object, key: string): unknown {
  return (value as Record<string, unknown>)[key];
}

/** Longest parameter value shown in a label; longer ones (sentences) stay in the code. */
const MAX_PARAM_CHARS = 24;

/**
 * `(next)` for an action written `{ type, params: { role: 'next' } }`: the values of static,
 * short, scalar parameters, in order. Parameters computed from the event, or long ones, show
 * nothing: the label names the action, the code says the rest.
 */
function staticParamsText(params: unknown): string {
  if (params === null || typeof params !== 'object') return '';
  const values = Object.values(params);
  const shown = values.every(
    (v) => ['string', 'number', 'boolean'].includes(typeof v) && String(v).length <= MAX_PARAM_CHARS,
  );
  return shown && values.length > 0 ? `(${values.map(String).join(', ')})` : '';
}

/**
 * An action as text, or undefined for the bookkeeping XState adds itself (the raise/cancel pair
 * that implements `after`). Built-ins show their target/event when they are static.
 */
export function actionText(action: unknown): string | undefined {
  if (typeof action === 'string') return action;
  if (!hasType(action)) {
    return typeof action === 'function' && action.name ? action.name : 'inline action';
  }
  const type = String(action.type);
  if (!type.startsWith('xstate.')) return `${type}${staticParamsText(prop(action, 'params'))}`;
  const builtin = type.slice('xstate.'.length);
  switch (builtin) {
    case 'raise': {
      const event = staticEventType(prop(action, 'event'));
      return event.startsWith('xstate.after.') ? undefined : `raise(${event})`;
    }
    case 'cancel': {
      const sendId = prop(action, 'sendId');
      return typeof sendId === 'string' && sendId.startsWith('xstate.after.') ? undefined : 'cancel';
    }
    case 'sendTo': {
      const to = prop(action, 'to');
      const event = staticEventType(prop(action, 'event'));
      if (to === '#_parent') return `sendParent(${event})`;
      return `sendTo(${typeof to === 'string' ? to : '…'}, ${event})`;
    }
    case 'emit':
      return `emit(${staticEventType(prop(action, 'event'))})`;
    case 'spawnChild': {
      const src = prop(action, 'src');
      return `spawnChild(${typeof src === 'string' ? src : '…'})`;
    }
    default:
      return builtin;
  }
}

export function actionsText(actions: readonly unknown[]): string[] {
  return actions.map(actionText).filter((a): a is string => a !== undefined);
}
