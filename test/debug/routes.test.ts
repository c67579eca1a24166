/**
 * `/debug/*` on the status server, with real sockets: loopback callers only (the server listens on
 * every interface and the non-loopback request really comes from this machine's own non-loopback
 * address), a `Host` naming loopback, the self-contained page, and the SSE feed's life cycle
 * (observer attached only while a stream is open, streams ended by the server's close, bounded).
 */
import { connect } from 'node:net';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { registerDebugRoutes } from '../../src/debug/routes.js';
import { createDebugSource, type DebugMessage, type MachinesReport } from '../../src/debug/source.js';
import { buildStatusServer, type StatusServerDeps } from '../../src/status/server.js';
import { waitUntil } from '../helpers/wait.js';
import { countObservers, LEAK, startFixture } from './fixture.js';
import { cleanup, get, nonLoopbackAddress, onCleanup, openSse } from './helpers.js';

const silent = pino({ level: 'silent' });
afterEach(cleanup);

function fixture(): AnyActorRef {
  const root = startFixture();
  onCleanup(() => root.stop());
  return root;
}

async function status(root: AnyActorRef, host = '127.0.0.1', deps: Partial<StatusServerDeps> = {}) {
  const app = buildStatusServer({
    readiness: () => ({ ready: true, reason: '' }),
    log: silent,
    debug: createDebugSource(root),
    ...deps,
  });
  await app.listen({ port: 0, host });
  onCleanup(() => app.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, port, url: `http://127.0.0.1:${port}` };
}

const PATHS = ['/debug/machines', '/debug/statechart', '/debug/events'] as const;

describe('/debug/* callers', () => {
  it.for(['IPv4', 'IPv6'] as const)(
    'from a non-loopback %s address: 403, and nothing observes the actors',
    async (family, ctx) => {
      const address = nonLoopbackAddress(family);
      if (!address) {
        ctx.skip(true, `no non-loopback ${family} address on this machine`);
        return;
      }
      const root = fixture();
      const observers = countObservers(root);
      const { port } = await status(root, family === 'IPv4' ? '0.0.0.0' : '::');
      const base = `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
      for (const path of PATHS) {
        // A forwarding header or Host claiming loopback changes nothing: the peer address decides.
        const forged: Record<string, string> = { 'x-forwarded-for': '127.0.0.1', host: 'localhost' };
        for (const headers of [{}, forged]) {
          const res = await get(`${base}${path}`, { headers });
          expect([path, res.status, res.body]).toEqual([
            path,
            403,
            'Only requests from localhost are allowed\n',
          ]);
        }
      }
      expect(observers()).toBe(0);
    },
  );

  it('from loopback with a Host that is not loopback (DNS rebinding): 403', async () => {
    const root = fixture();
    const { url, port } = await status(root);
    for (const path of PATHS) {
      for (const host of [
        'evil.example',
        `evil.example:${port}`,
        `10.0.0.1:${port}`,
        'localhost.evil.example',
      ]) {
        const res = await get(`${url}${path}`, { headers: { host } });
        expect([path, host, res.status, res.body]).toEqual([
          path,
          host,
          403,
          'Host must be localhost or a loopback address\n',
        ]);
      }
    }
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      'LOCALHOST',
      '127.1.2.3',
    ]) {
      expect((await get(`${url}/debug/machines`, { headers: { host } })).status).toBe(200);
    }
  });

  it('from loopback without a Host (HTTP/1.0 tooling): served', async () => {
    const root = fixture();
    const { port } = await status(root);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /debug/machines HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        text += d;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.[01] 200/);
  });

  it('are 404s when the agent gives no debug source, and other methods are 404s', async () => {
    const root = fixture();
    const { url } = await status(root, '127.0.0.1', { debug: undefined });
    for (const path of PATHS) expect((await get(`${url}${path}`)).status).toBe(404);
    const served = await status(root);
    expect((await get(`${served.url}/debug/machines`, { method: 'POST' })).status).toBe(404);
    expect((await get(`${served.url}/debug/events`, { method: 'HEAD' })).status).toBe(404);
  });
});

describe('GET /debug/machines', () => {
  it('is the actors as JSON, not cached, without key material', async () => {
    const root = fixture();
    const { url } = await status(root);
    const res = await get(`${url}/debug/machines`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    const report = JSON.parse(res.body) as MachinesReport;
    expect(report.actors.map((a) => a.path)).toEqual(['fixture', 'fixture/holder']);
    expect(res.body).not.toMatch(LEAK);
  });
});

describe('GET /debug/statechart', () => {
  it('is one self-contained page: the three diagrams inline, nonce-only scripts and styles, nothing fetched', async () => {
    const root = fixture();
    const { url } = await status(root);
    const res = await get(`${url}/debug/statechart`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    for (const id of [
      'envoy.ready',
      'envoy.crashedBackoff',
      'cluster_envoy.hotRestarting',
      'agent.active.running',
      'certs.watching',
    ]) {
      expect(res.body).toContain(`<title>${id}</title>`);
    }
    // Every script and style is inline and carries the nonce; nothing points off the page.
    const scripts = res.body.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts).toEqual([`<script nonce="${nonce}">`]);
    expect(res.body.match(/<style\b[^>]*>/g)).toEqual([`<style nonce="${nonce}">`]);
    expect(res.body).not.toMatch(
      /<link\b|@import|url\(\s*['"]?https?:|(src|href)\s*=\s*["']?(https?:)?\/\//i,
    );
    expect(res.body).not.toMatch(/<\?xml|<!DOCTYPE svg/);
    // Each diagram's element ids are its own.
    const ids = [...res.body.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('still works without the diagram files, saying which is missing', async () => {
    const root = fixture();
    const app = Fastify({ loggerInstance: silent });
    registerDebugRoutes(app, { source: createDebugSource(root), log: silent, diagramsDir: '/nonexistent' });
    const res = await app.inject({ method: 'GET', url: '/debug/statechart', remoteAddress: '127.0.0.1' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('visualizations/envoy-lifecycle.svg is missing (npm run visualize)');
    expect(res.body).toContain('id="diagram-envoy"');
    await app.close();
  });
});

describe('GET /debug/events', () => {
  it('streams the current state and then each change; the observer lives as long as the stream', async () => {
    const root = fixture();
    const observers = countObservers(root);
    const { url } = await status(root);
    const stream = await openSse(`${url}/debug/events`);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toBe('no-store');
    await stream.waitFor((m) => m.some((x) => (x as DebugMessage).kind === 'machines'), 'the current state');
    expect(observers()).toBe(1);
    root.send({ type: 'GO', payload: 'x' });
    await stream.waitFor(
      (m) =>
        m.some(
          (x) =>
            (x as DebugMessage).kind === 'snapshot' &&
            (x as { actor: { state: string } }).actor.state === 'loading',
        ),
      'the transition to loading',
    );
    expect(stream.raw()).toMatch(/^retry: 2000\n\n(id: \d+\ndata: \{.*\}\n\n)+/);
    expect(stream.raw()).not.toMatch(LEAK);
    stream.close();
    await waitUntil(() => observers() === 0, 'observer detached');
  });

  it('is ended by the status server closing, which then does not wait for it', async () => {
    const root = fixture();
    const { app, url } = await status(root);
    const stream = await openSse(`${url}/debug/events`);
    await stream.waitFor((m) => m.length >= 2, 'first messages');
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await waitUntil(() => stream.ended(), 'stream ended');
  });

  it('serves at most 8 streams at once', async () => {
    const root = fixture();
    const { url } = await status(root);
    const streams = await Promise.all(Array.from({ length: 8 }, () => openSse(`${url}/debug/events`)));
    expect(streams.map((s) => s.status)).toEqual(Array(8).fill(200));
    const refused = await get(`${url}/debug/events`);
    expect([refused.status, refused.body]).toEqual([503, 'at most 8 debug streams at once\n']);
    streams[0]?.close();
    await waitUntil(async () => {
      const next = await openSse(`${url}/debug/events`);
      next.close();
      return next.status === 200;
    }, 'a free slot again');
  });

  it('sends a heartbeat while nothing happens', async () => {
    const root = fixture();
    const app = Fastify({ loggerInstance: silent });
    registerDebugRoutes(app, { source: createDebugSource(root), log: silent, heartbeatMs: 30 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    onCleanup(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const stream = await openSse(`http://127.0.0.1:${port}/debug/events`);
    await waitUntil(() => stream.raw().includes(': keep-alive\n\n'), 'a heartbeat');
  });
});
