/**
 * The gRPC health-checking protocol (`grpc.health.v1.Health/Check`) as kubelet's gRPC probe uses
 * it: one unary call, SERVING means healthy, anything else (another status, an error, no answer in
 * time) does not.
 *
 * The two messages are tiny, so they are encoded by hand (no .proto loading at run time):
 *   message HealthCheckRequest  { string service = 1; }
 *   message HealthCheckResponse { ServingStatus status = 1; }
 *   enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
 * The same codec serves grpc-js (`serialize`/`deserialize` of a service definition) and the client
 * below.
 *
 * The client speaks gRPC over `node:http2` directly rather than through a grpc-js channel: it needs
 * to choose the connection's source address (`probe-client.ts`: 127.0.0.6, which Istio's iptables
 * rules leave uncaptured) and grpc-js has no option for that; a channel would also bring name
 * resolution, reconnection back-off and proxy environment variables into a single probe call.
 */
import { connect as netConnect } from 'node:net';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
export type ServingStatusName = (typeof SERVING_STATUS)[number];

export interface HealthCheckRequest {
  service: string;
}

export interface HealthCheckResponse {
  /** The wire value; see `servingStatusName`. */
  status: number;
}

export function servingStatusName(status: number): ServingStatusName | `UNRECOGNIZED(${number})` {
  return SERVING_STATUS[status] ?? `UNRECOGNIZED(${status})`;
}

function encodeVarint(value: number, out: number[]): void {
  let v = value;
  while (v > 0x7f) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.buf[this.at++];
      if (byte === undefined) throw new Error('truncated varint');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new Error('varint longer than 10 bytes');
  }

  bytes(length: number): Uint8Array {
    if (this.at + length > this.buf.length) throw new Error('truncated field');
    const out = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  /** Skips a field of an unknown number, as protobuf parsers must. */
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.bytes(8);
    else if (wireType === 2) this.bytes(this.varint());
    else if (wireType === 5) this.bytes(4);
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** Calls `onField(number, wireType, reader)` for each field; the callback must consume the value. */
function readFields(buf: Uint8Array, onField: (field: number, wireType: number, r: Reader) => boolean): void {
  const r = new Reader(buf);
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (!onField(field, wireType, r)) r.skip(wireType);
  }
}

export function encodeHealthCheckRequest(req: HealthCheckRequest): Buffer {
  // proto3 leaves a default (empty) string off the wire.
  if (req.service === '') return Buffer.alloc(0);
  const text = Buffer.from(req.service, 'utf8');
  const head: number[] = [0x0a]; // field 1, wire type 2
  encodeVarint(text.length, head);
  return Buffer.concat([Buffer.from(head), text]);
}

export function decodeHealthCheckRequest(buf: Uint8Array): HealthCheckRequest {
  let service = '';
  readFields(buf, (field, wireType, r) => {
    if (field !== 1 || wireType !== 2) return false;
    service = Buffer.from(r.bytes(r.varint())).toString('utf8');
    return true;
  });
  return { service };
}

export function encodeHealthCheckResponse(res: HealthCheckResponse): Buffer {
  if (res.status === 0) return Buffer.alloc(0);
  const out: number[] = [0x08]; // field 1, wire type 0
  encodeVarint(res.status, out);
  return Buffer.from(out);
}

export function decodeHealthCheckResponse(buf: Uint8Array): HealthCheckResponse {
  let status = 0;
  readFields(buf, (field, wireType, r) => {
    if (field !== 1 || wireType !== 0) return false;
    status = r.varint();
    return true;
  });
  return { status };
}

export interface GrpcHealthCheck {
  host: string;
  port: number;
  service: string;
  timeoutMs: number;
  /** Source address of the connection (see probe-client.ts). */
  localAddress?: string;
  /** kubelet's `User-Agent` (`kube-probe/<version>`), passed on as Istio does. */
  userAgent?: string;
}

export type GrpcHealthOutcome =
  | { kind: 'status'; status: number }
  | { kind: 'error'; message: string; timedOut: boolean };

/** Answers bigger than this are not health responses; the call is abandoned. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** gRPC status codes named in failure messages (kubelet singles these out too). */
const GRPC_CODE_NAMES: Record<string, string> = {
  '4': 'DEADLINE_EXCEEDED',
  '5': 'NOT_FOUND',
  '12': 'UNIMPLEMENTED',
  '14': 'UNAVAILABLE',
};

/** One `Check` call; never rejects. */
export function checkGrpcHealth(check: GrpcHealthCheck): Promise<GrpcHealthOutcome> {
  return new Promise((resolve) => {
    const hostInUrl = check.host.includes(':') ? `[${check.host}]` : check.host;
    // node:http2 loads with the first gRPC probe, not at start (idle RSS; see probe-client.ts).
    const session = process.getBuiltinModule('node:http2').connect(`http://${hostInUrl}:${check.port}`, {
      createConnection: () =>
        netConnect({
          host: check.host,
          port: check.port,
          ...(check.localAddress ? { localAddress: check.localAddress } : {}),
        }),
    });
    let settled = false;
    const finish = (outcome: GrpcHealthOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(outcome);
    };
    const fail = (message: string, timedOut = false) => finish({ kind: 'error', message, timedOut });
    const timer = setTimeout(() => fail(`no answer within ${check.timeoutMs} ms`, true), check.timeoutMs);
    session.on('error', (err) => fail(err.message));

    const stream = session.request({
      ':method': 'POST',
      ':path': HEALTH_CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${Math.max(1, Math.ceil(check.timeoutMs))}m`,
      ...(check.userAgent ? { 'user-agent': check.userAgent } : {}),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    const readStatus = (headers: Record<string, unknown>) => {
      const status = headers['grpc-status'];
      if (typeof status === 'string') grpcStatus = status;
      const message = headers['grpc-message'];
      if (typeof message === 'string') grpcMessage = percentDecode(message);
    };
    stream.on('response', (headers) => {
      const httpStatus = headers[':status'];
      if (httpStatus !== 200) fail(`HTTP status ${httpStatus} from a gRPC server`);
      // A "trailers-only" answer carries grpc-status in the response headers.
      readStatus(headers);
    });
    stream.on('trailers', readStatus);
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) fail(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
      else chunks.push(chunk);
    });
    stream.on('error', (err) => fail(err.message));
    stream.on('close', () => {
      if (grpcStatus === undefined) return fail('stream closed without a gRPC status');
      if (grpcStatus !== '0') {
        const name = GRPC_CODE_NAMES[grpcStatus] ?? `code ${grpcStatus}`;
        return fail(`gRPC ${name}${grpcMessage ? `: ${grpcMessage}` : ''}`);
      }
      try {
        finish({ kind: 'status', status: decodeHealthCheckResponse(unframe(Buffer.concat(chunks))).status });
      } catch (err) {
        fail(`malformed health response: ${(err as Error).message}`);
      }
    });
    stream.end(frame(encodeHealthCheckRequest({ service: check.service })));
  });
}

/** grpc-message is percent-encoded; a broken encoding is shown as sent. */
function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** gRPC's length-prefixed message: a compression flag byte, a big-endian length, the message. */
export function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new Error('no message');
  // We never offer compression (no grpc-accept-encoding), so a compressed message is a broken peer.
  if (body[0] !== 0) throw new Error('compressed message');
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new Error('truncated message');
  return body.subarray(5, 5 + length);
}
