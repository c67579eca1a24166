/**
 * What the status server's routes (src/status/) and the debug routes (src/debug/) share about the
 * HTTP server they are registered on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';

/** The status server's fastify instance as `buildStatusServer` creates it (pino logger). */
export type StatusApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse<IncomingMessage>,
  Logger
>;

/**
 * Lets a request's socket stay silent for `ms` (plus a second to write the answer): the status
 * server closes sockets idle for 10 s, and a probe with a long `timeoutSeconds` or a scrape with a
 * long Prometheus timeout must be able to wait that long for its answer.
 */
export function allowIdle(socket: { timeout?: number; setTimeout(ms: number): unknown }, ms: number): void {
  const wanted = ms + 1_000;
  if ((socket.timeout ?? 0) < wanted) socket.setTimeout(wanted);
}
