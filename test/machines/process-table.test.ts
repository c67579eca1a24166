import { describe, expect, it } from 'vitest';
import {
  allDiscarded,
  currentOf,
  isExpectedRole,
  killedProcs,
  MAX_ENVOY_PROCESSES,
  newestToStop,
  nextOf,
  promoted,
  retiringOverCap,
  roleOf,
  withoutProc,
  withPid,
  withProc,
} from '../../machines/lifecycle/process-table.js';
import type { EnvoyProc, ProcRole } from '../../machines/lifecycle/types.js';

const proc = (seq: number, role: ProcRole, epoch = seq - 1): EnvoyProc => ({
  seq,
  epoch,
  pid: 100 + seq,
  role,
});

describe('the Envoy process table', () => {
  it('finds processes by spawn sequence and role', () => {
    const procs = [proc(1, 'retiring'), proc(2, 'current'), proc(3, 'next')];
    expect(roleOf(procs, 2)).toBe('current');
    expect(roleOf(procs, 9)).toBeUndefined();
    expect(currentOf(procs)?.seq).toBe(2);
    expect(nextOf(procs)?.seq).toBe(3);
    expect(nextOf([proc(1, 'current')])).toBeUndefined();
  });

  it('adds, forgets and records pids without touching the others', () => {
    const procs = withProc([proc(1, 'current')], { seq: 2, epoch: 1, pid: null, role: 'next' });
    expect(procs.map((p) => p.seq)).toEqual([1, 2]);
    expect(withPid(procs, 2, 4242).map((p) => p.pid)).toEqual([101, 4242]);
    expect(withoutProc(procs, 1).map((p) => p.seq)).toEqual([2]);
  });

  it('expects the exits of retiring, discarded and unknown processes only', () => {
    expect(isExpectedRole('retiring')).toBe(true);
    expect(isExpectedRole('discarded')).toBe(true);
    expect(isExpectedRole(undefined)).toBe(true);
    expect(isExpectedRole('current')).toBe(false);
    expect(isExpectedRole('next')).toBe(false);
  });

  it('promotes the hot-restart child to current and retires its parent; older retirees stay', () => {
    const procs = promoted([proc(1, 'retiring'), proc(2, 'current'), proc(3, 'next')]);
    expect(procs.map((p) => p.role)).toEqual(['retiring', 'retiring', 'current']);
  });

  it('stops the newest process first: a child ends its own parent, a parent killed first strands its child', () => {
    const procs = allDiscarded([proc(1, 'retiring'), proc(2, 'current'), proc(3, 'next')]);
    expect(procs.every((p) => p.role === 'discarded')).toBe(true);
    expect(newestToStop(procs)?.seq).toBe(3);
    expect(newestToStop(withoutProc(procs, 3))?.seq).toBe(2);
    expect(newestToStop([proc(1, 'current')])).toBeUndefined();
  });

  it(`keeps at most ${MAX_ENVOY_PROCESSES} processes: the oldest retirees stop before one more child`, () => {
    expect(retiringOverCap([proc(1, 'current')])).toEqual([]);
    expect(retiringOverCap([proc(1, 'retiring'), proc(2, 'current')])).toEqual([]);
    const crowded = [proc(1, 'retiring'), proc(2, 'retiring'), proc(3, 'current')];
    expect(retiringOverCap(crowded).map((p) => p.seq)).toEqual([1]);
    const more = [proc(1, 'retiring'), proc(2, 'retiring'), proc(3, 'retiring'), proc(4, 'current')];
    expect(retiringOverCap(more).map((p) => p.seq)).toEqual([1, 2]);
  });

  it('names the processes it SIGKILLs: every discarded one, and the abandoned child', () => {
    expect(killedProcs([proc(1, 'current'), proc(2, 'next')]).map((p) => p.seq)).toEqual([2]);
    expect(killedProcs(allDiscarded([proc(1, 'retiring'), proc(2, 'current')])).map((p) => p.seq)).toEqual([
      1, 2,
    ]);
  });
});
