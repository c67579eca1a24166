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
import { type DecisionObserver, onDecisions } from './decisions.js';

export function collectWhenSettled(): DecisionObserver {
  const gc = (globalThis as { gc?: () => void }).gc;
  let startedUp = false;
  const collect = () => {
    if (gc) setImmediate(gc).unref();
  };
  return onDecisions({
    // Start-up is over once Envoy is first ready; later readiness (after a crash) is not start-up.
    'envoy.ready': () => {
      if (startedUp) return;
      startedUp = true;
      collect();
    },
    'envoy.hotRestartCompleted': collect,
  });
}
