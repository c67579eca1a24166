/**
 * One shutdown deadline. On a pod's deletion kubelet sends SIGTERM, waits the pod's grace period
 * (`terminationGracePeriodSeconds`, default 30 s), then SIGKILLs whatever is left in the container.
 * A drain configured longer than that is cut short by the SIGKILL, and Envoy never gets its
 * graceful stop (istio/istio#25575; one deadline for everything was proposed in istio/istio#34855).
 *
 * From SIGTERM, the agent's longest path to its exit is:
 *
 *   drain request  ≤ drainRequestMs (`POST /drain_listeners`, retries included)
 *   drain wait     TERMINATION_DRAIN_DURATION_SECONDS; with EXIT_ON_ZERO_ACTIVE_CONNECTIONS,
 *                  MINIMUM_DRAIN_DURATION, then until no connection is left, bounded by
 *                  --drainDuration from the start of the wait: max(minimum, --drainDuration)
 *   SIGTERM to every Envoy, SIGKILL after killGraceMs, then at most stuckTimeoutMs for the exit.
 *
 * Given the grace period (TERMINATION_GRACE_PERIOD_SECONDS) the path must end at least 1 s before
 * kubelet's SIGKILL, so the agent's own exit status and last log lines are not lost:
 *
 *   1. it fits: nothing changes;
 *   2. else the drain wait is shortened to what the stop leaves of the grace period;
 *   3. if even no drain at all does not fit, the drain is skipped and the drain request's bound,
 *      the kill grace and the wait after SIGKILL are scaled down together to fit.
 *
 * kubelet never allows less than 2 s between SIGTERM and SIGKILL (`minimumGracePeriodInSeconds`,
 * kubernetes pkg/kubelet/kuberuntime/kuberuntime_container.go `killContainer`), so a grace period
 * of 0 or 1 plans for 2 s. A pure function of the configuration: the loader logs its warning once at
 * start, and the runtime builds the lifecycle machine's timings from it.
 */

import { formatGoDuration } from '../go/duration.js';
import { AGENT_LIMITS } from './defaults.js';
import type { LifecycleConfig } from './types.js';

/** kubelet's floor between SIGTERM and SIGKILL (`minimumGracePeriodInSeconds`). */
export const KUBELET_MIN_GRACE_MS = 2_000;
/** The agent has exited at least this long before kubelet's SIGKILL. */
export const EXIT_MARGIN_MS = 1_000;

export type ShutdownConfig = Pick<
  LifecycleConfig,
  | 'terminationGracePeriodMs'
  | 'terminationDrainMs'
  | 'exitOnZeroActiveConnections'
  | 'minimumDrainMs'
  | 'maximumDrainMs'
  | 'killGraceMs'
>;

export interface ShutdownLimits {
  stuckTimeoutMs: number;
  drainRequestMs: number;
}

/** The timings the lifecycle machine and the drain request run with. */
export interface ShutdownTimings {
  drainRequestMs: number;
  terminationDrainMs: number;
  minimumDrainMs: number;
  maximumDrainMs: number;
  killGraceMs: number;
  stuckTimeoutMs: number;
}

export interface ShutdownPlan {
  timings: ShutdownTimings;
  /** Longest time from SIGTERM to every Envoy gone, with these timings. */
  worstCaseMs: number;
  /** What the shutdown must fit in (grace period, at least kubelet's 2 s, less 1 s); null without one. */
  budgetMs: number | null;
  /** One line saying what was shortened and why; null when nothing was. */
  warning: string | null;
}

/** The drain wait's longest duration (after the drain request, before Envoy is stopped). */
export function drainWaitMs(
  config: Pick<ShutdownConfig, 'exitOnZeroActiveConnections'>,
  timings: Pick<ShutdownTimings, 'terminationDrainMs' | 'minimumDrainMs' | 'maximumDrainMs'>,
): number {
  return config.exitOnZeroActiveConnections
    ? Math.max(timings.minimumDrainMs, timings.maximumDrainMs)
    : timings.terminationDrainMs;
}

function worstCase(config: ShutdownConfig, t: ShutdownTimings): number {
  return t.drainRequestMs + drainWaitMs(config, t) + t.killGraceMs + t.stuckTimeoutMs;
}

const fmt = formatGoDuration;

function describeDrain(config: ShutdownConfig): string {
  return config.exitOnZeroActiveConnections
    ? `drain of up to ${fmt(Math.max(config.minimumDrainMs, config.maximumDrainMs))} (EXIT_ON_ZERO_ACTIVE_CONNECTIONS: MINIMUM_DRAIN_DURATION ${fmt(config.minimumDrainMs)}, then at most --drainDuration ${fmt(config.maximumDrainMs)})`
    : `drain of ${fmt(config.terminationDrainMs)} (TERMINATION_DRAIN_DURATION_SECONDS)`;
}

function describeGrace(graceMs: number): string {
  const floor =
    graceMs < KUBELET_MIN_GRACE_MS ? `, which kubelet raises to ${fmt(KUBELET_MIN_GRACE_MS)}` : '';
  return `the pod's grace period of ${fmt(graceMs)} (TERMINATION_GRACE_PERIOD_SECONDS${floor})`;
}

export function shutdownPlan(config: ShutdownConfig, limits: ShutdownLimits = AGENT_LIMITS): ShutdownPlan {
  const configured: ShutdownTimings = {
    drainRequestMs: limits.drainRequestMs,
    terminationDrainMs: config.terminationDrainMs,
    minimumDrainMs: config.minimumDrainMs,
    maximumDrainMs: config.maximumDrainMs,
    killGraceMs: config.killGraceMs,
    stuckTimeoutMs: limits.stuckTimeoutMs,
  };
  const grace = config.terminationGracePeriodMs;
  if (grace === null) {
    return { timings: configured, worstCaseMs: worstCase(config, configured), budgetMs: null, warning: null };
  }
  const budget = Math.max(grace, KUBELET_MIN_GRACE_MS) - EXIT_MARGIN_MS;
  const stop = configured.drainRequestMs + configured.killGraceMs + configured.stuckTimeoutMs;
  const worst = worstCase(config, configured);
  if (worst <= budget) return { timings: configured, worstCaseMs: worst, budgetMs: budget, warning: null };

  let timings: ShutdownTimings;
  let outcome: string;
  if (stop <= budget) {
    const drain = budget - stop;
    // Each drain setting capped at what is left: the wait, in either mode, is then exactly `drain`
    // (it was longer), and a zero-connection minimum that fits is kept.
    timings = {
      ...configured,
      terminationDrainMs: Math.min(configured.terminationDrainMs, drain),
      minimumDrainMs: Math.min(configured.minimumDrainMs, drain),
      maximumDrainMs: Math.min(configured.maximumDrainMs, drain),
    };
    outcome = config.exitOnZeroActiveConnections
      ? `the drain is shortened to at most ${fmt(drain)} (minimum ${fmt(timings.minimumDrainMs)})`
      : `the drain is shortened to ${fmt(drain)}`;
  } else {
    const scale = budget / stop;
    const drainRequestMs = Math.floor(configured.drainRequestMs * scale);
    const killGraceMs = Math.floor(configured.killGraceMs * scale);
    timings = {
      drainRequestMs,
      terminationDrainMs: 0,
      minimumDrainMs: 0,
      maximumDrainMs: 0,
      killGraceMs,
      stuckTimeoutMs: budget - drainRequestMs - killGraceMs,
    };
    outcome = `the drain is skipped, and the drain request, the kill grace and the wait after SIGKILL are shortened to ${fmt(drainRequestMs)}, ${fmt(killGraceMs)} and ${fmt(timings.stuckTimeoutMs)}`;
  }
  const warning =
    `The ${describeDrain(config)} and up to ${fmt(stop)} to request it and stop Envoy do not fit in ${describeGrace(grace)} ` +
    `less ${fmt(EXIT_MARGIN_MS)} before kubelet's SIGKILL: ${outcome}`;
  return { timings, worstCaseMs: worstCase(config, timings), budgetMs: budget, warning };
}
