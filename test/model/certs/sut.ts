/**
 * Certificate rotation as a system under test at machine level: the real machine, invoked by a
 * parent that records what it is told (as the root agent would be), with a fake watcher (its
 * `sendBack` produces FS.CHANGED / FS.ERROR), reads that settle only when a path says so, and a
 * SimulatedClock.
 */
import {
  type AnyActorRef,
  type AnyEventObject,
  type AnyStateNode,
  createActor,
  createMachine,
  fromCallback,
} from 'xstate';
import {
  type CertEvent,
  type CertReading,
  type CertRotationSettings,
  certRotationMachine,
} from '../../../machines/cert-rotation.js';
import type { CoverageTracker } from '../core/coverage.js';
import { EffectLog, PendingPromises, RunClock, settle } from '../core/sut-kit.js';
import { isAfterEvent, isDoneActorEvent, isErrorActorEvent } from '../core/timed-model.js';
import type { CertSnap } from './model.js';

export const CERT_CALLBACK_SRCS: ReadonlySet<string> = new Set(['certWatcher']);

export class CertSut {
  readonly log = new EffectLog();
  readonly promises = new PendingPromises(this.log);
  readonly watchers = new Map<string, (e: CertEvent) => void>();
  readonly clock: RunClock;
  readonly parent;

  constructor(settings: CertRotationSettings, coverage: CoverageTracker) {
    const machine = certRotationMachine.provide({
      actors: {
        certWatcher: fromCallback<AnyEventObject, { files: string[] }>(({ input, sendBack, self }) => {
          const id = self.id;
          this.log.push({ kind: 'start', id, src: 'certWatcher', input });
          this.watchers.set(id, sendBack);
          return () => {
            this.watchers.delete(id);
            this.log.push({ kind: 'stop', id });
          };
        }),
        readCerts: this.promises.logic<CertReading, { files: string[] }>('readCerts'),
      },
    });
    coverage.inv.adopt(machine);
    const parent = createMachine({
      invoke: { id: 'certs', src: machine, input: { settings } },
      on: { '*': { actions: ({ event }) => this.log.push({ kind: 'parent', event }) } },
    });
    let root: AnyActorRef | undefined;
    this.clock = new RunClock(() => root?.system);
    this.parent = createActor(parent, {
      clock: this.clock,
      inspect: (ev) => {
        if (ev.type === '@xstate.microstep' && (ev.actorRef as AnyActorRef).id === 'certs')
          coverage.recordTransitions(ev._transitions);
      },
    });
    root = this.parent;
  }

  certs(): AnyActorRef | undefined {
    return (this.parent.getSnapshot().children as Record<string, AnyActorRef | undefined>).certs;
  }

  snapshot(): CertSnap {
    const child = this.certs();
    if (!child) throw new Error('the certificate rotation actor is gone');
    return child.getSnapshot() as CertSnap;
  }

  activeNodeIds(): string[] {
    return (this.snapshot()._nodes as AnyStateNode[]).map((n) => n.id);
  }

  async start(): Promise<void> {
    this.parent.start();
    this.clock.scan();
    await settle();
    this.clock.scan();
  }

  async cause(event: AnyEventObject, elapsed: number): Promise<void> {
    const type = event.type;
    const certs = this.certs();
    if (!certs) throw new Error('the certificate rotation actor is gone');
    if (isAfterEvent(type)) {
      const timer = this.clock.afterTimers(certs).find((t) => t.type === type);
      if (!timer) throw new Error(`timer ${type} is not pending in the machine`);
      if (timer.remaining !== elapsed)
        throw new Error(`timer ${type} is due in ${timer.remaining} ms, not ${elapsed} ms`);
      this.clock.advance(elapsed);
    } else if (isDoneActorEvent(type) || isErrorActorEvent(type)) {
      const e = event as AnyEventObject & { actorId: string; output?: unknown; error?: unknown };
      this.promises.settle(e.actorId, e, isErrorActorEvent(type));
    } else {
      const watchers = [...this.watchers.values()];
      if (watchers.length !== 1) throw new Error(`expected one watcher, found ${watchers.length}`);
      watchers[0]?.(event as CertEvent);
    }
    this.clock.scan();
    await settle();
    this.clock.scan();
  }

  pendingTimers(): { type: string; remaining: number }[] {
    const certs = this.certs();
    return certs ? this.clock.afterTimers(certs) : [];
  }

  stop(): void {
    if (this.parent.getSnapshot().status === 'active') this.parent.stop();
  }
}
