/**
 * The admin HTTP API (`source/server/admin/admin.cc` and the handlers next to it), on node:http.
 *
 * Routing follows `AdminImpl::makeRequest`: the handler whose prefix equals the path before `?`;
 * a state-mutating handler answers any method but POST with 405
 * `Method <M> not allowed, POST required.` (the docs say 400, the code says 405); an unknown path
 * is 404 `invalid path. ` followed by the help text. Query parameters are presence flags unless a
 * value is needed. Bodies and status codes are Envoy's; JSON is printed like protobuf's JSON
 * printer (proto field names, one-space indents, 64-bit integers as strings).
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Faults } from './env.js';
import { describeErrno, type Logger } from './logger.js';
import type { Recorder } from './record.js';
import {
  compileFilter,
  renderJson,
  renderPrometheus,
  renderText,
  type StatsQuery,
  type StatsStore,
} from './stats.js';
import type { AdminAddress, JsonObject } from './validate-bootstrap.js';

export interface DrainRequest {
  graceful: boolean;
  inboundOnly: boolean;
  skipExit: boolean;
}

export interface ListenerInfo {
  name: string;
  address: string;
  port: number;
}

/** What the admin handlers need from the server. */
export interface AdminContext {
  readonly stats: StatsStore;
  readonly hotRestartVersion: string;
  state(): 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';
  serverInfo(): JsonObject;
  configDump(): JsonObject;
  /** `/certs`: `{certificates: [...]}`. */
  certs(): JsonObject;
  memory(): JsonObject;
  listenersInfo(): ListenerInfo[];
  failHealthcheck(fail: boolean): void;
  drainListeners(request: DrainRequest): void;
  quit(): void;
  resetCounters(): void;
  reopenLogs(): void;
  /** `stats_flush_on_admin`: a stats request triggers the server stats refresh. */
  beforeStatsRequest(): void;
}

export interface AdminServer {
  /** `ip:port` (IPv6 in brackets) or the pipe path, as Envoy prints it. */
  readonly address: string;
  /** The hot-restart parent's `shutdownAdmin()`: stop accepting, keep open connections. */
  stopListening(): Promise<void>;
  close(): void;
}

interface AdminDeps {
  logger: Logger;
  recorder: Recorder;
  faults: Faults;
  stats: StatsStore;
}

interface Param {
  id: string;
  help: string;
  choices?: string[];
}

interface Handler {
  prefix: string;
  help: string;
  mutates: boolean;
  params?: Param[];
  handle?: (ctx: AdminContext, query: Map<string, string>) => Reply;
}

interface Reply {
  status: number;
  body: string;
  contentType?: string;
  /** Runs once the response is written (e.g. the shutdown after `/quitquitquit`). */
  after?: () => void;
}

const TEXT = 'text/plain; charset=UTF-8';
const JSON_TYPE = 'application/json';

/** The protobuf JSON printer's pretty form: one-space indents. */
function protoJson(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}

function statsQuery(query: Map<string, string>): StatsQuery | Reply {
  let filter: RegExp | undefined;
  const filterText = query.get('filter');
  if (filterText !== undefined) {
    filter = compileFilter(filterText);
    if (filter === undefined) return { status: 400, body: 'Invalid re2 regex' };
  }
  const type = query.get('type') ?? 'All';
  if (
    type !== 'All' &&
    type !== 'Counters' &&
    type !== 'Gauges' &&
    type !== 'Histograms' &&
    type !== 'TextReadouts'
  ) {
    return { status: 400, body: 'invalid &type= param' };
  }
  return { usedOnly: query.has('usedonly'), filter, type };
}

function statsHandler(ctx: AdminContext, query: Map<string, string>): Reply {
  ctx.beforeStatsRequest();
  const q = statsQuery(query);
  if ('status' in q) return q;
  const format = query.get('format');
  switch (format) {
    case undefined:
    case 'text':
      return { status: 200, body: renderText(ctx.stats, q) };
    case 'json':
      return { status: 200, body: renderJson(ctx.stats, q), contentType: JSON_TYPE };
    case 'prometheus':
      return { status: 200, body: renderPrometheus(ctx.stats, q, query.has('text_readouts')) };
    case 'html':
    case 'active-html': {
      const escaped = renderText(ctx.stats, q).replace(/&/g, '&amp;').replace(/</g, '&lt;');
      return {
        status: 200,
        body: `<!DOCTYPE html>\n<html><body><pre>${escaped}</pre></body></html>\n`,
        contentType: 'text/html; charset=UTF-8',
      };
    }
    default:
      return { status: 400, body: 'usage: /stats?format=(html|active-html|json|prometheus|text)\n\n' };
  }
}

const ok = (): Reply => ({ status: 200, body: 'OK\n' });

/** The message type of each repeated field `?resource=` can name (`envoy/admin/v3/*.proto`). */
const RESOURCE_TYPES: Record<string, string> = {
  static_clusters: 'envoy.admin.v3.ClustersConfigDump.StaticCluster',
  dynamic_active_clusters: 'envoy.admin.v3.ClustersConfigDump.DynamicCluster',
  dynamic_warming_clusters: 'envoy.admin.v3.ClustersConfigDump.DynamicCluster',
  static_listeners: 'envoy.admin.v3.ListenersConfigDump.StaticListener',
  dynamic_listeners: 'envoy.admin.v3.ListenersConfigDump.DynamicListener',
  static_secrets: 'envoy.admin.v3.SecretsConfigDump.StaticSecret',
  dynamic_active_secrets: 'envoy.admin.v3.SecretsConfigDump.DynamicSecret',
  dynamic_warming_secrets: 'envoy.admin.v3.SecretsConfigDump.DynamicSecret',
};

/**
 * `/config_dump`, and with `?resource=<field>` only the elements of that repeated field, each with
 * its own `@type` (`ConfigDumpHandler::addResourceToDump`); a field no section has is 404.
 */
function configDumpReply(dump: JsonObject, resource: string | undefined): Reply {
  if (resource === undefined) return { status: 200, body: protoJson(dump), contentType: JSON_TYPE };
  const type = RESOURCE_TYPES[resource];
  const sections = Array.isArray(dump.configs) ? dump.configs : [];
  const items = sections.flatMap((section) => {
    if (type === undefined || section === null || typeof section !== 'object' || Array.isArray(section))
      return [];
    const list = section[resource];
    return Array.isArray(list) ? list : [];
  });
  const found =
    type !== undefined &&
    sections.some((s) => s !== null && typeof s === 'object' && !Array.isArray(s) && resource in s);
  if (!found) return { status: 404, body: `${resource} not found in config dump` };
  const configs = items.map((item) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? { '@type': `type.googleapis.com/${type}`, ...item }
      : item,
  );
  return { status: 200, body: protoJson({ configs }), contentType: JSON_TYPE };
}

const HANDLERS: Handler[] = [
  {
    prefix: '/',
    help: 'Admin home page',
    mutates: false,
    handle: () => ({
      status: 200,
      body: '<!DOCTYPE html>\n<html><head><title>Envoy Admin</title></head><body></body></html>\n',
      contentType: 'text/html; charset=UTF-8',
    }),
  },
  {
    prefix: '/certs',
    help: 'print certs on machine',
    mutates: false,
    handle: (ctx) => ({ status: 200, body: protoJson(ctx.certs()), contentType: JSON_TYPE }),
  },
  {
    prefix: '/clusters',
    help: 'upstream cluster status',
    mutates: false,
    params: [{ id: 'format', help: 'File format to use', choices: ['text', 'json'] }],
    handle: (_ctx, q) =>
      q.get('format') === 'json'
        ? { status: 200, body: protoJson({ cluster_statuses: [] }), contentType: JSON_TYPE }
        : { status: 200, body: '' },
  },
  {
    prefix: '/config_dump',
    help: 'dump current Envoy configs (experimental)',
    mutates: false,
    params: [
      { id: 'resource', help: 'The resource to dump' },
      {
        id: 'mask',
        help: 'The mask to apply. When both resource and mask are specified, the mask is applied to every element in the desired repeated field so that only a subset of fields are returned. The mask is parsed as a ProtobufWkt::FieldMask',
      },
      {
        id: 'name_regex',
        help: 'Dump only the currently loaded configurations whose names match the specified regex. Can be used with both resource and mask query parameters.',
      },
      {
        id: 'include_eds',
        help: 'Dump currently loaded configuration including EDS. See the response definition for more information',
      },
    ],
    handle: (ctx, q) => configDumpReply(ctx.configDump(), q.get('resource')),
  },
  {
    prefix: '/contention',
    help: 'dump current Envoy mutex contention stats (if enabled)',
    mutates: false,
    handle: () => ({
      status: 200,
      body: 'Mutex contention tracing is not enabled. To enable, run Envoy with flag --enable-mutex-tracing.',
    }),
  },
  {
    prefix: '/cpuprofiler',
    help: 'enable/disable the CPU profiler',
    mutates: true,
    params: [{ id: 'enable', help: 'enables the CPU profiler', choices: ['y', 'n'] }],
    handle: () => ({ status: 500, body: 'CPU profiler is not available in this build.\n' }),
  },
  {
    prefix: '/drain_listeners',
    help: 'drain listeners',
    mutates: true,
    params: [
      {
        id: 'graceful',
        help: 'When draining listeners, enter a graceful drain period prior to closing listeners. This behaviour and duration is configurable via server options or CLI',
      },
      {
        id: 'skip_exit',
        help: 'When draining listeners, do not exit after the drain period. This must be used with graceful',
      },
      {
        id: 'inboundonly',
        help: 'Drains all inbound listeners. traffic_direction field in envoy_v3_api_msg_config.listener.v3.Listener is used to determine whether a listener is inbound or outbound.',
      },
    ],
    handle: (ctx, q) => {
      const request = {
        graceful: q.has('graceful'),
        inboundOnly: q.has('inboundonly'),
        skipExit: q.has('skip_exit'),
      };
      if (request.skipExit && !request.graceful)
        return { status: 400, body: 'skip_exit requires graceful\n' };
      ctx.drainListeners(request);
      return ok();
    },
  },
  {
    prefix: '/healthcheck/fail',
    help: 'cause the server to fail health checks',
    mutates: true,
    handle: (ctx) => {
      ctx.failHealthcheck(true);
      return ok();
    },
  },
  {
    prefix: '/healthcheck/ok',
    help: 'cause the server to pass health checks',
    mutates: true,
    handle: (ctx) => {
      ctx.failHealthcheck(false);
      return ok();
    },
  },
  {
    prefix: '/heap_dump',
    help: 'dump current Envoy heap (if supported)',
    mutates: false,
    handle: () => ({ status: 501, body: 'Heap dump is not supported\n' }),
  },
  {
    prefix: '/heapprofiler',
    help: 'enable/disable the heap profiler',
    mutates: true,
    params: [{ id: 'enable', help: 'enable/disable the heap profiler', choices: ['y', 'n'] }],
    handle: () => ({ status: 500, body: 'Heap profiler is not available in this build.\n' }),
  },
  { prefix: '/help', help: 'print out list of admin commands', mutates: false },
  {
    prefix: '/hot_restart_version',
    help: 'print the hot restart compatibility version',
    mutates: false,
    handle: (ctx) => ({ status: 200, body: ctx.hotRestartVersion }),
  },
  {
    prefix: '/init_dump',
    help: 'dump current Envoy init manager information (experimental)',
    mutates: false,
    params: [
      {
        id: 'mask',
        help: 'The desired component to dump unready targets. The mask is parsed as a ProtobufWkt::FieldMask. For example, get the unready targets of all listeners with /init_dump?mask=listener`',
      },
    ],
    handle: () => ({ status: 200, body: protoJson({ unready_targets_dumps: [] }), contentType: JSON_TYPE }),
  },
  {
    prefix: '/listeners',
    help: 'print listener info',
    mutates: false,
    params: [{ id: 'format', help: 'File format to use', choices: ['text', 'json'] }],
    handle: (ctx, q) => {
      const listeners = ctx.listenersInfo();
      if (q.get('format') === 'json') {
        return {
          status: 200,
          contentType: JSON_TYPE,
          body: protoJson({
            listener_statuses: listeners.map((l) => ({
              name: l.name,
              local_address: { socket_address: { address: l.address, port_value: l.port } },
              additional_local_addresses: [],
            })),
          }),
        };
      }
      return {
        status: 200,
        body: listeners.map((l) => `${l.name}::${hostPort(l.address, l.port)}\n`).join(''),
      };
    },
  },
  {
    prefix: '/logging',
    help: 'query/change logging levels',
    mutates: true,
    params: [
      {
        id: 'paths',
        help: 'Change multiple logging levels by setting to <logger_name1>:<desired_level1>,<logger_name2>:<desired_level2>. If fine grain logging is enabled, use __FILE__ or a glob experision as the logger name. For example, source/common*:warning',
      },
      {
        id: 'level',
        help: "desired logging level, this will change all loggers's level",
        choices: ['', 'trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'],
      },
    ],
    handle: () => ({ status: 200, body: 'active loggers:\n' }),
  },
  {
    prefix: '/memory',
    help: 'print current allocation/heap usage',
    mutates: false,
    handle: (ctx) => ({ status: 200, body: protoJson(ctx.memory()), contentType: JSON_TYPE }),
  },
  {
    prefix: '/quitquitquit',
    help: 'exit the server',
    mutates: true,
    handle: (ctx) => ({ status: 200, body: 'OK\n', after: () => ctx.quit() }),
  },
  {
    prefix: '/ready',
    help: 'print server state, return 200 if LIVE, otherwise return 503',
    mutates: false,
    handle: (ctx) => {
      const state = ctx.state();
      return { status: state === 'LIVE' ? 200 : 503, body: `${state}\n` };
    },
  },
  {
    prefix: '/reopen_logs',
    help: 'reopen access logs',
    mutates: true,
    handle: (ctx) => {
      ctx.reopenLogs();
      return ok();
    },
  },
  {
    prefix: '/reset_counters',
    help: 'reset all counters to zero',
    mutates: true,
    handle: (ctx) => {
      ctx.resetCounters();
      return ok();
    },
  },
  {
    prefix: '/runtime',
    help: 'print runtime values',
    mutates: false,
    handle: () => ({ status: 200, body: protoJson({ entries: {}, layers: [] }), contentType: JSON_TYPE }),
  },
  {
    prefix: '/runtime_modify',
    help: 'Adds or modifies runtime values as passed in query parameters. To delete a previously added key, use an empty string as the value. Note that deletion only applies to overrides added via this endpoint; values loaded from disk can be modified via override but not deleted. E.g. ?key1=value1&key2=value2...',
    mutates: true,
    handle: ok,
  },
  {
    prefix: '/server_info',
    help: 'print server version/status information',
    mutates: false,
    handle: (ctx) => ({ status: 200, body: protoJson(ctx.serverInfo()), contentType: JSON_TYPE }),
  },
  {
    prefix: '/stats',
    help: 'print server stats',
    mutates: false,
    params: [
      { id: 'usedonly', help: 'Only include stats that have been written by system since restart' },
      { id: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
      { id: 'format', help: 'Format to use', choices: ['html', 'active-html', 'text', 'json'] },
      {
        id: 'type',
        help: 'Stat types to include.',
        choices: ['All', 'Counters', 'Histograms', 'Gauges', 'TextReadouts'],
      },
      {
        id: 'histogram_buckets',
        help: 'Histogram bucket display mode',
        choices: ['cumulative', 'disjoint', 'detailed', 'summary', 'none'],
      },
    ],
    handle: statsHandler,
  },
  {
    prefix: '/stats/prometheus',
    help: 'print server stats in prometheus format',
    mutates: false,
    params: [
      { id: 'usedonly', help: 'Only include stats that have been written by system since restart' },
      {
        id: 'text_readouts',
        help: 'Render text_readouts as new gaugues with value 0 (increases Prometheus data size)',
      },
      { id: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
      { id: 'histogram_buckets', help: 'Histogram bucket display mode', choices: ['cumulative', 'summary'] },
    ],
    handle: (ctx, q) => {
      const query = new Map(q);
      query.set('format', 'prometheus');
      return statsHandler(ctx, query);
    },
  },
  {
    prefix: '/stats/recentlookups',
    help: 'Show recent stat-name lookups',
    mutates: false,
    handle: () => ({
      status: 200,
      body: 'Lookup tracking is not enabled. Use /stats/recentlookups/enable to enable.\n',
    }),
  },
  {
    prefix: '/stats/recentlookups/clear',
    help: 'clear list of stat-name lookups and counter',
    mutates: true,
    handle: ok,
  },
  {
    prefix: '/stats/recentlookups/disable',
    help: 'disable recording of reset stat-name lookup names',
    mutates: true,
    handle: ok,
  },
  {
    prefix: '/stats/recentlookups/enable',
    help: 'enable recording of reset stat-name lookup names',
    mutates: true,
    handle: ok,
  },
];

/** `AdminImpl::getHelp`: handlers in prefix order, `(POST)` on mutators, then their params. */
export function helpText(): string {
  const sorted = [...HANDLERS].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  let out = 'admin commands are:\n';
  for (const h of sorted) {
    out += `  ${h.prefix}${h.mutates ? ' (POST)' : ''}: ${h.help}\n`;
    for (const p of h.params ?? []) {
      out += `      ${p.id}: ${p.help}`;
      if (p.choices !== undefined) out += `; One of (${p.choices.join(', ')})`;
      out += '\n';
    }
  }
  return out;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** `Http::Utility::parseAndDecodeQueryString`: `a&b=c`, percent-decoded, first value wins. */
function parseQuery(pathAndQuery: string): Map<string, string> {
  const query = new Map<string, string>();
  const at = pathAndQuery.indexOf('?');
  if (at < 0) return query;
  for (const part of pathAndQuery.slice(at + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    if (!query.has(key)) query.set(key, eq < 0 ? '' : decode(part.slice(eq + 1)));
  }
  return query;
}

function respond(res: ServerResponse, reply: Reply): void {
  const body = Buffer.from(reply.body);
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? TEXT,
    'cache-control': 'no-cache, max-age=0',
    'x-content-type-options': 'nosniff',
    server: 'envoy',
    'content-length': body.length,
  });
  res.end(body);
  if (reply.after !== undefined) {
    const after = reply.after;
    res.once('finish', () => setImmediate(after));
  }
}

function route(ctx: AdminContext, deps: AdminDeps, method: string, pathAndQuery: string): Reply {
  const at = pathAndQuery.indexOf('?');
  const path = at < 0 ? pathAndQuery : pathAndQuery.slice(0, at);
  const handler = HANDLERS.find((h) => h.prefix === path);
  if (handler === undefined) {
    // "Extra space is emitted below to have "invalid path." be a separate sentence."
    return { status: 404, body: `invalid path. ${helpText()}` };
  }
  if (handler.mutates && method !== 'POST') {
    deps.logger.error(
      'admin',
      'source/server/admin/admin.cc:353',
      `admin path "${handler.prefix}" mutates state, method=${method} rather than POST`,
    );
    return { status: 405, body: `Method ${method} not allowed, POST required.` };
  }
  if (handler.handle === undefined) return { status: 200, body: helpText() };
  return handler.handle(ctx, parseQuery(pathAndQuery));
}

/** `AdminImpl::startHttpListener`. Rejects with Envoy's bind error text. */
export async function startAdmin(
  address: AdminAddress,
  ctx: AdminContext,
  deps: AdminDeps,
): Promise<AdminServer> {
  const { stats, faults, recorder } = deps;
  const cxActive = stats.gauge('listener.admin.downstream_cx_active');
  const cxTotal = stats.counter('listener.admin.downstream_cx_total');
  const mainCxActive = stats.gauge('listener.admin.main_thread.downstream_cx_active');
  const mainCxTotal = stats.counter('listener.admin.main_thread.downstream_cx_total');
  const httpCxActive = stats.gauge('http.admin.downstream_cx_active');
  const httpCxTotal = stats.counter('http.admin.downstream_cx_total');
  const rqTotal = stats.counter('http.admin.downstream_rq_total');
  const rqByClass = (status: number): void =>
    stats.counter(`http.admin.downstream_rq_${Math.floor(status / 100)}xx`).add();
  for (const c of ['2xx', '3xx', '4xx', '5xx']) stats.counter(`http.admin.downstream_rq_${c}`);

  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const pathAndQuery = req.url ?? '/';
    recorder.write({ event: 'admin', method, path: pathAndQuery });
    rqTotal.add();
    if (faults.adminFail === 'reset') {
      req.socket.destroy();
      return;
    }
    const answer = (): void => {
      if (faults.adminFail === '500') {
        rqByClass(500);
        respond(res, { status: 500, body: '' });
        return;
      }
      const reply = route(ctx, deps, method, pathAndQuery);
      rqByClass(reply.status);
      respond(res, reply);
    };
    if (faults.adminDelayMs > 0) setTimeout(answer, faults.adminDelayMs);
    else answer();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    for (const s of [cxActive, mainCxActive, httpCxActive]) s.add();
    for (const s of [cxTotal, mainCxTotal, httpCxTotal]) s.add();
    socket.once('close', () => {
      sockets.delete(socket);
      for (const s of [cxActive, mainCxActive, httpCxActive]) s.sub();
    });
  });

  const listenOn = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (address.kind === 'pipe') {
        try {
          unlinkSync(address.path);
        } catch {
          // No stale socket file.
        }
        server.listen(address.path, done);
      } else {
        server.listen({ host: address.address, port: address.port, exclusive: true }, done);
      }
    });
  try {
    await listenOn();
  } catch (err) {
    const code =
      typeof (err as { code?: unknown }).code === 'string' ? String((err as { code: string }).code) : 'EIO';
    const where = address.kind === 'pipe' ? address.path : hostPort(address.address, address.port);
    throw new Error(`cannot bind '${where}': ${describeErrno(code)}`);
  }
  if (address.kind === 'pipe' && address.mode !== 0) {
    try {
      chmodSync(address.path, address.mode);
    } catch {
      // The mode is best effort, as for Envoy's pipe listeners.
    }
  }
  const bound = server.address();
  const printed =
    address.kind === 'pipe'
      ? address.path
      : typeof bound === 'object' && bound !== null
        ? hostPort(bound.address, bound.port)
        : hostPort(address.address, address.port);

  let listening = true;
  return {
    address: printed,
    stopListening(): Promise<void> {
      if (!listening) return Promise.resolve();
      listening = false;
      return new Promise((resolve) => {
        // http.Server.close() stops accepting and closes idle keep-alive connections; requests in
        // flight finish. `close` fires only when every connection is gone, so resolve at once.
        server.close();
        setImmediate(resolve);
      });
    },
    close(): void {
      listening = false;
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
