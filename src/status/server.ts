/**
 * The status server on `--statusPort` (Istio's 15020). Built in a function and listened on
 * elsewhere, so tests use `inject()`. Every answer comes from machine state handed in as
 * functions; no route reaches into an actor.
 *
 * Routes: `/healthz/ready` (readiness), `/app-health/…` (application probes, app-probe-routes.ts),
 * `/stats/prometheus` and `/metrics` (merged metrics, metrics.ts), `/quitquitquit` and `/drain`
 * (loopback only, lifecycle-endpoints.ts), `/debug/*` (loopback only, src/debug/routes.ts). Anything
 * else is a 404 that names nothing (no framework, no route list): the port is reachable from the
 * whole cluster.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyReply, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Readiness } from '../../machines/readiness.js';
import { registerDebugRoutes } from '../debug/routes.js';
import type { DebugSource } from '../debug/source.js';
import { messageOf } from '../errors.js';
import { registerAppProbeRoutes } from './app-probe-routes.js';
import type { AppProbers } from './app-probes.js';
import { registerLifecycleEndpoints } from './lifecycle-endpoints.js';
import {
  type AppScrapeConfig,
  createAgentRegistry,
  DEFAULT_MAX_SOURCE_BYTES,
  DEFAULT_SCRAPE_TIMEOUT_MS,
  registerMetricsRoutes,
  statusMetrics,
} from './metrics.js';
import { type AppTarget, appTarget } from './probe-client.js';

export interface StatusServerDeps {
  readiness: () => Readiness;
  log: Logger;
  /**
   * The agent's own metrics: first in `/stats/prometheus`, and where the status server registers
   * its counters. Default: a fresh `createAgentRegistry()`.
   */
  registry?: Registry;
  /** Parsed `ISTIO_KUBE_APP_PROBERS` (`parseAppProbers`). Default: none. */
  probers?: AppProbers;
  /** The pod's own address for probes and application metrics (`podAddress`). Default: 127.0.0.1. */
  podHost?: string;
  /** Envoy's admin address for `/stats/prometheus`; `null` or absent leaves Envoy out. */
  envoyAdmin?: { host: string; port: number } | null;
  /** Parsed `ISTIO_PROMETHEUS_ANNOTATIONS` (`parsePrometheusAnnotations`); `null` or absent: none. */
  appMetrics?: AppScrapeConfig | null;
  /** `POST /quitquitquit`: stop Envoy and exit 0 without a drain. Absent: the endpoint is a 404. */
  quit?: () => void;
  /** `POST /drain`: fail readiness and drain, no exit. Absent: the endpoint is a 404. */
  drain?: () => void;
  /** Per-source cut of the merged metrics (default 10 MiB) and time limit without a Prometheus header (10 s). */
  metricsLimits?: { maxSourceBytes?: number; defaultTimeoutMs?: number };
  /** The machines for `/debug/machines`, `/debug/statechart`, `/debug/events`. Absent: those are 404s. */
  debug?: DebugSource;
}

const NOT_FOUND = '404 page not found\n';
/**
 * No route here declares a JSON schema. Compiler builders that refuse one keep fastify from
 * loading its defaults (ajv and fast-json-stringify) when the server is built; the bundle
 * (tools/bundle.ts) leaves them out altogether. A route given a schema fails at registration.
 */
const NO_SCHEMAS = () => {
  throw new Error('the status server declares no route schemas');
};
const IDLE_TIMEOUT_MS = 10_000;
const BAD_REQUEST =
  'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n';

export function buildStatusServer(deps: StatusServerDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    schemaController: { compilersFactory: { buildValidator: NO_SCHEMAS, buildSerializer: NO_SCHEMAS } },
    logController: new LogController({ disableRequestLogging: true }),
    // A probe must not hang on a half-open kubelet connection. Routes that wait longer by design
    // (slow application probes, scrapes) extend their own socket's limit (`allowIdle`).
    connectionTimeout: IDLE_TIMEOUT_MS,
    return503OnClosing: true,
    // An unparseable request: a bare 400 in text, like every other answer of this port.
    clientErrorHandler: (_err, socket) => {
      if (socket.writable) socket.end(BAD_REQUEST);
    },
  });
  const notFound = (reply: FastifyReply) => reply.code(404).type('text/plain').send(NOT_FOUND);

  // Istio answers any method on /healthz/ready; kubelet uses GET, `pilot-agent wait` GET, LBs HEAD.
  app.route({
    method: ['GET', 'HEAD'],
    url: '/healthz/ready',
    handler: async (_req, reply) => {
      const { ready, reason } = deps.readiness();
      reply.header('cache-control', 'no-cache');
      if (ready) return reply.code(200).type('text/plain').send('');
      return reply.code(503).type('text/plain').send(`${reason}\n`);
    },
  });

  const registry = deps.registry ?? createAgentRegistry();
  const metrics = statusMetrics(registry);
  let target: Promise<AppTarget> | undefined;
  const resolveTarget = () => {
    target ??= appTarget(deps.podHost ?? '127.0.0.1');
    return target;
  };
  const log = deps.log;

  registerAppProbeRoutes(app, {
    probers: deps.probers ?? new Map(),
    target: resolveTarget,
    metrics,
    log,
    notFound,
  });
  registerMetricsRoutes(app, {
    registry,
    metrics,
    envoyAdmin: deps.envoyAdmin ?? null,
    appMetrics: deps.appMetrics ?? null,
    target: resolveTarget,
    maxSourceBytes: deps.metricsLimits?.maxSourceBytes ?? DEFAULT_MAX_SOURCE_BYTES,
    defaultTimeoutMs: deps.metricsLimits?.defaultTimeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS,
    log,
  });
  registerLifecycleEndpoints(app, { quit: deps.quit, drain: deps.drain, log });
  if (deps.debug) registerDebugRoutes(app, { source: deps.debug, log });

  app.setNotFoundHandler((_req, reply) => notFound(reply));
  // Fastify's default error answer is JSON naming its own error codes (FST_ERR_…); say only the status.
  app.setErrorHandler((err: unknown, _req, reply) => {
    const code = (err as { statusCode?: unknown }).statusCode;
    const status = typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
    if (status >= 500) log.error({ err: messageOf(err) }, 'status server request failed');
    return reply
      .code(status)
      .type('text/plain')
      .send(`${STATUS_CODES[status] ?? 'Error'}\n`);
  });
  return app;
}

/** Listens on every interface as Istio does (`:<port>`): dual-stack, or IPv4 where IPv6 is off. */
export type StatusServer = ReturnType<typeof buildStatusServer>;

export async function listenStatusServer(app: StatusServer, port: number): Promise<string> {
  try {
    return await app.listen({ port, host: '::' });
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT' &&
      (err as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL'
    ) {
      throw err;
    }
    return await app.listen({ port, host: '0.0.0.0' });
  }
}
