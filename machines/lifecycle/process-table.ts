/**
 * The table of Envoy processes the lifecycle tracks, as pure functions over `EnvoyProc[]` (kept in
 * spawn order). Every rule about which process plays which part, and which one is told to stop
 * first, lives here; the chart only says when.
 */
import type { EnvoyProc, ProcRole } from './types.js';

/**
 * Envoy keeps at most three processes during hot restarts (`MaxConcurrentProcesses`,
 * source/server/hot_restart_impl.h): the serving epoch, its parent still draining, and a new child.
 */
export const MAX_ENVOY_PROCESSES = 3;

export const roleOf = (procs: readonly EnvoyProc[], seq: number): ProcRole | undefined =>
  procs.find((p) => p.seq === seq)?.role;

export const procOf = (procs: readonly EnvoyProc[], seq: number): EnvoyProc | undefined =>
  procs.find((p) => p.seq === seq);

/** The hot-restart child, if one is running. */
export const nextOf = (procs: readonly EnvoyProc[]): EnvoyProc | undefined =>
  procs.find((p) => p.role === 'next');

export const currentOf = (procs: readonly EnvoyProc[]): EnvoyProc | undefined =>
  procs.find((p) => p.role === 'current');

/**
 * Whether an exit of this role is one the agent expects: a retiring parent ends by itself after the
 * parent-shutdown time, a discarded process was told to stop, and an unknown one is already
 * forgotten. Exits of `current` and `next` decide what happens next.
 */
export const isExpectedRole = (role: ProcRole | undefined): boolean =>
  role === 'retiring' || role === 'discarded' || role === undefined;

export const withProc = (procs: readonly EnvoyProc[], proc: EnvoyProc): EnvoyProc[] => [...procs, proc];

export const withoutProc = (procs: readonly EnvoyProc[], seq: number): EnvoyProc[] =>
  procs.filter((p) => p.seq !== seq);

export const withPid = (procs: readonly EnvoyProc[], seq: number, pid: number): EnvoyProc[] =>
  procs.map((p) => (p.seq === seq ? { ...p, pid } : p));

/** The hot-restart child took over: it becomes current, its parent retires. */
export const promoted = (procs: readonly EnvoyProc[]): EnvoyProc[] =>
  procs.map((p) =>
    p.role === 'next'
      ? { ...p, role: 'current' as const }
      : p.role === 'current'
        ? { ...p, role: 'retiring' as const }
        : p,
  );

/** Every process is to stop: each becomes `discarded`, so its exit is expected. */
export const allDiscarded = (procs: readonly EnvoyProc[]): EnvoyProc[] =>
  procs.map((p) => ({ ...p, role: 'discarded' as const }));

/**
 * The one process to send SIGTERM to now, when some are to stop: the newest. A hot-restart child
 * that gets SIGTERM terminates its parent itself, and a parent killed first leaves its child
 * retrying a vanished socket and aborting (Envoy's `HotRestartImpl`, source/server/hot_restart_impl.cc),
 * so older processes are told only once the newer ones have gone.
 */
export const newestToStop = (procs: readonly EnvoyProc[]): EnvoyProc | undefined =>
  procs.filter((p) => p.role === 'discarded').at(-1);

/**
 * Retiring parents to stop before one more child is spawned, so that the child makes at most
 * `MAX_ENVOY_PROCESSES`. The child's start asks its parent to end the grandparent; this does not
 * rely on a grandparent that ignores that.
 */
export const retiringOverCap = (procs: readonly EnvoyProc[]): EnvoyProc[] =>
  procs.filter((p) => p.role === 'retiring').slice(0, Math.max(0, procs.length - (MAX_ENVOY_PROCESSES - 1)));

/**
 * The processes the agent SIGKILLs and then waits for: every process when stopping (all discarded),
 * the hot-restart child alone when abandoning it.
 */
export const killedProcs = (procs: readonly EnvoyProc[]): EnvoyProc[] =>
  procs.filter((p) => p.role === 'discarded' || p.role === 'next');
