/**
 * Real servers for the status tests, all on port 0 and all closed by `closeAll()`: a scripted HTTP
 * application, an HTTPS one with a self-signed certificate made by openssl in a temp dir, a gRPC
 * health server (grpc-js, with the agent's own hand-written codec), and the status server itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  isIPv6,
  type Server as NetServer,
} from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { Readiness } from '../../machines/readiness.js';
import {
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  HEALTH_CHECK_PATH,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../../src/status/grpc-health.js';
import { buildStatusServer, type StatusServer, type StatusServerDeps } from '../../src/status/server.js';

export const silentLog = pino({ level: 'silent' });

const cleanups: Array<() => Promise<void> | void> = [];

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Closes every server and removes every temp dir made through these helpers, newest first. */
export async function closeAll(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()?.();
}

function portOf(server: NetServer | Server): number {
  return (server.address() as AddressInfo).port;
}

function closeServer(server: NetServer | Server): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close(() => resolve());
  });
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  remoteAddress: string | undefined;
}

export type AppHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestApp {
  port: number;
  requests: SeenRequest[];
  /** Replaces the answer for later requests. */
  handle: (handler: AppHandler) => void;
}

function recordingHandler(requests: SeenRequest[], current: { handler: AppHandler }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress,
    });
    current.handler(req, res);
  };
}

export const answer =
  (status: number, body = '', headers: Record<string, string> = {}): AppHandler =>
  (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };

/** A plain HTTP application recording what reaches it. */
export async function startApp(
  handler: AppHandler = answer(200, 'ok'),
  host = '127.0.0.1',
): Promise<TestApp> {
  const requests: SeenRequest[] = [];
  const current = { handler };
  const server = createHttpServer(recordingHandler(requests, current));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  onCleanup(() => closeServer(server));
  return { port: portOf(server), requests, handle: (h) => (current.handler = h) };
}

/** An HTTPS application with a self-signed certificate (openssl, temp dir). */
export async function startHttpsApp(handler: AppHandler = answer(200, 'ok')): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'status-tls-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-subj',
      '/CN=self-signed-app',
      '-days',
      '1',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const requests: SeenRequest[] = [];
  const current = { handler };
  const server = createHttpsServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    recordingHandler(requests, current),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => closeServer(server));
  return { port: portOf(server), requests, handle: (h) => (current.handler = h) };
}

/** A TCP listener that accepts and counts connections. */
export async function startTcp(host = '127.0.0.1'): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const server = createNetServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  onCleanup(() => closeServer(server));
  return { port: portOf(server), accepted: () => accepted };
}

/** A port nothing listens on: bound, then closed. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = portOf(server);
  await closeServer(server);
  return port;
}

export const healthServiceDefinition: grpc.ServiceDefinition = {
  Check: {
    path: HEALTH_CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (req: HealthCheckRequest) => encodeHealthCheckRequest(req),
    requestDeserialize: (buf: Buffer) => decodeHealthCheckRequest(buf),
    responseSerialize: (res: HealthCheckResponse) => encodeHealthCheckResponse(res),
    responseDeserialize: (buf: Buffer) => decodeHealthCheckResponse(buf),
  },
};

/** A grpc-js health server; `statuses` maps service name → ServingStatus (mutable). */
export async function startGrpcHealth(
  statuses: Map<string, number>,
  host = '127.0.0.1',
): Promise<{ port: number; calls: string[] }> {
  const calls: string[] = [];
  const server = new grpc.Server();
  server.addService(healthServiceDefinition, {
    Check: (
      call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      callback: grpc.sendUnaryData<HealthCheckResponse>,
    ) => {
      calls.push(call.request.service);
      const status = statuses.get(call.request.service);
      if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else callback(null, { status });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${isIPv6(host) ? `[${host}]` : host}:0`,
      grpc.ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  onCleanup(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { port, calls };
}

export const alwaysReady = (): Readiness => ({ ready: true, reason: '' });

/** The status server, listening on `host` port 0. */
export async function startStatus(
  deps: Partial<StatusServerDeps>,
  host = '127.0.0.1',
): Promise<{ app: StatusServer; port: number; url: string }> {
  const app = buildStatusServer({ readiness: alwaysReady, log: silentLog, ...deps });
  await app.listen({ port: 0, host });
  onCleanup(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  return { app, port, url: `http://${isIPv6(host) ? `[${host}]` : host}:${port}` };
}

export interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on a fresh connection; `headers` as raw `[name, value, …]` keeps their case. */
export function get(
  url: string,
  options: { method?: string; headers?: string[] | Record<string, string>; localAddress?: string } = {},
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** An address of this machine that is not loopback, or undefined. */
export function nonLoopbackAddress(family: 'IPv4' | 'IPv6' = 'IPv4'): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (!a.internal && a.family === family && !a.address.startsWith('fe80')) return a.address;
    }
  }
  return undefined;
}
