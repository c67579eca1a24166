/**
 * Clients for the debug tests: plain HTTP with any headers from any local address, a
 * server-sent-events reader, a WebSocket client (the `ws` package that @statelyai/inspect brings,
 * typed here by the members used), and the agents they start, all ended by `cleanup()`.
 */
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { type AgentOptions, type AgentRun, startAgent } from '../helpers/agent-process.js';
import { waitUntil } from '../helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Ends everything started through these helpers, newest first. */
export async function cleanup(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()?.();
}

export async function agent(options: AgentOptions = {}): Promise<AgentRun> {
  const run = await startAgent(options);
  onCleanup(() => run.stop());
  return run;
}

/** This machine's first non-loopback address of a family (link-local IPv6 left out). */
export function nonLoopbackAddress(family: 'IPv4' | 'IPv6' = 'IPv4'): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (!a.internal && a.family === family && !a.address.startsWith('fe80')) return a.address;
    }
  }
  return undefined;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function get(
  url: string,
  options: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        timeout: options.timeoutMs ?? 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** A server-sent-events stream: raw text and parsed `data:` messages, as they arrive. */
export interface SseStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: () => string;
  messages: () => unknown[];
  ended: () => boolean;
  waitFor: (pred: (messages: unknown[]) => boolean, what: string, timeoutMs?: number) => Promise<void>;
  close: () => void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { accept: 'text/event-stream', ...headers }, agent: false },
      (res) => {
        let raw = '';
        let ended = false;
        const messages: unknown[] = [];
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          raw += chunk;
          pending += chunk;
          for (let cut = pending.indexOf('\n\n'); cut >= 0; cut = pending.indexOf('\n\n')) {
            const block = pending.slice(0, cut);
            pending = pending.slice(cut + 2);
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n');
            if (data) messages.push(JSON.parse(data));
          }
        });
        const end = () => {
          ended = true;
        };
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
        const stream: SseStream = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          raw: () => raw,
          messages: () => messages,
          ended: () => ended,
          waitFor: (pred, what, timeoutMs = 10_000) => waitUntil(() => pred(messages), what, { timeoutMs }),
          close: () => req.destroy(),
        };
        onCleanup(() => stream.close());
        resolve(stream);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// WebSocket client (`ws`, untyped: the members used are named here)

interface WsClient {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'unexpected-response', listener: (req: unknown, res: { statusCode?: number }) => void): void;
  close(): void;
  terminate(): void;
}
interface WsModule {
  WebSocket: new (url: string, options?: { headers?: Record<string, string> }) => WsClient;
}

async function loadWs(): Promise<WsModule> {
  const specifier: string = 'ws';
  return (await import(specifier)) as WsModule;
}

export interface WsConnection {
  messages: () => unknown[];
  waitFor: (pred: (messages: unknown[]) => boolean, what: string, timeoutMs?: number) => Promise<void>;
  close: () => void;
}

/** Opens a WebSocket; resolves once open, rejects with the HTTP status or error that refused it. */
export async function openWs(url: string, headers: Record<string, string> = {}): Promise<WsConnection> {
  const { WebSocket } = await loadWs();
  const client = new WebSocket(url, { headers });
  const messages: unknown[] = [];
  client.on('message', (data) => messages.push(JSON.parse(data.toString('utf8'))));
  await new Promise<void>((resolve, reject) => {
    client.on('open', resolve);
    client.on('unexpected-response', (_req, res) => {
      reject(new Error(`refused with HTTP ${res.statusCode}`));
      client.terminate();
    });
    client.on('error', reject);
  });
  const connection: WsConnection = {
    messages: () => messages,
    waitFor: (pred, what, timeoutMs = 10_000) => waitUntil(() => pred(messages), what, { timeoutMs }),
    close: () => client.terminate(),
  };
  onCleanup(() => connection.close());
  return connection;
}

/** Text that key material is written with; none of it may leave the agent. */
export const KEY_MATERIAL = /PRIVATE KEY|BEGIN|MIIE|MIIB|MIGH/;
