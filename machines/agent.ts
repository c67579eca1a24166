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
import { assign, type EventObject, fromCallback, sendTo, setup } from 'xstate';
import { EXIT_CODES } from '../src/errors.js';
import { type CertRotationSettings, certRotationMachine } from './cert-rotation.js';
import { envoyLifecycleMachine, type LifecycleInput, type LifecycleOutput } from './envoy-lifecycle.js';

export type AgentSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

export type AgentEvent =
  | { type: 'SIGNAL'; signal: AgentSignal }
  | { type: 'QUIT' }
  | { type: 'DRAIN' }
  | { type: 'CERTS.READY'; hash: string }
  | { type: 'CERTS.CHANGED'; hash: string };

export interface AgentInput {
  lifecycle: LifecycleInput;
  certs: { settings: CertRotationSettings };
}

export interface AgentContext {
  lifecycle: LifecycleInput;
  certs: { settings: CertRotationSettings };
  exitCode: number;
  reason: string;
  /** Signals received, for the operator's log and /debug. */
  signals: AgentSignal[];
}

/** Exit code when the agent itself fails (an actor error): a bug, reported as such. */
export const INTERNAL_ERROR_EXIT = EXIT_CODES.internal;

export const agentMachine = setup({
  types: {
    context: {} as AgentContext,
    events: {} as AgentEvent,
    input: {} as AgentInput,
    output: {} as LifecycleOutput,
  },
  actors: {
    envoyLifecycle: envoyLifecycleMachine,
    certRotation: certRotationMachine,
    /** Delivers SIGTERM/SIGINT/SIGHUP as SIGNAL events (src/runtime/signals.ts). */
    osSignals: fromCallback<EventObject, void>(() => {
      throw new Error('osSignals is not provided: the runtime must .provide() it');
    }),
  },
  actions: {
    recordSignal: assign({
      signals: ({ context }, params: { signal: AgentSignal }) =>
        [...context.signals, params.signal].slice(-10),
    }),
  },
  guards: {
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
  }),
  initial: 'active',
  states: {
    active: {
      invoke: [
        { id: 'signals', src: 'osSignals' },
        { id: 'certs', systemId: 'certs', src: 'certRotation', input: ({ context }) => context.certs },
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
                { type: 'recordSignal', params: ({ event }) => event },
                assign({ reason: 'stopped before Envoy was started' }),
              ],
            },
            QUIT: { target: '#agent.exited', actions: assign({ reason: 'quit before Envoy was started' }) },
          },
        },
        running: {
          invoke: {
            id: 'lifecycle',
            systemId: 'lifecycle',
            src: 'envoyLifecycle',
            input: ({ context }) => context.lifecycle,
            onDone: {
              target: '#agent.exited',
              actions: assign({
                exitCode: ({ event }) => event.output.exitCode,
                reason: ({ event }) => event.output.reason,
              }),
            },
            onError: {
              target: '#agent.exited',
              actions: assign({
                exitCode: INTERNAL_ERROR_EXIT,
                reason: ({ event }) =>
                  `internal error: ${event.error instanceof Error ? event.error.message : String(event.error)}`,
              }),
            },
          },
          on: {
            SIGNAL: [
              {
                guard: 'isStopSignal',
                actions: [
                  { type: 'recordSignal', params: ({ event }) => event },
                  sendTo('lifecycle', { type: 'SHUTDOWN' }),
                ],
              },
              {
                actions: [
                  { type: 'recordSignal', params: ({ event }) => event },
                  sendTo('lifecycle', { type: 'HOT_RESTART', reason: 'SIGHUP' }),
                ],
              },
            ],
            QUIT: { actions: sendTo('lifecycle', { type: 'QUIT' }) },
            DRAIN: { actions: sendTo('lifecycle', { type: 'DRAIN' }) },
            'CERTS.CHANGED': {
              actions: sendTo('lifecycle', ({ event }) => ({
                type: 'HOT_RESTART' as const,
                reason: `certificates changed (sha256 ${event.hash.slice(0, 12)})`,
              })),
            },
          },
        },
      },
    },
    exited: { type: 'final' },
  },
  output: ({ context }) => ({ exitCode: context.exitCode, reason: context.reason }),
});
