/**
 * One full garbage collection once Envoy is first ready, and again after each completed hot
 * restart. Start-up (flags, bootstrap rendering, validation) and each hot restart (a whole Envoy
 * epoch rendered, validated and handed over) leave garbage V8 would otherwise keep until its
 * memory reducer runs, and after many rotations the agent's memory would stay above its live
 * size for good (measured: +13 MB after 200 rotations and 30 s idle, against +1 MB with a
 * collection after each one; BENCHMARKS.md). Both are rare; a collection takes milliseconds.
 * `gc` exists when Node runs with --expose-gc, which bin/pilot-agent.js passes; without it this
 * does nothing.
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { LifecycleSnapshot } from '../../machines/readiness.js';

export function collectWhenSettled() {
  const gc = (globalThis as { gc?: () => void }).gc;
  /** The hot-restart count at the last collection; -1 until start-up's. */
  let collectedAt = -1;
  return (ev: InspectionEvent) => {
    if (!gc || ev.type !== '@xstate.snapshot' || (ev.actorRef as AnyActorRef).id !== 'lifecycle') return;
    const snapshot = ev.snapshot as LifecycleSnapshot;
    const hotRestarts = snapshot.context.hotRestarts;
    // Start-up is over once Envoy is ready; a hot restart once it is counted.
    const settled = hotRestarts > 0 || snapshot.hasTag('ready');
    if (!settled || hotRestarts <= collectedAt) return;
    collectedAt = hotRestarts;
    setImmediate(gc).unref();
  };
}
