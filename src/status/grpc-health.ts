/**
 * The gRPC health-checking protocol (`grpc.health.v1.Health/Check`) as kubelet's gRPC probe uses
 * it: one unary call, SERVING means healthy, anything else (another status, an error, no answer in
 * time) does not.
 *
 * The two messages are tiny, so they are encoded by hand (no .proto loading at run time; the wire
 * format is in `../proto/wire.ts`):
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
import { LEN, ProtoWriter, readFields, VARINT } from '../proto/wire.js';

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

export function encodeHealthCheckRequest(req: HealthCheckRequest): Buffer {
  return new ProtoWriter().string(1, req.service).finish();
}

export function decodeHealthCheckRequest(buf: Uint8Array): HealthCheckRequest {
  let service = '';
  readFields(buf, (field, wireType, r) => {
    if (field !== 1 || wireType !== LEN) return false;
    service = r.string();
    return true;
  });
  return { service };
}

export function encodeHealthCheckResponse(res: HealthCheckResponse): Buffer {
  return new ProtoWriter().varint(1, res.status).finish();
}

export function decodeHealthCheckResponse(buf: Uint8Array): HealthCheckResponse {
  let status = 0;
  readFields(buf, (field, wireType, r) => {
    if (field !== 1 || wireType !== VARINT) return false;
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
