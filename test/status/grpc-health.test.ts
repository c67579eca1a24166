/**
 * The hand-written grpc.health.v1 codec: byte-exact against protobuf's encoding, tolerant of
 * unknown fields, and interoperable with grpc-js on both sides (a grpc-js client through
 * makeGenericClientConstructor against the test server, and our http2 client against it).
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkGrpcHealth,
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../../src/status/grpc-health.js';
import { closeAll, closedPort, healthServiceDefinition, startGrpcHealth } from './helpers.js';

afterEach(closeAll);

describe('grpc.health.v1 codec', () => {
  it('encodes as protobuf does', () => {
    expect(encodeHealthCheckRequest({ service: '' })).toEqual(Buffer.alloc(0));
    expect(encodeHealthCheckRequest({ service: 'foo' })).toEqual(Buffer.from([0x0a, 3, 0x66, 0x6f, 0x6f]));
    const long = 'x'.repeat(300);
    expect(encodeHealthCheckRequest({ service: long }).subarray(0, 3)).toEqual(
      Buffer.from([0x0a, 0xac, 0x02]),
    );
    expect(encodeHealthCheckResponse({ status: 1 })).toEqual(Buffer.from([0x08, 1]));
    expect(encodeHealthCheckResponse({ status: 0 })).toEqual(Buffer.alloc(0));
  });

  it('round-trips and skips fields it does not know', () => {
    expect(decodeHealthCheckRequest(encodeHealthCheckRequest({ service: 'héllo' }))).toEqual({
      service: 'héllo',
    });
    // field 2 varint, field 3 bytes, field 4 fixed32, field 5 fixed64, then status NOT_SERVING.
    const withUnknown = Buffer.from([
      0x10, 0x96, 0x01, 0x1a, 2, 0, 0, 0x25, 1, 2, 3, 4, 0x29, 1, 2, 3, 4, 5, 6, 7, 8, 0x08, 2,
    ]);
    expect(decodeHealthCheckResponse(withUnknown)).toEqual({ status: 2 });
    expect(() => decodeHealthCheckResponse(Buffer.from([0x08]))).toThrow(/truncated/);
  });

  it('works with grpc-js on both ends', async () => {
    const server = await startGrpcHealth(new Map([['svc', 1]]));
    const Client = grpc.makeGenericClientConstructor(healthServiceDefinition, 'Health');
    const client = new Client(
      `127.0.0.1:${server.port}`,
      grpc.credentials.createInsecure(),
    ) as unknown as grpc.Client & {
      Check: (req: HealthCheckRequest, cb: grpc.requestCallback<HealthCheckResponse>) => void;
    };
    const res = await new Promise<HealthCheckResponse | undefined>((resolve, reject) =>
      client.Check({ service: 'svc' }, (err, value) => (err ? reject(err) : resolve(value))),
    );
    client.close();
    expect(res).toEqual({ status: 1 });
  });
});

describe('checkGrpcHealth', () => {
  it('reports the serving status, a gRPC error, or a connection error', async () => {
    const server = await startGrpcHealth(
      new Map([
        ['', 1],
        ['down', 2],
      ]),
    );
    const check = (service: string, port = server.port) =>
      checkGrpcHealth({ host: '127.0.0.1', port, service, timeoutMs: 2_000 });
    expect(await check('')).toEqual({ kind: 'status', status: 1 });
    expect(await check('down')).toEqual({ kind: 'status', status: 2 });
    expect(await check('missing')).toMatchObject({
      kind: 'error',
      message: 'gRPC NOT_FOUND: unknown service',
    });
    expect(await check('', await closedPort())).toMatchObject({ kind: 'error', timedOut: false });
  });

  it('gives up at the timeout on a server that never answers', async () => {
    const { createServer } = await import('node:net');
    const held: Array<import('node:net').Socket> = [];
    const silent = createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const started = performance.now();
    const outcome = await checkGrpcHealth({ host: '127.0.0.1', port, service: '', timeoutMs: 300 });
    const took = performance.now() - started;
    for (const s of held) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    expect(outcome).toEqual({ kind: 'error', message: 'no answer within 300 ms', timedOut: true });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(700);
  });
});
