/**
 * The root agent as a system under test at machine level. Its children are fakes that produce
 * each model event from its real cause:
 *
 * - `osSignals`: a fake whose `sendBack` delivers SIGNAL (as src/runtime/signals.ts does);
 * - `certRotation`: the real certificate machine with a fake watcher and reads that settle on
 *   demand, so CERTS.READY is its first reading and CERTS.CHANGED a file event, the settle window
 *   on the clock, then a new reading;
 * - `envoyLifecycle`: a stub that records the commands it receives and ends with the output (or
 *   fails with the error) a path asks for: the agent's contract with its lifecycle is exactly that.
 */
import {
  type AnyActorRef,
  type AnyEventObject,
  type AnyStateNode,
  assign,
  createActor,
  type EventObject,
  fromCallback,
  setup,
} from 'xstate';
import { type AgentEvent, type AgentInput, agentMachine } from '../../../machines/agent.js';
import type { CertEvent, CertReading } from '../../../machines/cert-rotation.js';
import { certRotationMachine } from '../../../machines/cert-rotation.js';
import type {
  envoyLifecycleMachine,
  LifecycleEvent,
  LifecycleInput,
  LifecycleOutput,
} from '../../../machines/envoy-lifecycle.js';
import type { CoverageTracker } from '../core/coverage.js';
import { EffectLog, PendingPromises, RunClock, settle } from '../core/sut-kit.js';
import { isDoneActorEvent, isErrorActorEvent } from '../core/timed-model.js';
import type { AgentSnap } from './model.js';

export const AGENT_CALLBACK_SRCS: ReadonlySet<string> = new Set(['osSignals']);

type StubEvent =
  | Extract<LifecycleEvent, { type: 'SHUTDOWN' | 'QUIT' | 'DRAIN' | 'HOT_RESTART' }>
  | { type: 'TEST.FINISH'; output: LifecycleOutput }
  | { type: 'TEST.FAIL'; error: unknown };

function stubLifecycle(log: EffectLog) {
  const record = ({ event }: { event: AnyEventObject }) => log.push({ kind: 'send', id: 'lifecycle', event });
  return setup({
    types: {
      context: {} as { input: LifecycleInput; output: LifecycleOutput },
      events: {} as StubEvent,
      input: {} as LifecycleInput,
      output: {} as LifecycleOutput,
    },
  }).createMachine({
    id: 'stub-lifecycle',
    context: ({ input }) => ({ input, output: { exitCode: -1, reason: 'not finished' } }),
    entry: ({ context }) =>
      log.push({ kind: 'start', id: 'lifecycle', src: 'envoyLifecycle', input: context.input }),
    initial: 'running',
    states: {
      running: {
        on: {
          SHUTDOWN: { actions: record },
          QUIT: { actions: record },
          DRAIN: { actions: record },
          HOT_RESTART: { actions: record },
          'TEST.FINISH': { target: 'finished', actions: assign({ output: ({ event }) => event.output }) },
          'TEST.FAIL': {
            actions: ({ event }) => {
              throw event.error;
            },
          },
        },
      },
      finished: { type: 'final' },
    },
    output: ({ context }) => context.output,
  });
}

export class AgentSut {
  readonly log = new EffectLog();
  /** What the certificate child does inside (not compared with the agent model). */
  readonly certLog = new EffectLog();
  readonly reads = new PendingPromises(this.certLog);
  readonly clock: RunClock;
  readonly root;
  private signals: ((e: EventObject) => void) | undefined;
  private watcher: ((e: CertEvent) => void) | undefined;

  constructor(
    input: AgentInput,
    coverage: CoverageTracker,
    private readonly settleMs = input.certs.settings.settleMs,
  ) {
    const certs = certRotationMachine.provide({
      actors: {
        certWatcher: fromCallback<AnyEventObject, { files: string[] }>(({ sendBack }) => {
          this.watcher = sendBack;
          return () => {
            this.watcher = undefined;
          };
        }),
        readCerts: this.reads.logic<CertReading, { files: string[] }>('readCerts'),
      },
    });
    const machine = agentMachine.provide({
      actors: {
        envoyLifecycle: stubLifecycle(this.log) as unknown as typeof envoyLifecycleMachine,
        certRotation: certs,
        osSignals: fromCallback<EventObject, void>(({ sendBack, self }) => {
          const id = self.id;
          this.log.push({ kind: 'start', id, src: 'osSignals', input: undefined });
          this.signals = sendBack;
          return () => {
            this.signals = undefined;
            this.log.push({ kind: 'stop', id });
          };
        }),
      },
    });
    coverage.inv.adopt(machine);
    let root: AnyActorRef | undefined;
    this.clock = new RunClock(() => root?.system);
    this.root = createActor(machine, {
      clock: this.clock,
      input,
      inspect: (ev) => {
        if (ev.type === '@xstate.microstep' && ev.actorRef === root)
          coverage.recordTransitions(ev._transitions);
      },
    });
    root = this.root;
  }

  snapshot(): AgentSnap {
    return this.root.getSnapshot();
  }

  activeNodeIds(): string[] {
    return (this.snapshot()._nodes as AnyStateNode[]).map((n) => n.id);
  }

  async start(): Promise<void> {
    this.root.start();
    await settle();
  }

  private child(id: string): AnyActorRef {
    const ref = (this.snapshot().children as Record<string, AnyActorRef | undefined>)[id];
    if (!ref) throw new Error(`the agent has no child '${id}'`);
    return ref;
  }

  private settleRead(reading: CertReading): void {
    const [id] = [...this.reads.pending.keys()];
    if (id === undefined || this.reads.pending.size !== 1) {
      throw new Error(`expected one pending certificate read, found ${this.reads.pending.size}`);
    }
    this.reads.settle(id, { output: reading }, false);
  }

  async cause(event: AnyEventObject): Promise<void> {
    const type = event.type;
    if (type === 'SIGNAL') {
      if (!this.signals) throw new Error('osSignals is not running');
      this.signals(event);
    } else if (type === 'CERTS.READY') {
      this.settleRead({ hash: String(event.hash), missing: [], problems: [] });
    } else if (type === 'CERTS.CHANGED') {
      if (!this.watcher) throw new Error('the certificate watcher is not running');
      this.watcher({ type: 'FS.CHANGED', path: '/etc/certs/..data' });
      this.clock.advance(this.settleMs);
      await settle();
      this.settleRead({ hash: String(event.hash), missing: [], problems: [] });
    } else if (isDoneActorEvent(type)) {
      this.child('lifecycle').send({
        type: 'TEST.FINISH',
        output: (event as AnyEventObject & { output: LifecycleOutput }).output,
      });
    } else if (isErrorActorEvent(type)) {
      this.child('lifecycle').send({
        type: 'TEST.FAIL',
        error: (event as AnyEventObject & { error: unknown }).error,
      });
    } else {
      this.root.send(event as AgentEvent);
    }
    await settle();
  }

  stop(): void {
    if (this.root.getSnapshot().status === 'active') this.root.stop();
  }
}
