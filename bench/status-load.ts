/**
 * Shared by the status benchmarks (a library: it has no `run()`): HTTP load with `wrk` (Debian
 * package `wrk`) when it is on PATH, else a small in-process keep-alive load generator, plus a bare
 * `node:http` server to compare against.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export { median, round, runIfMain } from './common.js';

export interface LoadResult {
  tool: 'wrk' | 'in-process';
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

export interface LoadOptions {
  connections: number;
  durationSec: number;
  method?: string;
}

export const hasWrk = spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;

/** Milliseconds from wrk's `1.23ms`, `456.00us`, `1.01s`. */
function wrkMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) throw new Error(`unexpected wrk latency ${JSON.stringify(text)}`);
  const value = Number(match[1]);
  const unit = match[2];
  return unit === 'us' ? value / 1000 : unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000;
}

function runWrk(url: string, options: LoadOptions): Promise<LoadResult> {
  const threads = Math.min(2, options.connections);
  const args = [`-t${threads}`, `-c${options.connections}`, `-d${options.durationSec}s`, '--latency', url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out}`));
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const p50 = /^\s+50%\s+(\S+)/m.exec(out);
      const p99 = /^\s+99%\s+(\S+)/m.exec(out);
      const total = /(\d+) requests in/.exec(out);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      if (!rps || !p50 || !p99 || !total) return reject(new Error(`cannot read wrk output: ${out}`));
      const errors =
        Number(non2xx?.[1] ?? 0) +
        (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
      resolve({
        tool: 'wrk',
        requestsPerSec: Number(rps[1]),
        p50Ms: wrkMs(p50[1] as string),
        p99Ms: wrkMs(p99[1] as string),
        requests: Number(total[1]),
        errors,
      });
    });
  });
}

/** Keep-alive connections in this process, each sending its next request when the last returns. */
async function runInProcess(url: string, options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + options.durationSec * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request(url, { agent, method: options.method ?? 'GET' }, (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 400) errors++;
          latencies.push(performance.now() - started);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    tool: 'in-process',
    requestsPerSec: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    requests: latencies.length,
    errors,
  };
}

export function load(url: string, options: LoadOptions): Promise<LoadResult> {
  return hasWrk ? runWrk(url, options) : runInProcess(url, options);
}

/** The comparison point: Node's own HTTP server answering 200 with an empty body. */
export async function startBareServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export const loadTool = (): string =>
  hasWrk ? 'wrk (Debian package wrk), 2 threads' : 'in-process keep-alive load generator (wrk not on PATH)';
