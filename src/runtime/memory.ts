/**
 * One full garbage collection once Envoy is first ready, again after each completed hot restart,
 * and in SDS mode once Envoy has acknowledged the secrets pushed for a rotation. Start-up (flags,
 * bootstrap rendering, validation), each hot restart (a whole Envoy epoch rendered, validated and
 * handed over) and each push (files read, checked, encoded and sent on every stream) leave garbage
 * V8 would otherwise keep until its memory reducer runs, and after many rotations the agent's
 * memory would stay above its live size for good (measured after 200 rotations and 30 s idle:
 * +13 MB by hot restart and +8 MB over SDS without these collections, about +2 MB with them;
 * BENCHMARKS.md). All are rare; a collection takes milliseconds.
 * `gc` exists when Node runs with --expose-gc, which bin/pilot-agent.js passes; without it this
 * does nothing.
 */
import { type DecisionObserver, onDecisions } from './decisions.js';

/** After Envoy acknowledges pushed secrets, the quiet time before one collection (streams ACK in a burst). */
const AFTER_PUSH_MS = 250;

export function collectWhenSettled(): DecisionObserver {
  const gc = (globalThis as { gc?: () => void }).gc;
  let startedUp = false;
  let pending: NodeJS.Timeout | undefined;
  const collect = () => {
    if (gc) setImmediate(gc).unref();
  };
  /** One collection once a burst of ACKs is over: a rotation is ACKed on each of Envoy's streams. */
  const collectAfterPushes = () => {
    if (!gc) return;
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => {
      pending = undefined;
      gc();
    }, AFTER_PUSH_MS);
    pending.unref();
  };
  return onDecisions({
    // Start-up is over once Envoy is first ready; later readiness (after a crash) is not start-up.
    'envoy.ready': () => {
      if (startedUp) return;
      startedUp = true;
      collect();
    },
    'envoy.hotRestartCompleted': collect,
    // SDS mode: a rotation delivered in place (read, encoded, pushed on every stream, applied).
    'sds.acked': collectAfterPushes,
  });
}
