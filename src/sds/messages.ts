/**
 * The SDS messages, encoded and decoded by hand (the wire format is `../proto/wire.ts`): only the
 * fields the agent reads or writes, with the field numbers of Envoy's v3 API
 * (data-plane-api `envoy/service/discovery/v3/discovery.proto`,
 * `envoy/extensions/transport_sockets/tls/v3/{secret,common}.proto`, `envoy/config/core/v3/base.proto`,
 * googleapis `google/rpc/status.proto`, `google/protobuf/any.proto`):
 *
 *   DiscoveryRequest  { string version_info = 1; Node node = 2; repeated string resource_names = 3;
 *                       string type_url = 4; string response_nonce = 5; google.rpc.Status error_detail = 6; }
 *   Node              { string id = 1; string cluster = 2; }            (other fields skipped)
 *   google.rpc.Status { int32 code = 1; string message = 2; }           (details skipped)
 *   DiscoveryResponse { string version_info = 1; repeated google.protobuf.Any resources = 2;
 *                       string type_url = 4; string nonce = 5; }
 *   google.protobuf.Any { string type_url = 1; bytes value = 2; }
 *   Secret            { string name = 1; oneof type { TlsCertificate tls_certificate = 2;
 *                       CertificateValidationContext validation_context = 4; } }
 *   TlsCertificate    { DataSource certificate_chain = 1; DataSource private_key = 2; }
 *   CertificateValidationContext { DataSource trusted_ca = 1; }
 *   DataSource        { oneof specifier { bytes inline_bytes = 2; } }
 *
 * Tests decode and encode the same messages with protobufjs against the real .proto files shipped
 * in `@grpc/grpc-js-xds` and compare.
 */
import { LEN, ProtoWriter, readFields, VARINT } from '../proto/wire.js';

/** `type.googleapis.com/` + the Secret's full name: the type URL of every SDS response and resource. */
export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** A `DiscoveryRequest` as Envoy sends it on `StreamSecrets`. */
export interface DiscoveryRequest {
  /** `version_info`: the version Envoy last accepted ('' before the first). */
  versionInfo: string;
  /**
   * `node`: present on the first request of a stream (Envoy's `set_node_on_first_message_only`),
   * absent after.
   */
  node?: { id: string; cluster: string };
  /** `resource_names`: the secrets this stream asks for (Envoy asks for one per stream). */
  resourceNames: string[];
  /** `type_url`. */
  typeUrl: string;
  /** `response_nonce`: the nonce of the response this request answers ('' on a first request). */
  responseNonce: string;
  /** `error_detail`: present when the request NACKs the response named by `responseNonce`. */
  errorDetail?: { code: number; message: string };
}

/** A `google.protobuf.Any`: a type URL and the encoded message. */
export interface AnyMessage {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/** A `DiscoveryResponse` for `StreamSecrets`. */
export interface DiscoveryResponse {
  versionInfo: string;
  resources: readonly AnyMessage[];
  typeUrl: string;
  nonce: string;
}

function decodeNode(buf: Uint8Array): { id: string; cluster: string } {
  const node = { id: '', cluster: '' };
  readFields(buf, (field, wireType, r) => {
    if (wireType !== LEN) return false;
    if (field === 1) node.id = r.string();
    else if (field === 2) node.cluster = r.string();
    else return false;
    return true;
  });
  return node;
}

function decodeStatus(buf: Uint8Array): { code: number; message: string } {
  const status = { code: 0, message: '' };
  readFields(buf, (field, wireType, r) => {
    if (field === 1 && wireType === VARINT) status.code = r.int32();
    else if (field === 2 && wireType === LEN) status.message = r.string();
    else return false;
    return true;
  });
  return status;
}

/** Decodes a `DiscoveryRequest`; throws on malformed input (grpc-js then fails the call). */
export function decodeDiscoveryRequest(buf: Uint8Array): DiscoveryRequest {
  const req: DiscoveryRequest = { versionInfo: '', resourceNames: [], typeUrl: '', responseNonce: '' };
  readFields(buf, (field, wireType, r) => {
    if (wireType !== LEN) return false;
    switch (field) {
      case 1:
        req.versionInfo = r.string();
        return true;
      case 2: {
        // A message field given twice merges (protobuf semantics): later fields override.
        const node = decodeNode(r.lengthDelimited());
        req.node = {
          id: node.id || req.node?.id || '',
          cluster: node.cluster || req.node?.cluster || '',
        };
        return true;
      }
      case 3:
        req.resourceNames.push(r.string());
        return true;
      case 4:
        req.typeUrl = r.string();
        return true;
      case 5:
        req.responseNonce = r.string();
        return true;
      case 6: {
        const status = decodeStatus(r.lengthDelimited());
        req.errorDetail = {
          code: status.code || req.errorDetail?.code || 0,
          message: status.message || req.errorDetail?.message || '',
        };
        return true;
      }
      default:
        return false;
    }
  });
  return req;
}

/** Encodes a `DiscoveryResponse`. */
export function encodeDiscoveryResponse(res: DiscoveryResponse): Buffer {
  const w = new ProtoWriter().string(1, res.versionInfo);
  for (const resource of res.resources) {
    w.message(2, new ProtoWriter().string(1, resource.typeUrl).bytes(2, resource.value).finish());
  }
  return w.string(4, res.typeUrl).string(5, res.nonce).finish();
}

function inlineBytes(bytes: Uint8Array): Buffer {
  return new ProtoWriter().bytes(2, bytes).finish();
}

/**
 * A `Secret` holding a `tls_certificate` (chain and key, inline bytes), as Istio's `toEnvoySecret`
 * builds it. The result carries the private key: keep it inside src/sds.
 */
export function encodeTlsCertificateSecret(name: string, chain: Uint8Array, key: Uint8Array): Buffer {
  const tls = new ProtoWriter().message(1, inlineBytes(chain)).message(2, inlineBytes(key)).finish();
  return new ProtoWriter().string(1, name).message(2, tls).finish();
}

/** A `Secret` holding a `validation_context` whose `trusted_ca` is `ca` (inline bytes). */
export function encodeValidationContextSecret(name: string, ca: Uint8Array): Buffer {
  const context = new ProtoWriter().message(1, inlineBytes(ca)).finish();
  return new ProtoWriter().string(1, name).message(4, context).finish();
}
