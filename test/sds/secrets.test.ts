/**
 * Secrets from files: Istio's names (`default`, `ROOTCA`, `file-cert:<chain>~<key>`,
 * `file-root:<ca>`), the bytes as Envoy decodes them (protobufjs, real .proto files), and every
 * reason a secret is withheld. The private key never shows in anything printable.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_TYPE_URL } from '../../src/sds/messages.js';
import {
  type MountedCerts,
  readSecret,
  type SecretReading,
  type SecretResource,
  secretSource,
} from '../../src/sds/secrets.js';
import { CERT_FILES, type CertMaterial, makeCerts, writePlain } from '../helpers/certs.js';
import { decodeProto, SECRET } from '../helpers/sds.js';

let dir: string;
let a: CertMaterial;
let b: CertMaterial;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-agent-sds-secrets-'));
  a = makeCerts(dir, 'a');
  b = makeCerts(dir, 'b');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mounted = (d: string): MountedCerts => ({
  certChain: join(d, CERT_FILES.chain),
  key: join(d, CERT_FILES.key),
  rootCert: join(d, CERT_FILES.root),
});

function ready(r: SecretReading): SecretResource {
  if (r.kind !== 'ready') throw new Error(`withheld: ${r.reason}: ${r.detail}`);
  return r.resource;
}

/** A secret's key material must not be in anything that can be printed or serialized. */
function expectNoKey(value: unknown, key: string): void {
  const body = key.split('\n')[1] ?? key;
  for (const text of [JSON.stringify(value), inspect(value, { depth: 10 }), String(value)]) {
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(body.slice(0, 20));
  }
}

describe('the secrets Istio names', () => {
  it('default: the mounted chain and key as a tls_certificate, inline', async () => {
    const d = join(dir, 'default');
    writePlain(d, a);
    const resource = ready(await readSecret('default', mounted(d)));
    expect(resource.typeUrl).toBe(SECRET_TYPE_URL);
    expect(resource.name).toBe('default');
    expect(decodeProto(SECRET, resource.value)).toEqual({
      name: 'default',
      tls_certificate: {
        certificate_chain: { inline_bytes: Buffer.from(a.chain) },
        private_key: { inline_bytes: Buffer.from(a.key) },
      },
    });
    expect(resource.sha256).toBe(createHash('sha256').update(resource.value).digest('hex'));
    expect(JSON.parse(JSON.stringify(resource))).toEqual({ name: 'default', sha256: resource.sha256 });
    expectNoKey(resource, a.key);
    expectNoKey({ nested: { resource } }, a.key);
  });

  it('ROOTCA: the mounted root certificate as a validation_context trusted_ca', async () => {
    const d = join(dir, 'rootca');
    writePlain(d, a);
    const resource = ready(await readSecret('ROOTCA', mounted(d)));
    expect(decodeProto(SECRET, resource.value)).toEqual({
      name: 'ROOTCA',
      validation_context: { trusted_ca: { inline_bytes: Buffer.from(a.root) } },
    });
  });

  it('file-cert:<chain>~<key> and file-root:<ca> for any files', async () => {
    const d = join(dir, 'files');
    writePlain(d, b);
    const m = mounted(d);
    const certName = `file-cert:${m.certChain}~${m.key}`;
    const cert = ready(await readSecret(certName, mounted(join(dir, 'elsewhere'))));
    expect(decodeProto(SECRET, cert.value)).toEqual({
      name: certName,
      tls_certificate: {
        certificate_chain: { inline_bytes: Buffer.from(b.chain) },
        private_key: { inline_bytes: Buffer.from(b.key) },
      },
    });
    const rootName = `file-root:${m.rootCert}`;
    const root = ready(await readSecret(rootName, mounted(join(dir, 'elsewhere'))));
    expect(decodeProto(SECRET, root.value)).toEqual({
      name: rootName,
      validation_context: { trusted_ca: { inline_bytes: Buffer.from(b.root) } },
    });
  });

  it('the same content gives the same hash; new content a new one', async () => {
    const d = join(dir, 'hash');
    writePlain(d, a);
    const first = ready(await readSecret('default', mounted(d)));
    const again = ready(await readSecret('default', mounted(d)));
    writePlain(d, b);
    const rotated = ready(await readSecret('default', mounted(d)));
    expect(again.sha256).toBe(first.sha256);
    expect(rotated.sha256).not.toBe(first.sha256);
  });
});

describe('a secret is withheld', () => {
  it('for a name the agent does not serve', async () => {
    const m = mounted(join(dir, 'none'));
    for (const name of [
      'foo',
      'file-cert:/a',
      'file-cert:/a~/b~/c',
      'file-cert:~/b',
      'file-root:',
      'file-root:/a~/b',
    ]) {
      expect(secretSource(name, m)).toBeUndefined();
      expect(await readSecret(name, m)).toEqual({
        kind: 'withheld',
        name,
        reason: 'unknown-name',
        detail: `no secret is served as ${JSON.stringify(name)}`,
      });
    }
  });

  it('when a file is missing, naming it', async () => {
    const d = join(dir, 'missing');
    writePlain(d, a);
    rmSync(join(d, CERT_FILES.key));
    expect(await readSecret('default', mounted(d))).toEqual({
      kind: 'withheld',
      name: 'default',
      reason: 'missing',
      detail: `missing ${join(d, CERT_FILES.key)}`,
    });
  });

  it('when the key does not match the leaf (a torn rotation)', async () => {
    const d = join(dir, 'torn');
    writePlain(d, a);
    writeFileSync(join(d, CERT_FILES.key), b.key);
    const r = await readSecret('default', mounted(d));
    expect(r).toEqual({
      kind: 'withheld',
      name: 'default',
      reason: 'torn',
      detail: `${join(d, CERT_FILES.key)} does not match the leaf certificate of ${join(d, CERT_FILES.chain)}`,
    });
    expectNoKey(r, b.key);
  });

  it('when a file is half written, without quoting it', async () => {
    const d = join(dir, 'half');
    writePlain(d, a);
    writeFileSync(join(d, CERT_FILES.key), a.key.slice(0, a.key.length / 2));
    const key = await readSecret('default', mounted(d));
    expect(key).toMatchObject({ kind: 'withheld', reason: 'torn' });
    expectNoKey(key, a.key);
    writeFileSync(join(d, CERT_FILES.root), '');
    expect(await readSecret('ROOTCA', mounted(d))).toEqual({
      kind: 'withheld',
      name: 'ROOTCA',
      reason: 'torn',
      detail: `${join(d, CERT_FILES.root)}: no PEM block found`,
    });
    writeFileSync(join(d, CERT_FILES.root), a.key);
    expect(await readSecret('ROOTCA', mounted(d))).toMatchObject({
      reason: 'torn',
      detail: `${join(d, CERT_FILES.root)}: no CERTIFICATE block`,
    });
  });

  it('when the leaf is expired or not yet valid', async () => {
    const d = join(dir, 'expiry');
    writePlain(d, a);
    const later = new Date(Date.now() + 10 * 86_400_000);
    expect(await readSecret('default', mounted(d), later)).toMatchObject({
      kind: 'withheld',
      reason: 'expired',
      detail: expect.stringMatching(/cert-chain\.pem: leaf certificate expired /),
    });
    const earlier = new Date(Date.now() - 10 * 86_400_000);
    expect(await readSecret('default', mounted(d), earlier)).toMatchObject({
      reason: 'not-yet-valid',
      detail: expect.stringMatching(/cert-chain\.pem: leaf certificate not valid before /),
    });
  });

  it('when a file cannot be read', async () => {
    const d = join(dir, 'unreadable');
    writePlain(d, a);
    rmSync(join(d, CERT_FILES.key));
    mkdirSync(join(d, CERT_FILES.key));
    expect(await readSecret('default', mounted(d))).toMatchObject({
      reason: 'unreadable',
      detail: expect.stringContaining(`${join(d, CERT_FILES.key)}: `),
    });
  });
});
