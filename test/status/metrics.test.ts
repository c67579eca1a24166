/**
 * `GET /stats/prometheus` against a fake Envoy admin port and a fake application on this machine:
 * the three sources in order, one source down, an oversized source, colliding families, time
 * limits, streaming, and `promtool check metrics` on the answer (Istio's TestStats and
 * TestStatsError in `pilot/cmd/pilot-agent/status/server_test.go`). promtool comes from Debian's
 * `prometheus` package; without it those checks are skipped with a visible note.
 */
import { spawnSync } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentRegistry, TEXT_FORMAT } from '../../src/status/metrics.js';
import { answer, closeAll, closedPort, get, startApp, startStatus, type TestApp } from './helpers.js';

afterEach(closeAll);

const ENVOY = `# HELP envoy_cluster_upstream_rq_total Requests sent upstream.
# TYPE envoy_cluster_upstream_rq_total counter
envoy_cluster_upstream_rq_total{envoy_cluster_name="inbound|8080"} 7
envoy_cluster_upstream_rq_total{envoy_cluster_name="outbound|80"} 3
# HELP envoy_server_live Whether the server is live.
# TYPE envoy_server_live gauge
envoy_server_live 1
# HELP shared_requests_total Exposed by Envoy and by the application.
# TYPE shared_requests_total counter
shared_requests_total{from="envoy"} 1
# HELP envoy_request_duration_seconds Request durations.
# TYPE envoy_request_duration_seconds histogram
envoy_request_duration_seconds_bucket{le="0.5"} 1
envoy_request_duration_seconds_bucket{le="+Inf"} 2
envoy_request_duration_seconds_sum 1.5
envoy_request_duration_seconds_count 2
`;

const APP = `# HELP app_requests_total Requests served.
# TYPE app_requests_total counter
app_requests_total{code="200"} 5
# HELP shared_requests_total The application's own count.
# TYPE shared_requests_total counter
shared_requests_total{from="app"} 2
# HELP process_cpu_seconds_total The application's CPU time.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
`;

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** promtool's verdict: exit 0 clean, 3 lint problems only, 1 unparseable. */
function promtoolCheck(text: string): { code: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

async function fakeEnvoy(body = ENVOY): Promise<TestApp> {
  return startApp((req, res) => {
    if (req.url?.startsWith('/stats/prometheus'))
      answer(200, body, { 'content-type': 'text/plain; version=0.0.4' })(req, res);
    else answer(404)(req, res);
  });
}

async function fakeApp(body = APP, path = '/metrics'): Promise<TestApp> {
  return startApp((req, res) => {
    if (req.url === path)
      answer(200, body, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })(req, res);
    else answer(404)(req, res);
  });
}

function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('merged metrics', () => {
  it('answers agent, then Envoy, then application metrics as valid text 0.0.4 (Istio TestStats)', async (ctx) => {
    const envoy = await fakeEnvoy();
    const app = await fakeApp();
    const registry = createAgentRegistry();
    const status = await startStatus({
      registry,
      envoyAdmin: { host: '127.0.0.1', port: envoy.port },
      appMetrics: { port: app.port, path: '/metrics' },
    });
    const res = await get(`${status.url}/stats/prometheus`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(TEXT_FORMAT);
    const text = res.body;
    const agentAt = text.indexOf('# HELP pilot_agent_scrapes_total');
    const envoyAt = text.indexOf('envoy_cluster_upstream_rq_total{envoy_cluster_name="inbound|8080"} 7');
    const appAt = text.indexOf('app_requests_total{code="200"} 5');
    expect(agentAt).toBeGreaterThanOrEqual(0);
    expect(envoyAt).toBeGreaterThan(agentAt);
    expect(appAt).toBeGreaterThan(envoyAt);
    // The agent's process metrics are prefixed, so the application's own process_* survive.
    expect(text).toContain('pilot_agent_process_cpu_seconds_total');
    expect(text).toContain('\nprocess_cpu_seconds_total 1.5\n');
    expect(sampleValue(text, 'pilot_agent_scrapes_total')).toBe(1);
    // /metrics is the same answer (Istio ≥ 1.14).
    expect((await get(`${status.url}/metrics`)).body).toContain('app_requests_total{code="200"} 5');

    if (!promtool) {
      ctx.skip(true, 'promtool not on PATH: install Debian package "prometheus" to check the exposition');
      return;
    }
    expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });

  it('keeps a family exposed by two sources once: the later source’s copy is dropped and counted', async (ctx) => {
    const envoy = await fakeEnvoy();
    const app = await fakeApp(
      `${APP}# HELP envoy_request_duration_seconds_count Collides with Envoy's histogram count.
# TYPE envoy_request_duration_seconds_count counter
envoy_request_duration_seconds_count 99
# HELP app_after_collision_total Still here.
# TYPE app_after_collision_total counter
app_after_collision_total 4
`,
    );
    const status = await startStatus({
      envoyAdmin: { host: '127.0.0.1', port: envoy.port },
      appMetrics: { port: app.port, path: '/metrics' },
    });
    const text = (await get(`${status.url}/stats/prometheus`)).body;
    expect(text.match(/^# TYPE shared_requests_total /gm)).toHaveLength(1);
    expect(text).toContain('shared_requests_total{from="envoy"} 1');
    expect(text).not.toContain('shared_requests_total{from="app"}');
    expect(text).not.toContain('envoy_request_duration_seconds_count 99');
    expect(text).toContain('app_after_collision_total 4');
    const next = (await get(`${status.url}/stats/prometheus`)).body;
    expect(sampleValue(next, 'pilot_agent_scrape_dropped_families_total{source="app"}')).toBe(2);

    if (!promtool) {
      ctx.skip(true, 'promtool not on PATH: install Debian package "prometheus" to check the exposition');
      return;
    }
    expect(promtoolCheck(text).code).toBe(0);
    // What plain concatenation (Istio) would give is rejected outright.
    expect(promtoolCheck(ENVOY + APP).output).toContain(
      'second HELP line for metric name "shared_requests_total"',
    );
  });

  it('answers 200 with the other sources when Envoy is down, the application fails, or both (Istio TestStatsError)', async () => {
    const registry = createAgentRegistry();
    const failingApp = await startApp(answer(500, 'boom'));
    const envoy = await fakeEnvoy();
    const app = await fakeApp();
    const down = await closedPort();
    const cases = [
      { envoy: down, app: app.port, has: ['app_requests_total'], lacks: ['envoy_server_live'] },
      {
        envoy: envoy.port,
        app: failingApp.port,
        has: ['envoy_server_live'],
        lacks: ['app_requests_total', 'boom'],
      },
      {
        envoy: down,
        app: down,
        has: ['pilot_agent_scrapes_total'],
        lacks: ['envoy_server_live', 'app_requests_total'],
      },
    ];
    for (const c of cases) {
      const status = await startStatus({
        registry,
        envoyAdmin: { host: '127.0.0.1', port: c.envoy },
        appMetrics: { port: c.app, path: '/metrics' },
      });
      const res = await get(`${status.url}/stats/prometheus`);
      expect(res.status).toBe(200);
      for (const s of c.has) expect(res.body).toContain(s);
      for (const s of c.lacks) expect(res.body).not.toContain(s);
    }
    const text = await registry.metrics();
    expect(sampleValue(text, 'pilot_agent_scrape_failures_total{source="envoy"}')).toBe(2);
    expect(sampleValue(text, 'pilot_agent_scrape_failures_total{source="app"}')).toBe(2);
  });

  it('cuts a source bigger than 10 MiB at its last complete line and counts it; later sources still follow', async () => {
    const line = (i: number) => `big_family_total{shard="${i}",pad="${'x'.repeat(60)}"} ${i}\n`;
    const envoy = await startApp((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('# HELP big_family_total A big family.\n# TYPE big_family_total counter\n');
      let i = 0;
      const target = 11 * 1024 * 1024;
      let written = 0;
      const pump = () => {
        while (written < target) {
          const l = line(i++);
          written += l.length;
          if (!res.write(l)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const app = await fakeApp();
    const registry = createAgentRegistry();
    const status = await startStatus({
      registry,
      envoyAdmin: { host: '127.0.0.1', port: envoy.port },
      appMetrics: { port: app.port, path: '/metrics' },
    });
    const text = (await get(`${status.url}/stats/prometheus`)).body;
    const envoyPart = text.slice(
      text.indexOf('# HELP big_family_total'),
      text.indexOf('# HELP app_requests_total'),
    );
    expect(Buffer.byteLength(envoyPart)).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(Buffer.byteLength(envoyPart)).toBeGreaterThan(10 * 1024 * 1024 - 200);
    // Every line is whole.
    expect(envoyPart.endsWith('\n')).toBe(true);
    for (const l of envoyPart.trimEnd().split('\n').slice(2))
      expect(l).toMatch(/^big_family_total\{shard="\d+",pad="x{60}"\} \d+$/);
    expect(text).toContain('app_requests_total{code="200"} 5');
    const counters = await registry.metrics();
    expect(sampleValue(counters, 'pilot_agent_scrape_truncated_total{source="envoy"}')).toBe(1);
  });

  it('streams: the answer starts before Envoy has finished sending', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const envoy = await startApp((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('# HELP first_part_total First.\n# TYPE first_part_total counter\nfirst_part_total 1\n');
      void released.then(() =>
        res.end('# HELP second_part_total Second.\n# TYPE second_part_total counter\nsecond_part_total 2\n'),
      );
    });
    const status = await startStatus({ envoyAdmin: { host: '127.0.0.1', port: envoy.port } });
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${status.url}/stats/prometheus`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          // Envoy only finishes once the client has seen its first part: a buffering merge would hang here.
          if (text.includes('first_part_total 1\n')) release();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body).toContain('second_part_total 2');
  });

  it('closes its request to Envoy when the scraper goes away mid-answer', async () => {
    let envoyClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => (envoyClosed = resolve));
    const envoy = await startApp((_req, res) => {
      res.on('close', envoyClosed);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('# HELP first_part_total First.\n# TYPE first_part_total counter\nfirst_part_total 1\n');
      // ...and never finishes.
    });
    // A time limit longer than the test's own: only the scraper leaving can end Envoy's request.
    const status = await startStatus({
      envoyAdmin: { host: '127.0.0.1', port: envoy.port },
      metricsLimits: { defaultTimeoutMs: 120_000 },
    });
    await new Promise<void>((resolve, reject) => {
      const req = request(`${status.url}/stats/prometheus`, { agent: false }, (res) => {
        res.on('data', (chunk: Buffer) => {
          if (chunk.includes('first_part_total 1')) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => {});
      req.on('close', resolve);
      req.setTimeout(5_000, () => reject(new Error('no first part')));
      req.end();
    });
    await closed;
  });

  it('answers HEAD without a body', async () => {
    const status = await startStatus({});
    const res = await get(`${status.url}/stats/prometheus`, { method: 'HEAD' });
    expect([res.status, res.body, res.headers['content-type']]).toEqual([200, '', TEXT_FORMAT]);
  });

  it('gives up on a silent source at 90% of X-Prometheus-Scrape-Timeout-Seconds and answers what it has', async () => {
    const hung: ServerResponse[] = [];
    const app = await startApp((_req, res) => {
      hung.push(res);
    });
    const envoy = await fakeEnvoy();
    const registry = createAgentRegistry();
    const status = await startStatus({
      registry,
      envoyAdmin: { host: '127.0.0.1', port: envoy.port },
      appMetrics: { port: app.port, path: '/metrics' },
    });
    const started = performance.now();
    const res = await get(`${status.url}/stats/prometheus`, {
      headers: { 'x-prometheus-scrape-timeout-seconds': '0.5' },
    });
    const took = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.body).toContain('envoy_server_live 1');
    expect(took).toBeGreaterThanOrEqual(440);
    expect(took).toBeLessThan(900);
    expect(sampleValue(await registry.metrics(), 'pilot_agent_scrape_failures_total{source="app"}')).toBe(1);
    for (const r of hung) r.destroy();
  });

  it('passes the query string to Envoy only, and User-Agent and the timeout header to both', async () => {
    const envoy = await fakeEnvoy();
    const app = await fakeApp();
    const status = await startStatus({
      envoyAdmin: { host: '127.0.0.1', port: envoy.port },
      appMetrics: { port: app.port, path: '/metrics' },
    });
    await get(`${status.url}/stats/prometheus?usedonly&filter=envoy_server`, {
      headers: { 'user-agent': 'Prometheus/2.42.0', 'x-prometheus-scrape-timeout-seconds': '10' },
    });
    expect(envoy.requests[0]?.url).toBe('/stats/prometheus?usedonly&filter=envoy_server');
    expect(app.requests[0]?.url).toBe('/metrics');
    for (const seen of [envoy.requests[0], app.requests[0]]) {
      expect(seen?.headers['user-agent']).toBe('Prometheus/2.42.0');
      expect(seen?.headers['x-prometheus-scrape-timeout-seconds']).toBe('10');
    }
    expect(app.requests[0]?.headers.accept).toMatch(/^text\/plain;version=0\.0\.4/);
  });

  it('leaves out an application that answers OpenMetrics despite being asked for text', async () => {
    const app = await startApp(
      answer(200, '# TYPE app_requests counter\napp_requests_total 5\n# EOF\n', {
        'content-type': 'application/openmetrics-text; version=1.0.0; charset=utf-8',
      }),
    );
    const registry = createAgentRegistry();
    const status = await startStatus({ registry, appMetrics: { port: app.port, path: '/metrics' } });
    const text = (await get(`${status.url}/stats/prometheus`)).body;
    expect(text).not.toContain('# EOF');
    expect(text).not.toContain('app_requests_total');
    expect(sampleValue(await registry.metrics(), 'pilot_agent_scrape_failures_total{source="app"}')).toBe(1);
  });

  it('keeps Envoy’s real style (TYPE without HELP) parseable by promtool', async (ctx) => {
    const envoyStyle = [
      '# TYPE envoy_cluster_assignment_stale counter',
      'envoy_cluster_assignment_stale{cluster_name="xds-grpc"} 0',
      '# TYPE envoy_server_memory_allocated gauge',
      'envoy_server_memory_allocated{} 7340032',
      '# TYPE envoy_cluster_upstream_cx_connect_ms histogram',
      'envoy_cluster_upstream_cx_connect_ms_bucket{cluster_name="xds-grpc",le="0.5"} 0',
      'envoy_cluster_upstream_cx_connect_ms_bucket{cluster_name="xds-grpc",le="+Inf"} 1',
      'envoy_cluster_upstream_cx_connect_ms_sum{cluster_name="xds-grpc"} 2.5',
      'envoy_cluster_upstream_cx_connect_ms_count{cluster_name="xds-grpc"} 1',
      '',
    ].join('\n');
    const envoy = await fakeEnvoy(envoyStyle);
    const status = await startStatus({ envoyAdmin: { host: '127.0.0.1', port: envoy.port } });
    const text = (await get(`${status.url}/stats/prometheus`)).body;
    expect(text).toContain('envoy_server_memory_allocated{} 7340032');
    if (!promtool) {
      ctx.skip(true, 'promtool not on PATH: install Debian package "prometheus" to check the exposition');
      return;
    }
    // Envoy's names break promtool's style rules (exit 3), but the exposition must parse (not exit 1).
    const verdict = promtoolCheck(text);
    expect(verdict.output).not.toMatch(/parsing error|error while linting/);
    expect(verdict.code).not.toBe(1);
  });
});
