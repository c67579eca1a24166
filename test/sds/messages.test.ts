/**
 * The hand-written SDS codec against Envoy's real .proto files (protobufjs): requests Envoy encodes
 * decode to the same values, unknown fields are skipped, and what the agent encodes decodes back
 * field for field, byte-identical to protobufjs's encoding.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeDiscoveryRequest,
  encodeDiscoveryResponse,
  encodeTlsCertificateSecret,
  encodeValidationContextSecret,
  SECRET_TYPE_URL,
} from '../../src/sds/messages.js';
import { DISCOVERY_REQUEST, DISCOVERY_RESPONSE, decodeProto, encodeProto, SECRET } from '../helpers/sds.js';

describe('DiscoveryRequest decoding', () => {
  it('reads what Envoy sends on a stream: first request, ACK, NACK', () => {
    const first = encodeProto(DISCOVERY_REQUEST, {
      node: {
        id: 'sidecar~10.0.0.1~app-7d9.default~default.svc.cluster.local',
        cluster: 'app.default',
        metadata: { fields: { ISTIO_VERSION: { string_value: '1.5.0' } } },
        locality: { region: 'r', zone: 'z' },
        user_agent_name: 'envoy',
        user_agent_build_version: { version: { major_number: 1, minor_number: 34 } },
        client_features: ['envoy.lb.does_not_support_overprovisioning'],
      },
      resource_names: ['default'],
      type_url: SECRET_TYPE_URL,
    });
    expect(decodeDiscoveryRequest(first)).toEqual({
      versionInfo: '',
      node: { id: 'sidecar~10.0.0.1~app-7d9.default~default.svc.cluster.local', cluster: 'app.default' },
      resourceNames: ['default'],
      typeUrl: SECRET_TYPE_URL,
      responseNonce: '',
    });

    const ack = encodeProto(DISCOVERY_REQUEST, {
      version_info: '2026-01-01T00:00:00Z/1',
      resource_names: ['file-cert:/etc/certs/cert-chain.pem~/etc/certs/key.pem'],
      type_url: SECRET_TYPE_URL,
      response_nonce: '7c1f9d0e-5a0b-4c1e-8a53-4b7f0a9e2d11',
    });
    expect(decodeDiscoveryRequest(ack)).toEqual({
      versionInfo: '2026-01-01T00:00:00Z/1',
      resourceNames: ['file-cert:/etc/certs/cert-chain.pem~/etc/certs/key.pem'],
      typeUrl: SECRET_TYPE_URL,
      responseNonce: '7c1f9d0e-5a0b-4c1e-8a53-4b7f0a9e2d11',
    });

    const nack = encodeProto(DISCOVERY_REQUEST, {
      version_info: '2026-01-01T00:00:00Z/1',
      resource_names: ['ROOTCA'],
      type_url: SECRET_TYPE_URL,
      response_nonce: 'n2',
      error_detail: {
        code: 13,
        message: 'Failed to load trusted CA certificates from <inline>',
        details: [{ type_url: 'type.googleapis.com/google.protobuf.Empty', value: Buffer.alloc(0) }],
      },
    });
    expect(decodeDiscoveryRequest(nack)).toEqual({
      versionInfo: '2026-01-01T00:00:00Z/1',
      resourceNames: ['ROOTCA'],
      typeUrl: SECRET_TYPE_URL,
      responseNonce: 'n2',
      errorDetail: { code: 13, message: 'Failed to load trusted CA certificates from <inline>' },
    });
  });

  it('reads several resource names, non-ASCII text and negative codes; skips resource_locators', () => {
    const bytes = encodeProto(DISCOVERY_REQUEST, {
      resource_names: ['default', 'ROOTCA', 'file-root:/etc/ç/ca.pem'],
      resource_locators: [{ name: 'x', dynamic_parameters: { a: 'b' } }],
      error_detail: { code: -5, message: 'é' },
    });
    expect(decodeDiscoveryRequest(bytes)).toEqual({
      versionInfo: '',
      resourceNames: ['default', 'ROOTCA', 'file-root:/etc/ç/ca.pem'],
      typeUrl: '',
      responseNonce: '',
      errorDetail: { code: -5, message: 'é' },
    });
  });

  it('skips fields it does not know, of every wire type', () => {
    const known = encodeProto(DISCOVERY_REQUEST, { resource_names: ['default'] });
    const unknown = Buffer.from([
      0xa0,
      0x06,
      0x96,
      0x01, // field 100, varint 150
      0xa9,
      0x06,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 101, 64-bit
      0xb5,
      0x06,
      1,
      2,
      3,
      4, // field 102, 32-bit
      0xba,
      0x06,
      0x02,
      0x68,
      0x69, // field 103, length-delimited "hi"
      0x08,
      0x01, // field 1 (version_info) as a varint: a wire-type mismatch, skipped
    ]);
    expect(decodeDiscoveryRequest(Buffer.concat([unknown, known]))).toEqual({
      versionInfo: '',
      resourceNames: ['default'],
      typeUrl: '',
      responseNonce: '',
    });
  });

  it('rejects truncated input', () => {
    expect(() => decodeDiscoveryRequest(Buffer.from([0x0a, 0x05, 0x61]))).toThrow('truncated field');
    expect(() => decodeDiscoveryRequest(Buffer.from([0x1a, 0x80]))).toThrow('truncated varint');
  });
});

describe('DiscoveryResponse and Secret encoding', () => {
  const chain = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const key = Buffer.from('-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n');

  it('encodes a tls_certificate Secret as protoc would (inline bytes)', () => {
    const mine = encodeTlsCertificateSecret('default', chain, key);
    const fields = {
      name: 'default',
      tls_certificate: { certificate_chain: { inline_bytes: chain }, private_key: { inline_bytes: key } },
    };
    expect(decodeProto(SECRET, mine)).toEqual(fields);
    expect(mine.equals(encodeProto(SECRET, fields))).toBe(true);
  });

  it('encodes a validation_context Secret (trusted_ca inline bytes)', () => {
    const mine = encodeValidationContextSecret('ROOTCA', chain);
    const fields = { name: 'ROOTCA', validation_context: { trusted_ca: { inline_bytes: chain } } };
    expect(decodeProto(SECRET, mine)).toEqual(fields);
    expect(mine.equals(encodeProto(SECRET, fields))).toBe(true);
  });

  it('encodes a response with its resources as Any', () => {
    const secret = encodeValidationContextSecret('ROOTCA', chain);
    const mine = encodeDiscoveryResponse({
      versionInfo: '2026-01-01T00:00:00Z/2',
      resources: [{ typeUrl: SECRET_TYPE_URL, value: secret }],
      typeUrl: SECRET_TYPE_URL,
      nonce: 'b9a4',
    });
    const fields = {
      version_info: '2026-01-01T00:00:00Z/2',
      resources: [{ type_url: SECRET_TYPE_URL, value: secret }],
      type_url: SECRET_TYPE_URL,
      nonce: 'b9a4',
    };
    expect(decodeProto(DISCOVERY_RESPONSE, mine)).toEqual(fields);
    expect(mine.equals(encodeProto(DISCOVERY_RESPONSE, fields))).toBe(true);
  });

  it('encodes an empty response as protobufjs does (defaults off the wire)', () => {
    const mine = encodeDiscoveryResponse({ versionInfo: '', resources: [], typeUrl: '', nonce: '' });
    expect(mine.length).toBe(0);
  });
});
