/**
 * `/app-health/<container>/<livez|readyz|startupz>`: kubelet's probes of the application, which
 * the injector pointed at the status port, are run here against the application and answered the
 * way kubelet would judge the application's own answer (spec §5.4, §5.7).
 *
 * The answer kubelet gets:
 * - HTTP(S): a 3xx from the application → 200 (a redirect kubelet would count as success; it has
 *   no Location to pass on), 200–599 → that status with the first 10 KiB of the body (Istio
 *   ≥ 1.24), so a 503 from the application is still a 503 in kubelet's event; any other status,
 *   or no answer (refused, reset, TLS failure, timeout) → 500 with an empty body.
 * - TCP: 200 when a connection opens, else 500. gRPC: 200 for SERVING, else 500.
 * - A path that is not configured → 404 (Istio answers 400 "app prober config does not exists";
 *   404 says the same without echoing the path).
 *
 * Headers to the application (Istio ≥ 1.24): the caller's own headers, since kubelet already sends
 * the probe's `httpHeaders`; hop-by-hop headers are not forwarded. Configured headers the caller
 * did not send are added, so a probe sent by hand (curl, a load balancer) reaches the application
 * as kubelet's would; where both have a header, the caller's value wins, as in Istio. The Host
 * header is the caller's, with the status port replaced by the application's port (kubelet sends
 * `<pod IP>:<status port>` unless the probe configures a Host header).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { allowIdle, type StatusApp } from '../http/app.js';
import type { AppProber, AppProbers, HttpGetAction } from './app-probes.js';
import { checkGrpcHealth, servingStatusName } from './grpc-health.js';
import type { StatusMetrics } from './metrics.js';
import { type AppTarget, type ProbeOutcome, probeHttp, probeTcp } from './probe-client.js';

export interface AppProbeRouteDeps {
  probers: AppProbers;
  /** Resolved once, on the first probe. */
  target: () => Promise<AppTarget>;
  metrics: StatusMetrics;
  log: Logger;
  notFound: (reply: FastifyReply) => FastifyReply;
}

/** Connection-specific headers, never forwarded (RFC 9110 §7.6.1), plus the body framing of a GET. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'content-length',
  'expect',
]);

type ProbeResult = 'success' | 'failure' | 'timeout' | 'error';

export function registerAppProbeRoutes(app: StatusApp, deps: AppProbeRouteDeps): void {
  // Probes are judged on every call; the log says when a probe starts and stops failing.
  const failing = new Set<string>();

  app.all('/app-health/*', async (req, reply) => {
    const path = req.url.split('?', 1)[0] as string;
    const prober = deps.probers.get(path);
    if (!prober) return deps.notFound(reply);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return reply.code(405).header('allow', 'GET, HEAD').type('text/plain').send('Method Not Allowed\n');
    }
    allowIdle(req.socket, prober.timeoutMs);
    const target = await deps.target();
    const outcome = await runProbe(prober, target, req);
    const { status, body, result, reason } = judge(prober, outcome);
    deps.metrics.appProbes.inc({ container: prober.container, probe: prober.probe, result });
    if (result === 'success') {
      if (failing.delete(prober.key))
        deps.log.info({ probe: prober.key }, 'application probe succeeds again');
    } else if (!failing.has(prober.key)) {
      failing.add(prober.key);
      deps.log.warn({ probe: prober.key, result, reason }, 'application probe failing');
    }
    reply.code(status).header('cache-control', 'no-cache');
    if (body.length === 0) return reply.send('');
    // The application's text, shown as text: never rendered as a page of the status server.
    return reply.type('text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(body);
  });
}

function runProbe(prober: AppProber, target: AppTarget, req: FastifyRequest): Promise<ProbeOutcome> {
  const action = prober.action;
  switch (action.type) {
    case 'httpGet': {
      const { headers, host } = forwardedHeaders(req, action);
      return probeHttp({ target, action, headers, host, timeoutMs: prober.timeoutMs });
    }
    case 'tcpSocket':
      return probeTcp(target, action.port, prober.timeoutMs);
    case 'grpc': {
      const userAgent = req.headers['user-agent'];
      return checkGrpcHealth({
        host: target.host,
        port: action.port,
        service: action.service,
        timeoutMs: prober.timeoutMs,
        localAddress: target.localAddress,
        ...(userAgent ? { userAgent } : {}),
      }).then((outcome): ProbeOutcome => {
        if (outcome.kind === 'error') return outcome;
        const name = servingStatusName(outcome.status);
        return { kind: 'response', status: name === 'SERVING' ? 200 : 500, body: Buffer.from(name) };
      });
    }
  }
}

interface Verdict {
  status: number;
  body: Buffer;
  result: ProbeResult;
  reason: string;
}

function judge(prober: AppProber, outcome: ProbeOutcome): Verdict {
  if (outcome.kind === 'error') {
    return {
      status: 500,
      body: Buffer.alloc(0),
      result: outcome.timedOut ? 'timeout' : 'error',
      reason: outcome.message,
    };
  }
  const { status } = outcome;
  // kubelet: 200–399 is success (a 3xx it did not follow is a success with a warning).
  if (status >= 300 && status < 400)
    return { status: 200, body: Buffer.alloc(0), result: 'success', reason: '' };
  const body = prober.action.type === 'httpGet' ? outcome.body : Buffer.alloc(0);
  if (status >= 200 && status < 300) return { status, body, result: 'success', reason: '' };
  const reason = prober.action.type === 'grpc' ? `health status ${outcome.body}` : `status ${status}`;
  if (status >= 400 && status < 600) return { status, body, result: 'failure', reason };
  return { status: 500, body: Buffer.alloc(0), result: 'failure', reason };
}

function forwardedHeaders(
  req: FastifyRequest,
  action: HttpGetAction,
): { headers: string[]; host: string | undefined } {
  const raw = req.raw.rawHeaders;
  const headers: string[] = [];
  const sent = new Set<string>();
  let host: string | undefined;
  // Headers named in Connection are hop-by-hop for this request too.
  const connection = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connection.has(lower)) continue;
    if (lower === 'host') {
      host ??= value;
      continue;
    }
    headers.push(name, value);
    sent.add(lower);
  }
  for (const { name, value } of action.headers) {
    const lower = name.toLowerCase();
    if (sent.has(lower) || HOP_BY_HOP.has(lower)) continue;
    if (lower === 'host') {
      host ??= value;
      continue;
    }
    headers.push(name, value);
  }
  return {
    headers,
    host: host === undefined ? undefined : withAppPort(host, req.socket.localPort, action.port),
  };
}

/** `host:<status port>` → `host:<app port>`, as Istio rewrites kubelet's Host (Istio ≥ 1.24). */
function withAppPort(host: string, statusPort: number | undefined, appPort: number): string {
  const match = /^(.*):(\d+)$/.exec(host);
  if (!match || (match[1] as string).endsWith(':') || statusPort === undefined) return host;
  if (Number(match[2]) !== statusPort) return host;
  return `${match[1]}:${appPort}`;
}
