/**
 * The outgoing side of application probes and application metrics: connections to the pod's own
 * address only, made the way kubelet makes them.
 *
 * Destination: INSTANCE_IP when known, as kubelet probes the pod IP (Istio ≥ 1.10; an application
 * bound to its pod IP only would fail a probe sent to localhost), else 127.0.0.1, or ::1 for an
 * IPv6 proxy (Istio 1.5's `localhost`, chosen in `pilot/cmd/pilot-agent/main.go`). Nothing in a
 * request chooses the host, the port or the path: they come from the validated configuration, so
 * the status port is never an open proxy.
 *
 * Source address: 127.0.0.6 (::6 for IPv6) when this host can bind it, as Istio does. Istio's
 * iptables rules send the proxy user's traffic to its own pod IP through Envoy's inbound listener,
 * except traffic from 127.0.0.6 (`ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN`); without it a
 * probe would meet Envoy's inbound mTLS instead of the application. Where the address cannot be
 * bound (no such address on lo, non-Linux hosts) connections use the default source.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer, isIPv6, connect as netConnect } from 'node:net';
import type { HttpGetAction } from './app-probes.js';

export interface AppTarget {
  /** The pod's own address, never chosen by a request. */
  host: string;
  /** Source address for connections to it, when bindable here. */
  localAddress: string | undefined;
}

/** Where probes and application metrics go (see the file comment). */
export function podAddress(podIp: string, ipv6: boolean): string {
  if (podIp !== '') return podIp;
  return ipv6 ? '::1' : '127.0.0.1';
}

const SOURCE_ADDRESS = { v4: '127.0.0.6', v6: '::6' } as const;
const bindable = new Map<string, Promise<boolean>>();

/** Whether this host has `address`: tried once by listening on it, then remembered. */
function canBind(address: string): Promise<boolean> {
  let known = bindable.get(address);
  if (!known) {
    known = new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ host: address, port: 0, exclusive: true }, () => server.close(() => resolve(true)));
    });
    bindable.set(address, known);
  }
  return known;
}

/** The target for `host` with Istio's probe source address when available. */
export async function appTarget(host: string): Promise<AppTarget> {
  const source = isIPv6(host) ? SOURCE_ADDRESS.v6 : SOURCE_ADDRESS.v4;
  return { host, localAddress: (await canBind(source)) ? source : undefined };
}

export type ProbeOutcome =
  | { kind: 'response'; status: number; body: Buffer }
  | { kind: 'error'; message: string; timedOut: boolean };

/** kubelet reads at most this much of a probe's answer (`maxRespBodyLength`, 10 KiB). */
export const MAX_PROBE_BODY = 10 * 1024;

/** kubelet follows at most this many redirects (Go's client default). */
const MAX_REDIRECTS = 10;

/** Redirect codes Go's client follows; other 3xx answers are returned as they are. */
const FOLLOWED = new Set([301, 302, 303, 307, 308]);

export interface HttpProbeRequest {
  target: AppTarget;
  action: HttpGetAction;
  /** Header lines to send, as `[name, value, name, value, …]`, without Host. */
  headers: readonly string[];
  /** The Host header; `undefined` → `<target>:<port>` as kubelet sends it. */
  host: string | undefined;
  timeoutMs: number;
}

/**
 * One kubelet-style HTTP(S) probe. The timeout covers connecting, every redirect and reading the
 * answer. HTTPS does not verify the certificate and sends no SNI, as kubelet (which dials an IP
 * address). Redirects as kubelet's prober: to the same host they are followed (up to 10; more is a
 * failure); to another host they are not, and the 3xx answer itself is returned, which kubelet
 * counts as success. Never rejects.
 */
export async function probeHttp(req: HttpProbeRequest): Promise<ProbeOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), req.timeoutMs);
  const hostInUrl = isIPv6(req.target.host) ? `[${req.target.host}]` : req.target.host;
  let url = new URL(`${req.action.scheme}://${hostInUrl}:${req.action.port}${req.action.path}`);
  const origin = url.hostname;
  let host = req.host;
  try {
    for (let redirects = 0; ; redirects++) {
      const answer = await getOnce(url, req, host ?? url.host, controller.signal);
      const location = answer.location;
      if (!FOLLOWED.has(answer.status) || location === undefined) return answer;
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        return {
          kind: 'error',
          message: `redirect to an invalid location ${JSON.stringify(location)}`,
          timedOut: false,
        };
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        return { kind: 'error', message: `redirect to unsupported scheme ${next.protocol}`, timedOut: false };
      }
      if (next.hostname !== origin) return answer;
      if (redirects >= MAX_REDIRECTS) {
        return { kind: 'error', message: `stopped after ${MAX_REDIRECTS} redirects`, timedOut: false };
      }
      // Go keeps a custom Host through a relative redirect only.
      if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(location)) host = undefined;
      url = next;
    }
  } catch (err) {
    if (controller.signal.aborted) {
      return { kind: 'error', message: `no answer within ${req.timeoutMs} ms`, timedOut: true };
    }
    return { kind: 'error', message: (err as Error).message, timedOut: false };
  } finally {
    clearTimeout(timer);
  }
}

interface Answer {
  kind: 'response';
  status: number;
  body: Buffer;
  location: string | undefined;
}

function getOnce(url: URL, req: HttpProbeRequest, host: string, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const options = {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      // A new connection per probe, closed after it: kubelet disables keep-alive, so an idle
      // timeout in the application can never fail a probe.
      agent: false,
      headers: ['Host', host, ...req.headers, 'Connection', 'close'],
      signal,
      ...(req.target.localAddress ? { localAddress: req.target.localAddress } : {}),
      ...(https ? { rejectUnauthorized: false, servername: '' } : {}),
    };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        res.destroy();
        const location = res.headers.location;
        resolve({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks), location });
      };
      res.on('data', (chunk: Buffer) => {
        const room = MAX_PROBE_BODY - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= MAX_PROBE_BODY) done();
      });
      res.on('end', done);
      res.on('error', reject);
    };
    // node:https (and TLS with it) loads with the first HTTPS probe: most pods never have one.
    // With node:http2 (grpc-health.ts) loaded late too: −0.8 MB idle RSS (BENCHMARKS.md).
    const send = https ? process.getBuiltinModule('node:https').request : httpRequest;
    const out = send(options, onResponse);
    out.on('error', reject);
    out.end();
  });
}

/** kubelet's TCP probe: success when a connection opens within the timeout. Never rejects. */
export function probeTcp(target: AppTarget, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = netConnect({
      host: target.host,
      port,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    const finish = (outcome: ProbeOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ kind: 'error', message: `no connection within ${timeoutMs} ms`, timedOut: true }),
      timeoutMs,
    );
    socket.once('connect', () => finish({ kind: 'response', status: 200, body: Buffer.alloc(0) }));
    socket.once('error', (err) => finish({ kind: 'error', message: err.message, timedOut: false }));
  });
}
