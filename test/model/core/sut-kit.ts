/**
 * Pieces shared by the machine-level systems under test: a SimulatedClock whose pending `after`
 * timers can be read back with their due times, controllable fake promise actors, an effects log
 * written by the fake actors, and the comparison of that log with the actions a model step
 * declared.
 */
import {
  type AnyActorRef,
  type AnyEventObject,
  type ExecutableActionObject,
  fromPromise,
  type PromiseActorLogic,
  SimulatedClock,
} from 'xstate';

/** What fake actors did, in order: the machine's effects as the outside world saw them. */
export type Effect =
  | { kind: 'start'; id: string; src: string; input: unknown }
  | { kind: 'stop'; id: string }
  | { kind: 'signal'; id: string; signal: string }
  | { kind: 'send'; id: string; event: AnyEventObject }
  | { kind: 'parent'; event: AnyEventObject };

export class EffectLog {
  readonly entries: Effect[] = [];
  private mark = 0;

  push(effect: Effect): void {
    this.entries.push(effect);
  }

  /** Effects since the last call. */
  take(): Effect[] {
    const out = this.entries.slice(this.mark);
    this.mark = this.entries.length;
    return out;
  }
}

/** Lets promise reactions and deferred actor starts run (no timer is involved). */
export async function settle(rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * The clock of one run. XState's scheduler keeps each delayed event with its delay; the time it
 * was scheduled at is recorded here the first time it is seen (runs scan after every interaction
 * and before the clock moves, and the clock only ever moves to the next due timer).
 */
export class RunClock extends SimulatedClock {
  private readonly seenAt = new WeakMap<object, number>();

  constructor(private readonly systemOf: () => AnyActorRef['system'] | undefined) {
    super();
  }

  scan(): void {
    const system = this.systemOf();
    if (!system) return;
    for (const ev of Object.values(system.getSnapshot()._scheduledEvents)) {
      if (!this.seenAt.has(ev)) this.seenAt.set(ev, this.now());
    }
  }

  /** Pending `xstate.after.*` timers of `source` with the time left. */
  afterTimers(source: AnyActorRef): { type: string; remaining: number }[] {
    this.scan();
    const system = this.systemOf();
    if (!system) return [];
    return Object.values(system.getSnapshot()._scheduledEvents)
      .filter((ev) => ev.source === source && ev.event.type.startsWith('xstate.after.'))
      .map((ev) => ({
        type: ev.event.type,
        remaining: (this.seenAt.get(ev) ?? this.now()) + ev.delay - this.now(),
      }));
  }

  advance(ms: number): void {
    this.scan();
    this.increment(ms);
    this.scan();
  }
}

interface Deferred {
  src: string;
  input: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Promise actors that settle only when a path says so (`xstate.done.actor.*` / `xstate.error.actor.*`). */
export class PendingPromises {
  readonly pending = new Map<string, Deferred>();

  constructor(private readonly log: EffectLog) {}

  logic<TOutput, TInput>(src: string): PromiseActorLogic<TOutput, TInput> {
    return fromPromise<TOutput, TInput>(
      ({ input, self, signal }) =>
        new Promise<TOutput>((resolve, reject) => {
          const id = self.id;
          this.log.push({ kind: 'start', id, src, input });
          this.pending.set(id, { src, input, resolve: resolve as (v: unknown) => void, reject });
          signal.addEventListener('abort', () => this.pending.delete(id));
        }),
    );
  }

  settle(id: string, how: { output?: unknown; error?: unknown }, fail: boolean): void {
    const d = this.pending.get(id);
    if (!d)
      throw new Error(`no pending invocation '${id}' (pending: ${[...this.pending.keys()].join(', ')})`);
    this.pending.delete(id);
    if (fail) d.reject(how.error);
    else d.resolve(how.output);
  }
}

const srcOf = (ref: AnyActorRef): string => (typeof ref.src === 'string' ? ref.src : ref.id);

/**
 * The effects a model step declares, in the form the fakes log them. A child spawned and stopped
 * in the same macrostep (a state entered and left through `always`) is never started. Only
 * callback actors are compared when they stop (a settled promise actor has nothing to abort).
 */
export function expectedEffects(
  actions: readonly ExecutableActionObject[],
  callbackSrcs: ReadonlySet<string>,
): Effect[] {
  const out: { effect: Effect; ref?: AnyActorRef }[] = [];
  for (const a of actions) {
    const p = a.params as Record<string, unknown> | undefined;
    if (!p) continue;
    if (a.type === 'xstate.spawnChild') {
      const ref = p.actorRef as AnyActorRef | undefined;
      if (ref) out.push({ effect: { kind: 'start', id: ref.id, src: srcOf(ref), input: p.input }, ref });
    } else if (a.type === 'xstate.stopChild') {
      // stopChild resolves to the actor ref itself.
      const ref = a.params as AnyActorRef | undefined;
      if (!ref) continue;
      const startedHere = out.findIndex((e) => e.effect.kind === 'start' && e.ref === ref);
      if (startedHere >= 0) out.splice(startedHere, 1);
      else if (callbackSrcs.has(srcOf(ref))) out.push({ effect: { kind: 'stop', id: ref.id }, ref });
    } else if (a.type === 'xstate.sendTo') {
      const event = p.event as AnyEventObject;
      const target =
        typeof p.targetId === 'string' ? p.targetId : ((p.to as AnyActorRef | undefined)?.id ?? '?');
      if (target === '#_parent') out.push({ effect: { kind: 'parent', event } });
      else if (event.type === 'SIGNAL')
        out.push({ effect: { kind: 'signal', id: target, signal: String(event.signal) } });
      else out.push({ effect: { kind: 'send', id: target, event } });
    }
  }
  return out.map((e) => e.effect);
}
