/**
 * Test support for the simulator's own tests: spawning the built executable the way a
 * supervisor would, waiting for what a supervisor can observe (exit status, a stderr line, an
 * admin answer) with deadlines instead of sleeps, and cleaning up every process and file.
 *
 * Node built-ins only, so this file compiles into dist/ harmlessly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIMULATOR = fileURLToPath(new URL('./envoy', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../dist/tools/envoy-simulator/main.js', import.meta.url));

/** The tests run the compiled simulator: fail early and clearly when it is missing. */
export function assertBuilt(): void {
  if (!existsSync(BUILT_MAIN)) {
    throw new Error(`${BUILT_MAIN} is missing: run \`npm run build\` before these tests`);
  }
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Sim {
  stdout = '';
  stderr = '';
  status: ExitStatus | undefined;
  readonly exited: Promise<ExitStatus>;
  private readonly watchers: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.status = { code, signal };
        this.notify();
        resolve(this.status);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }

  /** Resolves when stderr matches; rejects at the deadline or when the process ends first. */
  waitForStderr(pattern: RegExp | string, timeoutMs = 10_000): Promise<void> {
    const matches = (): boolean =>
      typeof pattern === 'string' ? this.stderr.includes(pattern) : pattern.test(this.stderr);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (matches()) {
          finish();
          resolve();
        } else if (this.status !== undefined) {
          finish();
          reject(
            new Error(
              `process exited (${JSON.stringify(this.status)}) before stderr matched ${pattern}\n${this.stderr}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for stderr to match ${pattern}\n${this.stderr}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        const i = this.watchers.indexOf(check);
        if (i >= 0) this.watchers.splice(i, 1);
      };
      this.watchers.push(check);
      check();
    });
  }

  /** The exit status, or a rejection at the deadline. */
  waitForExit(timeoutMs = 10_000): Promise<ExitStatus> {
    return Promise.race([
      this.exited,
      new Promise<ExitStatus>((_, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`process ${this.pid} still running after ${timeoutMs} ms\n${this.stderr}`)),
          timeoutMs,
        );
        void this.exited.then(() => clearTimeout(timer));
      }),
    ]);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.status === undefined) this.child.kill(sig);
  }
}

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request on a fresh connection (no keep-alive pool that could outlive an epoch). */
export function request(address: string, method: string, path: string, timeoutMs = 3000): Promise<Reply> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request ${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}

/** Polls `probe` until it returns a value other than `undefined`, or fails at the deadline. */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `timed out waiting for ${what}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`,
  );
}

/** A TCP port that was free a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RecordLine {
  t: number;
  pid: number;
  epoch: number | null;
  event: string;
  [key: string]: unknown;
}

let labCounter = 0;

/**
 * One test's world: a temp dir (shared memory, record file, bootstraps, core files), a
 * socket-path and base id nobody else uses, and every process it started.
 */
export class Lab {
  readonly dir: string;
  readonly socketPath: string;
  readonly baseId: number;
  readonly recordPath: string;
  private readonly sims: Sim[] = [];
  private readonly strayPids: number[] = [];

  constructor() {
    assertBuilt();
    this.dir = mkdtempSync(join(tmpdir(), 'envoy-sim-test-'));
    labCounter++;
    this.socketPath = `@envoy_sim_test_${process.pid}_${labCounter}`;
    this.baseId = 1000 + Math.floor(Math.random() * 100_000);
    this.recordPath = join(this.dir, 'record.jsonl');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, content: string): string {
    const path = this.path(name);
    writeFileSync(path, content);
    return path;
  }

  /** The simulator's environment: the caller's, minus any ENVOY_SIM_*, plus this lab's. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ENVOY_SIM_')) env[k] = v;
    return { ...env, ENVOY_SIM_SHM_DIR: this.dir, ENVOY_SIM_RECORD: this.recordPath, ...extra };
  }

  spawn(args: string[], extraEnv: Record<string, string> = {}): Sim {
    const child = spawn(SIMULATOR, args, {
      cwd: this.dir,
      env: this.env(extraEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const sim = new Sim(child);
    this.sims.push(sim);
    return sim;
  }

  /** A process the test cannot wait on (e.g. orphaned on purpose): killed at cleanup. */
  adopt(pid: number): void {
    this.strayPids.push(pid);
  }

  /** Hot-restart arguments shared by every epoch of this lab. */
  hotRestartArgs(epoch: number): string[] {
    return [
      '--base-id',
      String(this.baseId),
      '--socket-path',
      this.socketPath,
      '--restart-epoch',
      String(epoch),
    ];
  }

  records(): RecordLine[] {
    if (!existsSync(this.recordPath)) return [];
    return readFileSync(this.recordPath, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as RecordLine);
  }

  async cleanup(): Promise<void> {
    for (const sim of this.sims) sim.signal('SIGKILL');
    await Promise.all(this.sims.map((s) => s.exited));
    for (const pid of this.strayPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Reads `--admin-address-path` once the simulator wrote it (no trailing newline). */
export function adminAddress(lab: Lab, file = 'admin.addr', timeoutMs = 10_000): Promise<string> {
  return waitUntil(
    () => {
      const path = lab.path(file);
      if (!existsSync(path)) return undefined;
      const text = readFileSync(path, 'utf8');
      return text === '' ? undefined : text;
    },
    `admin address in ${file}`,
    timeoutMs,
  );
}

/** A bootstrap with an admin listener on 127.0.0.1 (port 0 unless given) and optional extras. */
export function bootstrapYaml(
  options: { port?: number; xds?: boolean; initialFetchTimeout?: string; extra?: string } = {},
): string {
  const lines = [
    'node: {id: sidecar~10.0.0.1~app.default~default.svc.cluster.local, cluster: app.default}',
    'admin:',
    '  address:',
    `    socket_address: {address: 127.0.0.1, port_value: ${options.port ?? 0}}`,
  ];
  if (options.xds === true) {
    const timeout = options.initialFetchTimeout ?? '0s';
    lines.push(
      'dynamic_resources:',
      `  lds_config: {ads: {}, initial_fetch_timeout: ${timeout}, resource_api_version: V3}`,
      `  cds_config: {ads: {}, initial_fetch_timeout: ${timeout}, resource_api_version: V3}`,
      '  ads_config: {api_type: GRPC, transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]}',
    );
  }
  if (options.extra !== undefined) lines.push(options.extra);
  return `${lines.join('\n')}\n`;
}
