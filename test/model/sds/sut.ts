/**
 * One SDS stream as a system under test at machine level: the real machine with
 * - a fake `streamIo` (Envoy's side of the stream): its `sendBack` delivers Envoy's requests and
 *   the end of the stream, as the transport does, and every command it receives (SEND) is logged;
 * - `resolveSecrets` as a promise that settles only when a path says what the files hold (the same
 *   content, the content Envoy holds, new content, a secret withheld) or that the reader failed.
 * SECRETS.CHANGED comes from the agent (its parent), so it is sent to the actor. What the stream
 * announces (`emit`) is collected to be compared with the decisions the model step declared.
 */
import { type AnyActorRef, type AnyEventObject, type AnyStateNode, createActor, fromCallback } from 'xstate';
import {
  type SdsDecision,
  type SdsStreamEvent,
  type SdsStreamInput,
  type SecretCheck,
  type StreamIoCommand,
  sdsStreamMachine,
} from '../../../machines/sds-stream.js';
import type { CoverageTracker } from '../core/coverage.js';
import { EffectLog, PendingPromises, settle } from '../core/sut-kit.js';
import { isDoneActorEvent, isErrorActorEvent } from '../core/timed-model.js';
import type { SdsSnap } from './model.js';

export const SDS_CALLBACK_SRCS: ReadonlySet<string> = new Set(['streamIo']);

export class SdsSut {
  readonly log = new EffectLog();
  readonly promises = new PendingPromises(this.log);
  /** Envoy's side of the stream while `streamIo` runs. */
  envoy: ((e: SdsStreamEvent) => void) | undefined;
  readonly decisions: SdsDecision[] = [];
  private decisionsTaken = 0;
  readonly actor;

  constructor(input: SdsStreamInput, coverage: CoverageTracker) {
    const machine = sdsStreamMachine.provide({
      actors: {
        streamIo: fromCallback<StreamIoCommand, { streamId: string }>(
          ({ input, sendBack, receive, self }) => {
            const id = self.id;
            this.log.push({ kind: 'start', id, src: 'streamIo', input });
            this.envoy = sendBack;
            receive((command) => this.log.push({ kind: 'send', id, event: command }));
            return () => {
              this.envoy = undefined;
              this.log.push({ kind: 'stop', id });
            };
          },
        ),
        resolveSecrets: this.promises.logic<SecretCheck[], { names: string[] }>('resolveSecrets'),
      },
    });
    coverage.inv.adopt(machine);
    let root: AnyActorRef | undefined;
    this.actor = createActor(machine, {
      input,
      inspect: (ev) => {
        if (ev.type === '@xstate.microstep' && ev.actorRef === root)
          coverage.recordTransitions(ev._transitions);
      },
    });
    root = this.actor;
    this.actor.on('*', (decision) => this.decisions.push(decision as SdsDecision));
  }

  snapshot(): SdsSnap {
    return this.actor.getSnapshot();
  }

  activeNodeIds(): string[] {
    return (this.snapshot()._nodes as AnyStateNode[]).map((n) => n.id);
  }

  /** Decisions announced since the last call. */
  takeDecisions(): SdsDecision[] {
    const out = this.decisions.slice(this.decisionsTaken);
    this.decisionsTaken = this.decisions.length;
    return out;
  }

  async start(): Promise<void> {
    this.actor.start();
    await settle();
  }

  async cause(event: AnyEventObject): Promise<void> {
    const type = event.type;
    if (isDoneActorEvent(type) || isErrorActorEvent(type)) {
      const e = event as AnyEventObject & { actorId: string; output?: unknown; error?: unknown };
      this.promises.settle(e.actorId, e, isErrorActorEvent(type));
    } else if (type === 'SDS.REQUEST' || type === 'SDS.CLOSED') {
      if (!this.envoy) throw new Error("the stream's transport (streamIo) is not running");
      this.envoy(event as SdsStreamEvent);
    } else {
      this.actor.send(event as SdsStreamEvent);
    }
    await settle();
  }

  stop(): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.stop();
  }
}
