/**
 * `ISTIO_KUBE_APP_PROBERS`: the application's own Kubernetes probes, which the injector rewrote to
 * point at the status port (spec §5.4). The JSON maps a status-server path to the container's
 * original probe:
 *
 *   {"/app-health/web/readyz": {"httpGet": {"path": "/ready", "port": 8080}, "timeoutSeconds": 1}}
 *
 * Parsed and validated once at start-up: a bad value stops the agent with exit 255 before Envoy
 * starts (Istio `NewServer`, spec §1.7). What is parsed here is only a description of a target on
 * the pod's own address; nothing in it can name another host (see `probe-client.ts`).
 *
 * Decisions where Istio leaves room (each is tested in test/status/app-probes.test.ts):
 * - Ports must be JSON integers 1–65535. Istio rejects every string port ("must be int type"),
 *   numeric strings included: a string there is a named port the injector failed to resolve.
 * - A path without a leading `/` gets one (Istio ≥ 1.24 and kubelet, whose URL builder adds it);
 *   an empty path means `/`. A fragment is dropped as Go's URL parser drops it. Characters Node
 *   cannot put in a request line (spaces, controls, non-ASCII) are rejected here rather than
 *   failing every probe later.
 * - `scheme` is HTTP or HTTPS in any letter case (kubelet lower-cases it); anything else is an error.
 * - `timeoutSeconds` absent or 0 means kubelet's default of 1 s (the API server defaults the field
 *   to 1; Istio's client treated 0 as "no timeout", which a probe should never have).
 * - `httpGet.host` and `tcpSocket.host` are ignored: the probe always goes to the pod (Istio ≥ 1.5).
 * - Header names must be HTTP tokens and values must be writable in a header (no CR, LF or other
 *   controls), as the API server validates them.
 */
import { AgentError } from '../errors.js';
import { goField, isJsonObject, type JsonObject, type JsonValue, shortJson } from '../go/json-decode.js';

export const APP_PROBERS_ENV = 'ISTIO_KUBE_APP_PROBERS';

/** Istio's key pattern (≥ 1.7, with `startupz`); the container name is one path segment. */
export const APP_PROBE_KEY = /^\/app-health\/([^/]+)\/(livez|readyz|startupz)$/;

/** kubelet's default probe timeout (the API server's default for `timeoutSeconds`). */
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;

export type ProbeKind = 'livez' | 'readyz' | 'startupz';

export interface ProbeHeader {
  name: string;
  value: string;
}

export interface HttpGetAction {
  type: 'httpGet';
  scheme: 'http' | 'https';
  port: number;
  /** Starts with `/`; may carry a query string. */
  path: string;
  headers: readonly ProbeHeader[];
}

export interface TcpSocketAction {
  type: 'tcpSocket';
  port: number;
}

export interface GrpcAction {
  type: 'grpc';
  port: number;
  /** `''` asks for the server's overall health (grpc.health.v1). */
  service: string;
}

export type ProbeAction = HttpGetAction | TcpSocketAction | GrpcAction;

export interface AppProber {
  /** The status-server path, e.g. `/app-health/web/readyz`. */
  key: string;
  container: string;
  probe: ProbeKind;
  action: ProbeAction;
  timeoutMs: number;
}

/** Keyed by the exact status-server path. */
export type AppProbers = ReadonlyMap<string, AppProber>;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What Node's http client accepts in a header value (it throws on the rest at request time).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// What Node's http client accepts in a request path: printable ASCII, no spaces.
const REQUEST_PATH = /^[\x21-\x7e]*$/;
const MAX_TIMEOUT_SECONDS = 2_147_483; // setTimeout's limit, about 24.8 days

function fail(problem: string): never {
  throw new AgentError('usage', `${APP_PROBERS_ENV}: ${problem}`);
}

/** Parses and validates the variable; `''` (unset) means no probers. Throws `AgentError('usage')`. */
export function parseAppProbers(json: string): AppProbers {
  const probers = new Map<string, AppProber>();
  if (json.trim() === '') return probers;
  let root: JsonValue;
  try {
    root = JSON.parse(json) as JsonValue;
  } catch (err) {
    fail(`not valid JSON: ${(err as Error).message}`);
  }
  // Go decodes `null` into a nil map: no probers.
  if (root === null) return probers;
  if (!isJsonObject(root))
    fail(`must be a JSON object mapping probe paths to probes, got ${shortJson(root)}`);
  for (const [key, value] of Object.entries(root)) {
    const match = APP_PROBE_KEY.exec(key);
    if (!match) fail(`invalid key ${JSON.stringify(key)}: must match ${APP_PROBE_KEY.source}`);
    const at: (problem: string) => never = (problem) => fail(`${JSON.stringify(key)}: ${problem}`);
    if (!isJsonObject(value)) at(`must be a probe object, got ${shortJson(value)}`);
    probers.set(key, {
      key,
      container: match[1] as string,
      probe: match[2] as ProbeKind,
      action: parseAction(value, at),
      timeoutMs: parseTimeout(goField(value, 'timeoutSeconds'), at),
    });
  }
  return probers;
}

function parseAction(prober: JsonObject, at: (problem: string) => never): ProbeAction {
  const httpGet = goField(prober, 'httpGet');
  const tcpSocket = goField(prober, 'tcpSocket');
  const grpc = goField(prober, 'grpc');
  const given = [httpGet, tcpSocket, grpc].filter((v) => v !== undefined).length;
  if (given !== 1) {
    const exec = goField(prober, 'exec') !== undefined ? ' (exec probes cannot be forwarded)' : '';
    at(`must have exactly one of httpGet, tcpSocket or grpc, found ${given}${exec}`);
  }
  if (httpGet !== undefined) return parseHttpGet(httpGet, at);
  if (tcpSocket !== undefined) {
    if (!isJsonObject(tcpSocket)) at(`tcpSocket must be an object, got ${shortJson(tcpSocket)}`);
    return { type: 'tcpSocket', port: parsePort(goField(tcpSocket, 'port'), 'tcpSocket.port', at) };
  }
  if (!isJsonObject(grpc)) at(`grpc must be an object, got ${shortJson(grpc)}`);
  const service = goField(grpc, 'service') ?? '';
  if (typeof service !== 'string') at(`grpc.service must be a string, got ${shortJson(service)}`);
  return { type: 'grpc', port: parsePort(goField(grpc, 'port'), 'grpc.port', at), service };
}

function parseHttpGet(httpGet: JsonValue, at: (problem: string) => never): HttpGetAction {
  if (!isJsonObject(httpGet)) at(`httpGet must be an object, got ${shortJson(httpGet)}`);
  const port = parsePort(goField(httpGet, 'port'), 'httpGet.port', at);

  const scheme = goField(httpGet, 'scheme') ?? 'HTTP';
  if (typeof scheme !== 'string' || !/^https?$/i.test(scheme)) {
    at(`httpGet.scheme must be HTTP or HTTPS, got ${shortJson(scheme)}`);
  }

  let path = goField(httpGet, 'path') ?? '';
  if (typeof path !== 'string') at(`httpGet.path must be a string, got ${shortJson(path)}`);
  const hash = path.indexOf('#');
  if (hash !== -1) path = path.slice(0, hash);
  if (!path.startsWith('/')) path = `/${path}`;
  if (!REQUEST_PATH.test(path)) {
    at(
      `httpGet.path ${shortJson(path)} has characters an HTTP request line cannot carry (spaces, controls, non-ASCII)`,
    );
  }

  const rawHeaders = goField(httpGet, 'httpHeaders') ?? [];
  if (!Array.isArray(rawHeaders)) at(`httpGet.httpHeaders must be a list, got ${shortJson(rawHeaders)}`);
  const headers = rawHeaders.map((header, i): ProbeHeader => {
    const where = `httpGet.httpHeaders[${i}]`;
    if (!isJsonObject(header)) at(`${where} must be an object with name and value, got ${shortJson(header)}`);
    const name = goField(header, 'name') ?? '';
    const value = goField(header, 'value') ?? '';
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
      at(`${where}.name must be an HTTP header name, got ${shortJson(name)}`);
    }
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      at(
        `${where}.value must be a string without CR, LF or other control characters, got ${shortJson(value)}`,
      );
    }
    return { name, value };
  });

  return {
    type: 'httpGet',
    scheme: scheme.toLowerCase() === 'https' ? 'https' : 'http',
    port,
    path,
    headers,
  };
}

function parsePort(value: JsonValue | undefined, field: string, at: (problem: string) => never): number {
  if (typeof value === 'string') {
    at(
      `${field} must be an integer port, got the string ${shortJson(value)} (named ports must be resolved to numbers)`,
    );
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
    at(`${field} must be an integer from 1 to 65535, got ${shortJson(value)}`);
  }
  return value;
}

function parseTimeout(value: JsonValue | undefined, at: (problem: string) => never): number {
  if (value === undefined || value === 0) return DEFAULT_PROBE_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT_SECONDS) {
    at(
      `timeoutSeconds must be a whole number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}, got ${shortJson(value)}`,
    );
  }
  return value * 1_000;
}
