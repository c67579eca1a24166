/**
 * Merged Prometheus metrics on the status port (Istio ≥ 1.6, spec §5.7): `GET /stats/prometheus`
 * (and `/metrics`, Istio ≥ 1.14) answers, in this order,
 *   1. the agent's own metrics (a prom-client registry),
 *   2. Envoy's, read from its admin endpoint `GET /stats/prometheus` on 127.0.0.1 (::1 for an
 *      IPv6 proxy) — Istio reads its 15090 listener, which is a route to the same admin handler
 *      that only exists when the bootstrap declares it; the admin port is always there,
 *   3. the application's, when `ISTIO_PROMETHEUS_ANNOTATIONS` asks for it (sidecars only).
 *
 * Behaviour, and where it departs from Istio:
 * - Always 200 with whatever could be read (Istio ≥ 1.7): a source that fails, answers non-200 or
 *   runs out of time is left out (or cut at its last complete line) and counted in
 *   `pilot_agent_scrape_failures_total{source}`.
 * - Streamed: sources are read as they arrive and written on with back-pressure; at most one chunk
 *   and one partial line per source are held, whatever the size of Envoy's answer.
 * - Each source is cut at its last complete line before `maxSourceBytes` (10 MiB by default) and
 *   counted in `pilot_agent_scrape_truncated_total{source}`.
 * - A family already exposed by an earlier source is dropped from a later one and counted in
 *   `pilot_agent_scrape_dropped_families_total{source}` (exposition-filter.ts says why): the answer
 *   stays valid text format, where Istio's concatenation fails the whole scrape.
 * - The answer is always text format 0.0.4. The application is asked for it (`Accept`); one that
 *   answers OpenMetrics anyway counts as a failed source. Istio ≥ 1.11 instead passes the
 *   application's format through, which would need every source converted to OpenMetrics.
 * - Time limit for all sources together: 90% of `X-Prometheus-Scrape-Timeout-Seconds` when
 *   Prometheus sends it (so a partial answer still reaches Prometheus before its own deadline),
 *   else 10 s. Istio uses the header's full value and no limit without it.
 * - The query string goes to Envoy (e.g. `?usedonly`, `?filter=`), as in Istio. `User-Agent` and
 *   `X-Prometheus-Scrape-Timeout-Seconds` are passed to both sources.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { AgentError, messageOf } from '../errors.js';
import { goField, isJsonObject, type JsonValue, shortJson } from '../go/json-decode.js';
import { allowIdle, type StatusApp } from '../http/app.js';
import { ExpositionFilter } from './exposition-filter.js';
import type { AppTarget } from './probe-client.js';

export const PROMETHEUS_ANNOTATIONS_ENV = 'ISTIO_PROMETHEUS_ANNOTATIONS';

/** Text exposition format 0.0.4, the only format this endpoint writes. */
export const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

export const DEFAULT_MAX_SOURCE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;

export type ScrapeSource = 'agent' | 'envoy' | 'app';

// prom-client's three `nodejs_active_*_total` gauges break the naming rule promtool enforces
// ("non-counter metrics should not have _total suffix"); the per-type `nodejs_active_*` gauges say
// the same, so the agent's exposition leaves these out.
const LINT_BREAKING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * The agent's registry, with Node's process metrics under `pilot_agent_` (Istio prefixes its Go
 * collectors with `istio_agent_`): applications export their own unprefixed `process_*` metrics,
 * and those must not collide with the agent's in the merged answer.
 */
export function createAgentRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pilot_agent_' });
  for (const name of LINT_BREAKING_DEFAULTS) registry.removeSingleMetric(`pilot_agent_${name}`);
  return registry;
}

export interface StatusMetrics {
  scrapes: Counter;
  failures: Counter<'source'>;
  truncated: Counter<'source'>;
  droppedFamilies: Counter<'source'>;
  appProbes: Counter<'container' | 'probe' | 'result'>;
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** The status server's counters in `registry` (created once per registry). */
export function statusMetrics(registry: Registry): StatusMetrics {
  return {
    scrapes: counter(registry, 'pilot_agent_scrapes_total', 'Scrapes of the merged metrics endpoint.', []),
    failures: counter(
      registry,
      'pilot_agent_scrape_failures_total',
      'Metrics sources that could not be read, or not completely, during a merged scrape.',
      ['source'],
    ),
    truncated: counter(
      registry,
      'pilot_agent_scrape_truncated_total',
      'Metrics sources cut at the size limit during a merged scrape.',
      ['source'],
    ),
    droppedFamilies: counter(
      registry,
      'pilot_agent_scrape_dropped_families_total',
      'Metric families left out of a merged scrape because an earlier source already exposed them.',
      ['source'],
    ),
    appProbes: counter(
      registry,
      'pilot_agent_app_probe_total',
      'Application probes run for kubelet, by result (success, failure, timeout, error).',
      ['container', 'probe', 'result'],
    ),
  };
}

/** Where the application's metrics are, from `ISTIO_PROMETHEUS_ANNOTATIONS`. */
export interface AppScrapeConfig {
  port: number;
  /** Starts with `/`; may carry a query string. */
  path: string;
}

const REQUEST_PATH = /^[\x21-\x7e]*$/;

/**
 * Parses `ISTIO_PROMETHEUS_ANNOTATIONS` (`{"scrape":"true","path":"/metrics","port":"8080"}`, the
 * pod's `prometheus.io/*` annotations as the injector copies them). `''` → no application metrics.
 * Keys as Go's encoding/json reads them (case-insensitive). Defaults as Istio ≥ 1.6: path
 * `/metrics`, port 80; `scrape` "false" turns scraping off.
 *
 * Stricter than Istio, which scrapes for any `scrape` value but "false" and fails at scrape time
 * on a bad port: `scrape` must be true or false (any letter case) or empty, `port` a number
 * 1–65535 (a JSON string as the injector writes it, or a JSON number), and `path` writable in a
 * request line (a missing leading `/` is added). A port equal to the status port is refused, as
 * Istio ≥ 1.24 does, because the agent would scrape itself forever.
 */
export function parsePrometheusAnnotations(
  json: string,
  options: { statusPort: number },
): AppScrapeConfig | null {
  const fail = (problem: string): never => {
    throw new AgentError('usage', `${PROMETHEUS_ANNOTATIONS_ENV}: ${problem}`);
  };
  if (json.trim() === '') return null;
  let root: JsonValue;
  try {
    root = JSON.parse(json) as JsonValue;
  } catch (err) {
    return fail(`not valid JSON: ${(err as Error).message}`);
  }
  // Go decodes `null` into the zero struct: every field at its default.
  const obj = root === null ? {} : root;
  if (!isJsonObject(obj))
    return fail(`must be a JSON object like {"scrape":"true","port":"8080"}, got ${shortJson(root)}`);

  const scrape = goField(obj, 'scrape') ?? '';
  if (typeof scrape !== 'string' || !/^(true|false|)$/i.test(scrape)) {
    return fail(`scrape must be "true" or "false", got ${shortJson(scrape)}`);
  }
  if (scrape.toLowerCase() === 'false') return null;

  const rawPort = goField(obj, 'port') ?? '';
  const port =
    rawPort === ''
      ? 80
      : typeof rawPort === 'string' && /^\d{1,5}$/.test(rawPort)
        ? Number(rawPort)
        : rawPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return fail(`port must be a port number from 1 to 65535, got ${shortJson(rawPort)}`);
  }
  if (options.statusPort > 0 && port === options.statusPort) {
    return fail(`port ${port} is the status port itself; the agent would scrape its own merged metrics`);
  }

  const rawPath = goField(obj, 'path') ?? '';
  if (typeof rawPath !== 'string') return fail(`path must be a string, got ${shortJson(rawPath)}`);
  const path = rawPath === '' ? '/metrics' : rawPath.startsWith('/') ? rawPath : `/${rawPath}`;
  if (!REQUEST_PATH.test(path)) {
    return fail(
      `path ${shortJson(rawPath)} has characters an HTTP request line cannot carry (spaces, controls, non-ASCII)`,
    );
  }
  return { port, path };
}

export interface MetricsRouteDeps {
  registry: Registry;
  metrics: StatusMetrics;
  /** Envoy's admin address; `null` leaves Envoy out. */
  envoyAdmin: { host: string; port: number } | null;
  /** The application's metrics; `null` leaves them out. */
  appMetrics: AppScrapeConfig | null;
  /** The pod's own address (resolved once). */
  target: () => Promise<AppTarget>;
  maxSourceBytes: number;
  defaultTimeoutMs: number;
  log: Logger;
}

export function registerMetricsRoutes(app: StatusApp, deps: MetricsRouteDeps): void {
  // Prometheus scrapes every few seconds: the log says when a source starts and stops failing
  // (the counters count every time).
  const logState: LogState = { failing: new Set(), truncated: new Set() };
  for (const url of ['/stats/prometheus', '/metrics']) {
    app.get(url, (req, reply) => {
      reply.code(200).header('content-type', TEXT_FORMAT).header('cache-control', 'no-cache');
      // A scraper that goes away must not leave Envoy's or the application's request open until
      // the time limit: the generator may be waiting on a source, where it cannot be interrupted.
      const gone = new AbortController();
      reply.raw.once('close', () => gone.abort());
      return reply.send(
        Readable.from(mergedExposition(deps, req, logState, gone.signal), { objectMode: false }),
      );
    });
  }
}

/** Seconds as Prometheus writes them (`10`, `2.5`); anything else is ignored. */
function scrapeTimeoutMs(header: string | string[] | undefined, fallbackMs: number): number {
  const seconds = typeof header === 'string' ? Number(header) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) return fallbackMs;
  return Math.max(1, Math.floor(seconds * 900));
}

interface LogState {
  failing: Set<ScrapeSource>;
  truncated: Set<ScrapeSource>;
}

interface OpenSource {
  source: 'envoy' | 'app';
  response: Promise<IncomingMessage>;
}

async function* mergedExposition(
  deps: MetricsRouteDeps,
  req: FastifyRequest,
  logState: LogState,
  clientGone: AbortSignal,
): AsyncGenerator<Buffer> {
  const { metrics, log } = deps;
  metrics.scrapes.inc();
  const timeoutMs = scrapeTimeoutMs(
    req.headers['x-prometheus-scrape-timeout-seconds'],
    deps.defaultTimeoutMs,
  );
  allowIdle(req.socket, timeoutMs);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const onGone = () => controller.abort();
  clientGone.addEventListener('abort', onGone);
  const passOn: Record<string, string> = {};
  for (const name of ['user-agent', 'x-prometheus-scrape-timeout-seconds']) {
    const value = req.headers[name];
    if (typeof value === 'string') passOn[name] = value;
  }

  // Both requests start now, so the application's answer is on its way while Envoy's streams.
  const sources: OpenSource[] = [];
  if (deps.envoyAdmin) {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    sources.push({
      source: 'envoy',
      response: open(deps.envoyAdmin.host, deps.envoyAdmin.port, `/stats/prometheus${query}`, {
        headers: passOn,
        signal: controller.signal,
        localAddress: undefined,
      }),
    });
  }
  if (deps.appMetrics) {
    const { port, path } = deps.appMetrics;
    sources.push({
      source: 'app',
      response: deps.target().then((target) =>
        open(target.host, port, path, {
          headers: { ...passOn, accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' },
          signal: controller.signal,
          localAddress: target.localAddress,
          refuseOpenMetrics: true,
        }),
      ),
    });
  }
  // Awaited in turn below; until then a failure must not count as an unhandled rejection.
  for (const { response } of sources) response.catch(() => {});

  const failures = new Set<ScrapeSource>();
  const failed = (source: ScrapeSource, err: unknown) => {
    // The scraper left: nothing failed on the source's side.
    if (clientGone.aborted) return;
    failures.add(source);
    metrics.failures.inc({ source });
    if (logState.failing.has(source)) return;
    logState.failing.add(source);
    const reason = controller.signal.aborted ? `no complete answer within ${timeoutMs} ms` : messageOf(err);
    log.warn({ source, err: reason }, 'metrics source left out of the merged scrape');
  };
  const settled = (source: ScrapeSource) => {
    if (!failures.has(source) && logState.failing.delete(source))
      log.info({ source }, 'metrics source scraped again');
  };
  const seen = new Set<string>();
  const account = (source: ScrapeSource, filter: ExpositionFilter) => {
    if (filter.truncated) {
      metrics.truncated.inc({ source });
      if (!logState.truncated.has(source)) {
        logState.truncated.add(source);
        log.warn({ source, limitBytes: deps.maxSourceBytes }, 'metrics source cut at the size limit');
      }
    } else {
      logState.truncated.delete(source);
    }
    if (filter.droppedFamilies.size > 0) {
      metrics.droppedFamilies.inc({ source }, filter.droppedFamilies.size);
      log.debug(
        { source, families: [...filter.droppedFamilies].slice(0, 20) },
        'metric families already exposed',
      );
    }
    for (const name of filter.names) seen.add(name);
  };

  try {
    const agent = new ExpositionFilter(seen, deps.maxSourceBytes);
    try {
      const text = await deps.registry.metrics();
      yield* agent.push(Buffer.from(text, 'utf8')).pieces;
      yield* agent.end();
    } catch (err) {
      failed('agent', err);
    }
    account('agent', agent);
    settled('agent');

    for (const { source, response } of sources) {
      const filter = new ExpositionFilter(seen, deps.maxSourceBytes);
      let res: IncomingMessage | undefined;
      try {
        res = await response;
        for await (const chunk of res) {
          const { pieces, capped } = filter.push(chunk as Buffer);
          yield* pieces;
          if (capped) break;
        }
        if (!filter.truncated) yield* filter.end();
      } catch (err) {
        failed(source, err);
      } finally {
        res?.destroy();
      }
      account(source, filter);
      settled(source);
    }
  } finally {
    clearTimeout(timer);
    clientGone.removeEventListener('abort', onGone);
    // Whatever is still open (the client went away, a source was never read) is closed.
    controller.abort();
  }
}

interface OpenOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  localAddress: string | undefined;
  refuseOpenMetrics?: boolean;
}

/** Resolves with a 200 response whose body is still to be read; rejects otherwise. */
function open(host: string, port: number, path: string, options: OpenOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const where = `${isIPv6(host) ? `[${host}]` : host}:${port}${path.split('?', 1)[0]}`;
    try {
      const req = httpRequest(
        {
          host,
          port,
          path,
          method: 'GET',
          // A new connection each time: Envoy's admin port moves to the new process during a hot
          // restart, and a kept-alive socket would still talk to the old one.
          agent: false,
          headers: options.headers,
          signal: options.signal,
          ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        },
        (res) => {
          const type = String(res.headers['content-type'] ?? '');
          if (res.statusCode !== 200) {
            res.destroy();
            reject(new Error(`${where} answered ${res.statusCode}`));
          } else if (
            options.refuseOpenMetrics &&
            type.toLowerCase().startsWith('application/openmetrics-text')
          ) {
            res.destroy();
            reject(new Error(`${where} answered OpenMetrics despite Accept: text/plain`));
          } else {
            resolve(res);
          }
        },
      );
      req.on('error', (err) => reject(new Error(`${where}: ${err.message}`)));
      req.end();
    } catch (err) {
      reject(err);
    }
  });
}
