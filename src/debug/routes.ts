/**
 * `/debug/*` on the status port: what the agent's machines are doing, for a human inside the pod
 * or at the end of `kubectl port-forward`. Loopback callers only (403 otherwise, like
 * `/quitquitquit`), and a `Host` that names loopback (host.ts: DNS rebinding).
 *
 * - `GET /debug/machines`: every actor of the running system as JSON (source.ts).
 * - `GET /debug/statechart`: the diagrams with the current states highlighted (page.ts).
 * - `GET /debug/events`: server-sent events feeding that page. At most `maxStreams` at once; a
 *   client that stops reading is dropped once `maxBufferedBytes` are waiting for it, so a stuck
 *   browser costs bounded memory; a comment line every `heartbeatMs` keeps port-forwards and
 *   proxies from timing the stream out and finds dead peers.
 *
 * Every answer comes from a `DebugSource`; nothing here touches an actor.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { StatusApp } from '../http/app.js';
import { allowLocalOnly } from '../http/loopback.js';
import { isLocalHostHeader, LOCAL_HOST_MESSAGE } from './host.js';
import { contentSecurityPolicy, defaultDiagramsDir, renderStatechartPage } from './page.js';
import type { DebugMessage, DebugSource } from './source.js';

export interface DebugRouteDeps {
  source: DebugSource;
  log: Logger;
  /** Where the SVGs are (default `<package root>/visualizations`). */
  diagramsDir?: string;
  /** Concurrent `/debug/events` streams (default 8). */
  maxStreams?: number;
  /** Bytes waiting for one slow stream before it is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  heartbeatMs?: number;
}

export const DEBUG_DEFAULTS = { maxStreams: 8, maxBufferedBytes: 1024 * 1024, heartbeatMs: 15_000 } as const;

function allowDebug(req: FastifyRequest, reply: FastifyReply): boolean {
  if (!allowLocalOnly(req, reply)) return false;
  if (isLocalHostHeader(req.headers.host)) return true;
  void reply.code(403).type('text/plain').send(LOCAL_HOST_MESSAGE);
  return false;
}

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

export function registerDebugRoutes(app: StatusApp, deps: DebugRouteDeps): void {
  const maxStreams = deps.maxStreams ?? DEBUG_DEFAULTS.maxStreams;
  const maxBuffered = deps.maxBufferedBytes ?? DEBUG_DEFAULTS.maxBufferedBytes;
  const heartbeatMs = deps.heartbeatMs ?? DEBUG_DEFAULTS.heartbeatMs;
  const diagramsDir = deps.diagramsDir ?? defaultDiagramsDir();
  const streams = new Set<() => void>();

  app.get('/debug/machines', async (req, reply) => {
    if (!allowDebug(req, reply)) return reply;
    return reply
      .code(200)
      .headers(NO_STORE)
      .type('application/json; charset=utf-8')
      .send(`${JSON.stringify(deps.source.machines(), null, 2)}\n`);
  });

  app.get('/debug/statechart', async (req, reply) => {
    if (!allowDebug(req, reply)) return reply;
    const page = await renderStatechartPage(diagramsDir);
    return reply
      .code(200)
      .headers({
        ...NO_STORE,
        'content-security-policy': contentSecurityPolicy(page.nonce),
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      })
      .type('text/html; charset=utf-8')
      .send(page.html);
  });

  // No automatic HEAD: it would run this handler and open a stream nobody reads.
  app.get('/debug/events', { exposeHeadRoute: false }, (req, reply) => {
    if (!allowDebug(req, reply)) return reply;
    if (streams.size >= maxStreams) {
      return reply.code(503).type('text/plain').send(`at most ${maxStreams} debug streams at once\n`);
    }
    reply.hijack();
    const res: ServerResponse = reply.raw;
    // The stream is silent between transitions by design; the heartbeat finds dead peers instead
    // of the status server's 10 s idle limit.
    req.socket.setTimeout(0);
    req.socket.setNoDelay(true);
    res.writeHead(200, {
      ...NO_STORE,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');

    let closed = false;
    let unsubscribe: (() => void) | undefined;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      streams.delete(close);
      unsubscribe?.();
      if (!res.writableEnded) res.end();
    };
    const write = (chunk: string) => {
      if (closed) return;
      if (res.writableLength > maxBuffered) {
        deps.log.warn({ caller: req.socket.remoteAddress }, '/debug/events client is not reading: dropped');
        close();
        res.destroy();
        return;
      }
      res.write(chunk);
    };
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), heartbeatMs);
    heartbeat.unref();
    streams.add(close);
    res.on('close', close);
    unsubscribe = deps.source.subscribe((message: DebugMessage) =>
      write(`id: ${message.seq}\ndata: ${JSON.stringify(message)}\n\n`),
    );
    if (closed) unsubscribe();
  });

  // Open streams would hold `close()` up forever: end them first.
  app.addHook('preClose', (done) => {
    for (const close of [...streams]) close();
    done();
  });
}
