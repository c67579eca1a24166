/**
 * Envoy's admin API as the agent uses it. Every request opens its own connection (no keep-alive):
 * during a hot restart the admin port passes from parent to child, and a kept-alive socket would
 * go on talking to the parent after it closed its listener (ShutdownAdmin in
 * `source/server/hot_restarting_parent.cc`; docs/envoy-process.md, "One hot restart, step by step").
 */
import { request } from 'node:http';
import type { AgentConfig, NodeType } from '../config/types.js';
import { messageOf } from '../errors.js';

export interface AdminResponse {
  status: number;
  body: string;
}

export interface AdminClient {
  readonly baseUrl: string;
  get(path: string, timeoutMs?: number): Promise<AdminResponse>;
  post(path: string, timeoutMs?: number): Promise<AdminResponse>;
}

export interface AdminClientOptions {
  /** `127.0.0.1`, or `::1` for an IPv6 proxy (Istio's `localhost` choice, see `adminHost`). */
  host: string;
  port: number;
  timeoutMs: number;
  /** Responses are cut at this size (readiness and connection stats are tiny). */
  maxBodyBytes?: number;
}

/**
 * Where the agent reaches Envoy's admin API: `127.0.0.1`, or `::1` for an IPv6 proxy (Istio 1.5
 * `pilot/cmd/pilot-agent/main.go`: the status server's `LocalHostAddr`).
 */
export function adminHost(config: AgentConfig): string {
  return config.node.ipv6 ? '::1' : '127.0.0.1';
}

export function createAdminClient(options: AdminClientOptions): AdminClient {
  const maxBody = options.maxBodyBytes ?? 1 << 20;
  const send = (method: 'GET' | 'POST', path: string, timeoutMs = options.timeoutMs) =>
    new Promise<AdminResponse>((resolve, reject) => {
      const req = request(
        {
          host: options.host,
          port: options.port,
          method,
          path,
          agent: false,
          headers: { connection: 'close' },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= maxBody) chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new Error(messageOf(err))));
      req.end();
    });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    baseUrl: `http://${host}:${options.port}`,
    get: (path, timeoutMs) => send('GET', path, timeoutMs),
    post: (path, timeoutMs) => send('POST', path, timeoutMs),
  };
}

/**
 * The drain request Istio makes (`pkg/envoy/agent.go`, `admin.go`): inbound listeners only for a
 * sidecar, so the application's own outbound calls keep working during its shutdown; all listeners
 * for a router.
 * `graceful` since Istio 1.8; `skip_exit` (Istio ≥ 1.21, `/drain`) when Envoy must keep running
 * after its drain period because the agent holds it until the next SIGTERM.
 */
export function drainListenersPath(nodeType: NodeType, skipExit: boolean): string {
  const params = [
    ...(nodeType === 'sidecar' ? ['inboundonly'] : []),
    'graceful',
    ...(skipExit ? ['skip_exit'] : []),
  ];
  return `/drain_listeners?${params.join('&')}`;
}
