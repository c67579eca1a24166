/**
 * OS signals as events. While this actor lives, SIGTERM/SIGINT/SIGHUP no longer terminate Node by
 * default: the root machine decides (drain, stop, hot restart). The handlers go away with the
 * actor, when the root reaches its final state.
 */
import { type EventObject, fromCallback } from 'xstate';
import type { AgentEvent, AgentSignal } from '../../machines/agent.js';

const SIGNALS: readonly AgentSignal[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export const osSignalsActor = fromCallback<EventObject, void>(({ sendBack }) => {
  const handlers = SIGNALS.map((signal) => {
    const handler = () => sendBack({ type: 'SIGNAL', signal } satisfies AgentEvent);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
});
