/**
 * The SDS transport with a real grpc-js client over a temp Unix socket: the socket's mode and
 * lifecycle (stale file replaced, a live one never stolen, removed on close), requests decoded and
 * responses encoded as Envoy's .proto files define them, Delta/Fetch UNIMPLEMENTED, and no handle
 * left behind by many short streams.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SdsServer, SdsSocketError, type SdsStream, startSdsServer } from '../../src/sds/server.js';
import {
  callStatus,
  DELTA_SECRETS,
  DISCOVERY_REQUEST,
  decodeResponse,
  encodeProto,
  FETCH_SECRETS,
  nextMessage,
  openStream,
  SECRET_TYPE,
  sdsClient,
} from '../helpers/sds.js';
import { waitUntil } from '../helpers/wait.js';

let dir: string;
const servers: SdsServer[] = [];
const clients: grpc.Client[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-agent-sds-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A server whose streams are collected in arrival order. */
async function serve(socketPath = join(dir, 'etc/istio/proxy/SDS')) {
  const streams: SdsStream[] = [];
  const server = await startSdsServer({ socketPath, onStream: (s) => streams.push(s) });
  servers.push(server);
  return { server, streams };
}

function client(path: string): grpc.Client {
  const c = sdsClient(path);
  clients.push(c);
  return c;
}

describe('the SDS socket', () => {
  it('is created with its directory, mode 0600, and removed on close', async () => {
    const { server } = await serve();
    expect(server.socketPath).toBe(join(dir, 'etc/istio/proxy/SDS'));
    const st = statSync(server.socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await server.close();
    expect(existsSync(server.socketPath)).toBe(false);
  });

  it("defaults to Istio's ./etc/istio/proxy/SDS under the working directory", async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const server = await startSdsServer({ onStream: () => {} });
      servers.push(server);
      expect(relative(dir, server.socketPath)).toBe('etc/istio/proxy/SDS');
    } finally {
      process.chdir(cwd);
    }
  });

  it('replaces a stale socket left by a killed process', async () => {
    const path = join(dir, 'SDS');
    // A process binds the socket and dies by SIGKILL: its socket file stays behind.
    const code = `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`;
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(statSync(path).isSocket()).toBe(true);

    const { streams } = await serve(path);
    const call = openStream(client(path));
    call.write(encodeProto(DISCOVERY_REQUEST, { node: { id: 'n' }, resource_names: ['default'] }));
    await waitUntil(() => streams.length === 1, 'a stream on the replaced socket');
    call.cancel();
  });

  it('refuses a socket another live process serves, and leaves it alone', async () => {
    const path = join(dir, 'SDS');
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(path, resolve));
    try {
      await expect(startSdsServer({ socketPath: path, onStream: () => {} })).rejects.toThrow(
        new SdsSocketError(`SDS socket ${path} is served by another process`),
      );
      expect(statSync(path).isSocket()).toBe(true);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('refuses to replace a path that is not a socket', async () => {
    const path = join(dir, 'SDS');
    writeFileSync(path, 'not a socket');
    await expect(startSdsServer({ socketPath: path, onStream: () => {} })).rejects.toThrow(
      `SDS socket ${path} exists and is not a socket; not replacing it`,
    );
    expect(statSync(path).isFile()).toBe(true);
  });
});

describe('StreamSecrets', () => {
  it('hands each stream over with its requests decoded, and sends what the caller sends', async () => {
    const { server, streams } = await serve();
    const call = openStream(client(server.socketPath));
    call.write(
      encodeProto(DISCOVERY_REQUEST, {
        node: { id: 'sidecar~10.0.0.1~app.default~default.svc.cluster.local', cluster: 'app.default' },
        resource_names: ['default'],
        type_url: SECRET_TYPE,
      }),
    );
    await waitUntil(() => streams.length === 1, 'the stream handed over');
    const stream = streams[0] as SdsStream;
    expect(stream.id).toBe(1);
    const requests = stream.requests[Symbol.asyncIterator]();
    expect((await requests.next()).value).toEqual({
      versionInfo: '',
      node: { id: 'sidecar~10.0.0.1~app.default~default.svc.cluster.local', cluster: 'app.default' },
      resourceNames: ['default'],
      typeUrl: SECRET_TYPE,
      responseNonce: '',
    });

    const secret = Buffer.from([0x0a, 0x07, ...Buffer.from('default')]);
    expect(
      stream.send({
        versionInfo: '2026-01-01T00:00:00Z/1',
        resources: [{ typeUrl: SECRET_TYPE, value: secret }],
        typeUrl: SECRET_TYPE,
        nonce: 'n-1',
      }),
    ).toBe(true);
    expect(decodeResponse(await nextMessage(call))).toEqual({
      version_info: '2026-01-01T00:00:00Z/1',
      resources: [{ type_url: SECRET_TYPE, value: secret }],
      type_url: SECRET_TYPE,
      nonce: 'n-1',
    });

    // A NACK: the previous version, the nonce, and Envoy's error detail.
    call.write(
      encodeProto(DISCOVERY_REQUEST, {
        resource_names: ['default'],
        type_url: SECRET_TYPE,
        response_nonce: 'n-1',
        error_detail: { code: 13, message: 'Failed to load private key from <inline>' },
      }),
    );
    expect((await requests.next()).value).toEqual({
      versionInfo: '',
      resourceNames: ['default'],
      typeUrl: SECRET_TYPE,
      responseNonce: 'n-1',
      errorDetail: { code: 13, message: 'Failed to load private key from <inline>' },
    });

    // Envoy half-closes: the requests end; the caller ends the stream with OK.
    const status = callStatus(call);
    call.end();
    expect((await requests.next()).done).toBe(true);
    stream.end();
    expect(await stream.closed).toEqual({ reason: 'ended' });
    expect((await status).code).toBe(grpc.status.OK);
    expect(stream.send({ versionInfo: 'x', resources: [], typeUrl: SECRET_TYPE, nonce: 'y' })).toBe(false);
  });

  it('tells the caller when Envoy cancels the stream', async () => {
    const { server, streams } = await serve();
    const call = openStream(client(server.socketPath));
    call.write(encodeProto(DISCOVERY_REQUEST, { node: { id: 'n' }, resource_names: ['ROOTCA'] }));
    await waitUntil(() => streams.length === 1, 'the stream handed over');
    call.cancel();
    expect(await (streams[0] as SdsStream).closed).toEqual({ reason: 'cancelled' });
  });

  it('ends a stream whose request is not a DiscoveryRequest with INTERNAL', async () => {
    const { server, streams } = await serve();
    const call = openStream(client(server.socketPath));
    const status = callStatus(call);
    call.write(Buffer.from([0x0a, 0x05, 0x61])); // field 1 claims 5 bytes, has 1
    await waitUntil(() => streams.length === 1, 'the stream handed over');
    const stream = streams[0] as SdsStream;
    for await (const _ of stream.requests) expect.unreachable('no request decodes');
    expect(await stream.closed).toEqual({
      reason: 'malformed',
      detail: 'malformed DiscoveryRequest: truncated field',
    });
    expect(await status).toMatchObject({
      code: grpc.status.INTERNAL,
      details: 'malformed DiscoveryRequest: truncated field',
    });
  });

  it('ends open streams when the server closes', async () => {
    const { server, streams } = await serve();
    const call = openStream(client(server.socketPath));
    const status = callStatus(call);
    call.write(encodeProto(DISCOVERY_REQUEST, { node: { id: 'n' }, resource_names: ['default'] }));
    await waitUntil(() => streams.length === 1, 'the stream handed over');
    await server.close();
    expect(await (streams[0] as SdsStream).closed).toEqual({ reason: 'shutdown' });
    expect((await status).code).not.toBe(grpc.status.OK);
  });
});

describe('a client that does not read', () => {
  it('makes send() report false once responses queue up, so the caller can hold them back', async () => {
    const { server, streams } = await serve();
    const call = openStream(client(server.socketPath));
    call.pause(); // Envoy not reading: HTTP/2 flow control stops the server's writes
    call.write(encodeProto(DISCOVERY_REQUEST, { node: { id: 'n' }, resource_names: ['default'] }));
    await waitUntil(() => streams.length === 1, 'the stream handed over');
    const stream = streams[0] as SdsStream;
    const big = Buffer.alloc(256 * 1024, 1);
    const accepted: boolean[] = [];
    for (let i = 0; i < 64 && !accepted.includes(false); i++) {
      accepted.push(
        stream.send({
          versionInfo: `v${i}`,
          resources: [{ typeUrl: SECRET_TYPE, value: big }],
          typeUrl: SECRET_TYPE,
          nonce: `${i}`,
        }),
      );
    }
    expect(accepted).toContain(false);
    expect(accepted.length).toBeLessThan(64);
    call.cancel();
  });
});

describe('DeltaSecrets and FetchSecrets', () => {
  it('answer UNIMPLEMENTED, as Istio', async () => {
    const { server, streams } = await serve();
    const c = client(server.socketPath);
    const delta = openStream(c, DELTA_SECRETS);
    const deltaStatus = callStatus(delta);
    delta.write(Buffer.alloc(0));
    expect(await deltaStatus).toMatchObject({
      code: grpc.status.UNIMPLEMENTED,
      details: 'DeltaSecrets not implemented',
    });
    const fetch = await new Promise<grpc.ServiceError>((resolve) =>
      c.makeUnaryRequest(
        FETCH_SECRETS,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (err) => resolve(err as grpc.ServiceError),
      ),
    );
    expect(fetch).toMatchObject({ code: grpc.status.UNIMPLEMENTED, details: 'FetchSecrets not implemented' });
    expect(streams).toEqual([]);
  });
});

describe('resources', () => {
  function openFds(): number {
    return readdirSync('/proc/self/fd').length;
  }
  function activeHandles(): string[] {
    return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout');
  }

  it('100 clients opening and closing streams leave no handle or descriptor behind', async () => {
    const { server, streams } = await serve();
    const fdsBefore = openFds();
    const handlesBefore = activeHandles().length;
    const ended: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      const c = sdsClient(server.socketPath);
      const call = openStream(c);
      call.write(encodeProto(DISCOVERY_REQUEST, { node: { id: `n${i}` }, resource_names: ['default'] }));
      await waitUntil(() => streams.length === i + 1, `stream ${i + 1}`);
      const stream = streams[i] as SdsStream;
      ended.push(stream.closed);
      // Half of them are cancelled by the client, half ended by the server.
      if (i % 2 === 0) call.cancel();
      else stream.end();
      c.close();
    }
    expect(new Set((await Promise.all(ended)).map((e) => (e as { reason: string }).reason))).toEqual(
      new Set(['cancelled', 'ended']),
    );
    await waitUntil(
      () => openFds() <= fdsBefore && activeHandles().length <= handlesBefore,
      `descriptors back to ${fdsBefore} and handles to ${handlesBefore}`,
    );
  });
});
