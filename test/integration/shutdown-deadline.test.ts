/**
 * One shutdown deadline, through the real CLI and the Envoy simulator: given the pod's grace period
 * (TERMINATION_GRACE_PERIOD_SECONDS), a drain or a kill grace that would outlast kubelet's SIGKILL
 * is shortened with one warning at start, and the agent has stopped Envoy and exited 0 at least
 * 1 s before the grace period ends.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRun } from '../helpers/agent-process.js';
import { agentsStoppedAfterEach } from '../helpers/agents.js';
import { waitUntil } from '../helpers/wait.js';

const agent = agentsStoppedAfterEach();

const messages = (run: AgentRun) =>
  run.lines.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as { level?: string; msg?: string };
      return [parsed];
    } catch {
      return [];
    }
  });

const shorteningWarnings = (run: AgentRun) =>
  messages(run).filter((m) => m.level === 'warn' && m.msg?.includes('TERMINATION_GRACE_PERIOD_SECONDS'));

describe('shutdown within the pod grace period', () => {
  it('shortens a 30 s drain to fit a 14 s grace period: one warning at start, exit 0 by 13 s', async () => {
    const run = await agent({
      env: { TERMINATION_DRAIN_DURATION_SECONDS: '30', TERMINATION_GRACE_PERIOD_SECONDS: '14' },
    });
    await run.waitReady();
    // Said once, before Envoy was started.
    expect(shorteningWarnings(run).map((m) => m.msg)).toEqual([
      "The drain of 30s (TERMINATION_DRAIN_DURATION_SECONDS) and up to 11s to request it and stop Envoy do not fit in the pod's grace period of 14s (TERMINATION_GRACE_PERIOD_SECONDS) less 1s before kubelet's SIGKILL: the drain is shortened to 2s",
    ]);
    const warnedAt = run.lines.findIndex((l) => l.includes('TERMINATION_GRACE_PERIOD_SECONDS'));
    const listeningAt = run.lines.findIndex((l) => l.includes('status server listening'));
    expect(warnedAt).toBeGreaterThanOrEqual(0);
    expect(warnedAt).toBeLessThan(listeningAt);

    const signalledAt = Date.now();
    run.signal('SIGTERM');
    const { code, at } = await run.exited;
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThanOrEqual(13_000);
    // The drain was shortened, not dropped: Envoy got its SIGTERM 2 s after the drain request.
    const drained = run.adminCalls().find((r) => r.path === '/drain_listeners?inboundonly&graceful');
    const stopped = run.records().find((r) => r.event === 'signal' && r.name === 'SIGTERM');
    expect(drained).toBeDefined();
    expect(stopped).toBeDefined();
    expect((stopped?.t ?? 0) - (drained?.t ?? 0)).toBeGreaterThanOrEqual(2_000);
    expect(shorteningWarnings(run)).toHaveLength(1);
    await waitUntil(() => run.leftovers().length === 0, 'every Envoy process gone', { timeoutMs: 5_000 });
  });

  it('with a 3 s grace period, SIGKILLs an Envoy that ignores SIGTERM in time and exits 0 by 2 s', async () => {
    const run = await agent({
      env: { TERMINATION_DRAIN_DURATION_SECONDS: '5', TERMINATION_GRACE_PERIOD_SECONDS: '3' },
      sim: { IGNORE_SIGTERM: '1' },
    });
    await run.waitReady();
    expect(shorteningWarnings(run).map((m) => m.msg)).toEqual([
      "The drain of 5s (TERMINATION_DRAIN_DURATION_SECONDS) and up to 11s to request it and stop Envoy do not fit in the pod's grace period of 3s (TERMINATION_GRACE_PERIOD_SECONDS) less 1s before kubelet's SIGKILL: the drain is skipped, and the drain request, the kill grace and the wait after SIGKILL are shortened to 181ms, 909ms and 910ms",
    ]);
    const signalledAt = Date.now();
    run.signal('SIGTERM');
    const { code, at } = await run.exited;
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThanOrEqual(2_000);
    // Envoy received the SIGTERM it ignored; the SIGKILL that followed left nothing behind.
    expect(run.records().some((r) => r.event === 'signal' && r.name === 'SIGTERM')).toBe(true);
    expect(run.leftovers()).toEqual([]);
    expect(shorteningWarnings(run)).toHaveLength(1);
  });
});
