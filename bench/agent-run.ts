/**
 * Shared helpers for the benchmarks that run the real agent (against the Envoy simulator): the
 * agent's JSON log lines with their timestamps, process facts from /proc, simple statistics.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { AgentRun } from '../test/helpers/agent-process.js';

export interface LogLine {
  time: number;
  msg: string;
  [key: string]: unknown;
}

/** The agent's JSON log lines (Envoy's own lines, passed through, are skipped). */
export function agentLog(run: AgentRun): LogLine[] {
  const out: LogLine[] = [];
  for (const line of run.lines) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as { time?: string; msg?: string };
      if (parsed.time && parsed.msg) out.push({ ...parsed, time: Date.parse(parsed.time), msg: parsed.msg });
    } catch {
      // a partial line: not ours to judge
    }
  }
  return out;
}

export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** inotify watches held by a process (one `inotify wd:` line per watch in fdinfo). */
export function inotifyWatches(pid: number): number {
  let watches = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (!readlinkSync(`/proc/${pid}/fd/${fd}`).includes('inotify')) continue;
      watches += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // fd closed meanwhile
    }
  }
  return watches;
}

/** Wall time of `node -e ''` from spawn to exit: the floor any Node CLI pays. */
export async function bareNodeStartMs(): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((res, rej) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.once('error', rej);
    child.once('exit', () => res());
  });
  return performance.now() - t0;
}
