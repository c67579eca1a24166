/**
 * Benchmark (a): `GET /healthz/ready` on the status server against a bare `node:http` server that
 * answers 200, same process, same machine, same load, alternated so drift hits both alike.
 * Target: the status server keeps at least 0.7× the bare server's throughput.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { buildStatusServer } from '../src/status/server.js';
import {
  closeServer,
  type LoadResult,
  load,
  loadTool,
  median,
  round,
  runIfMain,
  startBareServer,
} from './status-load.js';
import type { BenchSection } from './types.js';

const CONNECTIONS = 50;
const DURATION_SEC = 5;
const ROUNDS = 3;

export async function run(): Promise<BenchSection> {
  const status = buildStatusServer({
    readiness: () => ({ ready: true, reason: '' }),
    log: pino({ level: 'silent' }),
  });
  await status.listen({ port: 0, host: '127.0.0.1' });
  const statusUrl = `http://127.0.0.1:${(status.server.address() as AddressInfo).port}/healthz/ready`;
  const bare = await startBareServer();
  const options = { connections: CONNECTIONS, durationSec: DURATION_SEC };
  try {
    // Warm both up (JIT, socket buffers) before measuring.
    await load(bare.url, { connections: CONNECTIONS, durationSec: 1 });
    await load(statusUrl, { connections: CONNECTIONS, durationSec: 1 });
    const bareRuns: LoadResult[] = [];
    const statusRuns: LoadResult[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bareRuns.push(await load(bare.url, options));
      statusRuns.push(await load(statusUrl, options));
    }
    const summary = (name: string, runs: LoadResult[]) => ({
      server: name,
      'req/s (median)': round(median(runs.map((r) => r.requestsPerSec)), 0),
      'p50 ms (median)': round(median(runs.map((r) => r.p50Ms))),
      'p99 ms (median)': round(median(runs.map((r) => r.p99Ms))),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
    });
    const bareRow = summary('bare node:http 200', bareRuns);
    const statusRow = summary('status server /healthz/ready', statusRuns);
    const ratio = statusRow['req/s (median)'] / bareRow['req/s (median)'];
    return {
      title: 'Status server: /healthz/ready throughput',
      method:
        `${loadTool()}, ${CONNECTIONS} keep-alive connections, ${DURATION_SEC} s per run, ${ROUNDS} alternating ` +
        'runs per server after a 1 s warm-up each; both servers in one Node process on 127.0.0.1; readiness is a ' +
        'constant function (the real one reads one machine snapshot). Medians reported.',
      rows: [bareRow, statusRow],
      targets: [
        {
          name: '/healthz/ready throughput ÷ bare node:http',
          value: round(ratio),
          target: '≥ 0.7',
          pass: ratio >= 0.7,
        },
        {
          name: 'errors or non-2xx answers',
          value: bareRow.errors + statusRow.errors,
          target: '0',
          pass: bareRow.errors + statusRow.errors === 0,
        },
      ],
    };
  } finally {
    await status.close();
    await closeServer(bare.server);
  }
}

runIfMain(import.meta.url, run);
