/**
 * `POST /quitquitquit` and `POST /drain`, for callers inside the pod (spec §5.3, §6.3).
 *
 * - `/quitquitquit`: a Job's main container calls it when it is done, so the sidecar stops and the
 *   Job can complete (Istio 1.3+, peers-and-user-needs §3.1). The agent stops Envoy and exits 0
 *   without draining, as Istio ≥ 1.26 does: the application is already gone.
 * - `/drain` (Istio ≥ 1.21, the native-sidecar preStop hook): readiness turns 503 and Envoy drains
 *   its inbound listeners; the agent keeps running until it is told to stop.
 *
 * Checks in Istio's order: a caller that is not on loopback gets 403 whatever the method, then a
 * method other than POST gets 405. The callback runs once the 200 has been written (or the caller
 * has gone), so stopping the status server cannot cut the answer short.
 */
import type { Logger } from 'pino';
import type { StatusApp } from '../http/app.js';
import { allowLocalOnly } from '../http/loopback.js';

export interface LifecycleEndpointDeps {
  /** Stop Envoy and exit 0, without a drain (the root machine's QUIT). */
  quit: (() => void) | undefined;
  /** Fail readiness and drain Envoy, without exiting (the root machine's DRAIN). */
  drain: (() => void) | undefined;
  log: Logger;
}

export function registerLifecycleEndpoints(app: StatusApp, deps: LifecycleEndpointDeps): void {
  const endpoints = [
    { url: '/quitquitquit', action: deps.quit, what: 'stopping the agent' },
    { url: '/drain', action: deps.drain, what: 'draining Envoy' },
  ];
  for (const { url, action, what } of endpoints) {
    if (!action) continue;
    app.all(url, async (req, reply) => {
      if (!allowLocalOnly(req, reply)) return reply;
      if (req.method !== 'POST') {
        return reply.code(405).header('allow', 'POST').type('text/plain').send('Method Not Allowed\n');
      }
      deps.log.info({ endpoint: url, caller: req.socket.remoteAddress }, `${url} called: ${what}`);
      reply.raw.once('close', action);
      return reply.code(200).type('text/plain').send('OK');
    });
  }
}
