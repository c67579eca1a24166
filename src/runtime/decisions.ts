/**
 * The machines' decisions, delivered to the observers that act on them (log lines, metrics, the
 * memory trigger, the debug feed). Each machine announces what it decides with XState's `emit`;
 * emitted events reach only listeners on the emitting actor (`actor.on()`), and the lifecycle and
 * certificate actors are created by the root while it runs. So the feed watches the system's
 * inspection stream for every actor created (`@xstate.actor`) and listens to each one: no observer
 * names an actor, a state or a machine, only the decision types it cares about.
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { AgentDecision } from '../../machines/agent.js';
import type { CertDecision } from '../../machines/cert-rotation.js';
import type { LifecycleDecision } from '../../machines/envoy-lifecycle.js';
import type { SdsDecision } from '../../machines/sds-stream.js';

export type Decision = LifecycleDecision | CertDecision | AgentDecision | SdsDecision;

/** Which actor decided: enough for the debug feed to place the decision. */
export interface DecisionSource {
  id: string;
  sessionId: string;
}

export type DecisionObserver = (decision: Decision, source: DecisionSource) => void;

/**
 * An inspection observer (for `createActor(…, { inspect })`) that hands every decision of every
 * actor in the system to `observers`, in the order the actors emit them.
 */
export function decisionFeed(...observers: DecisionObserver[]): (ev: InspectionEvent) => void {
  return (ev) => {
    if (ev.type !== '@xstate.actor') return;
    const actor = ev.actorRef as AnyActorRef;
    actor.on('*', (emitted: unknown) => {
      const source = { id: actor.id, sessionId: actor.sessionId };
      for (const observe of observers) observe(emitted as Decision, source);
    });
  };
}

/** Narrows a decision to one type, for observers written as a table of handlers. */
export type DecisionOf<T extends Decision['type']> = Extract<Decision, { type: T }>;

export type DecisionHandlers = { [T in Decision['type']]?: (decision: DecisionOf<T>) => void };

/** An observer that calls the handler of each decision's type, if it has one. */
export function onDecisions(handlers: DecisionHandlers): DecisionObserver {
  return (decision) => {
    const handle = handlers[decision.type] as ((d: Decision) => void) | undefined;
    handle?.(decision);
  };
}
