/**
 * One HTTP request with a whole-request timeout, no keep-alive (a CLI must not hold sockets open
 * after it answers), and errors phrased like Go's `url.Error` (`Get "http://…": <cause>`), since the
 * messages of `wait` and `request` are compared with Istio's.
 */
import { request as httpRequest } from 'node:http';

export interface HttpResult {
  status: number;
  body: Buffer;
}

/** Go's `url.Error.Op`: the method with only its first letter upper-case ("Get", "Post"). */
function op(method: string): string {
  return method.charAt(0).toUpperCase() + method.slice(1).toLowerCase();
}

/** Go's wording for the common dial failures (`dial tcp 127.0.0.1:15000: connect: connection refused`). */
function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { code, address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (code === 'ECONNREFUSED' && address !== undefined) {
    const host = address.includes(':') ? `[${address}]` : address;
    return `dial tcp ${host}:${port ?? ''}: connect: connection refused`;
  }
  return err.message;
}

/** Sends the request; resolves with the status and the whole body, or rejects with a one-line error. */
export function httpCall(
  method: string,
  url: string,
  options: { body?: string; timeoutMs?: number; connectTo?: { host: string; port: number } } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const fail = (cause: string) => reject(new Error(`${op(method)} ${JSON.stringify(url)}: ${cause}`));
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      fail('invalid URL');
      return;
    }
    // This module is bundled with the proxy: node:https loads only when a command asks for HTTPS.
    const send = target.protocol === 'https:' ? process.getBuiltinModule('node:https').request : httpRequest;
    const body = options.body ?? '';
    let timer: NodeJS.Timeout | undefined;
    let req: ReturnType<typeof httpRequest>;
    try {
      req = send(target, {
        method,
        agent: false,
        headers: { 'content-length': Buffer.byteLength(body) },
        ...(options.connectTo ? { hostname: options.connectTo.host, port: options.connectTo.port } : {}),
      });
    } catch (err) {
      fail(causeOf(err));
      return;
    }
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      const ms = options.timeoutMs;
      timer = setTimeout(() => {
        req.destroy(new Error(`context deadline exceeded (Client.Timeout ${ms}ms exceeded)`));
      }, ms);
    }
    req.on('error', (err) => {
      clearTimeout(timer);
      fail(causeOf(err));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (err) => {
        clearTimeout(timer);
        fail(causeOf(err));
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
    });
    req.end(body);
  });
}
