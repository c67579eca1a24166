import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, runMain } from './helpers.js';

const servers: Server[] = [];

/** A readiness endpoint on a free port: 503 for the first `failures` requests, then 200. */
async function readiness(failures: number): Promise<{ url: string; hits: () => number }> {
  let count = 0;
  const server = createServer((_req, res) => {
    count++;
    res.writeHead(count > failures ? 200 : 503).end(count > failures ? 'ok' : 'not ready');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/healthz/ready`, hits: () => count };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('pilot-agent wait', () => {
  it('succeeds once the endpoint answers 200, after one period per attempt', async () => {
    const ready = await readiness(3);
    const started = Date.now();
    const { code, logs, stderr } = await runMain([
      'wait',
      '--url',
      ready.url,
      '--periodMillis',
      '20',
      '--timeoutSeconds',
      '5',
    ]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(ready.hits()).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 20);
    expect(logs.map((l) => l.msg)).toEqual([
      'Waiting for Envoy proxy to be ready (timeout: 5 seconds)...',
      'Envoy is ready!',
    ]);
  });

  it('times out with the last error: a non-200 status', async () => {
    const never = await readiness(Number.POSITIVE_INFINITY);
    const { code, stderr } = await runMain([
      'wait',
      '--url',
      never.url,
      '--periodMillis=50',
      '--timeoutSeconds=1',
    ]);
    expect(code).toBe(255);
    expect(stderr).toBe(
      'timeout waiting for Envoy proxy to become ready. Last error: HTTP status code 503\n',
    );
    expect(never.hits()).toBeGreaterThanOrEqual(10);
  });

  it('times out with the last error: a refused connection', async () => {
    const { code, stderr } = await runMain([
      'wait',
      '--url',
      'http://127.0.0.1:1/healthz/ready',
      '--periodMillis',
      '100',
      '--timeoutSeconds',
      '1',
    ]);
    expect(code).toBe(255);
    expect(stderr).toBe(
      'timeout waiting for Envoy proxy to become ready. Last error: Get "http://127.0.0.1:1/healthz/ready": dial tcp 127.0.0.1:1: connect: connection refused\n',
    );
  });

  it('reports <nil> when the timeout expires before the first check', async () => {
    const { code, stderr } = await runMain(['wait', '--timeoutSeconds', '0']);
    expect(code).toBe(255);
    expect(stderr).toBe('timeout waiting for Envoy proxy to become ready. Last error: <nil>\n');
  });

  it('applies the request timeout to each check', async () => {
    const server = createServer(() => {
      // never answers
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { stderr } = await runMain([
      'wait',
      `--url=http://127.0.0.1:${port}/`,
      '--requestTimeoutMillis=50',
      '--periodMillis=100',
      '--timeoutSeconds=1',
    ]);
    expect(stderr).toMatch(/Last error: Get "http:\/\/127\.0\.0\.1:\d+\/": context deadline exceeded/);
    server.closeAllConnections();
  });

  it.each([
    [['--url', 'ftp://x'], '--url "ftp://x" must be an http:// or https:// URL'],
    [['--periodMillis', '0'], '--periodMillis 0 must be at least 1'],
    [['--timeoutSeconds', 'x'], '--timeoutSeconds "x" must be an integer'],
    [['--requestTimeoutMillis', '-1'], '--requestTimeoutMillis -1 must not be negative'],
  ])('rejects %j', async (args, message) => {
    const { code, stderr } = await runMain(['wait', ...args]);
    expect(code).toBe(255);
    expect(stderr).toBe(`${message}\n`);
  });

  it('works from the built binary against a server that turns ready', async () => {
    const ready = await readiness(2);
    const result = await runCli(['wait', '--url', ready.url, '--periodMillis', '20']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Envoy is ready!');
    expect(result.stderr).toBe('');
  });
});
