/**
 * Properties of the lifecycle that do not come from the machine itself, checked on every state of
 * every executed path (machine level). Each one that fails is a *finding* (core/findings.ts): the
 * machines are read-only for this suite, so findings are reported and pinned, not fixed here.
 *
 * The checker follows one path, snapshot by snapshot, and keeps two facts of the outside world that
 * the machine does not state:
 * - which Envoy process answers on the admin port (the last one an `ADMIN.STATUS` came from; Envoy
 *   moves the port to a hot-restart child when it starts and never gives it back: ShutdownAdmin,
 *   docs/envoy-process.md, hot restart step 3);
 * - Envoy's INITIALIZING flag in the shared memory: every process sets it when it attaches and
 *   clears it once it is LIVE; a child that dies before that leaves it set until a fresh epoch 0
 *   recreates the memory (envoy#33446), and every later child finds it set and is refused ("previous
 *   envoy process is still initializing"). A child that could not bind its hot-restart socket never
 *   touched the memory. What the checker knows is what the machine could know: one of *our*
 *   children died without clearing the flag, and a later child from the same parent was refused.
 * One fact of the world is a consequence of a signal rather than a state: a hot-restart child that
 * gets SIGTERM (once running) shuts down gracefully and first sends its parent Terminate (Envoy's
 * `shutdown()`; docs/envoy-process.md, hot restart step 9), so a SIGTERM to the child of the
 * serving epoch counts as ending that epoch. Everything else is read from the snapshots.
 *
 * Fixed in `machines/envoy-lifecycle.ts`, their detectors kept as regression checks on every state
 * of every executed path (lifecycle/regressions.ts also replays their original paths): findings 1–5
 * (the first five this suite found), the two found after them in `abandoning` (headless parent, no
 * deadline after SIGKILL), and the three the next change fixed: `abandoning` killed the serving
 * parent (`killAll` after the grace) and terminated it through its child (SIGTERM), and the
 * INITIALIZING flag left by an abandoned child was forgotten at the next hot restart; and the same
 * flag left by a child that fails with the restart budget spent (`stickyFlagBudgetSpent`). None is
 * open.
 */
import type { AnyEventObject } from 'xstate';
import type { Findings } from '../core/findings.js';
import { stateText } from '../core/paths.js';
import { pendingTimers, stepRecord } from '../core/timed-model.js';
import type { LifecycleSnap } from './model.js';

export interface FindingSpec {
  id: string;
  what: string;
  /** Fixed in the machine: must never show again. */
  fixed: boolean;
}

export const FINDINGS = {
  readyFromLive: {
    id: 'ready-during-hot-restart-from-live',
    what: 'a hot restart started from `live` (LIVE, config not accepted yet) reports ready (200) for as long as it runs: `hotRestarting` carries the `ready` tag whatever the state it came from',
    fixed: true,
  },
  readyWithoutConfig: {
    id: 'ready-without-config',
    what: '`ready` (200) is entered although the serving epoch never had CDS and LDS accepted: every failed hot restart targets `#envoy.ready`, also when it started from `live`',
    fixed: true,
  },
  staleRestartPending: {
    id: 'stale-restart-pending',
    what: 'a fresh start begins with a hot restart still pending (`beginFreshStart` does not clear `restartPending`): the new epoch 0 is hot-restarted as soon as it is ready, although it already has the new certificates',
    fixed: true,
  },
  headlessAfterChildCrash: {
    id: 'serving-headless-after-child-crash',
    what: 'a hot-restart child that had taken the admin port dies, and the parent is reported ready (200) although no process answers on the admin port any more: it can no longer be observed, drained or hot-restarted (its INITIALIZING flag stays set, envoy#33446)',
    fixed: true,
  },
  clearingStuck: {
    id: 'clearing-stuck-after-sigkill',
    what: '`starting.clearing` sends SIGKILL after the kill grace and then waits for the exits with no deadline: an Envoy that survives SIGKILL blocks the fresh start forever (`stopping` fails with exit 4 instead)',
    fixed: true,
  },
  headlessAfterAbandon: {
    id: 'serving-headless-after-abandoned-handover',
    what: "a hot-restart child that had taken the admin port is abandoned after `handoverTimeout` (`hotRestarting.abandoning` terminates it), and its exit leads to `#envoy.ready` (200): the parent is left without an admin port, as in the fixed child-crash case (fixed: `abandoning` takes the exit only when the parent is usable, otherwise it falls through to `hotRestarting`'s `parentUnusable` branches)",
    fixed: true,
  },
  abandoningStuck: {
    id: 'abandoning-stuck-after-sigkill',
    what: "`hotRestarting.abandoning` sends SIGKILL after the kill grace and then waits for the child's exit with no deadline: a child that survives SIGKILL keeps the lifecycle in `hotRestarting` for good, and every later HOT_RESTART only marks a pending one (fixed: `stuckTimeout` → `stopped`, exit 4, as in `stopping` and `starting.clearing`)",
    fixed: true,
  },
  stickyFlagForgotten: {
    id: 'hot-restart-into-sticky-initializing-flag',
    what: "a hot-restart child is spawned from a parent that can no longer be hot-restarted: a child of ours that was abandoned in `hotRestarting.abandoning` died without clearing Envoy's INITIALIZING flag (envoy#33446: set until a fresh epoch 0) and a later child from the same parent was already refused with 'still initializing' (fixed: the abandon counts in `childFailures`, which survives the next hot restart, so that refusal is `parentUnusable` and the parent is replaced, or the agent stops with exit 3)",
    fixed: true,
  },
  servingParentKilled: {
    id: 'abandoning-kills-serving-parent',
    what: '`hotRestarting.abandoning` sent SIGKILL to every process after the kill grace (`killAll`), the serving parent included, while readiness stayed 200 (fixed: `abandoning` sends SIGKILL to the child only, at once, and arms no kill grace)',
    fixed: true,
  },
  childTerminatesParent: {
    id: 'abandoning-terminates-serving-parent-through-child',
    what: '`hotRestarting.abandoning` sent SIGTERM to the abandoned hot-restart child while the parent served (200): an Envoy child that shuts down gracefully first sends its parent Terminate (its `shutdown()`, docs/envoy-process.md hot restart step 9), which ends the epoch that serves (fixed: SIGKILL, which sends no Terminate)',
    fixed: true,
  },
  stickyFlagBudgetSpent: {
    id: 'hot-restart-into-sticky-initializing-flag-budget-spent',
    what: "a hot-restart child is spawned from a parent that can no longer be hot-restarted: one of our children died before going LIVE (so Envoy's INITIALIZING flag stays set until a fresh epoch 0, envoy#33446) with the restart budget spent, and a later child from the same parent was already refused with 'still initializing'. `hotRestarting`'s last `EPOCH.EXITED` branch (`isNext`, budget spent → `ready`) does not count the failure in `childFailures`, unlike the retry branch and `abandoning`, so the refusal is not `parentUnusable` either: it goes the same way, and every later rotation spawns a child that is refused while epoch N keeps serving the old certificates (fixed: that branch counts the failure too)",
    fixed: true,
  },
} as const satisfies Record<string, FindingSpec>;

export const FIXED_FINDING_IDS: string[] = Object.values(FINDINGS as Record<string, FindingSpec>)
  .filter((f) => f.fixed)
  .map((f) => f.id);

/** The signals the step that produced `snapshot` sends to Envoy processes (by seq), in order. */
export function signalsSent(snapshot: LifecycleSnap): { seq: number; signal: string | undefined }[] {
  return (stepRecord(snapshot)?.actions ?? []).flatMap((a) => {
    const p = a.params as
      | { targetId?: unknown; to?: { id?: string }; event?: { type?: string; signal?: string } }
      | undefined;
    const target = typeof p?.targetId === 'string' ? p.targetId : p?.to?.id;
    return a.type === 'xstate.sendTo' && p?.event?.type === 'SIGNAL' && target?.startsWith('envoy-')
      ? [{ seq: Number(target.slice('envoy-'.length)), signal: p.event.signal }]
      : [];
  });
}

const eventSeq = (e: AnyEventObject): number | undefined => {
  const seq: unknown = e.seq;
  return typeof seq === 'number' ? seq : undefined;
};

/** Follows one path; `check` is called with every snapshot of it, in order. */
export class LifecycleProperties {
  /** Process seq that answers on Envoy's admin port, as far as the statuses so far tell. */
  private adminOwner: number | null = null;
  /** The state the admin owner exited in, once it has. */
  private adminLostIn: string | null = null;
  private previous: LifecycleSnap | undefined;
  /** One of our hot-restart children died without clearing the INITIALIZING flag. */
  private flagLeftByChild = false;
  /**
   * How the machine took each exit that left the flag: in `hotRestarting.abandoning`, or elsewhere
   * counted in `childFailures` or not (what a spawn into the stuck flag is blamed on).
   */
  private readonly flagLeftHow = new Set<'abandoned' | 'counted' | 'uncounted'>();
  /** …and a later child from the same parent was refused: no hot restart can succeed any more. */
  private flagProvenStuck = false;

  constructor(private readonly findings: Findings) {}

  check(model: LifecycleSnap, labels: readonly string[]): void {
    const previous = this.previous;
    this.previous = model;
    const rec = stepRecord(model);
    const c = model.context;
    const where = stateText(model.value);
    const record = (f: FindingSpec) => this.findings.record(f.id, f.what, labels, where);

    // The world: who answers on the admin port.
    const event = rec?.event;
    if (event?.type === 'ADMIN.STATUS') {
      const epoch = (event.status as { epoch: number | null }).epoch;
      const procs = previous?.context.procs ?? c.procs;
      const from =
        epoch === null ? procs.find((p) => p.role === 'current') : procs.find((p) => p.epoch === epoch);
      if (from) {
        this.adminOwner = from.seq;
        this.adminLostIn = null;
      }
    } else if (event?.type === 'EPOCH.EXITED' && eventSeq(event) === this.adminOwner) {
      this.adminOwner = null;
      this.adminLostIn = previous ? stateText(previous.value) : null;
    }

    // The world: Envoy's INITIALIZING flag, as far as our children tell.
    const roleBefore = (seq: number | undefined) => previous?.context.procs.find((p) => p.seq === seq)?.role;
    if (event?.type === 'EPOCH.EXITED' && roleBefore(eventSeq(event)) === 'next') {
      const failure = event.failure as string | null;
      if (failure === 'still-initializing') this.flagProvenStuck ||= this.flagLeftByChild;
      else if (failure !== 'socket-in-use') {
        this.flagLeftByChild = true;
        const counted = c.childFailures > (previous?.context.childFailures ?? 0);
        this.flagLeftHow.add(
          previous?.matches({ hotRestarting: 'abandoning' })
            ? 'abandoned'
            : counted
              ? 'counted'
              : 'uncounted',
        );
      }
    }
    const promoted = c.procs.some((p) => p.role === 'current' && roleBefore(p.seq) === 'next');
    // Envoy processes started in this step (invocations are spawned children too: left out).
    const spawnedEpochs = (rec?.actions ?? []).flatMap((a) => {
      const p = a.params as { actorRef?: { src?: unknown }; input?: { epoch?: unknown } } | undefined;
      const epoch = p?.input?.epoch;
      return a.type === 'xstate.spawnChild' && p?.actorRef?.src === 'envoyEpoch' && typeof epoch === 'number'
        ? [epoch]
        : [];
    });
    if (spawnedEpochs.some((e) => e > 0) && this.flagProvenStuck) {
      if (this.flagLeftHow.has('abandoned')) record(FINDINGS.stickyFlagForgotten);
      else if (this.flagLeftHow.has('uncounted')) record(FINDINGS.stickyFlagBudgetSpent);
      else
        this.findings.record(
          'hot-restart-into-sticky-initializing-flag-counted-then-forgotten',
          "a hot-restart child is spawned into Envoy's stuck INITIALIZING flag although the child failure that left it was counted in `childFailures`: the count was lost before the refusal",
          labels,
          where,
        );
    }
    // A child that goes LIVE clears the flag; a fresh epoch 0 recreates the shared memory.
    if (promoted || spawnedEpochs.includes(0)) {
      this.flagLeftByChild = false;
      this.flagProvenStuck = false;
      this.flagLeftHow.clear();
    }

    const servingConfig = c.configSeen && c.status !== null && c.status.state === 'LIVE';
    if (model.matches('hotRestarting') && !servingConfig) record(FINDINGS.readyFromLive);
    if (model.matches('ready') && !servingConfig) record(FINDINGS.readyWithoutConfig);
    if (model.matches('starting') && c.restartPending) record(FINDINGS.staleRestartPending);

    // Readiness needs a process that answers on the admin port (what the status server reports on).
    if (model.status === 'active' && model.hasTag('ready') && this.adminLostIn !== null) {
      record(
        this.adminLostIn.startsWith('hotRestarting.abandoning')
          ? FINDINGS.headlessAfterAbandon
          : FINDINGS.headlessAfterChildCrash,
      );
    }

    // The epoch that serves is never signalled while the lifecycle still reports it ready.
    const signalled = signalsSent(model);
    const serving = c.procs.find((p) => p.role === 'current');
    const hit = signalled.find((x) => x.seq === serving?.seq);
    // A hot-restart child that shuts down gracefully (SIGTERM) first sends its parent Terminate
    // (docs/envoy-process.md, hot restart step 9): a SIGTERM to the child of the serving epoch ends
    // that epoch too. SIGKILL does not.
    const childOfServing = (seq: number) =>
      c.procs.some(
        (p) => p.seq === seq && p.role === 'next' && serving !== undefined && p.epoch === serving.epoch + 1,
      );
    const viaChild = signalled.find((x) => x.signal === 'SIGTERM' && childOfServing(x.seq));
    if (model.status === 'active' && model.hasTag('ready') && viaChild) {
      if (model.matches({ hotRestarting: 'abandoning' })) record(FINDINGS.childTerminatesParent);
      else
        this.findings.record(
          `serving-epoch-terminated-through-child-in-${where}`,
          `${where} sends SIGTERM to the hot-restart child of the epoch that serves while reporting it ready: the child's graceful shutdown terminates its parent`,
          labels,
          where,
        );
    }
    if (model.status === 'active' && model.hasTag('ready') && hit) {
      if (model.matches({ hotRestarting: 'abandoning' }) && hit.signal === 'SIGKILL')
        record(FINDINGS.servingParentKilled);
      else
        this.findings.record(
          `serving-epoch-signalled-in-${where}`,
          `${where} sends ${hit.signal} to the epoch that serves while reporting it ready`,
          labels,
          where,
        );
    }

    // After SIGKILL, some deadline must still be armed: a process may survive it (D state).
    const sentKill = signalled.some((x) => x.signal === 'SIGKILL');
    if (model.status === 'active' && sentKill && c.procs.length > 0 && pendingTimers(model).length === 0) {
      if (model.matches({ starting: 'clearing' })) record(FINDINGS.clearingStuck);
      else if (model.matches({ hotRestarting: 'abandoning' })) record(FINDINGS.abandoningStuck);
      else
        this.findings.record(
          `stuck-after-sigkill-in-${where}`,
          `${where} sends SIGKILL and then waits for the exits with no deadline`,
          labels,
          where,
        );
    }
  }
}
