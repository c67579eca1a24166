/**
 * The status server on `--statusPort` (Istio's 15020). Built in a function and listened on
 * elsewhere, so tests use `inject()`. Every answer comes from machine state handed in as
 * functions; no route reaches into an actor.
 */
import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { Readiness } from '../../machines/readiness.js';

export interface StatusServerDeps {
  readiness: () => Readiness;
  log: Logger;
}

export function buildStatusServer(deps: StatusServerDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    disableRequestLogging: true,
    // A probe must not hang on a half-open kubelet connection.
    connectionTimeout: 10_000,
    return503OnClosing: true,
  });

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

  app.setNotFoundHandler((_req, reply) => reply.code(404).type('text/plain').send('404 page not found\n'));
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
