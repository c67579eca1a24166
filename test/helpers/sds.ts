/**
 * The SDS protocol as tests see it from Envoy's side: the real .proto files (from
 * `@grpc/grpc-js-xds`) loaded with protobufjs to encode requests and decode responses and secrets
 * independently of the agent's hand-written codec, and a grpc-js client for `StreamSecrets`.
 */
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadEnvoyProtos } from '../../tools/envoy-api/descriptor.js';

export const STREAM_SECRETS = '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets';
export const DELTA_SECRETS = '/envoy.service.secret.v3.SecretDiscoveryService/DeltaSecrets';
export const FETCH_SECRETS = '/envoy.service.secret.v3.SecretDiscoveryService/FetchSecrets';
export const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

let root: protobuf.Root | undefined;

/** Envoy's discovery and secret messages, loaded once per test process. */
export function sdsProtos(): protobuf.Root {
  root ??= loadEnvoyProtos([
    'envoy/service/secret/v3/sds.proto',
    'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  ]);
  return root;
}

export function protoType(name: string): protobuf.Type {
  return sdsProtos().lookupType(name);
}

/** Encodes `fields` (proto field names) as `typeName`, rejecting fields the type does not have. */
export function encodeProto(typeName: string, fields: Record<string, unknown>): Buffer {
  const type = protoType(typeName);
  const problem = type.verify(fields);
  if (problem) throw new Error(`${typeName}: ${problem}`);
  return Buffer.from(type.encode(type.fromObject(fields)).finish());
}

/** Decodes `bytes` as `typeName` into a plain object (bytes as Buffers, defaults left out). */
export function decodeProto(typeName: string, bytes: Uint8Array): Record<string, unknown> {
  const type = protoType(typeName);
  return type.toObject(type.decode(bytes), { bytes: Buffer, longs: Number, oneofs: false }) as Record<
    string,
    unknown
  >;
}

export const DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DiscoveryRequest';
export const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
export const SECRET = 'envoy.extensions.transport_sockets.tls.v3.Secret';

export interface DecodedResponse {
  version_info?: string;
  type_url?: string;
  nonce?: string;
  resources?: { type_url: string; value: Buffer }[];
}

export function decodeResponse(bytes: Uint8Array): DecodedResponse {
  return decodeProto(DISCOVERY_RESPONSE, bytes) as DecodedResponse;
}

const identity = (b: Buffer): Buffer => b;

/** A grpc-js client of the SDS socket: raw bytes in and out. */
export function sdsClient(socketPath: string): grpc.Client {
  return new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure());
}

export type RawStream = grpc.ClientDuplexStream<Buffer, Buffer>;

/** A bidi call; its errors are left to `callStatus` (an unobserved error would be uncaught). */
export function openStream(client: grpc.Client, path = STREAM_SECRETS): RawStream {
  const call = client.makeBidiStreamRequest(path, identity, identity);
  call.on('error', () => {});
  return call;
}

/** The next message on a client stream, or a rejection when the stream ends first. */
export function nextMessage(stream: RawStream, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('end', onEnd);
    };
    const onData = (b: Buffer): void => {
      cleanup();
      resolve(b);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('stream ended'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no message within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('end', onEnd);
  });
}

/** The status a call ended with. */
export function callStatus(call: grpc.ClientDuplexStream<Buffer, Buffer>): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    call.on('status', resolve);
  });
}
