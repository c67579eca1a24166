/**
 * Envoy processes. The only module that imports `node:child_process`: it spawns one epoch, reports
 * what happened to it as lifecycle events, relays the signals the machine decides on, and runs
 * `--mode validate`. No pid or handle ever leaves this file except in events.
 *
 * Each Envoy runs in its own process group (`detached`), as consul-dataplane and kuma-dp do: a
 * Ctrl-C or a group signal aimed at the agent must not hit Envoy directly, or the drain the agent
 * orchestrates would be skipped. The flip side — Envoy no longer dies with the agent's group — is
 * covered twice: with hot restart enabled Envoy asks Linux for SIGTERM when its parent dies
 * (PR_SET_PDEATHSIG, in Envoy's `source/server/hot_restart_impl.cc`), and
 * `envoyProcesses.killAll()` runs on every exit path of the agent, including its own crashes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { fromCallback, fromPromise } from 'xstate';
import type {
  EpochCommand,
  EpochInput,
  HotRestartFailure,
  LaunchPlan,
  LifecycleEvent,
} from '../../machines/envoy-lifecycle.js';

/** Every Envoy process this agent started and has not yet seen exit. */
class ProcessRegistry {
  readonly #live = new Set<ChildProcess>();

  add(child: ChildProcess): void {
    this.#live.add(child);
  }

  delete(child: ChildProcess): void {
    this.#live.delete(child);
  }

  get pids(): number[] {
    return [...this.#live].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  /** Last resort on the agent's way out: synchronous, safe inside `process.on('exit')`. */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): number[] {
    const killed = this.pids;
    for (const child of this.#live) child.kill(signal);
    return killed;
  }
}

export const envoyProcesses = new ProcessRegistry();

/**
 * Envoy's stderr lines that mean a hot-restart setup failure (`source/server/hot_restart_impl.cc`,
 * `hot_restarting_base.cc`; docs/envoy-process.md, "Failures when a child starts").
 */
const FAILURE_MARKERS: readonly [RegExp, HotRestartFailure][] = [
  [/previous envoy process is still initializing/, 'still-initializing'],
  [/unable to bind domain socket with base_id=/, 'socket-in-use'],
  [/hot restart sendmsg\(\) (connection refused|failed)|cannot open shared memory region/, 'parent-gone'],
];

/** Keeps the last lines of a stream: enough to classify a failure and to quote it in a log. */
class TailScanner {
  #partial = '';
  lines: string[] = [];
  failure: HotRestartFailure | null = null;

  push(chunk: Buffer): void {
    const parts = (this.#partial + chunk.toString('utf8')).split('\n');
    this.#partial = parts.pop() ?? '';
    if (this.#partial.length > 4096) this.#partial = this.#partial.slice(-4096);
    for (const line of parts) this.#line(line);
  }

  end(): void {
    if (this.#partial) this.#line(this.#partial);
    this.#partial = '';
  }

  #line(line: string): void {
    if (line.trim() === '') return;
    this.lines.push(line);
    if (this.lines.length > 20) this.lines.shift();
    for (const [pattern, failure] of FAILURE_MARKERS) {
      if (pattern.test(line)) this.failure = failure;
    }
  }
}

export interface EnvoyProcessDeps {
  binaryPath: string;
  log: Logger;
  /** Where Envoy's stderr goes after being read (the agent's stderr). */
  stderr?: NodeJS.WritableStream;
}

function spawnErrorText(binaryPath: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return `--binaryPath ${binaryPath}: no such file (or its interpreter is missing)`;
    case 'EACCES':
      return `--binaryPath ${binaryPath}: permission denied, the file is not executable`;
    default:
      return `--binaryPath ${binaryPath}: cannot execute: ${err.message}`;
  }
}

/** The `envoyEpoch` actor: one Envoy process for one epoch. */
export function envoyEpochActor(deps: EnvoyProcessDeps) {
  const out = deps.stderr ?? process.stderr;
  return fromCallback<EpochCommand, EpochInput>(({ input, sendBack, receive }) => {
    const log = deps.log.child({ epoch: input.epoch });
    const report = (event: LifecycleEvent) => sendBack(event);
    const child = spawn(deps.binaryPath, input.args, {
      stdio: ['ignore', 'inherit', 'pipe'],
      detached: true,
    });
    const tail = new TailScanner();
    let spawned = false;
    let exited = false;

    child.stderr?.on('data', (chunk: Buffer) => {
      out.write(chunk);
      tail.push(chunk);
    });
    child.once('spawn', () => {
      spawned = true;
      envoyProcesses.add(child);
      report({ type: 'EPOCH.SPAWNED', seq: input.seq, epoch: input.epoch, pid: child.pid ?? -1 });
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (spawned) {
        log.warn({ err: err.message }, 'Envoy process error');
        return;
      }
      exited = true;
      removeConfig(input.configFile, log);
      report({
        type: 'EPOCH.SPAWN_FAILED',
        seq: input.seq,
        epoch: input.epoch,
        errno: err.code ?? 'UNKNOWN',
        message: spawnErrorText(deps.binaryPath, err),
      });
    });
    // 'close' (not 'exit'): stderr is fully read, so the failure classification is complete.
    child.once('close', (code, signal) => {
      if (!spawned) return;
      exited = true;
      envoyProcesses.delete(child);
      tail.end();
      removeConfig(input.configFile, log);
      report({
        type: 'EPOCH.EXITED',
        seq: input.seq,
        epoch: input.epoch,
        code,
        signal,
        failure: tail.failure,
      });
    });

    receive((cmd) => {
      if (exited) return;
      child.kill(cmd.signal);
    });
    return () => {
      // The machine stops the actor after the exit; anything else is a teardown in a hurry.
      if (!exited && child.pid !== undefined) child.kill('SIGKILL');
    };
  });
}

/** Envoy 1.5's `Cleanup(epoch)`: the generated bootstrap goes with its process. */
function removeConfig(file: string | null, log: Logger): void {
  if (!file) return;
  try {
    // Synchronous on purpose: the next fresh start may render the same file name right after.
    rmSync(file, { force: true });
  } catch (err) {
    log.warn({ file, err: (err as Error).message }, 'could not remove the bootstrap file');
  }
}

/**
 * `<binary> <argv> --mode validate`: Envoy loads the bootstrap without binding anything
 * (`HotRestartNopImpl`, `source/server/config_validation/server.cc`). Resolves on exit 0, rejects
 * with Envoy's reason otherwise, and removes the rejected file.
 */
export function validateEpochActor(deps: EnvoyProcessDeps & { timeoutMs: number }) {
  return fromPromise<void, LaunchPlan>(
    ({ input, signal }) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(deps.binaryPath, [...input.args, '--mode', 'validate'], {
          stdio: ['ignore', 'pipe', 'pipe'],
          signal,
          timeout: deps.timeoutMs,
        });
        const tail = new TailScanner();
        child.stdout?.on('data', () => {});
        child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
        child.on('error', (err: NodeJS.ErrnoException) => {
          removeConfig(input.configFile, deps.log);
          reject(new Error(spawnErrorText(deps.binaryPath, err)));
        });
        child.on('close', (code, sig) => {
          tail.end();
          if (code === 0) return resolve();
          removeConfig(input.configFile, deps.log);
          const reason =
            tail.lines.findLast((l) => /error initializing|error:|PARSE ERROR/i.test(l)) ??
            tail.lines.at(-1) ??
            (sig ? `killed by ${sig}` : `exit code ${code}`);
          reject(new Error(reason.trim()));
        });
      }),
  );
}
