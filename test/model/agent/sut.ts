/**
 * The root agent as a system under test at machine level. Its children are fakes that produce
 * each model event from its real cause:
 *
 * - `osSignals`: a fake whose `sendBack` delivers SIGNAL (as src/runtime/signals.ts does);
 * - `certRotation`: the real certificate machine with a fake watcher and reads that settle on
 *   demand, so CERTS.READY is its first reading and CERTS.CHANGED a file event, the settle window
 *   on the clock, then a new reading;
 * - `envoyLifecycle`: a stub that records the commands it receives and ends with the output (or
 *   fails with the error) a path asks for: the agent's contract with its lifecycle is exactly that;
 * - `sdsServer` (SDS mode): a fake whose `sendBack` delivers SDS.STREAM_OPENED when a path says
 *   Envoy opened a stream;
 * - `sdsStream`: the real stream machine with Envoy on the other side of a fake `streamIo` (it asks
 *   for one secret at once, ACKs every response, and ends the stream when a path says so, which
 *   produces the stream's done event) and a `resolveSecrets` that reads the certificates the
 *   certificate child read last. SECRETS.CHANGED is observed as the agent delivers it.
 */
import {
  type AnyActorRef,
  type AnyEventObject,
  type AnyStateNode,
  assign,
  createActor,
  type EventObject,
  fromCallback,
  fromPromise,
  setup,
} from 'xstate';
import { type AgentEvent, type AgentInput, agentMachine, streamActorId } from '../../../machines/agent.js';
import type { CertEvent, CertReading } from '../../../machines/cert-rotation.js';
import { certRotationMachine } from '../../../machines/cert-rotation.js';
import type {
  envoyLifecycleMachine,
  LifecycleEvent,
  LifecycleInput,
  LifecycleOutput,
} from '../../../machines/envoy-lifecycle.js';
import {
  type SdsStreamEvent,
  type SecretCheck,
  type StreamIoCommand,
  sdsStreamMachine,
} from '../../../machines/sds-stream.js';
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

/** The secret Envoy asks for on its n-th stream (one stream per secret, as Envoy opens them). */
export const SECRET_OF_STREAM = ['default', 'ROOTCA'] as const;

/** The content hash `resolveSecrets` reports for a secret of the certificates with this hash. */
export const contentOf = (name: string, certHash: string) => `${name}@${certHash}`;

/** Envoy's side of one SDS stream. */
export interface EnvoyStream {
  name: string;
  send: (e: SdsStreamEvent) => void;
  /** The content Envoy applied (it ACKs every response). */
  held: string | undefined;
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
  /** The SDS server's `sendBack` while it runs. */
  sdsServer: ((e: AgentEvent) => void) | undefined;
  /** Envoy's open streams, by the agent's actor id for them. */
  readonly envoyStreams = new Map<string, EnvoyStream>();
  /** The certificates on disk, as the certificate child read them last. */
  certHash = 'h0';

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
    const stream = sdsStreamMachine.provide({
      actors: {
        streamIo: fromCallback<StreamIoCommand, { streamId: string }>(({ input, sendBack, receive }) => {
          // The stream is there for the world once its transport is: its start is the agent's effect.
          this.log.push({ kind: 'start', id: streamActorId(input.streamId), src: 'sdsStream', input });
          const name = SECRET_OF_STREAM[this.envoyStreams.size % SECRET_OF_STREAM.length] ?? 'default';
          const envoy: EnvoyStream = { name, send: sendBack, held: undefined };
          this.envoyStreams.set(streamActorId(input.streamId), envoy);
          receive((response) => {
            const secret = response.secrets.find((x) => x.name === name);
            if (secret) envoy.held = secret.sha256;
            queueMicrotask(() =>
              sendBack({
                type: 'SDS.REQUEST',
                request: {
                  versionInfo: response.versionInfo,
                  resourceNames: [name],
                  responseNonce: response.nonce,
                },
              }),
            );
          });
          queueMicrotask(() =>
            sendBack({
              type: 'SDS.REQUEST',
              request: { versionInfo: '', resourceNames: [name], responseNonce: '', node: 'sidecar~model' },
            }),
          );
          return () => {
            this.envoyStreams.delete(streamActorId(input.streamId));
          };
        }),
        resolveSecrets: fromPromise<SecretCheck[], { names: string[] }>(async ({ input }) =>
          input.names.map((name) => ({ name, sha256: contentOf(name, this.certHash) })),
        ),
      },
    });
    const machine = agentMachine.provide({
      actors: {
        sdsServer: fromCallback<EventObject, void>(({ sendBack, self }) => {
          this.log.push({ kind: 'start', id: self.id, src: 'sdsServer', input: undefined });
          this.sdsServer = sendBack;
          return () => {
            this.sdsServer = undefined;
          };
        }),
        sdsStream: stream,
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
        // What the agent tells a stream (SECRETS.CHANGED), as the stream receives it (its start,
        // `xstate.init`, is the stream's own effect).
        const target = ev.actorRef as AnyActorRef;
        if (
          ev.type === '@xstate.event' &&
          ev.sourceRef === root &&
          target.id.startsWith('sds-') &&
          ev.event.type !== 'xstate.init'
        )
          this.log.push({ kind: 'send', id: target.id, event: ev.event });
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
    } else if (type === 'SDS.STREAM_OPENED') {
      if (!this.sdsServer) throw new Error('the SDS server is not running');
      this.sdsServer(event as AgentEvent);
    } else if (type === 'CERTS.CHANGED') {
      if (!this.watcher) throw new Error('the certificate watcher is not running');
      this.certHash = String(event.hash);
      this.watcher({ type: 'FS.CHANGED', path: '/etc/certs/..data' });
      this.clock.advance(this.settleMs);
      await settle();
      this.settleRead({ hash: String(event.hash), missing: [], problems: [] });
    } else if (isDoneActorEvent(type) && type.startsWith('xstate.done.actor.sds-')) {
      const envoy = this.envoyStreams.get(String(event.actorId));
      if (!envoy) throw new Error(`Envoy has no open stream ${String(event.actorId)}`);
      envoy.send({ type: 'SDS.CLOSED', reason: 'Envoy closed the stream' });
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
