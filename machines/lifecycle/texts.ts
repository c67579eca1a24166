/**
 * The lifecycle's own sentences: how an exit and a failed hot restart are described in the exit
 * reason, the readiness reason and the hot-restart notice.
 */
import type { ExitedEvent, LifecycleContext } from './types.js';

export const describeExit = (e: { code: number | null; signal: string | null }): string =>
  e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function hotRestartFailureText(event: ExitedEvent): string {
  switch (event.failure) {
    case 'still-initializing':
      return `epoch ${event.epoch} refused: previous envoy process is still initializing`;
    case 'parent-gone':
      return `epoch ${event.epoch} found no parent to hand over from`;
    case 'socket-in-use':
      return `epoch ${event.epoch} could not bind its hot-restart socket (base id in use?)`;
    default:
      return `epoch ${event.epoch} ${describeExit(event)} during the hot restart`;
  }
}

/** Why the parent can no longer be hot-restarted (see the `parentUnusable` guard). */
export function unusableParentText(context: LifecycleContext, event: ExitedEvent): string {
  return context.adminMoved
    ? `${hotRestartFailureText(event)} after taking the admin port`
    : `${hotRestartFailureText(event)} (Envoy keeps the flag set by the failed child until a fresh epoch 0)`;
}
