/**
 * Server states over time and the admin API a supervisor polls (docs/envoy-process.md, "Server
 * states" and "Admin API"): `/ready`,
 * `/stats?usedonly` with Istio's filters, `/server_info`, the POST-only mutators, draining.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminAddress, bootstrapYaml, Lab, request, type Sim, waitUntil } from './test-harness.js';

let lab: Lab;
beforeEach(() => {
  lab = new Lab();
});
afterEach(async () => {
  await lab.cleanup();
});

/** Starts a serving simulator (hot restart disabled unless `args` say otherwise). */
async function serve(
  yaml: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ sim: Sim; admin: string }> {
  const config = lab.write('bootstrap.yaml', yaml);
  const sim = lab.spawn(['-c', config, '--admin-address-path', lab.path('admin.addr'), ...args], env);
  const admin = await adminAddress(lab);
  return { sim, admin };
}

/** Istio's readiness query and its parse: stat name → value for the lines present. */
async function stats(admin: string, query: string): Promise<Map<string, string>> {
  const reply = await request(admin, 'GET', `/stats?${query}`);
  expect(reply.status).toBe(200);
  const found = new Map<string, string>();
  for (const line of reply.body.split('\n')) {
    const parts = line.split(':');
    if (parts.length === 2) found.set((parts[0] ?? '').trim(), (parts[1] ?? '').trim());
  }
  return found;
}

const STATE_QUERY = 'usedonly&filter=^(server\\.state|listener_manager\\.workers_started)';
const XDS_QUERY =
  'usedonly&filter=^(cluster_manager\\.cds|listener_manager\\.lds)\\.(update_success|update_rejected)$';

describe('states', () => {
  it('static-only bootstrap: LIVE at once, workers started, no xDS counters', async () => {
    const { admin } = await serve(bootstrapYaml(), ['--disable-hot-restart']);
    const ready = await waitUntil(async () => {
      const r = await request(admin, 'GET', '/ready');
      return r.status === 200 ? r : undefined;
    }, 'LIVE');
    expect(ready.body).toBe('LIVE\n');
    const s = await stats(admin, STATE_QUERY);
    expect(s.get('server.state')).toBe('0');
    expect(s.get('listener_manager.workers_started')).toBe('1');
    expect((await request(admin, 'GET', '/stats')).body).not.toContain('listener_manager.lds.');
  });

  it('with xDS: PRE_INITIALIZING, then INITIALIZING, then LIVE; server.state absent until workers start', async () => {
    const { admin } = await serve(bootstrapYaml({ xds: true }), ['--disable-hot-restart'], {
      ENVOY_SIM_XDS_DELAY_MS: '2000',
    });
    const first = await request(admin, 'GET', '/ready');
    expect(first).toMatchObject({ status: 503, body: 'PRE_INITIALIZING\n' });
    const early = await stats(admin, STATE_QUERY);
    expect(early.has('server.state')).toBe(false);
    expect(early.has('listener_manager.workers_started')).toBe(false);
    // Without usedonly the gauge exists and misleadingly reads 0.
    expect((await stats(admin, 'filter=^server\\.state$')).get('server.state')).toBe('0');
    expect((await stats(admin, XDS_QUERY)).size).toBe(0);

    await waitUntil(
      async () => ((await request(admin, 'GET', '/ready')).body === 'INITIALIZING\n' ? true : undefined),
      'INITIALIZING',
    );
    expect((await stats(admin, XDS_QUERY)).get('cluster_manager.cds.update_success')).toBe('1');

    await waitUntil(
      async () => ((await request(admin, 'GET', '/ready')).status === 200 ? true : undefined),
      'LIVE',
    );
    const xds = await stats(admin, XDS_QUERY);
    expect(xds.get('listener_manager.lds.update_success')).toBe('1');
    const s = await stats(admin, STATE_QUERY);
    expect(s.get('server.state')).toBe('0');
    expect(s.get('listener_manager.workers_started')).toBe('1');
  });

  it('ENVOY_SIM_NEVER_LIVE: stays PRE_INITIALIZING; the stats flush then reports server.state 2', async () => {
    const { admin } = await serve(
      bootstrapYaml({ xds: true, extra: 'stats_flush_interval: 0.2s' }),
      ['--disable-hot-restart'],
      {
        ENVOY_SIM_NEVER_LIVE: '1',
      },
    );
    const state = await waitUntil(
      async () => (await stats(admin, STATE_QUERY)).get('server.state'),
      'server.state from a flush',
    );
    expect(state).toBe('2');
    expect((await request(admin, 'GET', '/ready')).body).toBe('PRE_INITIALIZING\n');
    expect((await stats(admin, STATE_QUERY)).has('listener_manager.workers_started')).toBe(false);
  });

  it('ENVOY_SIM_XDS_REJECT=both: NACKed responses still complete initialization', async () => {
    const { admin } = await serve(bootstrapYaml({ xds: true }), ['--disable-hot-restart'], {
      ENVOY_SIM_XDS_REJECT: 'both',
      ENVOY_SIM_XDS_DELAY_MS: '50',
    });
    await waitUntil(
      async () => ((await request(admin, 'GET', '/ready')).status === 200 ? true : undefined),
      'LIVE',
    );
    const xds = await stats(admin, XDS_QUERY);
    expect(xds.get('cluster_manager.cds.update_rejected')).toBe('1');
    expect(xds.get('listener_manager.lds.update_rejected')).toBe('1');
    expect(xds.has('cluster_manager.cds.update_success')).toBe(false);
  });

  it("logs the startup lines in order, in Istio's --log-format", async () => {
    const { sim } = await serve(bootstrapYaml(), [
      '--disable-hot-restart',
      '--log-format',
      '[Envoy (Epoch 0)] [%Y-%m-%d %T.%e][%t][%l][%n] %v',
    ]);
    await sim.waitForStderr('all dependencies initialized. starting workers');
    const lines = sim.stderr.split('\n');
    const order = [
      'initializing epoch 0 (base id=0, hot restart version=disabled)',
      'admin address: 127.0.0.1:',
      'starting main dispatch loop',
      'all clusters initialized. initializing init manager',
      'all dependencies initialized. starting workers',
    ].map((text) => lines.findIndex((l) => l.includes(text)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(lines[0]).toMatch(
      /^\[Envoy \(Epoch 0\)\] \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]\[\d+\]\[info\]\[main\] initializing epoch 0/,
    );
  });
});

describe('admin API', () => {
  it('writes --admin-address-path without a newline and serves /server_info', async () => {
    const { admin } = await serve(bootstrapYaml(), [
      ...lab.hotRestartArgs(0),
      '--drain-time-s',
      '45',
      '--concurrency',
      '3',
    ]);
    expect(readFileSync(lab.path('admin.addr'), 'utf8')).toMatch(/^127\.0\.0\.1:\d+$/);
    const reply = await request(admin, 'GET', '/server_info');
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body).toContain('"restart_epoch": 0');
    const info = JSON.parse(reply.body) as Record<string, unknown> & {
      command_line_options: Record<string, unknown>;
    };
    expect(info.hot_restart_version).toBe('11.104');
    expect(info.uptime_current_epoch).toMatch(/^\d+s$/);
    expect(info.uptime_all_epochs).toMatch(/^\d+s$/);
    expect(info.command_line_options).toMatchObject({
      base_id: String(lab.baseId),
      restart_epoch: 0,
      concurrency: 3,
      drain_time: '45s',
      parent_shutdown_time: '900s',
      drain_strategy: 'Gradual',
      mode: 'Serve',
      local_address_ip_version: 'v4',
      socket_path: lab.socketPath,
      disable_hot_restart: false,
    });
    expect((await request(admin, 'GET', '/hot_restart_version')).body).toBe('11.104');
    expect((await request(admin, 'GET', '/listeners')).body).toBe(
      'virtualInbound::0.0.0.0:15006\n0.0.0.0_15090::0.0.0.0:15090\n',
    );
    const memory = JSON.parse((await request(admin, 'GET', '/memory')).body) as Record<string, unknown>;
    expect(memory.allocated).toMatch(/^\d+$/);
    const dump = JSON.parse((await request(admin, 'GET', '/config_dump')).body) as {
      configs: { '@type': string }[];
    };
    expect(dump.configs[0]?.['@type']).toBe('type.googleapis.com/envoy.admin.v3.BootstrapConfigDump');
  });

  it('mutators need POST (405 otherwise); unknown paths are 404 with the help text', async () => {
    const { sim, admin } = await serve(bootstrapYaml(), ['--disable-hot-restart']);
    for (const path of [
      '/quitquitquit',
      '/healthcheck/fail',
      '/healthcheck/ok',
      '/drain_listeners?inboundonly',
    ]) {
      const r = await request(admin, 'GET', path);
      expect(r.status).toBe(405);
      expect(r.body).toBe('Method GET not allowed, POST required.');
    }
    await sim.waitForStderr('admin path "/quitquitquit" mutates state, method=GET rather than POST');
    const notFound = await request(admin, 'GET', '/no/such/path');
    expect(notFound.status).toBe(404);
    expect(notFound.body).toMatch(/^invalid path\. admin commands are:\n {2}\/: Admin home page\n/);
    expect(notFound.body).toContain('  /quitquitquit (POST): exit the server\n');
    expect(sim.status).toBeUndefined();
  });

  it('/drain_listeners never exits and keeps /ready LIVE; connections fall to 0', async () => {
    const { sim, admin } = await serve(bootstrapYaml(), ['--disable-hot-restart', '--drain-time-s', '1'], {
      ENVOY_SIM_ACTIVE_CONNECTIONS: '5',
      ENVOY_SIM_CONNECTIONS_DRAIN_MS: '400',
    });
    /** Istio's count: listener.* downstream_cx_active, minus worker_ and its own listeners. */
    const active = async (): Promise<number> => {
      const s = await stats(admin, 'usedonly&filter=downstream_cx_active$');
      let sum = 0;
      for (const [name, value] of s) {
        if (!name.startsWith('listener.') || name.includes('worker_')) continue;
        if (/^listener\.(admin|0\.0\.0\.0_15021|0\.0\.0\.0_15090)\./.test(name)) continue;
        sum += Number(value);
      }
      return sum;
    };
    expect(await active()).toBe(5);
    const s = await stats(admin, 'usedonly&filter=downstream_cx_active$');
    expect(s.get('listener.0.0.0.0_15006.worker_0.downstream_cx_active')).toBe('5');
    expect(s.get('http.inbound_0.0.0.0_8080.downstream_cx_active')).toBe('5');
    expect(Number(s.get('listener.admin.downstream_cx_active'))).toBeGreaterThanOrEqual(1);

    expect((await request(admin, 'POST', '/drain_listeners?skip_exit')).status).toBe(400);
    const drain = await request(admin, 'POST', '/drain_listeners?inboundonly&graceful');
    expect(drain).toMatchObject({ status: 200, body: 'OK\n' });
    await waitUntil(async () => ((await active()) === 0 ? true : undefined), 'connections drained');
    // Past --drain-time-s too: still running, still LIVE.
    await waitUntil(
      async () =>
        (await stats(admin, 'filter=listener_stopped')).get('listener_manager.listener_stopped') === '1'
          ? true
          : undefined,
      'listeners stopped',
    );
    expect((await request(admin, 'GET', '/ready')).body).toBe('LIVE\n');
    expect(sim.status).toBeUndefined();
  });

  it('/healthcheck/fail → DRAINING (503), /healthcheck/ok → LIVE', async () => {
    const { admin } = await serve(bootstrapYaml({ extra: 'stats_flush_interval: 0.1s' }), [
      '--disable-hot-restart',
    ]);
    await waitUntil(
      async () => ((await request(admin, 'GET', '/ready')).status === 200 ? true : undefined),
      'LIVE',
    );
    expect((await request(admin, 'POST', '/healthcheck/fail')).body).toBe('OK\n');
    expect(await request(admin, 'GET', '/ready')).toMatchObject({ status: 503, body: 'DRAINING\n' });
    expect((await stats(admin, 'filter=^server\\.live$')).get('server.live')).toBe('0');
    await waitUntil(
      async () => ((await stats(admin, STATE_QUERY)).get('server.state') === '1' ? true : undefined),
      'server.state 1',
    );
    await request(admin, 'POST', '/healthcheck/ok');
    expect((await request(admin, 'GET', '/ready')).body).toBe('LIVE\n');
  });

  it('/quitquitquit: OK, then the shutdown lines and exit 0', async () => {
    const { sim, admin } = await serve(bootstrapYaml(), ['--disable-hot-restart']);
    const reply = await request(admin, 'POST', '/quitquitquit');
    expect(reply).toMatchObject({ status: 200, body: 'OK\n' });
    expect(await sim.waitForExit()).toEqual({ code: 0, signal: null });
    expect(sim.stderr).toMatch(/shutting down server instance\n.*main dispatch loop exited\n.*exiting\n$/);
  });

  it('/stats filter is a partial-match RE2 regex; bad ones are 400; json and prometheus formats', async () => {
    const { admin } = await serve(bootstrapYaml(), ['--disable-hot-restart']);
    await waitUntil(
      async () => ((await request(admin, 'GET', '/ready')).status === 200 ? true : undefined),
      'LIVE',
    );
    expect(await request(admin, 'GET', '/stats?filter=(')).toMatchObject({
      status: 400,
      body: 'Invalid re2 regex',
    });
    expect((await request(admin, 'GET', '/stats?filter=(?<=x)y')).status).toBe(400);
    const text = (await request(admin, 'GET', '/stats?filter=server\\.')).body;
    // Counters and gauges sorted by name; histograms follow them.
    const lines = text.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^server\.initialization_time_ms: P0\(nan,\d+\) P25/);
    const names = lines.slice(0, -1).map((l) => l.split(':')[0] ?? '');
    expect(names).toEqual([...names].sort());
    expect(names).toContain('server.hot_restart_epoch');
    const json = JSON.parse(
      (await request(admin, 'GET', '/stats?format=json&filter=^server\\.concurrency$')).body,
    ) as unknown;
    expect(json).toEqual({ stats: [{ name: 'server.concurrency', value: expect.any(Number) }] });
    const prom = (await request(admin, 'GET', '/stats/prometheus?usedonly')).body;
    expect(prom).toContain('# TYPE envoy_server_state gauge\nenvoy_server_state{} 0\n\n');
    // Never-used listener gauges only appear without usedonly.
    expect(prom).not.toContain('envoy_listener_address="0.0.0.0_15006"');
    const all = (await request(admin, 'GET', '/stats/prometheus')).body;
    expect(all).toContain('envoy_listener_downstream_cx_active{envoy_listener_address="0.0.0.0_15006"} 0\n');
    expect(all).toContain(
      'envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix="inbound_0.0.0.0_8080"} 0\n',
    );
    expect(prom).toContain('# TYPE envoy_server_initialization_time_ms histogram\n');
  });
});

describe('other modes and outputs', () => {
  it('--mode init_only builds the server and exits 0', async () => {
    const config = lab.write('b.yaml', bootstrapYaml());
    const sim = lab.spawn(['-c', config, '--mode', 'init_only', ...lab.hotRestartArgs(0)]);
    expect(await sim.waitForExit()).toEqual({ code: 0, signal: null });
    expect(sim.stderr).toContain('admin address: ');
    expect(sim.stderr).not.toContain('starting main dispatch loop');
  });

  it('--log-path sends the log to a file (appending)', async () => {
    const { sim } = await serve(bootstrapYaml(), [
      '--disable-hot-restart',
      '--log-path',
      lab.path('envoy.log'),
    ]);
    await waitUntil(
      () => (readFileSync(lab.path('envoy.log'), 'utf8').includes('starting workers') ? true : undefined),
      'log file',
    );
    expect(sim.stderr).toBe('');
  });
});
