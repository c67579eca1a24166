/**
 * One full garbage collection after each completed hot restart. A hot restart renders, validates
 * and hands over a whole Envoy epoch; V8 keeps the heap it grew for that, and after many rotations
 * the agent's memory would stay above its live size for good (measured: +13 MB after 200 rotations
 * and 30 s idle, against +1 MB with a collection after each one; BENCHMARKS.md). Rotations are rare,
 * the collection takes milliseconds. `gc` exists when Node runs with --expose-gc, which
 * bin/pilot-agent.js passes; without it this does nothing.
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { LifecycleSnapshot } from '../../machines/readiness.js';

export function collectAfterHotRestarts() {
  const gc = (globalThis as { gc?: () => void }).gc;
  let done = 0;
  return (ev: InspectionEvent) => {
    if (!gc || ev.type !== '@xstate.snapshot' || (ev.actorRef as AnyActorRef).id !== 'lifecycle') return;
    const hotRestarts = (ev.snapshot as LifecycleSnapshot).context.hotRestarts;
    if (hotRestarts <= done) return;
    done = hotRestarts;
    setImmediate(gc).unref();
  };
}
