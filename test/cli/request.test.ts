import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { requestUrl, runRequest } from '../../src/cli/commands/request.js';
import { AgentError } from '../../src/errors.js';
import { runCli, runMain } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  body: string;
}

const servers: Server[] = [];

/** A fake admin API on a free port: `/missing` 404, `/broken` 500, otherwise 200 echoing the request. */
async function adminServer(): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    seen.push({ method: req.method ?? '', url: req.url ?? '', body });
    if (req.url === '/missing') res.writeHead(404).end('no such path');
    else if (req.url === '/broken') res.writeHead(500).end('admin\nfailure');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"state":"LIVE"}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function capture() {
  let out = '';
  return {
    io: {
      stdout: {
        write: (chunk: string | Uint8Array) => {
          out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        },
      },
    },
    text: () => out,
  };
}

async function request(args: string[], port: number, debugPort = 15000) {
  const out = capture();
  const code = await runRequest(args, { 'debug-port': debugPort }, out.io, {
    connectTo: () => ({ host: '127.0.0.1', port }),
  });
  return { code, stdout: out.text() };
}

async function failure(promise: Promise<unknown>): Promise<AgentError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

describe('pilot-agent request', () => {
  it('builds Istio’s URL, dropping one leading slash', () => {
    expect(requestUrl(15000, 'server_info')).toBe('http://localhost:15000/server_info');
    expect(requestUrl(15000, '/server_info')).toBe('http://localhost:15000/server_info');
    expect(requestUrl(15020, '//x')).toBe('http://localhost:15020//x');
  });

  it('prints the body followed by a newline and nothing else', async () => {
    const admin = await adminServer();
    const result = await request(['GET', '/server_info'], admin.port);
    expect(result).toEqual({ code: 0, stdout: '{"state":"LIVE"}\n' });
    expect(admin.seen).toEqual([{ method: 'GET', url: '/server_info', body: '' }]);
  });

  it('sends the method and the optional body', async () => {
    const admin = await adminServer();
    await request(['POST', 'logging?level=debug', 'payload'], admin.port);
    expect(admin.seen).toEqual([{ method: 'POST', url: '/logging?level=debug', body: 'payload' }]);
  });

  it('treats 404 as success', async () => {
    const admin = await adminServer();
    expect(await request(['GET', 'missing'], admin.port)).toEqual({ code: 0, stdout: 'no such path\n' });
  });

  it('fails on other statuses above 399 with the body on one line', async () => {
    const admin = await adminServer();
    const err = await failure(request(['GET', 'broken'], admin.port));
    expect(err.message).toBe('received unsuccessful status code 500: admin failure');
    expect(err.exitCode).toBe(255);
  });

  it('allows only the Istio debug ports', async () => {
    const admin = await adminServer();
    for (const port of [15000, 15004, 15020, 15021]) {
      expect((await request(['GET', 'x'], admin.port, port)).code).toBe(0);
    }
    const err = await failure(request(['GET', 'x'], admin.port, 9999));
    expect(err.message).toBe('debug port 9999 is not in allowed list [15000 15004 15020 15021]');
  });

  it('checks the argument count first, as cobra does', async () => {
    const { code, stderr } = await runMain(['request', '--debug-port', '1', 'GET']);
    expect(code).toBe(255);
    expect(stderr).toBe('requires at least 2 arg(s), only received 1\n');
  });

  it('reports a disallowed --debug-port from the command line', async () => {
    const { code, stderr } = await runMain(['request', '--debug-port=9999', 'GET', 'x']);
    expect(code).toBe(255);
    expect(stderr).toBe('debug port 9999 is not in allowed list [15000 15004 15020 15021]\n');
  });

  it('reports a transport error like Go’s url.Error', async () => {
    const err = await failure(
      runRequest(['GET', 'server_info'], { 'debug-port': 15000 }, capture().io, {
        connectTo: () => ({ host: '127.0.0.1', port: 1 }),
      }),
    );
    expect(err.message).toBe(
      'Get "http://localhost:15000/server_info": dial tcp 127.0.0.1:1: connect: connection refused',
    );
  });

  it('works from the built binary against an allowed port that is free here', async (ctx) => {
    let server: Server | undefined;
    let port = 0;
    for (const candidate of [15004, 15021, 15020, 15000]) {
      const s = createServer((req, res) => {
        res
          .writeHead(req.url === '/broken' ? 503 : 200)
          .end(req.url === '/broken' ? 'down' : `${req.method} ${req.url}`);
      });
      const ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(candidate, '127.0.0.1', () => resolve(true));
      });
      if (ok) {
        server = s;
        port = candidate;
        break;
      }
    }
    if (server === undefined) {
      ctx.skip();
      return;
    }
    servers.push(server);
    const ok = await runCli(['request', `--debug-port=${port}`, 'POST', 'drain']);
    expect(ok).toMatchObject({ code: 0, stdout: 'POST /drain\n', stderr: '' });
    const bad = await runCli(['request', '--debug-port', String(port), 'GET', '/broken']);
    expect(bad).toMatchObject({
      code: 255,
      stdout: '',
      stderr: 'received unsuccessful status code 503: down\n',
    });
  });
});
