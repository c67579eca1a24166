/**
 * The envoy lifecycle as a system under test at machine level: the real machine with fake actors
 * on a SimulatedClock. Every model event is produced by its real cause:
 *
 * - `EPOCH.*` by the `envoyEpoch` fake of that process (its `sendBack`), `ADMIN.*` and
 *   `CONNECTIONS` by the running poller fake, `SHUTDOWN`/`QUIT`/`DRAIN`/`HOT_RESTART` by the parent
 *   (`actor.send`, as the root agent's `sendTo` does);
 * - `xstate.done.actor.<id>` by resolving that invocation's pending promise with the model's
 *   output, `xstate.error.actor.<id>` by rejecting it;
 * - `xstate.after.<delay>.<state>` by advancing the clock exactly to that timer's due time, after
 *   checking that the machine scheduled it with the time the model expects.
 *
 * The fakes write every effect to one log (spawns with their inputs, signals per process, stops,
 * promise invocations with their inputs), which the path runner compares with the actions the
 * model step declared.
 */
import {
  type AnyActorRef,
  type AnyEventObject,
  type AnyStateNode,
  createActor,
  type EventObject,
  fromCallback,
} from 'xstate';
import type {
  EpochCommand,
  EpochInput,
  LaunchPlan,
  LifecycleEvent,
  LifecycleSettings,
} from '../../../machines/envoy-lifecycle.js';
import { envoyLifecycleMachine } from '../../../machines/envoy-lifecycle.js';
import type { CoverageTracker } from '../core/coverage.js';
import { EffectLog, PendingPromises, RunClock, settle } from '../core/sut-kit.js';
import { isAfterEvent, isDoneActorEvent, isErrorActorEvent } from '../core/timed-model.js';

export const LIFECYCLE_CALLBACK_SRCS: ReadonlySet<string> = new Set([
  'envoyEpoch',
  'adminPoller',
  'connectionPoller',
]);

interface FakeProc {
  input: EpochInput;
  sendBack: (e: LifecycleEvent) => void;
  stopped: boolean;
}

interface FakePoller {
  src: string;
  intervalMs: number;
  sendBack: (e: LifecycleEvent) => void;
}

export class LifecycleSut {
  readonly log = new EffectLog();
  readonly promises = new PendingPromises(this.log);
  readonly procs = new Map<number, FakeProc>();
  readonly pollers = new Map<string, FakePoller>();
  readonly clock: RunClock;
  readonly actor;
  readonly machine;

  constructor(settings: LifecycleSettings, coverage: CoverageTracker) {
    const poller = (src: string) =>
      fromCallback<EventObject, { intervalMs: number }>(({ input, sendBack, self }) => {
        const id = self.id;
        this.log.push({ kind: 'start', id, src, input });
        this.pollers.set(id, { src, intervalMs: input.intervalMs, sendBack });
        return () => {
          this.pollers.delete(id);
          this.log.push({ kind: 'stop', id });
        };
      });
    this.machine = envoyLifecycleMachine.provide({
      actors: {
        envoyEpoch: fromCallback<EpochCommand, EpochInput>(({ input, sendBack, receive, self }) => {
          const id = self.id;
          const proc: FakeProc = { input, sendBack, stopped: false };
          this.procs.set(input.seq, proc);
          this.log.push({ kind: 'start', id, src: 'envoyEpoch', input });
          receive((cmd) => this.log.push({ kind: 'signal', id, signal: cmd.signal }));
          return () => {
            proc.stopped = true;
            this.log.push({ kind: 'stop', id });
          };
        }),
        prepareEpoch: this.promises.logic<LaunchPlan, { epoch: number }>('prepareEpoch'),
        validateEpoch: this.promises.logic<void, LaunchPlan>('validateEpoch'),
        drainListeners: this.promises.logic<void, { skipExit: boolean }>('drainListeners'),
        adminPoller: poller('adminPoller'),
        connectionPoller: poller('connectionPoller'),
      },
    });
    coverage.inv.adopt(this.machine);
    let root: AnyActorRef | undefined;
    this.clock = new RunClock(() => root?.system);
    this.actor = createActor(this.machine, {
      clock: this.clock,
      input: { settings },
      inspect: (ev) => {
        if (ev.type === '@xstate.microstep' && ev.actorRef === root)
          coverage.recordTransitions(ev._transitions);
      },
    });
    root = this.actor;
  }

  async start(): Promise<void> {
    this.actor.start();
    this.clock.scan();
    await settle();
    this.clock.scan();
  }

  snapshot() {
    return this.actor.getSnapshot();
  }

  activeNodeIds(): string[] {
    return (this.snapshot()._nodes as AnyStateNode[]).map((n) => n.id);
  }

  private poller(src: string): FakePoller {
    const running = [...this.pollers.values()].filter((p) => p.src === src);
    if (running.length !== 1) throw new Error(`expected one running ${src}, found ${running.length}`);
    return running[0] as FakePoller;
  }

  /** Produces `event` (a model event, possibly synthetic) from its real cause. */
  async cause(event: AnyEventObject, elapsed: number): Promise<void> {
    const type = event.type;
    if (isAfterEvent(type)) {
      const timer = this.clock.afterTimers(this.actor).find((t) => t.type === type);
      if (!timer) throw new Error(`timer ${type} is not pending in the machine`);
      if (timer.remaining !== elapsed) {
        throw new Error(`timer ${type} is due in ${timer.remaining} ms, the model expects ${elapsed} ms`);
      }
      this.clock.advance(elapsed);
    } else if (isDoneActorEvent(type) || isErrorActorEvent(type)) {
      const e = event as AnyEventObject & { actorId: string; output?: unknown; error?: unknown };
      this.promises.settle(e.actorId, e, isErrorActorEvent(type));
    } else if (type === 'EPOCH.SPAWNED' || type === 'EPOCH.SPAWN_FAILED' || type === 'EPOCH.EXITED') {
      const e = event as Extract<LifecycleEvent, { seq: number }>;
      const proc = this.procs.get(e.seq);
      if (!proc || proc.stopped) throw new Error(`process seq ${e.seq} is not running in the machine`);
      proc.sendBack(e);
    } else if (type === 'ADMIN.STATUS' || type === 'ADMIN.UNREACHABLE') {
      this.poller('adminPoller').sendBack(event as LifecycleEvent);
    } else if (type === 'CONNECTIONS') {
      this.poller('connectionPoller').sendBack(event as LifecycleEvent);
    } else {
      this.actor.send(event as LifecycleEvent);
    }
    this.clock.scan();
    await settle();
    this.clock.scan();
  }

  pendingTimers(): { type: string; remaining: number }[] {
    return this.clock.afterTimers(this.actor);
  }

  runningPollers(): { id: string; src: string; intervalMs: number }[] {
    return [...this.pollers].map(([id, p]) => ({ id, src: p.src, intervalMs: p.intervalMs }));
  }

  runningProcs(): number[] {
    return [...this.procs].filter(([, p]) => !p.stopped).map(([seq]) => seq);
  }

  stop(): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.stop();
  }
}
