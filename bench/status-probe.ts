/**
 * Benchmark (b): the cost of forwarding an application probe. The same application (a bare
 * `node:http` server answering 200) is hit directly and through `/app-health/web/readyz`, one
 * connection at a time (kubelet's pattern: one probe in flight) and with 16 in parallel. Every
 * forwarded probe opens a new connection to the application (kubelet does the same; keep-alive is
 * off for probes), so the forwarded path pays a TCP handshake the direct keep-alive path does not.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { parseAppProbers } from '../src/status/app-probes.js';
import { buildStatusServer } from '../src/status/server.js';
import { closeServer, load, loadTool, median, round, runIfMain, startBareServer } from './status-load.js';
import type { BenchSection } from './types.js';

const DURATION_SEC = 3;
const RUNS = 3;

export async function run(): Promise<BenchSection> {
  const app = await startBareServer();
  const appPort = Number(new URL(app.url).port);
  const status = buildStatusServer({
    readiness: () => ({ ready: true, reason: '' }),
    log: pino({ level: 'silent' }),
    podHost: '127.0.0.1',
    probers: parseAppProbers(
      JSON.stringify({ '/app-health/web/readyz': { httpGet: { port: appPort, path: '/' } } }),
    ),
  });
  await status.listen({ port: 0, host: '127.0.0.1' });
  const probeUrl = `http://127.0.0.1:${(status.server.address() as AddressInfo).port}/app-health/web/readyz`;
  try {
    await load(app.url, { connections: 4, durationSec: 1 });
    await load(probeUrl, { connections: 4, durationSec: 1 });
    const rows: Array<Record<string, string | number>> = [];
    const results: Record<string, { p50: number; p99: number; rps: number; errors: number }> = {};
    for (const connections of [1, 16]) {
      for (const [path, url] of [
        ['application directly', app.url],
        ['via /app-health/web/readyz', probeUrl],
      ] as const) {
        // Medians of three runs: single-connection latency percentiles are noisy on a small machine.
        const runs = [];
        for (let i = 0; i < RUNS; i++) runs.push(await load(url, { connections, durationSec: DURATION_SEC }));
        const r = {
          requestsPerSec: median(runs.map((x) => x.requestsPerSec)),
          p50Ms: median(runs.map((x) => x.p50Ms)),
          p99Ms: median(runs.map((x) => x.p99Ms)),
          errors: runs.reduce((sum, x) => sum + x.errors, 0),
        };
        results[`${path}@${connections}`] = {
          p50: r.p50Ms,
          p99: r.p99Ms,
          rps: r.requestsPerSec,
          errors: r.errors,
        };
        rows.push({
          path,
          connections,
          'req/s': round(r.requestsPerSec, 0),
          'p50 ms': round(r.p50Ms, 3),
          'p99 ms': round(r.p99Ms, 3),
          errors: r.errors,
        });
      }
    }
    const direct = results['application directly@1'];
    const via = results['via /app-health/web/readyz@1'];
    const addedP50 = (via?.p50 ?? 0) - (direct?.p50 ?? 0);
    const viaP99 = via?.p99 ?? 0;
    const errors = Object.values(results).reduce((sum, r) => sum + r.errors, 0);
    return {
      title: 'Status server: application probe forwarding',
      method:
        `${loadTool()}, medians of ${RUNS} runs of ${DURATION_SEC} s per row after a 1 s warm-up; caller → status server over keep-alive, status ` +
        'server → application on a new connection per probe (source 127.0.0.6), all on 127.0.0.1 in one Node process.',
      rows,
      targets: [
        {
          name: 'added p50 latency per probe, 1 connection (ms)',
          value: round(addedP50, 3),
          target: '≤ 2',
          pass: addedP50 <= 2,
        },
        {
          name: 'p99 latency of a forwarded probe, 1 connection (ms)',
          value: round(viaP99, 3),
          target: '≤ 10 (kubelet’s default probe timeout is 1000)',
          pass: viaP99 <= 10,
        },
        { name: 'errors or non-2xx answers', value: errors, target: '0', pass: errors === 0 },
      ],
    };
  } finally {
    await status.close();
    await closeServer(app.server);
  }
}

runIfMain(import.meta.url, run);
