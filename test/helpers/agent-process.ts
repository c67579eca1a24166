/**
 * Runs the real `pilot-agent proxy` (built, from bin/) against the Envoy simulator, in a temp dir,
 * on free ports, and observes it only from outside: its exit, its logs, the status port, and the
 * simulator's record file (Envoy's argv, admin calls, signals, exits). `stop()` kills whatever is
 * left and removes the temp dir; `leftovers()` tells whether any Envoy process survived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsFilesIn } from '../../src/config/defaults.js';
import { packageRoot } from '../../src/package-root.js';
import { waitUntil } from './wait.js';

/** The repository root, found from here whether this runs from test/ or compiled under dist/. */
export const ROOT = packageRoot(import.meta.dirname) ?? process.cwd();
export const AGENT_BIN = join(ROOT, 'bin/pilot-agent.js');
export const SIMULATOR = join(ROOT, 'tools/envoy-simulator/envoy');

/** bin/pilot-agent.js's shebang words: the agent runs as executing that file would. */
const SHEBANG = (readFileSync(AGENT_BIN, 'utf8').split('\n')[0] ?? '').split(/\s+/);
/** The Node flags in the shebang. */
export const AGENT_NODE_FLAGS = SHEBANG.filter((word) => word.startsWith('--'));
/** The environment the shebang sets (`env -S VAR=value node …`). */
export const AGENT_SHEBANG_ENV: Record<string, string> = Object.fromEntries(
  SHEBANG.filter((word) => /^[A-Z_]+=/.test(word)).map((word) => [
    word.slice(0, word.indexOf('=')),
    word.slice(word.indexOf('=') + 1),
  ]),
);

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** One line of the simulator's ENVOY_SIM_RECORD file. */
/** Whether a process with this pid still exists (signal 0 probes without delivering anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface SimRecord {
  t: number;
  pid: number;
  epoch: number;
  event: 'start' | 'admin' | 'signal' | 'hot-restart' | 'exit' | string;
  argv?: string[];
  method?: string;
  path?: string;
  /** `signal` events: the signal's name; `exit` events: the signal that ended the process. */
  name?: string;
  signal?: string;
  code?: number | null;
  step?: string;
  [key: string]: unknown;
}

export interface AgentOptions {
  /** Extra flags after the defaults (later flags win in Go's flag parsing and ours). */
  args?: string[];
  /** Replaces the default flags entirely (still `proxy sidecar` first unless given). */
  rawArgs?: string[];
  env?: Record<string, string>;
  /** ENVOY_SIM_* switches without the prefix, e.g. `{ XDS_DELAY_MS: '50' }`. */
  sim?: Record<string, string>;
  binaryPath?: string;
  /** The Node binary that runs the agent; default: the one running this process. */
  node?: string;
  role?: 'sidecar' | 'router';
  /** Runs before the agent starts, e.g. to lay out certificates in `certDir`. */
  prepare?: (dirs: { dir: string; certDir: string }) => void;
  /**
   * The temp dir of an earlier run to start in again (same working directory, configPath,
   * certificates and record file); that run keeps it and removes it when stopped.
   */
  dir?: string;
  /** The agent's `bin/pilot-agent.js`; default the repository's. */
  bin?: string;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export function httpGet(port: number, path: string, method = 'GET', host = '127.0.0.1'): Promise<HttpAnswer> {
  return new Promise((res, rej) => {
    const req = request({ host, port, path, method, agent: false, timeout: 2000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        body += c;
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

let baseIdCounter = 0;

export async function startAgent(options: AgentOptions = {}) {
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'pilot-agent-it-'));
  const configPath = join(dir, 'proxy');
  const shmDir = join(dir, 'shm');
  const certDir = join(dir, 'certs');
  mkdirSync(shmDir, { recursive: true });
  const recordFile = join(dir, 'record.jsonl');
  const adminPort = await freePort();
  const statusPort = await freePort();
  // Unique per agent, so parallel test files never share hot-restart sockets.
  const baseId = ((process.pid % 5000) * 100 + (baseIdCounter++ % 100)) % 400_000;

  const args = options.rawArgs ?? [
    'proxy',
    options.role ?? 'sidecar',
    '--configPath',
    configPath,
    '--binaryPath',
    options.binaryPath ?? SIMULATOR,
    '--discoveryAddress',
    'istiod.istio-system.svc:15012',
    '--proxyAdminPort',
    String(adminPort),
    '--statusPort',
    String(statusPort),
    '--drainDuration',
    '2s',
    '--parentShutdownDuration',
    '3s',
    '--baseId',
    String(baseId),
    // The lifecycle's state trace (one debug line per state change) is what tests wait on.
    ...((options.args ?? []).includes('--log_output_level') ? [] : ['--log_output_level', 'default:debug']),
    ...(options.args ?? []),
  ];
  const simEnv = Object.fromEntries(
    Object.entries({ SHM_DIR: shmDir, RECORD: recordFile, XDS_DELAY_MS: '50', ...options.sim }).map(
      ([k, v]) => [`ENVOY_SIM_${k}`, v],
    ),
  );
  const env: Record<string, string> = {
    ...AGENT_SHEBANG_ENV,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    POD_NAME: 'productpage-v1-7d4cd8f7c5-abcde',
    POD_NAMESPACE: 'default',
    INSTANCE_IP: '127.0.0.1',
    TERMINATION_DRAIN_DURATION_SECONDS: '1',
    ...tlsFilesIn(certDir),
    ...simEnv,
    ...options.env,
  };

  options.prepare?.({ dir, certDir });
  const lines: string[] = [];
  const proc: ChildProcess = spawn(
    options.node ?? process.execPath,
    [...AGENT_NODE_FLAGS, options.bin ?? AGENT_BIN, ...args],
    {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const started = Date.now();
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((res) =>
    proc.once('exit', (code, signal) => res({ code, signal, at: Date.now() })),
  );
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  void exited.then((e) => {
    exitInfo = e;
  });

  const records = (): SimRecord[] => {
    try {
      return readFileSync(recordFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as SimRecord);
    } catch {
      return [];
    }
  };
  /** Serving Envoy processes: `--mode validate` runs (before each hot restart) are not servers. */
  const isServe = (r: SimRecord) => r.event === 'start' && !(r.argv ?? []).includes('validate');
  const envoyPids = () => [
    ...new Set(
      records()
        .filter(isServe)
        .map((r) => r.pid),
    ),
  ];

  const run = {
    dir,
    configPath,
    certDir,
    shmDir,
    adminPort,
    statusPort,
    baseId,
    proc,
    started,
    lines,
    exited,
    exitInfo: () => exitInfo,
    records,
    envoyPids,
    /** Envoy processes (by pid) still alive. */
    leftovers: () => envoyPids().filter(alive),
    starts: () => records().filter(isServe),
    validations: () => records().filter((r) => r.event === 'start' && (r.argv ?? []).includes('validate')),
    adminCalls: () => records().filter((r) => r.event === 'admin'),
    ready: async (): Promise<number> => {
      try {
        return (await httpGet(statusPort, '/healthz/ready')).status;
      } catch {
        return 0;
      }
    },
    get: (path: string, method = 'GET') => httpGet(statusPort, path, method),
    /** A request to Envoy's admin API. */
    admin: (path: string, method = 'GET') => httpGet(adminPort, path, method),
    waitReady: (timeoutMs = 15_000) =>
      waitUntil(async () => (await run.ready()) === 200, 'agent ready', { timeoutMs }),
    waitLog: (pattern: RegExp, timeoutMs = 10_000) =>
      waitUntil(() => lines.some((l) => pattern.test(l)), `log line ${pattern}`, { timeoutMs }),
    waitStart: (epoch: number, timeoutMs = 10_000) =>
      waitUntil(() => records().some((r) => isServe(r) && r.epoch === epoch), `epoch ${epoch} started`, {
        timeoutMs,
      }),
    waitRecord: (pred: (r: SimRecord) => boolean, what: string, timeoutMs = 10_000) =>
      waitUntil(() => records().some(pred), what, { timeoutMs }),
    signal: (sig: NodeJS.Signals) => proc.kill(sig),
    /** Ends everything this run started and removes its files. */
    stop: async () => {
      if (!exitInfo) {
        proc.kill('SIGKILL');
        await exited;
      }
      for (const pid of envoyPids()) {
        if (alive(pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return run;
}

export type AgentRun = Awaited<ReturnType<typeof startAgent>>;

/** Samples readiness every `periodMs` until stopped; returns the codes seen with their times. */
export function sampleReadiness(run: Pick<AgentRun, 'ready'>, periodMs = 25) {
  const samples: { t: number; status: number }[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const t = Date.now();
      samples.push({ t, status: await run.ready() });
      const wait = periodMs - (Date.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  const done = loop();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await done;
      return samples;
    },
  };
}
