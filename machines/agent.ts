/**
 * The root agent: owns the run from start to exit code. It spawns the certificate rotation and,
 * once the certificates are there (or their bounded wait is over), the Envoy lifecycle; it turns
 * OS signals, operator requests and certificate changes into lifecycle commands, and ends with the
 * lifecycle's exit code. It holds no decision about Envoy itself — those live in the lifecycle
 * machine — so this chart stays small enough to read whole.
 *
 * Signals (from the `osSignals` actor):
 *   SIGTERM, SIGINT → SHUTDOWN (drain, then stop; a second one skips the rest of the drain)
 *   SIGHUP          → HOT_RESTART (Envoy's hot-restarter.py convention)
 * Requests (from the status server): QUIT (/quitquitquit), DRAIN (/drain).
 * Facts: CERTS.READY (baseline) starts Envoy; CERTS.CHANGED → HOT_RESTART.
 */
import {
  assign,
  type DoneActorEvent,
  type EventObject,
  enqueueActions,
  fromCallback,
  sendTo,
  setup,
} from 'xstate';
import { EXIT_CODES } from '../src/errors.js';
import { type CertRotationSettings, certRotationMachine } from './cert-rotation.js';
import { envoyLifecycleMachine, type LifecycleInput, type LifecycleOutput } from './envoy-lifecycle.js';
import { notProvided } from './not-provided.js';
import { sdsStreamMachine } from './sds-stream.js';

export type AgentSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

export type AgentEvent =
  | { type: 'SIGNAL'; signal: AgentSignal }
  | { type: 'QUIT' }
  | { type: 'DRAIN' }
  | { type: 'CERTS.READY'; hash: string }
  | { type: 'CERTS.CHANGED'; hash: string }
  /** The SDS server accepted a stream from Envoy. */
  | { type: 'SDS.STREAM_OPENED'; streamId: string };

/**
 * How rotated certificates reach Envoy: a hot restart into a new epoch (Istio 1.5's file
 * certificates), or in place over the agent's SDS server (no new process, no drain).
 */
export type CertDelivery = 'hot-restart' | 'sds';

export interface AgentInput {
  lifecycle: LifecycleInput;
  certs: { settings: CertRotationSettings };
  /** Default: `hot-restart`, as Istio 1.5 does with file certificates. */
  delivery?: CertDelivery;
}

export interface AgentContext {
  lifecycle: LifecycleInput;
  certs: { settings: CertRotationSettings };
  exitCode: number;
  reason: string;
  /** Signals received, for the operator's log and /debug. */
  signals: AgentSignal[];
  delivery: CertDelivery;
  /** Actor ids of the SDS streams open now. */
  streams: string[];
}

const deliversOverSds = (context: AgentContext): boolean => context.delivery === 'sds';

/** The actor id of the machine that serves one SDS stream. */
export const streamActorId = (streamId: string): string => `sds-${streamId}`;

/** Exit code when the agent itself fails (an actor error): a bug, reported as such. */
export const INTERNAL_ERROR_EXIT = EXIT_CODES.internal;

/** System ids of the actors the runtime looks up (`root.system.get(...)`). */
export const SYSTEM_IDS = { lifecycle: 'lifecycle', certs: 'certs' } as const;

/** What the agent does with a signal it received. */
export type SignalAction = 'shutdown' | 'hot-restart' | 'exit';

/** What the root decided, announced with `emit` for observers. */
export type AgentDecision = { type: 'agent.signal'; signal: AgentSignal; action: SignalAction };

export const agentMachine = setup({
  types: {
    context: {} as AgentContext,
    events: {} as AgentEvent,
    input: {} as AgentInput,
    output: {} as LifecycleOutput,
    emitted: {} as AgentDecision,
  },
  actors: {
    envoyLifecycle: envoyLifecycleMachine,
    certRotation: certRotationMachine,
    /** Delivers SIGTERM/SIGINT/SIGHUP as SIGNAL events (src/runtime/signals.ts). */
    osSignals: fromCallback<EventObject, void>(notProvided('osSignals')),
    /** The SDS server on its Unix socket (src/sds): SDS.STREAM_OPENED for each stream Envoy opens. */
    sdsServer: fromCallback<EventObject, void>(notProvided('sdsServer')),
    sdsStream: sdsStreamMachine,
  },
  actions: {
    /** A signal received: remembered for /debug (the last ten) and announced with what it does. */
    recordSignal: enqueueActions(
      ({ context, enqueue }, params: { signal: AgentSignal; action: SignalAction }) => {
        enqueue.assign({ signals: [...context.signals, params.signal].slice(-10) });
        enqueue.emit({ type: 'agent.signal', signal: params.signal, action: params.action });
      },
    ),
    setReason: assign({ reason: (_, params: { reason: string }) => params.reason }),
    /** The lifecycle's end is the agent's: its exit code and reason. */
    adoptOutcome: assign((_, params: LifecycleOutput) => ({
      exitCode: params.exitCode,
      reason: params.reason,
    })),
    /** In SDS mode the SDS server starts with the agent, before Envoy, which connects to it. */
    startSdsServer: enqueueActions(({ context, enqueue }) => {
      if (deliversOverSds(context)) enqueue.spawnChild('sdsServer', { id: 'sdsServer' });
    }),
    /** One stream actor per stream Envoy opens. */
    openStream: enqueueActions(({ context, enqueue }, params: { streamId: string }) => {
      const id = streamActorId(params.streamId);
      enqueue.spawnChild('sdsStream', { id, input: { streamId: params.streamId } });
      enqueue.assign({ streams: [...context.streams, id] });
    }),
    /**
     * A stream actor ended: it is forgotten and let go. A spawned child that reaches its final
     * state stays in the parent's `children` (done) until it is stopped; without `stopChild` every
     * stream Envoy ever opened would stay there for the life of the agent.
     */
    forgetStream: enqueueActions(({ context, enqueue }, params: { actorId: string }) => {
      enqueue.stopChild(params.actorId);
      enqueue.assign({ streams: context.streams.filter((s) => s !== params.actorId) });
    }),
    /** New certificates: every stream sends what changed (the rotation's decision in SDS mode). */
    pushToStreams: enqueueActions(({ context, enqueue }) => {
      for (const id of context.streams) enqueue.sendTo(id, { type: 'SECRETS.CHANGED' });
    }),
    /** An actor failed: a bug in the agent, reported as an internal error. */
    failInternally: assign((_, params: { error: unknown }) => ({
      exitCode: INTERNAL_ERROR_EXIT,
      reason: `internal error: ${params.error instanceof Error ? params.error.message : String(params.error)}`,
    })),
  },
  guards: {
    sdsMode: ({ context }) => deliversOverSds(context),
    isStreamActor: ({ context, event }) =>
      'actorId' in event && typeof event.actorId === 'string' && context.streams.includes(event.actorId),
    isStopSignal: ({ event }) =>
      event.type === 'SIGNAL' && (event.signal === 'SIGTERM' || event.signal === 'SIGINT'),
  },
}).createMachine({
  id: 'agent',
  context: ({ input }) => ({
    lifecycle: input.lifecycle,
    certs: input.certs,
    exitCode: 0,
    reason: '',
    signals: [],
    delivery: input.delivery ?? 'hot-restart',
    streams: [],
  }),
  initial: 'active',
  states: {
    active: {
      description: 'The agent runs: signals are handled and the certificate files watched.',
      entry: 'startSdsServer',
      on: {
        'SDS.STREAM_OPENED': { actions: { type: 'openStream', params: ({ event }) => event } },
        // A stream actor finished: its stream ended (Envoy went away).
        'xstate.done.actor.*': {
          guard: 'isStreamActor',
          actions: {
            type: 'forgetStream',
            params: ({ event }: { event: DoneActorEvent }) => ({ actorId: event.actorId }),
          },
        },
      },
      invoke: [
        { id: 'signals', src: 'osSignals' },
        {
          id: 'certs',
          systemId: SYSTEM_IDS.certs,
          src: 'certRotation',
          input: ({ context }) => context.certs,
        },
      ],
      initial: 'waitingForCerts',
      states: {
        waitingForCerts: {
          description: 'Envoy reads its certificates at start: wait for the first reading.',
          on: {
            'CERTS.READY': 'running',
            SIGNAL: {
              guard: 'isStopSignal',
              target: '#agent.exited',
              actions: [
                { type: 'recordSignal', params: ({ event }) => ({ signal: event.signal, action: 'exit' }) },
                { type: 'setReason', params: { reason: 'stopped before Envoy was started' } },
              ],
            },
            QUIT: {
              target: '#agent.exited',
              actions: { type: 'setReason', params: { reason: 'quit before Envoy was started' } },
            },
          },
        },
        running: {
          description: 'The Envoy lifecycle runs; signals and certificate changes become its commands.',
          invoke: {
            id: 'lifecycle',
            systemId: SYSTEM_IDS.lifecycle,
            src: 'envoyLifecycle',
            input: ({ context }) => context.lifecycle,
            onDone: {
              target: '#agent.exited',
              actions: { type: 'adoptOutcome', params: ({ event }) => event.output },
            },
            onError: {
              target: '#agent.exited',
              actions: { type: 'failInternally', params: ({ event }) => ({ error: event.error }) },
            },
          },
          on: {
            SIGNAL: [
              {
                guard: 'isStopSignal',
                actions: [
                  {
                    type: 'recordSignal',
                    params: ({ event }) => ({ signal: event.signal, action: 'shutdown' }),
                  },
                  sendTo('lifecycle', { type: 'SHUTDOWN' }),
                ],
              },
              {
                actions: [
                  {
                    type: 'recordSignal',
                    params: ({ event }) => ({ signal: event.signal, action: 'hot-restart' }),
                  },
                  sendTo('lifecycle', { type: 'HOT_RESTART', reason: 'SIGHUP' }),
                ],
              },
            ],
            QUIT: { actions: sendTo('lifecycle', { type: 'QUIT' }) },
            DRAIN: { actions: sendTo('lifecycle', { type: 'DRAIN' }) },
            'CERTS.CHANGED': [
              { guard: 'sdsMode', actions: 'pushToStreams' },
              {
                actions: sendTo('lifecycle', ({ event }) => ({
                  type: 'HOT_RESTART' as const,
                  reason: `certificates changed (sha256 ${event.hash.slice(0, 12)})`,
                })),
              },
            ],
          },
        },
      },
    },
    exited: { description: 'The run is over: the lifecycle stopped, or nothing was started.', type: 'final' },
  },
  output: ({ context }) => ({ exitCode: context.exitCode, reason: context.reason }),
});
