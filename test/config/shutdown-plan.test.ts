/**
 * The shutdown plan: the agent's longest path from SIGTERM to its exit (drain request, drain wait,
 * SIGTERM to Envoy, SIGKILL after the kill grace, the wait for the exit) must end 1 s before
 * kubelet's SIGKILL at the pod's grace period.
 */
import { describe, expect, it } from 'vitest';
import { AGENT_LIMITS, DEFAULT_LIFECYCLE } from '../../src/config/defaults.js';
import { type ShutdownConfig, shutdownPlan } from '../../src/config/shutdown-plan.js';

const s = (seconds: number) => seconds * 1000;

function config(overrides: Partial<ShutdownConfig>): ShutdownConfig {
  return {
    terminationGracePeriodMs: null,
    terminationDrainMs: s(5),
    exitOnZeroActiveConnections: false,
    minimumDrainMs: s(5),
    maximumDrainMs: s(45),
    killGraceMs: DEFAULT_LIFECYCLE.killGraceMs,
    ...overrides,
  };
}

interface Row {
  case: string;
  given: Partial<ShutdownConfig>;
  /** Expected timings in ms: drain request, drain wait (termination / minimum / maximum), kill grace, wait after SIGKILL. */
  request: number;
  drain: [number, number, number];
  killGrace: number;
  stuck: number;
  worst: number;
  warns: boolean;
}

// Defaults: drain request ≤ 1 s, kill grace 5 s, wait after SIGKILL 5 s: 11 s to stop Envoy.
const TABLE: Row[] = [
  {
    case: 'no grace period: as configured',
    given: { terminationDrainMs: s(45) },
    request: 1000,
    drain: [s(45), s(5), s(45)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(56),
    warns: false,
  },
  {
    case: "Istio's 5 s drain in Kubernetes' default 30 s: fits",
    given: { terminationGracePeriodMs: s(30) },
    request: 1000,
    drain: [s(5), s(5), s(45)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(16),
    warns: false,
  },
  {
    case: 'exactly 1 s before SIGKILL: fits',
    given: { terminationDrainMs: s(18), terminationGracePeriodMs: s(30) },
    request: 1000,
    drain: [s(18), s(5), s(45)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(29),
    warns: false,
  },
  {
    case: '1 s too long: the drain is shortened',
    given: { terminationDrainMs: s(19), terminationGracePeriodMs: s(30) },
    request: 1000,
    drain: [s(18), s(5), s(18)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(29),
    warns: true,
  },
  {
    case: 'a 45 s drain in 30 s: shortened to 18 s',
    given: { terminationDrainMs: s(45), terminationGracePeriodMs: s(30) },
    request: 1000,
    drain: [s(18), s(5), s(18)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(29),
    warns: true,
  },
  {
    case: 'zero connections bounded by --drainDuration 45 s in 30 s: bound 18 s, minimum kept',
    given: { exitOnZeroActiveConnections: true, terminationGracePeriodMs: s(30) },
    request: 1000,
    drain: [s(5), s(5), s(18)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(29),
    warns: true,
  },
  {
    case: 'zero connections with a minimum longer than what is left: both 18 s',
    given: { exitOnZeroActiveConnections: true, minimumDrainMs: s(20), terminationGracePeriodMs: s(30) },
    request: 1000,
    drain: [s(5), s(18), s(18)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(29),
    warns: true,
  },
  {
    case: 'zero connections within --drainDuration 10 s: fits (TERMINATION_DRAIN_DURATION is not used)',
    given: {
      exitOnZeroActiveConnections: true,
      terminationDrainMs: s(60),
      maximumDrainMs: s(10),
      terminationGracePeriodMs: s(30),
    },
    request: 1000,
    drain: [s(60), s(5), s(10)],
    killGrace: 5000,
    stuck: 5000,
    worst: s(21),
    warns: false,
  },
  {
    case: 'only the stop fits: no drain wait',
    given: { terminationGracePeriodMs: s(12) },
    request: 1000,
    drain: [0, 0, 0],
    killGrace: 5000,
    stuck: 5000,
    worst: s(11),
    warns: true,
  },
  {
    case: 'not even the stop fits: drain skipped, the stop scaled to 5 s',
    given: { terminationGracePeriodMs: s(6) },
    request: 454,
    drain: [0, 0, 0],
    killGrace: 2272,
    stuck: 2274,
    worst: s(5),
    warns: true,
  },
  {
    case: 'grace period 0: kubelet still allows 2 s, the stop is scaled to 1 s',
    given: { terminationGracePeriodMs: 0 },
    request: 90,
    drain: [0, 0, 0],
    killGrace: 454,
    stuck: 456,
    worst: s(1),
    warns: true,
  },
  {
    case: 'grace period 1 s: the same as kubelet’s 2 s floor',
    given: { terminationGracePeriodMs: s(1) },
    request: 90,
    drain: [0, 0, 0],
    killGrace: 454,
    stuck: 456,
    worst: s(1),
    warns: true,
  },
];

describe('shutdownPlan', () => {
  it.each(TABLE)('$case', (row) => {
    const plan = shutdownPlan(config(row.given));
    expect(plan.timings).toEqual({
      drainRequestMs: row.request,
      terminationDrainMs: row.drain[0],
      minimumDrainMs: row.drain[1],
      maximumDrainMs: row.drain[2],
      killGraceMs: row.killGrace,
      stuckTimeoutMs: row.stuck,
    });
    expect(plan.worstCaseMs).toBe(row.worst);
    expect(plan.warning !== null).toBe(row.warns);
    const grace = row.given.terminationGracePeriodMs;
    if (grace !== undefined && grace !== null) {
      expect(plan.budgetMs).toBe(Math.max(grace, 2000) - 1000);
      expect(plan.worstCaseMs).toBeLessThanOrEqual(plan.budgetMs ?? 0);
    } else {
      expect(plan.budgetMs).toBeNull();
    }
  });

  it('names the configured drain, the grace period and what the drain became, in one line', () => {
    expect(shutdownPlan(config({ terminationDrainMs: s(45), terminationGracePeriodMs: s(30) })).warning).toBe(
      "The drain of 45s (TERMINATION_DRAIN_DURATION_SECONDS) and up to 11s to request it and stop Envoy do not fit in the pod's grace period of 30s (TERMINATION_GRACE_PERIOD_SECONDS) less 1s before kubelet's SIGKILL: the drain is shortened to 18s",
    );
    expect(
      shutdownPlan(config({ exitOnZeroActiveConnections: true, terminationGracePeriodMs: s(30) })).warning,
    ).toBe(
      "The drain of up to 45s (EXIT_ON_ZERO_ACTIVE_CONNECTIONS: MINIMUM_DRAIN_DURATION 5s, then at most --drainDuration 45s) and up to 11s to request it and stop Envoy do not fit in the pod's grace period of 30s (TERMINATION_GRACE_PERIOD_SECONDS) less 1s before kubelet's SIGKILL: the drain is shortened to at most 18s (minimum 5s)",
    );
    expect(shutdownPlan(config({ terminationGracePeriodMs: 0 })).warning).toBe(
      "The drain of 5s (TERMINATION_DRAIN_DURATION_SECONDS) and up to 11s to request it and stop Envoy do not fit in the pod's grace period of 0s (TERMINATION_GRACE_PERIOD_SECONDS, which kubelet raises to 2s) less 1s before kubelet's SIGKILL: the drain is skipped, and the drain request, the kill grace and the wait after SIGKILL are shortened to 90ms, 454ms and 456ms",
    );
  });

  it('always fits the budget and never lengthens anything, over a grid of settings', () => {
    for (const zero of [false, true]) {
      for (let grace = 0; grace <= 90; grace += 3) {
        for (let drain = 0; drain <= 90; drain += 7) {
          for (const minimum of [0, 5, 30]) {
            const given = config({
              exitOnZeroActiveConnections: zero,
              terminationDrainMs: s(drain),
              maximumDrainMs: s(drain),
              minimumDrainMs: s(minimum),
              terminationGracePeriodMs: s(grace),
            });
            const plan = shutdownPlan(given);
            const { timings: t } = plan;
            expect(plan.worstCaseMs).toBeLessThanOrEqual(Math.max(s(grace), 2000) - 1000);
            expect(t.terminationDrainMs).toBeLessThanOrEqual(given.terminationDrainMs);
            expect(t.minimumDrainMs).toBeLessThanOrEqual(given.minimumDrainMs);
            expect(t.maximumDrainMs).toBeLessThanOrEqual(given.maximumDrainMs);
            expect(t.killGraceMs).toBeLessThanOrEqual(given.killGraceMs);
            expect(t.stuckTimeoutMs).toBeLessThanOrEqual(AGENT_LIMITS.stuckTimeoutMs);
            expect(t.drainRequestMs).toBeLessThanOrEqual(AGENT_LIMITS.drainRequestMs);
            expect(Object.values(t).every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
            // Shortened only when it did not fit, and then exactly to the budget.
            const untouched = shutdownPlan({ ...given, terminationGracePeriodMs: null });
            if (untouched.worstCaseMs <= Math.max(s(grace), 2000) - 1000) {
              expect(plan.warning).toBeNull();
              expect(t).toEqual(untouched.timings);
            } else {
              expect(plan.warning).not.toBeNull();
              expect(plan.worstCaseMs).toBe(Math.max(s(grace), 2000) - 1000);
            }
          }
        }
      }
    }
  });
});
