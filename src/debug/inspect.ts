/**
 * `--inspect` / `PILOT_AGENT_INSPECT=true`: the running agent in the Stately (XState) inspector.
 * Loaded with `import()` only when asked for, so a normal start never loads @statelyai/inspect.
 *
 * Shape (and why):
 * - A relay on **loopback only** (127.0.0.1, `::1` where there is no IPv4; port 15081 or
 *   `PILOT_AGENT_INSPECT_PORT`). `@statelyai/inspect/server` is not used: it binds every
 *   interface, hard-codes `ws://localhost:<port>` in its page (wrong behind a port-forward to
 *   another local port), and relays whatever any client sends to every other client. The relay
 *   serves a bridge page that frames https://stately.ai/inspect and feeds it over a WebSocket to
 *   the same host; anything else may read the stream with a plain WebSocket client.
 * - The agent does not connect to its own relay with `createWebSocketInspector`: each connected
 *   client gets its own `createInspector` (the library's conversion to the Stately event format)
 *   whose adapter writes straight to that socket. So clients cannot publish (what they send is
 *   ignored), there is no reconnect loop and no buffer filling while nobody watches, and a late
 *   client still sees everything: it starts with a registration of every live actor, with its
 *   current snapshot, from a walk of the actor tree.
 * - **No client, no cost**: the inspection observer is attached with the first client and
 *   detached with the last; the root is created without one.
 * - Only loopback peers, a `Host` that names loopback, and a browser `Origin` equal to the relay's
 *   own are let in (DNS rebinding; a page on another origin opening a WebSocket to localhost).
 *   Nothing is ever sent to a third party by the agent: the browser loads Stately's UI and hands
 *   it the events itself. (`createSkyInspector` would upload state to Stately's servers.)
 * - Every event is sanitised (source.ts `sanitize`) before it is written: PEM armour,
 *   base64 blobs and values under secret-like names never leave the process.
 * - A client that does not read is dropped past `maxBufferedBytes`; at most `maxClients`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { Logger } from 'pino';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { messageOf } from '../errors.js';
import { isLoopbackAddress } from '../http/loopback.js';
import { isLocalHostHeader } from './host.js';
import { actorTree, type SanitizeLimits, sanitize } from './source.js';

/** Not among Istio's reserved sidecar ports (15000–15090 as documented) nor the usual app ports. */
export const DEFAULT_INSPECT_PORT = 15081;
export const INSPECT_PORT_ENV = 'PILOT_AGENT_INSPECT_PORT';
export const STATELY_INSPECTOR_URL = 'https://stately.ai/inspect';

export interface InspectorOptions {
  /** 0 picks a free port (the log says which). */
  port: number;
  log: Logger;
  maxClients?: number;
  maxBufferedBytes?: number;
}

export interface InspectorRelay {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  clients(): number;
  close(): Promise<void>;
}

/** The relay port from the environment; throws with a one-line reason when it is not a port. */
export function inspectPortFrom(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[INSPECT_PORT_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_INSPECT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`${INSPECT_PORT_ENV}=${JSON.stringify(raw)} is not a port number (0-65535)`);
  }
  return port;
}

// `ws` is loaded only with --inspect: start-up without the flag never pays for it.
type WsClient = import('ws').WebSocket;

async function loadWs(): Promise<typeof import('ws')> {
  return import('ws');
}

/** Deeper than the debug endpoints: the Stately UI draws from context and the machine definition. */
const EVENT_LIMITS: SanitizeLimits = { depth: 12, arrayItems: 200, objectKeys: 200, stringChars: 4096 };
const DEFINITION_LIMITS: SanitizeLimits = { depth: 24, arrayItems: 500, objectKeys: 500, stringChars: 4096 };

/** The Stately event as it goes on the wire: sanitised, the definition (a JSON string) included. */
export function serializeStatelyEvent(event: StatelyInspectionEvent): string {
  if (event.type !== '@xstate.actor' || event.definition === undefined) {
    return JSON.stringify(sanitize(event, EVENT_LIMITS));
  }
  const { definition, ...rest } = event;
  let cleanDefinition: string | undefined;
  try {
    cleanDefinition = JSON.stringify(sanitize(JSON.parse(definition), DEFINITION_LIMITS));
  } catch {
    cleanDefinition = undefined;
  }
  return JSON.stringify({ ...(sanitize(rest, EVENT_LIMITS) as object), definition: cleanDefinition });
}

const FORBIDDEN =
  'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nForbidden\n';
const BUSY =
  'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nBusy\n';

/** A browser's page may only open the socket from the relay's own page (same origin). */
function sameOriginOrNone(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  return host !== undefined && origin.toLowerCase() === `http://${host.toLowerCase()}`;
}

function bridgePage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pilot-agent · Stately inspector</title>
<style nonce="${nonce}">html, body { height: 100%; margin: 0; } iframe { border: 0; width: 100%; height: 100%; }</style>
</head>
<body>
<iframe id="inspector" src="${STATELY_INSPECTOR_URL}" title="Stately inspector"></iframe>
<script nonce="${nonce}">
(function () {
  'use strict';
  // Events wait here until the inspector frame says it is listening; bounded like the library's.
  var MAX_PENDING = 5000;
  var frame = document.getElementById('inspector');
  var target = null;
  var pending = [];
  window.addEventListener('message', function (e) {
    if (e.source !== frame.contentWindow || !e.data || e.data.type !== '@statelyai.connected') return;
    target = e.origin;
    pending.splice(0).forEach(function (m) { frame.contentWindow.postMessage(m, target); });
  });
  var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
  ws.onmessage = function (e) {
    var m;
    try { m = JSON.parse(e.data); } catch (err) { return; }
    if (target) frame.contentWindow.postMessage(m, target);
    else { pending.push(m); if (pending.length > MAX_PENDING) pending.shift(); }
  };
})();
</script>
</body>
</html>
`;
}

function answerHttp(req: IncomingMessage, res: ServerResponse): void {
  const deny = (code: number, text: string) => {
    res.writeHead(code, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end(text);
  };
  if (!isLoopbackAddress(req.socket.remoteAddress) || !isLocalHostHeader(req.headers.host)) {
    deny(403, 'Forbidden\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    deny(405, 'Method Not Allowed\n');
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/' && path !== '/index.html') {
    deny(404, 'Not Found\n');
    return;
  }
  const nonce = randomBytes(16).toString('base64');
  const host = req.headers.host ?? `localhost:${(req.socket.localPort ?? 0).toString()}`;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      `connect-src 'self' ws://${host}`,
      'frame-src https://stately.ai https://*.stately.ai',
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; '),
  });
  res.end(req.method === 'HEAD' ? undefined : bridgePage(nonce));
}

async function listenLoopback(server: ReturnType<typeof createServer>, port: number): Promise<number> {
  const listen = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const fail = (err: Error) => reject(err);
      server.once('error', fail);
      server.listen({ port, host, exclusive: true }, () => {
        server.off('error', fail);
        resolve((server.address() as AddressInfo).port);
      });
    });
  try {
    return await listen('127.0.0.1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // An IPv6-only pod: its loopback is ::1.
    if (code !== 'EADDRNOTAVAIL' && code !== 'EAFNOSUPPORT') throw err;
    return await listen('::1');
  }
}

export async function startInspector(root: AnyActorRef, options: InspectorOptions): Promise<InspectorRelay> {
  const { log } = options;
  const maxClients = options.maxClients ?? 4;
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  const ws = await loadWs();
  const wss = new ws.WebSocketServer({
    noServer: true,
    // Clients have nothing to say; a large frame from one is a protocol error that closes it.
    maxPayload: 4096,
    perMessageDeflate: false,
    clientTracking: false,
  });
  /** Each connected client with what ends its observation. */
  const clients = new Map<WsClient, () => void>();

  const attach = (client: WsClient, peer: string | undefined) => {
    let detach: (() => void) | undefined;
    const drop = () => {
      if (!clients.delete(client)) return;
      detach?.();
      log.info({ peer, clients: clients.size }, 'inspector client left');
    };
    clients.set(client, drop);
    client.on('close', drop);
    client.on('error', () => {
      drop();
      client.terminate();
    });
    const inspector = createInspector({
      send(event: StatelyInspectionEvent) {
        if (client.readyState !== client.OPEN) return;
        if (client.bufferedAmount > maxBuffered) {
          log.warn({ peer }, 'inspector client is not reading: dropped');
          drop();
          client.terminate();
          return;
        }
        try {
          client.send(serializeStatelyEvent(event));
        } catch (err) {
          log.warn({ peer, err: messageOf(err) }, 'inspector event not sent');
        }
      },
    });
    // Registrations of every live actor first (the library converts them, with their current
    // snapshots), then the live feed; both go through the same deferred queue, in order.
    for (const ref of actorTree(root)) {
      inspector.inspect.next?.({
        type: '@xstate.actor',
        actorRef: ref,
        rootId: root.sessionId,
      } as InspectionEvent);
    }
    const subscription = root.system.inspect(inspector.inspect);
    detach = () => subscription.unsubscribe();
    log.info({ peer, clients: clients.size }, 'inspector client connected');
  };

  const server = createServer(answerHttp);
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const peer = req.socket.remoteAddress;
    if (!isLoopbackAddress(peer) || !isLocalHostHeader(req.headers.host) || !sameOriginOrNone(req)) {
      log.warn({ peer, host: req.headers.host, origin: req.headers.origin }, 'inspector connection refused');
      socket.end(FORBIDDEN);
      return;
    }
    if (clients.size >= maxClients) {
      socket.end(BUSY);
      return;
    }
    wss.handleUpgrade(req, socket, head, (client) => attach(client, peer));
  });

  const port = await listenLoopback(server, options.port);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${port}`;
  log.info(
    { url, port },
    `Stately inspector relay on loopback: forward port ${port} and open http://localhost:${port} (the page loads ${STATELY_INSPECTOR_URL})`,
  );
  return {
    url,
    port,
    clients: () => clients.size,
    close: async () => {
      for (const [client, drop] of [...clients]) {
        drop();
        client.terminate();
      }
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** For the composition root: never fails the agent, which runs on without its inspector. */
export async function startInspectorFor(
  root: AnyActorRef,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Promise<InspectorRelay | undefined> {
  try {
    return await startInspector(root, { port: inspectPortFrom(env), log });
  } catch (err) {
    log.error({ err: messageOf(err) }, 'Stately inspector relay could not start; the agent runs without it');
    return undefined;
  }
}
