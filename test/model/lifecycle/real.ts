/**
 * Runs a lifecycle path against the real agent (`bin/pilot-agent.js proxy`, built) and the Envoy
 * simulator, observed only from outside.
 *
 * Events become real actions: SHUTDOWN → SIGTERM to the agent, HOT_RESTART → SIGHUP, QUIT → POST
 * /quitquitquit and DRAIN → POST /drain on the status port, a crash of an Envoy process → that
 * signal to its pid, "exits 0" → SIGTERM to its pid (Envoy exits 0). The rest — renders, spawns,
 * admin statuses, timers, exits the agent causes itself, and faults armed through ENVOY_SIM_*
 * switches — happen on their own; the run waits for them.
 *
 * States become observations, each awaited with a deadline:
 * - the agent's transition log (one JSON line per lifecycle state change) reaches the model's state
 *   value, in path order, with the model's readiness, epoch and restart count;
 * - Envoy processes (pid of the n-th spawn = process seq n, from the simulator's record file): every
 *   process the model has forgotten is dead, the current one is alive;
 * - admin calls the simulator recorded: `/drain_listeners` (with `skip_exit` when held) in draining
 *   states, SIGTERM received by the processes the step signals;
 * - timers: the time between arming and firing is at least the model's delay;
 * - at the end: the agent's exit code is the model's, no Envoy is left, it started as many Envoy
 *   processes as the model, and every readiness probe answered during the run (sampled every 25 ms)
 *   agrees with the state logged at that time (and, where a scenario says so, never dropped before
 *   the test asked the agent to stop, or before a given state).
 */

import { expect } from 'vitest';
import type { AnyEventObject } from 'xstate';
import type { TestParam } from 'xstate/graph';
import type { envoyLifecycleMachine } from '../../../machines/envoy-lifecycle.js';
import { readinessOf } from '../../../machines/readiness.js';
import {
  type AgentRun,
  alive,
  httpGet,
  type SimRecord,
  sampleReadiness,
  startAgent,
} from '../../helpers/agent-process.js';
import { waitUntil } from '../../helpers/wait.js';
import { type GeneratedPath, labelOf, stateText } from '../core/paths.js';
import { stepRecord } from '../core/timed-model.js';
import type { LifecycleSnap } from './model.js';
import type { Scenario } from './scenarios.js';

interface LogLine {
  index: number;
  time: number;
  to: string;
  event: string;
  ready: boolean;
  epoch: number;
  restarts: number;
  notice: string | null;
}

function transitionLog(run: AgentRun): LogLine[] {
  const out: LogLine[] = [];
  run.lines.forEach((line, index) => {
    if (!line.startsWith('{') || !line.includes('"to"')) return;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (typeof j.to !== 'string' || typeof j.msg !== 'string' || !j.msg.startsWith('envoy lifecycle'))
        return;
      out.push({
        index,
        time: Date.parse(String(j.time)),
        to: j.to,
        event: String(j.event),
        ready: j.ready === true,
        epoch: Number(j.epoch),
        restarts: Number(j.restarts),
        notice: typeof j.notice === 'string' ? j.notice : null,
      });
    } catch {
      // not a log line of ours
    }
  });
  return out;
}

const EXIT_SIGNAL = /^EXITED (current|next)#\d+ (SIGSEGV|SIGKILL|SIGABRT)$/;
/** Exits only Envoy itself can produce (hot-restart failures): a scenario must arm them. */
const EXIT_FAILURE = /^EXITED next#\d+ (still-initializing|parent-gone|socket-in-use)$/;
const EXIT_ZERO = /^EXITED current#\d+ code 0$/;

export interface RealRunReport {
  states: string[];
  exitCode: number | null;
  ms: number;
  /** Readiness answers compared with the model: at stable states, and sampled during the run. */
  probes: number;
}

export async function runRealPath(
  scenario: Scenario,
  path: GeneratedPath<typeof envoyLifecycleMachine>,
  settings: LifecycleSnap['context']['settings'],
): Promise<RealRunReport> {
  const setup = scenario.real ?? {};
  const started = Date.now();
  const run = await startAgent({
    args: ['--restartBudget', String(settings.restartBudget)],
    env: setup.env ?? {},
    sim: setup.sim ?? {},
  });
  const sampler = sampleReadiness(run);
  /** Spawned Envoy processes in spawn order: pid of process seq n is spawns()[n - 1]. */
  const spawns = () =>
    run
      .starts()
      .filter((r: SimRecord) => !(r.argv ?? []).includes('validate'))
      .map((r) => r.pid);
  const pidOfSeq = async (seq: number) => {
    await waitUntil(() => spawns().length >= seq, `Envoy process #${seq} started`);
    return spawns()[seq - 1] as number;
  };

  let matched = -1;
  let previousValue = '';
  const stepTimes: (number | undefined)[] = [];
  const visited: string[] = [];
  let stepIndex = -1;
  let probes = 0;
  /** When the test first asked the agent to stop or drain (readiness may drop from then on). */
  let unreadyFrom: number | undefined;
  let last: LifecycleSnap | undefined;

  const act = async (model: LifecycleSnap) => {
    const rec = stepRecord(model);
    if (!rec) throw new Error('model step without record');
    const label = labelOf(rec.event);
    if (rec.event.type === 'xstate.init') return;
    if ((setup.selfDriven ?? []).includes(label)) return;
    const ev = rec.event as AnyEventObject & { seq?: number };
    if (['SHUTDOWN', 'QUIT', 'DRAIN'].includes(label)) unreadyFrom ??= Date.now();
    if (label === 'SHUTDOWN') run.signal('SIGTERM');
    else if (label === 'HOT_RESTART') run.signal('SIGHUP');
    else if (label === 'QUIT')
      expect((await httpGet(run.statusPort, '/quitquitquit', 'POST')).status).toBe(200);
    else if (label === 'DRAIN') expect((await httpGet(run.statusPort, '/drain', 'POST')).status).toBe(200);
    else if (EXIT_SIGNAL.test(label) || EXIT_ZERO.test(label)) {
      const pid = await pidOfSeq(ev.seq ?? 0);
      const signal = EXIT_ZERO.test(label)
        ? 'SIGTERM'
        : ((label.split(' ').at(-1) ?? 'SIGKILL') as NodeJS.Signals);
      if (alive(pid)) process.kill(pid, signal);
    } else if (EXIT_FAILURE.test(label)) throw new Error(`${label} must be self-driven (a simulator fault)`);
    // Everything else (renders, spawns, statuses, timers, exits the agent caused) happens on its own.
  };

  const observe = async (model: LifecycleSnap) => {
    stepIndex += 1;
    last = model;
    const rec = stepRecord(model);
    const value = stateText(model.value);
    const readiness = readinessOf(model);
    if (value !== previousValue) {
      // The agent logs each state change: wait for this one, after the previous match.
      let line: LogLine | undefined;
      await waitUntil(
        () => {
          line = transitionLog(run).find((l) => l.index > matched && l.to === value);
          return line !== undefined;
        },
        `the agent's lifecycle reaches ${value} (path step ${stepIndex}: ${rec ? labelOf(rec.event) : ''})`,
        { timeoutMs: 15_000 },
      );
      const l = line as LogLine;
      matched = l.index;
      stepTimes[stepIndex] = l.time;
      expect(l.ready, `readiness logged on entering ${value}`).toBe(readiness.ready);
      expect(l.epoch, `epoch logged on entering ${value}`).toBe(model.context.epoch);
      expect(l.restarts, `restarts logged on entering ${value}`).toBe(model.context.restarts);
      expect(l.notice, `hot-restart notice logged on entering ${value}`).toBe(model.context.notice);
      visited.push(value);
      await probeIfStable(model, value);
    } else if (rec?.event.type === 'EPOCH.EXITED') {
      const seq = (rec.event as AnyEventObject & { seq: number }).seq;
      const pid = await pidOfSeq(seq);
      await waitUntil(() => !alive(pid), `Envoy process #${seq} (pid ${pid}) exited`);
    }
    previousValue = value;

    // Timers: never earlier than the model's delay, measured between the two log lines.
    if (rec?.event.type.startsWith('xstate.after.') && stepTimes[stepIndex] !== undefined) {
      const armedAt = [...path.testPath.steps.keys()]
        .filter((j) => j < stepIndex)
        .reverse()
        .find((j) => {
          const r = stepRecord(path.testPath.steps[j]?.state as LifecycleSnap);
          return r?.actions.some(
            (a) => a.type === 'xstate.raise' && (a.params as { id?: string }).id === rec.event.type,
          );
        });
      const t0 = armedAt === undefined ? undefined : stepTimes[armedAt];
      if (t0 !== undefined) {
        expect((stepTimes[stepIndex] ?? 0) - t0, `${rec.event.type} waited its delay`).toBeGreaterThanOrEqual(
          rec.elapsed - 10,
        );
      }
    }

    // Processes: the ones the machine has forgotten are gone; the current one runs.
    if (model.status === 'active') {
      const tracked = new Set(model.context.procs.map((p) => p.seq));
      for (let seq = 1; seq <= model.context.seq; seq++) {
        if (tracked.has(seq)) continue;
        const pid = await pidOfSeq(seq);
        expect(alive(pid), `Envoy process #${seq} (pid ${pid}) was forgotten, so it has exited`).toBe(false);
      }
      const current = model.context.procs.find((p) => p.role === 'current' && p.pid !== null);
      const nextLabel = path.labels[stepIndex] ?? '';
      if (current && !(setup.selfDriven ?? []).includes(nextLabel) && value !== 'stopping') {
        // The agent may have moved on by now (the next step is not the test's): then the process
        // must not have ended before the agent logged leaving this state.
        const pid = await pidOfSeq(current.seq);
        if (!alive(pid)) {
          const exit = run.records().find((r) => r.pid === pid && r.event === 'exit');
          const left = transitionLog(run).find(
            (l) => l.index > matched && (exit === undefined || l.time <= exit.t + 5),
          );
          expect(
            left?.to,
            `the current Envoy (#${current.seq}, pid ${pid}) runs in ${value}: it is gone, and the agent had not left ${value} before it ended`,
          ).toBeDefined();
        }
      }
    }

    // Admin calls: a drain asks Envoy to drain its inbound listeners (and not to exit when held).
    if (model.matches('draining') && !model.matches({ draining: 'requesting' })) {
      const want = `/drain_listeners?inboundonly&graceful${model.context.drainMode === 'hold' ? '&skip_exit' : ''}`;
      await waitUntil(
        () => run.adminCalls().some((r) => r.method === 'POST' && r.path === want),
        `POST ${want} recorded by Envoy`,
      );
    }
    // Signals the step sent: received by the process (or it was already on its way out). A SIGTERM
    // that arrives while the simulator's Node runtime is still starting kills it before it can
    // record anything: then the process being gone is all there is to see.
    for (const a of rec?.actions ?? []) {
      const p = a.params as { targetId?: string; event?: { type: string; signal?: string } } | undefined;
      if (a.type !== 'xstate.sendTo' || p?.event?.type !== 'SIGNAL' || p.event.signal !== 'SIGTERM') continue;
      const seq = Number(String(p.targetId).replace('envoy-', ''));
      const pid = await pidOfSeq(seq);
      await waitUntil(
        () =>
          run.records().some((r) => r.pid === pid && r.event === 'signal' && r.name === 'SIGTERM') ||
          run.records().some((r) => r.pid === pid && r.event === 'exit') ||
          !alive(pid),
        `Envoy #${seq} (pid ${pid}) received SIGTERM`,
      );
    }

    if (model.status === 'done') {
      const { code } = await run.exited;
      expect(code, 'agent exit code').toBe(model.context.exitCode);
      await waitUntil(() => run.leftovers().length === 0, 'no Envoy process left', { timeoutMs: 5_000 });
    }
  };

  /**
   * When the next step is an action of the test, nothing moves the agent on meanwhile: ask
   * /healthz/ready now. The answer is the model's readiness, and where the model knows every fact
   * the reason is made of (draining, stopping, backoff, start phases), the reason too.
   */
  async function probeIfStable(model: LifecycleSnap, value: string) {
    const next = path.labels[stepIndex];
    const byTest =
      next !== undefined &&
      !(setup.selfDriven ?? []).includes(next) &&
      (['SHUTDOWN', 'HOT_RESTART', 'QUIT', 'DRAIN'].includes(next) ||
        EXIT_SIGNAL.test(next) ||
        EXIT_ZERO.test(next));
    if (!byTest || model.status !== 'active') return;
    const want = readinessOf(model);
    const got = await run.get('/healthz/ready');
    expect(got.status, `/healthz/ready in ${value}`).toBe(want.ready ? 200 : 503);
    if (/^(draining|stopping|crashedBackoff|starting\.(clearing|preparing|spawning))/.test(value)) {
      expect(got.body.trim(), `/healthz/ready reason in ${value}`).toBe(want.reason);
    }
    probes += 1;
  }

  const exec = async (step: { state: LifecycleSnap }) => act(step.state);
  const events = Object.fromEntries(path.testPath.steps.map((s) => [s.event.type, exec])) as TestParam<
    LifecycleSnap,
    AnyEventObject
  >['events'];
  try {
    await path.testPath.test({ events, states: { '*': observe } });
    const samples = await sampler.stop();
    const sampled = checkReadinessSamples(transitionLog(run), samples, run.exitInfo()?.at);
    if (setup.readyUntil !== undefined) {
      const first = samples.findIndex((s) => s.status === 200);
      const state = setup.readyUntil === 'test-acts' ? undefined : setup.readyUntil;
      const entered = state === undefined ? undefined : transitionLog(run).find((l) => l.to === state);
      if (state !== undefined) expect(entered, `the agent logged entering ${state}`).toBeDefined();
      // A probe sent just before the test's action (or the agent's transition) may be answered
      // after it: 50 ms of leeway.
      const end =
        Math.min(unreadyFrom ?? Number.POSITIVE_INFINITY, entered?.time ?? Number.POSITIVE_INFINITY) - 50;
      const until = samples.filter((s, i) => i >= first && s.t < end);
      expect(first, 'readiness reached 200').toBeGreaterThanOrEqual(0);
      expect(
        until.filter((s) => s.status !== 200),
        `readiness never dropped before ${state === undefined ? 'the test asked the agent to stop' : `${state} (or the test's stop)`}`,
      ).toEqual([]);
    }
    // Every Envoy the agent started is one the model started: retries are bounded as in the model.
    expect(spawns().length, 'Envoy processes started (validation runs aside)').toBe(last?.context.seq);
    if (!visited.some((v) => v.startsWith('draining'))) {
      expect(
        run.adminCalls().filter((r) => r.path?.startsWith('/drain_listeners')),
        'no drain without a draining state',
      ).toEqual([]);
    }
    return {
      states: visited,
      exitCode: run.exitInfo()?.code ?? null,
      ms: Date.now() - started,
      probes: probes + sampled,
    };
  } catch (err) {
    // What the agent said is the first thing to read when a real run diverges from the model.
    if (err instanceof Error) {
      const exit = run.exitInfo();
      err.message += `\n\nagent ${exit ? `exited with ${exit.code ?? exit.signal}` : 'still running'}; its last lines:\n${run.lines.slice(-25).join('\n')}`;
    }
    throw err;
  } finally {
    await sampler.stop();
    await run.stop();
  }
}

/** Every probe answered while the agent was in one logged state says that state's readiness. */
function checkReadinessSamples(
  log: LogLine[],
  samples: { t: number; status: number }[],
  exitedAt: number | undefined,
): number {
  const margin = 100;
  let checked = 0;
  for (const s of samples) {
    if (exitedAt !== undefined && s.t >= exitedAt - margin) continue;
    const i = log.findLastIndex((l) => l.time <= s.t - margin);
    const entered = log[i];
    const next = log[i + 1];
    if (!entered || (next && next.time < s.t + margin) || entered.to === 'stopped') continue;
    if (s.status === 0) continue; // the status server is not listening yet (it starts after Envoy)
    expect(s.status, `readiness probe at +${s.t - (log[0]?.time ?? 0)} ms, in ${entered.to}`).toBe(
      entered.ready ? 200 : 503,
    );
    checked += 1;
  }
  return checked;
}
