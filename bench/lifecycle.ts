/**
 * Lifecycle targets (start, readiness, shutdown, memory), on this machine, with the real agent and
 * the Envoy simulator:
 * - exec → Envoy spawned, against a bare `node -e ''` start in the same run (target ≤ 4×);
 * - Envoy LIVE → first `/healthz/ready` 200, the propagation latency (target p50 ≤ 100 ms);
 * - SIGTERM → exit against the configured termination drain (target ≤ drain + 0.5 s);
 * - agent RSS when idle (target ≤ 60 MB), beside an idle bare Node process; with
 *   PILOT_AGENT_BENCH_NODE=/path/to/node, also under that Node (e.g. the Docker image's Node 24).
 */
import { spawn, spawnSync } from 'node:child_process';
import { httpGet, startAgent } from '../test/helpers/agent-process.js';
import { waitUntil } from '../test/helpers/wait.js';
import { agentLog, bareNodeStartMs, rssKb } from './agent-run.js';
import { median, percentile, round, runIfMain } from './common.js';
import type { BenchSection } from './types.js';

const RUNS = 10;
const DRAIN_S = 2;

async function oneRun() {
  const run = await startAgent({ env: { TERMINATION_DRAIN_DURATION_SECONDS: String(DRAIN_S) } });
  try {
    // Exec → spawn: the agent logs the moment the Envoy process exists.
    await run.waitLog(/starting\.spawning -> starting\.initializing/);
    const spawned = agentLog(run).find((l) => l.msg.includes('starting.spawning -> starting.initializing'));
    // `run.started` is taken right after the agent's process was spawned by the harness.
    const execToSpawn = (spawned?.time ?? Number.NaN) - run.started;

    // LIVE → 200: one observer polls Envoy's /ready and the agent's readiness every 2 ms.
    let live: number | undefined;
    let ready: number | undefined;
    await waitUntil(
      async () => {
        const [envoy, agent] = await Promise.all([
          httpGet(run.adminPort, '/ready').catch(() => ({ status: 0, body: '' })),
          run.ready(),
        ]);
        const now = performance.now();
        if (live === undefined && envoy.body.startsWith('LIVE')) live = now;
        if (ready === undefined && agent === 200) ready = now;
        return live !== undefined && ready !== undefined;
      },
      'Envoy LIVE and agent ready',
      { intervalMs: 2 },
    );
    const propagation = (ready ?? 0) - (live ?? 0);

    // Idle RSS after a few quiet seconds (the slow 1 s admin poll is running).
    await new Promise((r) => setTimeout(r, 3_000));
    const rss = rssKb(run.proc.pid ?? 0);

    const t1 = performance.now();
    run.signal('SIGTERM');
    await run.exited;
    const stop = performance.now() - t1;
    return { execToSpawn, propagation, rss, stop };
  } finally {
    await run.stop();
  }
}

/** Another Node binary to measure idle RSS under, e.g. the Docker image's Node 24. */
const OTHER_NODE = process.env.PILOT_AGENT_BENCH_NODE;
const OTHER_RUNS = 5;

async function idleRssUnder(node: string): Promise<number> {
  const run = await startAgent({ node });
  try {
    await run.waitReady();
    await new Promise((r) => setTimeout(r, 3_000));
    return rssKb(run.proc.pid ?? 0);
  } finally {
    await run.stop();
  }
}

const SCRAPES = 20;
const SETTLE_S = 30;

/**
 * RSS as a scraped pod sees it: after Prometheus-style scrapes of the merged metrics (they make V8
 * optimize the merge and grow the heap), at once and again after the agent idled a while.
 */
async function scrapedRss() {
  const run = await startAgent();
  try {
    await run.waitReady();
    const pid = run.proc.pid ?? 0;
    for (let i = 0; i < SCRAPES; i++) await run.get('/stats/prometheus');
    const atOnce = rssKb(pid);
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    return { atOnce, settled: rssKb(pid) };
  } finally {
    await run.stop();
  }
}

async function idleNodeRssKb(node = process.execPath): Promise<number> {
  const child = spawn(node, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 1_000));
    return rssKb(child.pid ?? 0);
  } finally {
    child.kill('SIGKILL');
  }
}

async function otherNodeRow(node: string) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const rss: number[] = [];
  for (let i = 0; i < OTHER_RUNS; i++) rss.push(await idleRssUnder(node));
  const bare = await idleNodeRssKb(node);
  return [
    {
      measure: `agent RSS idle under Node ${version} (MB), ${OTHER_RUNS} runs`,
      p50: round(median(rss) / 1024),
      p90: round(Math.max(...rss) / 1024),
      baseline: `idle node ${version} ${round(bare / 1024)} MB`,
      ratio: round(median(rss) / bare, 2),
    },
  ];
}

export async function run(): Promise<BenchSection> {
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) bare.push(await bareNodeStartMs());
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await oneRun());
  const bareRss = await idleNodeRssKb();
  const scraped = await scrapedRss();
  const other = OTHER_NODE ? await otherNodeRow(OTHER_NODE) : [];

  const execToSpawn = median(runs.map((r) => r.execToSpawn));
  const bareStart = median(bare);
  const propagationP50 = median(runs.map((r) => r.propagation));
  const stopMax = Math.max(...runs.map((r) => r.stop));
  const rssMb = median(runs.map((r) => r.rss)) / 1024;
  return {
    title: 'Lifecycle: start-up, readiness propagation, shutdown, idle memory',
    method:
      `${RUNS} runs of \`pilot-agent proxy sidecar\` (built, from bin/) against the Envoy simulator, one after the ` +
      'other. exec → spawn: from the bench spawning the agent to the agent logging `EPOCH.SPAWNED` (the Envoy ' +
      "process exists); baseline: `node -e ''` spawn → exit, same run, median of " +
      `${RUNS}. Propagation: the bench polls Envoy's admin \`/ready\` and the agent's \`/healthz/ready\` every 2 ms ` +
      'and takes the gap between the first LIVE and the first 200 (the agent polls the admin API every 100 ms ' +
      `while starting). Shutdown: SIGTERM → agent exit with TERMINATION_DRAIN_DURATION_SECONDS=${DRAIN_S}. ` +
      'RSS: VmRSS of the agent after 3 s idle and ready; baseline: an idle `node -e setInterval`. ' +
      `Scraped: one more run, ${SCRAPES} GETs of /stats/prometheus once ready, VmRSS at once and after ${SETTLE_S} s idle.` +
      (OTHER_NODE ? ' The row under another Node: the idle measure, run by PILOT_AGENT_BENCH_NODE.' : ''),
    rows: [
      {
        measure: 'exec → Envoy spawned (ms)',
        p50: round(execToSpawn),
        p90: round(
          percentile(
            runs.map((r) => r.execToSpawn),
            90,
          ),
        ),
        baseline: `node -e '' ${round(bareStart)} ms`,
        ratio: round(execToSpawn / bareStart, 2),
      },
      {
        measure: 'Envoy LIVE → first 200 (ms)',
        p50: round(propagationP50),
        p90: round(
          percentile(
            runs.map((r) => r.propagation),
            90,
          ),
        ),
        baseline: 'admin poll period 100 ms',
        ratio: '',
      },
      {
        measure: `SIGTERM → exit (ms), drain ${DRAIN_S} s`,
        p50: round(median(runs.map((r) => r.stop))),
        p90: round(stopMax),
        baseline: `${DRAIN_S * 1000} ms drain`,
        ratio: round(median(runs.map((r) => r.stop)) / (DRAIN_S * 1000), 3),
      },
      {
        measure: 'agent RSS idle (MB)',
        p50: round(rssMb),
        p90: round(Math.max(...runs.map((r) => r.rss)) / 1024),
        baseline: `idle node ${round(bareRss / 1024)} MB`,
        ratio: round(rssMb / (bareRss / 1024), 2),
      },
      {
        measure: `agent RSS after ${SCRAPES} scrapes (MB): at once → after ${SETTLE_S} s idle`,
        p50: `${round(scraped.atOnce / 1024)} → ${round(scraped.settled / 1024)}`,
        p90: '',
        baseline: `idle node ${round(bareRss / 1024)} MB`,
        ratio: round(scraped.settled / bareRss, 2),
      },
      ...other,
    ],
    targets: [
      {
        name: 'exec → spawn vs node -e',
        value: round(execToSpawn / bareStart, 2),
        target: '≤ 4×',
        pass: execToSpawn / bareStart <= 4,
      },
      {
        name: 'propagation p50 (ms)',
        value: round(propagationP50),
        target: '≤ 100 ms',
        pass: propagationP50 <= 100,
      },
      {
        name: 'SIGTERM → exit, worst (ms)',
        value: round(stopMax),
        target: `≤ ${DRAIN_S * 1000 + 500} ms`,
        pass: stopMax <= DRAIN_S * 1000 + 500,
      },
      { name: 'idle RSS (MB)', value: round(rssMb), target: '≤ 60 MB', pass: rssMb <= 60 },
    ],
  };
}

runIfMain(import.meta.url, run);
