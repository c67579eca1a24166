/**
 * The status server as a whole: unknown paths answer a 404 that names nothing (the port is open
 * to the cluster), readiness still answers GET and HEAD, and statusOptionsFromConfig validates the
 * environment before anything starts.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../src/config/types.js';
import { AgentError } from '../../src/errors.js';
import { statusOptionsFromConfig } from '../../src/status/options.js';
import { buildStatusServer } from '../../src/status/server.js';
import { alwaysReady, closeAll, get, silentLog, startStatus } from './helpers.js';

afterEach(closeAll);

describe('status server', () => {
  it('answers / and unknown paths with a bare 404 for every method', async () => {
    const status = await startStatus({});
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/does-not-exist'],
      ['POST', '/'],
      ['DELETE', '/stats/prometheus'],
      ['GET', '/debug/pprof/'],
      ['GET', '/app-health/x/readyz'],
    ] as const) {
      const res = await get(`${status.url}${path}`, { method });
      expect([method, path, res.status, res.body]).toEqual([method, path, 404, '404 page not found\n']);
      expect(JSON.stringify(res.headers)).not.toMatch(/fastify|express|x-powered-by/i);
    }
  });

  it('answers a malformed request without naming the framework', async () => {
    const status = await startStatus({});
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(status.port, '127.0.0.1', () => {
        socket.end('GET /healthz/ready HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect(raw).toMatch(/\r\n\r\nBad Request\n$/);
    expect(raw).not.toMatch(/fastify|FST_/i);
  });

  it('keeps readiness on GET and HEAD', async () => {
    const app = buildStatusServer({
      readiness: () => ({ ready: false, reason: 'starting' }),
      log: silentLog,
    });
    const get503 = await app.inject({ method: 'GET', url: '/healthz/ready' });
    expect([get503.statusCode, get503.body]).toEqual([503, 'starting\n']);
    const head = await app.inject({ method: 'HEAD', url: '/healthz/ready' });
    expect(head.statusCode).toBe(503);
    const ready = buildStatusServer({ readiness: alwaysReady, log: silentLog });
    expect((await ready.inject({ method: 'HEAD', url: '/healthz/ready' })).statusCode).toBe(200);
    await app.close();
    await ready.close();
  });
});

describe('readiness on a socket, answered ahead of the router', () => {
  /** What a client sees that could differ between the two paths. */
  const seen = (r: { status: number; headers: Record<string, unknown>; body: string }) => ({
    status: r.status,
    body: r.body,
    'cache-control': r.headers['cache-control'],
    'content-type': r.headers['content-type'],
    'content-length': r.headers['content-length'],
  });

  it.each([
    ['ready', { ready: true, reason: '' }],
    ['not ready', { ready: false, reason: 'server is not live, current state is: PRE_INITIALIZING' }],
  ] as const)('answers as the route does when %s: GET, HEAD, with a query string', async (_, readiness) => {
    const status = await startStatus({ readiness: () => readiness });
    for (const [method, path] of [
      ['GET', '/healthz/ready'],
      ['HEAD', '/healthz/ready'],
      ['GET', '/healthz/ready?probe=kubelet'],
    ] as const) {
      const viaSocket = await get(`${status.url}${path}`, { method });
      const viaRouter = await status.app.inject({ method, url: path });
      // inject() keeps a HEAD answer's body; on a socket a HEAD answer has none (RFC 9110 §9.3.2).
      const body = method === 'HEAD' ? '' : viaRouter.body;
      expect(seen(viaSocket), `${method} ${path}`).toEqual(
        seen({ status: viaRouter.statusCode, headers: viaRouter.headers, body }),
      );
    }
  });

  it('leaves every other request to the router: other methods, other paths', async () => {
    const status = await startStatus({});
    expect((await get(`${status.url}/healthz/ready`, { method: 'POST' })).status).toBe(404);
    expect((await get(`${status.url}/healthz/ready/`)).status).toBe(404);
    expect((await get(`${status.url}/healthz/readyz`)).status).toBe(404);
    expect((await get(`${status.url}/stats/prometheus`)).status).toBe(200);
  });
});

describe('statusOptionsFromConfig', () => {
  const config = (over: {
    podIp?: string;
    ipv6?: boolean;
    type?: 'sidecar' | 'router';
    probers?: string;
    annotations?: string;
  }): AgentConfig =>
    ({
      node: { podIp: over.podIp ?? '', ipv6: over.ipv6 ?? false, type: over.type ?? 'sidecar' },
      proxy: { proxyAdminPort: 15000 },
      statusPort: 15020,
      kubeAppProbers: over.probers ?? '',
      prometheusAnnotations: over.annotations ?? '',
    }) as AgentConfig;

  it('targets the pod IP, else loopback by IP family, and reads Envoy on its admin port', () => {
    expect(statusOptionsFromConfig(config({ podIp: '10.1.2.3' }))).toMatchObject({
      podHost: '10.1.2.3',
      envoyAdmin: { host: '127.0.0.1', port: 15000 },
    });
    expect(statusOptionsFromConfig(config({}))).toMatchObject({ podHost: '127.0.0.1' });
    expect(statusOptionsFromConfig(config({ ipv6: true }))).toMatchObject({
      podHost: '::1',
      envoyAdmin: { host: '::1', port: 15000 },
    });
  });

  it('merges application metrics for sidecars only, as Istio', () => {
    const annotations = '{"scrape":"true","port":"8080"}';
    expect(statusOptionsFromConfig(config({ annotations })).appMetrics).toEqual({
      port: 8080,
      path: '/metrics',
    });
    expect(statusOptionsFromConfig(config({ annotations, type: 'router' })).appMetrics).toBeNull();
  });

  it('stops start-up with a usage error on a bad variable', () => {
    expect(() => statusOptionsFromConfig(config({ probers: '{"abc":{}}' }))).toThrow(AgentError);
    expect(() => statusOptionsFromConfig(config({ annotations: '{"port":"15020"}' }))).toThrow(
      /ISTIO_PROMETHEUS_ANNOTATIONS: port 15020 is the status port itself/,
    );
  });
});
