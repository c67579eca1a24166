/**
 * The pieces of SDS mode's actors that decide what is kept and what the stream machine sees: the
 * secret cache between `resolveSecrets` and a response stays bounded whatever is asked for, and a
 * request reaches the machine as names, versions and nonces.
 */
import { describe, expect, it } from 'vitest';
import { endText, SecretCache, sdsRequest } from '../../src/runtime/sds-actors.js';
import { encodeValidationContextSecret } from '../../src/sds/messages.js';
import { SecretResource } from '../../src/sds/secrets.js';

const resource = (name: string, content: string): SecretResource =>
  new SecretResource(name, encodeValidationContextSecret(name, Buffer.from(content)));

describe('SecretCache', () => {
  it('keeps the newest contents of each name, findable by name and hash', () => {
    const cache = new SecretCache(2, 8);
    const [a, b, c] = ['a', 'b', 'c'].map((content) => resource('ROOTCA', content));
    for (const r of [a, b, c]) if (r) cache.put(r);
    expect(cache.get('ROOTCA', a?.sha256 ?? '')).toBeUndefined();
    expect(cache.get('ROOTCA', b?.sha256 ?? '')).toBe(b);
    expect(cache.get('ROOTCA', c?.sha256 ?? '')).toBe(c);
    expect(cache.size).toBe(2);
  });

  it('stays bounded however many names and contents are read', () => {
    const cache = new SecretCache();
    for (let i = 0; i < 500; i++) cache.put(resource(`file-root:/ca-${i % 200}.pem`, `content ${i}`));
    // 64 names, at most 4 contents each.
    expect(cache.size).toBeLessThanOrEqual(64 * 4);
    const newest = resource('file-root:/ca-99.pem', 'content 499');
    expect(cache.get(newest.name, newest.sha256)?.sha256).toBe(newest.sha256);
    const oldest = resource('file-root:/ca-0.pem', 'content 0');
    expect(cache.get(oldest.name, oldest.sha256)).toBeUndefined();
  });

  it('reading the same content again does not take another place', () => {
    const cache = new SecretCache(4, 8);
    for (let i = 0; i < 10; i++) cache.put(resource('default', 'same'));
    expect(cache.size).toBe(1);
  });
});

describe('what the stream machine is told', () => {
  it('a request as names, versions, nonces, the node id and the error detail', () => {
    expect(
      sdsRequest({
        versionInfo: 'default@0123456789ab',
        node: { id: 'sidecar~10.0.0.1~p.ns~ns.svc.cluster.local', cluster: 'c' },
        resourceNames: ['default'],
        typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
        responseNonce: '1-2',
        errorDetail: { code: 13, message: 'Failed to load private key from <inline>' },
      }),
    ).toEqual({
      versionInfo: 'default@0123456789ab',
      resourceNames: ['default'],
      responseNonce: '1-2',
      node: 'sidecar~10.0.0.1~p.ns~ns.svc.cluster.local',
      errorDetail: { code: 13, message: 'Failed to load private key from <inline>' },
    });
    expect(endText({ reason: 'cancelled' })).toBe('Envoy closed the stream');
    expect(endText({ reason: 'malformed', detail: 'bad varint' })).toBe('malformed request: bad varint');
  });
});
