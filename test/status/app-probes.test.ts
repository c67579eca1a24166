/**
 * `/app-health/…` against real applications on this machine: what kubelet sees for each answer of
 * the application, which headers reach the application, timeouts, HTTPS with a self-signed
 * certificate, redirects, TCP and gRPC probes, and that nothing but the configured target is ever
 * contacted. Vectors from Istio's TestAppProbe, TestHttpsAppProbe, TestGRPCAppProbe and
 * TestProbeHeader (`pilot/cmd/pilot-agent/status/server_test.go`, 1.5 and later releases).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAppProbers } from '../../src/status/app-probes.js';
import { createAgentRegistry } from '../../src/status/metrics.js';
import {
  answer,
  closeAll,
  closedPort,
  get,
  nonLoopbackAddress,
  startApp,
  startGrpcHealth,
  startHttpsApp,
  startStatus,
  startTcp,
} from './helpers.js';

afterEach(closeAll);

const probers = (config: Record<string, unknown>) => parseAppProbers(JSON.stringify(config));

describe('HTTP probes', () => {
  it('answers 200 for the configured readyz and livez paths and 404 for anything else (Istio TestAppProbe)', async () => {
    const app = await startApp();
    const status = await startStatus({
      probers: probers({
        '/app-health/hello-world/readyz': { httpGet: { path: '/hello/sunnyvale', port: app.port } },
        '/app-health/hello-world/livez': { httpGet: { port: app.port } },
      }),
    });
    expect((await get(`${status.url}/bad-path-should-be-404`)).status).toBe(404);
    expect((await get(`${status.url}/app-health/hello-world/readyz`)).status).toBe(200);
    expect((await get(`${status.url}/app-health/hello-world/livez`)).status).toBe(200);
    expect(app.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /hello/sunnyvale', 'GET /']);
  });

  it('passes the application’s status through: 200 → 200, then 500 → 500, with the body', async () => {
    const app = await startApp(answer(200, 'fine'));
    const status = await startStatus({
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port } } }),
    });
    const ok = await get(`${status.url}/app-health/web/readyz`);
    expect([ok.status, ok.body]).toEqual([200, 'fine']);
    app.handle(answer(500, 'database down'));
    const down = await get(`${status.url}/app-health/web/readyz`);
    expect([down.status, down.body]).toEqual([500, 'database down']);
  });

  it('answers every status 200–599 as the application did, except 3xx which kubelet counts as success → 200', async () => {
    const app = await startApp();
    const status = await startStatus({
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port } } }),
    });
    const codes = [200, 201, 204, 299, 300, 301, 302, 304, 399, 400, 404, 418, 499, 500, 502, 503, 511, 599];
    const seen: Array<[number, number]> = [];
    for (const code of codes) {
      // No Location header: a redirect that cannot be followed is returned as it is.
      app.handle(answer(code));
      seen.push([code, (await get(`${status.url}/app-health/web/readyz`)).status]);
    }
    expect(seen).toEqual(codes.map((c) => [c, c >= 300 && c < 400 ? 200 : c]));
  });

  it('cuts the body passed back at 10 KiB, as kubelet reads it', async () => {
    const app = await startApp(answer(503, 'x'.repeat(50_000)));
    const status = await startStatus({
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port } } }),
    });
    const res = await get(`${status.url}/app-health/web/readyz`);
    expect(res.status).toBe(503);
    expect(res.body.length).toBe(10 * 1024);
  });

  it('fails a slow application at timeoutSeconds: 500 within the timeout plus a small margin', async () => {
    const pending: ServerResponse[] = [];
    const app = await startApp((_req: IncomingMessage, res: ServerResponse) => {
      pending.push(res); // never answered
    });
    const status = await startStatus({
      probers: probers({ '/app-health/slow/livez': { httpGet: { port: app.port }, timeoutSeconds: 1 } }),
    });
    const started = performance.now();
    const res = await get(`${status.url}/app-health/slow/livez`);
    const took = performance.now() - started;
    expect(res.status).toBe(500);
    expect(took).toBeGreaterThanOrEqual(990);
    expect(took).toBeLessThan(1_500);
    for (const r of pending) r.destroy();
  });

  it('answers 500 when nothing listens on the application port', async () => {
    const status = await startStatus({
      probers: probers({ '/app-health/gone/livez': { httpGet: { port: await closedPort() } } }),
    });
    const res = await get(`${status.url}/app-health/gone/livez`);
    expect([res.status, res.body]).toEqual([500, '']);
  });

  it('forwards the caller’s headers, adds configured ones it lacks, caller wins, hop-by-hop dropped (Istio TestProbeHeader)', async () => {
    const app = await startApp();
    const status = await startStatus({
      probers: probers({
        '/app-health/web/readyz': {
          httpGet: {
            port: app.port,
            path: '/ready',
            httpHeaders: [
              { name: 'X-Custom', value: 'from-config' },
              { name: 'X-Only-Config', value: 'configured' },
            ],
          },
        },
      }),
    });
    const res = await get(`${status.url}/app-health/web/readyz`, {
      headers: [
        'Host',
        'test.com:9999',
        'User-Agent',
        'kube-probe/1.31',
        'Some-Header',
        'caller',
        'X-Custom',
        'from-caller',
        'Keep-Alive',
        'timeout=5',
        'Upgrade',
        'h2c',
        'Connection',
        'Upgrade, X-Drop-Me',
        'X-Drop-Me',
        'hop',
      ],
    });
    expect(res.status).toBe(200);
    const seen = app.requests[0];
    expect(seen?.headers).toMatchObject({
      host: 'test.com:9999',
      'user-agent': 'kube-probe/1.31',
      'some-header': 'caller',
      'x-custom': 'from-caller',
      'x-only-config': 'configured',
      connection: 'close',
    });
    expect(seen?.headers).not.toHaveProperty('keep-alive');
    expect(seen?.headers).not.toHaveProperty('upgrade');
    expect(seen?.headers).not.toHaveProperty('x-drop-me');
    // Header names keep the caller's spelling.
    expect(seen?.rawHeaders).toContain('Some-Header');
  });

  it('rewrites the status port in Host to the application port (kubelet sends <pod IP>:<status port>)', async () => {
    const app = await startApp();
    const status = await startStatus({
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port } } }),
    });
    await get(`${status.url}/app-health/web/readyz`);
    expect(app.requests[0]?.headers.host).toBe(`127.0.0.1:${app.port}`);
  });

  it('follows a redirect on the same host, succeeds on a redirect to another host, fails a loop', async () => {
    const app = await startApp((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/final' }).end();
      else if (req.url === '/final') res.writeHead(503).end('final says no');
      else if (req.url === '/away')
        res.writeHead(301, { location: 'http://example.invalid/elsewhere' }).end();
      else res.writeHead(302, { location: '/loop' }).end();
    });
    const status = await startStatus({
      probers: probers({
        '/app-health/same/readyz': { httpGet: { port: app.port, path: '/start' } },
        '/app-health/away/readyz': { httpGet: { port: app.port, path: '/away' } },
        '/app-health/loop/readyz': { httpGet: { port: app.port, path: '/loop' } },
      }),
    });
    const same = await get(`${status.url}/app-health/same/readyz`);
    expect([same.status, same.body]).toEqual([503, 'final says no']);
    expect((await get(`${status.url}/app-health/away/readyz`)).status).toBe(200);
    const before = app.requests.length;
    expect((await get(`${status.url}/app-health/loop/readyz`)).status).toBe(500);
    // The first request and ten redirects followed; the eleventh is refused.
    expect(app.requests.length - before).toBe(11);
  });

  it('accepts GET and HEAD only on a probe path', async () => {
    const app = await startApp();
    const status = await startStatus({
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port } } }),
    });
    expect((await get(`${status.url}/app-health/web/readyz`, { method: 'HEAD' })).status).toBe(200);
    const post = await get(`${status.url}/app-health/web/readyz`, { method: 'POST' });
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('counts results in pilot_agent_app_probe_total', async () => {
    const app = await startApp(answer(200));
    const registry = createAgentRegistry();
    const status = await startStatus({
      registry,
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port } } }),
    });
    await get(`${status.url}/app-health/web/readyz`);
    app.handle(answer(503));
    await get(`${status.url}/app-health/web/readyz`);
    await get(`${status.url}/app-health/web/readyz`);
    const text = await registry.metrics();
    expect(text).toContain('pilot_agent_app_probe_total{container="web",probe="readyz",result="success"} 1');
    expect(text).toContain('pilot_agent_app_probe_total{container="web",probe="readyz",result="failure"} 2');
  });
});

describe('HTTPS probes', () => {
  it('probes an application with a self-signed certificate without verifying it (Istio TestHttpsAppProbe)', async () => {
    const app = await startHttpsApp();
    const status = await startStatus({
      probers: probers({
        '/app-health/hello-world/readyz': {
          httpGet: { path: '/hello/sunnyvale', port: app.port, scheme: 'HTTPS' },
        },
        '/app-health/hello-world/livez': { httpGet: { port: app.port, scheme: 'HTTPS' } },
      }),
    });
    expect((await get(`${status.url}/bad-path-should-be-404`)).status).toBe(404);
    expect((await get(`${status.url}/app-health/hello-world/readyz`)).status).toBe(200);
    expect((await get(`${status.url}/app-health/hello-world/livez`)).status).toBe(200);
    expect(app.requests.map((r) => r.url)).toEqual(['/hello/sunnyvale', '/']);
  });

  it('fails an HTTPS probe against a plain HTTP application', async () => {
    const app = await startApp();
    const status = await startStatus({
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port, scheme: 'HTTPS' } } }),
    });
    expect((await get(`${status.url}/app-health/web/readyz`)).status).toBe(500);
  });
});

describe('TCP probes', () => {
  it('answers 200 when the port accepts a connection and 500 when it is closed', async () => {
    const open = await startTcp();
    const status = await startStatus({
      probers: probers({
        '/app-health/db/readyz': { tcpSocket: { port: open.port } },
        '/app-health/db/livez': { tcpSocket: { port: await closedPort() } },
      }),
    });
    expect((await get(`${status.url}/app-health/db/readyz`)).status).toBe(200);
    expect(open.accepted()).toBe(1);
    expect((await get(`${status.url}/app-health/db/livez`)).status).toBe(500);
  });
});

describe('gRPC probes', () => {
  it('answers 200 for SERVING and 500 for NOT_SERVING, unknown service or a missing server (Istio TestGRPCAppProbe)', async () => {
    const statuses = new Map([
      ['', 1],
      ['foo', 2],
    ]);
    const grpc = await startGrpcHealth(statuses);
    const status = await startStatus({
      probers: probers({
        '/app-health/rpc/livez': { grpc: { port: grpc.port } },
        '/app-health/rpc/readyz': { grpc: { port: grpc.port, service: 'foo' } },
        '/app-health/rpc/startupz': { grpc: { port: grpc.port, service: 'bar' } },
        '/app-health/gone/livez': { grpc: { port: await closedPort() } },
      }),
    });
    expect((await get(`${status.url}/app-health/rpc/livez`)).status).toBe(200);
    expect((await get(`${status.url}/app-health/rpc/readyz`)).status).toBe(500);
    expect((await get(`${status.url}/app-health/rpc/startupz`)).status).toBe(500);
    expect((await get(`${status.url}/app-health/gone/livez`)).status).toBe(500);
    expect(grpc.calls).toEqual(['', 'foo', 'bar']);

    statuses.set('foo', 1);
    expect((await get(`${status.url}/app-health/rpc/readyz`)).status).toBe(200);
  });
});

describe('never an open proxy', () => {
  it('contacts only the configured target: other paths, hosts and ports in the request reach nothing', async () => {
    const app = await startApp();
    const bystander = await startApp();
    const status = await startStatus({
      probers: probers({
        '/app-health/web/readyz': { httpGet: { port: app.port, path: '/ready', host: '127.0.0.2' } },
      }),
    });
    const attempts = [
      '/app-health/web/livez',
      '/app-health/other/readyz',
      `/app-health/127.0.0.1:${bystander.port}/readyz`,
      '/app-health/web/readyz/',
      '/app-health/web/readyz/../../../x',
      '/app-health/web%2Freadyz',
      '/app-health/',
      `/http://127.0.0.1:${bystander.port}/`,
    ];
    for (const path of attempts) {
      expect([path, (await get(`${status.url}${path}`)).status]).toEqual([path, 404]);
    }
    // Host, absolute-form request targets and the query string change nothing either.
    await get(`${status.url}/app-health/web/readyz?path=/admin&port=${bystander.port}`, {
      headers: { host: `127.0.0.1:${bystander.port}` },
    });
    expect(bystander.requests).toEqual([]);
    expect(app.requests.map((r) => r.url)).toEqual(['/ready']);
  });

  it('sends probes to the pod IP when INSTANCE_IP is known', async (ctx) => {
    const podIp = nonLoopbackAddress();
    if (!podIp) {
      ctx.skip(true, 'no non-loopback IPv4 address on this machine');
      return;
    }
    const onPodIp = await startApp(answer(200), podIp);
    const onLoopback = await startApp(answer(200));
    const status = await startStatus({
      podHost: podIp,
      probers: probers({
        '/app-health/a/readyz': { httpGet: { port: onPodIp.port } },
        '/app-health/b/readyz': { httpGet: { port: onLoopback.port } },
      }),
    });
    expect((await get(`${status.url}/app-health/a/readyz`)).status).toBe(200);
    // An application bound to loopback only is not what kubelet would reach either.
    expect((await get(`${status.url}/app-health/b/readyz`)).status).toBe(500);
    expect(onLoopback.requests).toEqual([]);
  });

  it('probes ::1 for an IPv6 proxy without a pod IP (Istio TestAppProbe IPv6)', async () => {
    const app = await startApp(answer(200), '::1');
    const tcp = await startTcp('::1');
    const grpc = await startGrpcHealth(new Map([['', 1]]), '::1');
    const status = await startStatus({
      podHost: '::1',
      probers: probers({
        '/app-health/web/readyz': { httpGet: { port: app.port } },
        '/app-health/db/readyz': { tcpSocket: { port: tcp.port } },
        '/app-health/rpc/readyz': { grpc: { port: grpc.port } },
      }),
    });
    for (const c of ['web', 'db', 'rpc']) {
      expect([c, (await get(`${status.url}/app-health/${c}/readyz`)).status]).toEqual([c, 200]);
    }
    expect(app.requests[0]?.remoteAddress).toMatch(/^::/);
  });

  it('connects from 127.0.0.6, the source Istio’s iptables rules leave uncaptured, where it can', async () => {
    const app = await startApp();
    const status = await startStatus({
      probers: probers({ '/app-health/web/readyz': { httpGet: { port: app.port } } }),
    });
    await get(`${status.url}/app-health/web/readyz`);
    // Linux binds all of 127.0.0.0/8 on lo; elsewhere the default source is used.
    expect(['127.0.0.6', '127.0.0.1']).toContain(app.requests[0]?.remoteAddress);
    if (process.platform === 'linux') expect(app.requests[0]?.remoteAddress).toBe('127.0.0.6');
  });
});
