/**
 * Benchmark (c): merging metrics when Envoy's answer is 20 MB. A child Node process plays Envoy's
 * admin port (a realistic 20 MB `/stats/prometheus`: counters, gauges and histograms with
 * cluster labels) and the application (`/metrics`, one family colliding with Envoy's); another
 * child process scrapes `/stats/prometheus` and discards the body. This process runs only the
 * status server, so its peak RSS growth is the merge's memory. Target: ≥ 100 MB/s end to end, with
 * memory that does not grow with the body.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { ExpositionFilter } from '../src/status/exposition-filter.js';
import { createAgentRegistry } from '../src/status/metrics.js';
import { buildStatusServer } from '../src/status/server.js';
import { median, round, runIfMain } from './status-load.js';
import type { BenchSection } from './types.js';

const ENVOY_BYTES = 20 * 1000 * 1000;
const RUNS = 5;

/** Builds an Envoy-like exposition of about `bytes` bytes (shared by the child and the filter row). */
const GENERATOR = `
function envoyBody(bytes) {
  const lines = [];
  let size = 0;
  const push = (l) => { lines.push(l); size += l.length + 1; };
  for (let f = 0; size < bytes; f++) {
    const histogram = f % 10 === 9;
    const name = histogram ? 'envoy_cluster_upstream_cx_connect_ms_' + f : 'envoy_cluster_upstream_rq_total_' + f;
    push('# TYPE ' + name + (histogram ? ' histogram' : ' counter'));
    for (let c = 0; c < 400 && size < bytes; c++) {
      const labels = 'cluster_name="outbound|8080||service-' + c + '.namespace-' + (c % 7) + '.svc.cluster.local"';
      if (histogram) {
        for (const le of ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '+Inf']) {
          push(name + '_bucket{' + labels + ',le="' + le + '"} ' + (c * 3));
        }
        push(name + '_sum{' + labels + '} ' + (c * 17.5));
        push(name + '_count{' + labels + '} ' + (c * 3));
      } else {
        push(name + '{' + labels + '} ' + (c * 1013));
      }
    }
  }
  return Buffer.from(lines.join('\\n') + '\\n');
}
`;

const FAKE_UPSTREAMS = `
${GENERATOR}
import { createServer } from 'node:http';
const bodies = new Map();
const envoyFor = (bytes) => {
  if (!bodies.has(bytes)) bodies.set(bytes, envoyBody(bytes));
  return bodies.get(bytes);
};
const envoy = envoyFor(Number(process.argv[1]));
const app = Buffer.from('# HELP app_requests_total Requests.\\n# TYPE app_requests_total counter\\napp_requests_total 5\\n' +
  '# TYPE envoy_cluster_upstream_rq_total_0 counter\\nenvoy_cluster_upstream_rq_total_0 1\\n');
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  const size = new URL(req.url, 'http://x').searchParams.get('bytes');
  res.end(req.url.startsWith('/stats/prometheus') ? (size ? envoyFor(Number(size)) : envoy) : app);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port, envoyBytes: envoy.length }) + '\\n'));
`;

const SCRAPER = `
import { get } from 'node:http';
const [url, runs] = [process.argv[1], Number(process.argv[2])];
const results = [];
for (let i = 0; i < runs; i++) {
  results.push(await new Promise((resolve, reject) => {
    const started = performance.now();
    get(url, { agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => resolve({ bytes, ms: performance.now() - started }));
    }).on('error', reject);
  }));
}
process.stdout.write(JSON.stringify(results) + '\\n');
`;

function node(code: string, args: string[]) {
  return spawn(process.execPath, ['--input-type=module', '-e', code, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function firstLine(child: ReturnType<typeof node>): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve(out.slice(0, nl));
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`child exited ${code} before answering`)));
  });
}

interface Scrape {
  bytes: number;
  ms: number;
}

async function scrape(url: string, runs: number): Promise<Scrape[]> {
  return JSON.parse(await firstLine(node(SCRAPER, [url, String(runs)]))) as Scrape[];
}

export async function run(): Promise<BenchSection> {
  const upstreams = node(FAKE_UPSTREAMS, [String(ENVOY_BYTES)]);
  const { port, envoyBytes } = JSON.parse(await firstLine(upstreams)) as { port: number; envoyBytes: number };
  const log = pino({ level: 'silent' });
  const statusFor = async (maxSourceBytes: number | undefined) => {
    const registry = createAgentRegistry();
    const app = buildStatusServer({
      readiness: () => ({ ready: true, reason: '' }),
      log,
      registry,
      envoyAdmin: { host: '127.0.0.1', port },
      appMetrics: { port, path: '/metrics' },
      ...(maxSourceBytes ? { metricsLimits: { maxSourceBytes } } : {}),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      app,
      registry,
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/stats/prometheus`,
    };
  };
  const unlimited = await statusFor(256 * 1024 * 1024);
  const capped = await statusFor(undefined);
  try {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const runs = await scrape(unlimited.url, RUNS);
    const peakRss = process.resourceUsage().maxRSS * 1024;
    // Four times the body: if the merge held the body, the peak would grow with it.
    const bigRuns = await scrape(`${unlimited.url}?bytes=${4 * ENVOY_BYTES}`, 3);
    const peakRssBig = process.resourceUsage().maxRSS * 1024;
    const cappedRuns = await scrape(capped.url, 3);

    // The filter alone, on the same body in 64 KiB chunks: the CPU cost of the merge itself.
    const { envoyBody } = (await import(
      `data:text/javascript,${encodeURIComponent(`${GENERATOR}\nexport { envoyBody };`)}`
    )) as { envoyBody: (bytes: number) => Buffer };
    const body = envoyBody(ENVOY_BYTES);
    const filterMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      const filter = new ExpositionFilter(new Set(['pilot_agent_scrapes_total']), 64 * 1024 * 1024);
      for (let at = 0; at < body.length; at += 65_536) filter.push(body.subarray(at, at + 65_536));
      filter.end();
      filterMs.push(performance.now() - started);
    }

    const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
    const throughput = median(runs.map((r) => mbps(r.bytes, r.ms)));
    const cappedThroughput = median(cappedRuns.map((r) => mbps(r.bytes, r.ms)));
    const filterThroughput = median(filterMs.map((ms) => mbps(body.length, ms)));
    const rssGrowthMb = (peakRss - rssBefore) / 1e6;
    const rssGrowthBigMb = (peakRssBig - rssBefore) / 1e6;
    const dropped = (await unlimited.registry.metrics()).match(
      /pilot_agent_scrape_dropped_families_total\{source="app"\} (\d+)/,
    );
    return {
      title: 'Status server: merged metrics with a 20 MB Envoy answer',
      method:
        `Envoy admin and application played by a child Node process (Envoy body ${round(envoyBytes / 1e6, 1)} MB, ` +
        'Envoy-style counters and histograms with cluster labels); a second child process GETs /stats/prometheus on a ' +
        `new connection and discards the body, ${RUNS} runs (median). This process runs only the status server; peak RSS ` +
        'growth = getrusage max RSS after the runs − RSS before them. The filter row runs ExpositionFilter alone on the ' +
        'same body in 64 KiB chunks.',
      rows: [
        {
          case: 'agent + 20 MB Envoy + app, cap 256 MiB',
          'MB out (per scrape)': round((runs[0]?.bytes ?? 0) / 1e6, 1),
          'ms (median)': round(median(runs.map((r) => r.ms)), 0),
          'MB/s (median)': round(throughput, 0),
        },
        {
          case: 'same, default 10 MiB cap (Envoy cut)',
          'MB out (per scrape)': round((cappedRuns[0]?.bytes ?? 0) / 1e6, 1),
          'ms (median)': round(median(cappedRuns.map((r) => r.ms)), 0),
          'MB/s (median)': round(cappedThroughput, 0),
        },
        {
          case: 'ExpositionFilter alone, 20 MB in memory',
          'MB out (per scrape)': round(body.length / 1e6, 1),
          'ms (median)': round(median(filterMs), 0),
          'MB/s (median)': round(filterThroughput, 0),
        },
        {
          case: 'agent + 80 MB Envoy + app, cap 256 MiB',
          'MB out (per scrape)': round((bigRuns[0]?.bytes ?? 0) / 1e6, 1),
          'ms (median)': round(median(bigRuns.map((r) => r.ms)), 0),
          'MB/s (median)': round(median(bigRuns.map((r) => mbps(r.bytes, r.ms))), 0),
        },
        {
          case: 'peak RSS growth of the status server process after the 20 MB runs',
          'MB out (per scrape)': '',
          'ms (median)': '',
          'MB/s (median)': `${round(rssGrowthMb, 1)} MB`,
        },
        {
          case: 'peak RSS growth after the 80 MB runs as well',
          'MB out (per scrape)': '',
          'ms (median)': '',
          'MB/s (median)': `${round(rssGrowthBigMb, 1)} MB`,
        },
        {
          case: 'colliding app families dropped (counter, all runs)',
          'MB out (per scrape)': '',
          'ms (median)': '',
          'MB/s (median)': Number(dropped?.[1] ?? 0),
        },
      ],
      targets: [
        {
          name: 'merge throughput, 20 MB Envoy body (MB/s)',
          value: round(throughput, 0),
          target: '≥ 100',
          pass: throughput >= 100,
        },
        {
          name: 'peak RSS growth merging 80 MB bodies (MB)',
          value: round(rssGrowthBigMb, 1),
          target: '< 80 (less than one body: not buffered)',
          pass: rssGrowthBigMb < 80,
        },
      ],
    };
  } finally {
    await unlimited.app.close();
    await capped.app.close();
    upstreams.kill();
  }
}

runIfMain(import.meta.url, run);
