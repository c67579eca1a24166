import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertificates } from '../../src/certs/read.js';
import { CERT_FILES, type CertMaterial, makeCerts, writePlain } from '../helpers/certs.js';

let dir: string;
let a: CertMaterial;
let b: CertMaterial;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-agent-certs-'));
  a = makeCerts(dir, 'a');
  b = makeCerts(dir, 'b');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const set = (d: string) => ({
  files: [join(d, CERT_FILES.chain), join(d, CERT_FILES.key), join(d, CERT_FILES.root)],
  pairs: [{ cert: join(d, CERT_FILES.chain), key: join(d, CERT_FILES.key) }],
});

describe('reading certificate files', () => {
  it('hashes the contents in order, as Istio (SHA-256 of the concatenation)', async () => {
    const d = join(dir, 'ok');
    writePlain(d, a);
    const r = await readCertificates(set(d));
    expect(r).toEqual({
      hash: createHash('sha256')
        .update(a.chain + a.key + a.root)
        .digest('hex'),
      missing: [],
      problems: [],
    });
  });

  it('skips missing files in the hash and lists them', async () => {
    const d = join(dir, 'missing');
    writePlain(d, a);
    rmSync(join(d, CERT_FILES.root));
    const r = await readCertificates(set(d));
    expect(r.missing).toEqual([join(d, CERT_FILES.root)]);
    expect(r.hash).toBe(
      createHash('sha256')
        .update(a.chain + a.key)
        .digest('hex'),
    );
  });

  it('rejects a torn pair: the new chain with the old key', async () => {
    const d = join(dir, 'torn');
    writePlain(d, a);
    writeFileSync(join(d, CERT_FILES.chain), b.chain);
    const r = await readCertificates(set(d));
    expect(r.problems).toEqual([
      `${join(d, CERT_FILES.key)} does not match the leaf certificate of ${join(d, CERT_FILES.chain)}`,
    ]);
  });

  it('rejects a half-written PEM and a file that is not PEM', async () => {
    const d = join(dir, 'partial');
    writePlain(d, a);
    writeFileSync(join(d, CERT_FILES.key), a.key.slice(0, 60));
    writeFileSync(join(d, CERT_FILES.root), 'hello');
    const r = await readCertificates(set(d));
    expect(r.problems).toEqual([
      `${join(d, CERT_FILES.key)}: no PEM block found`,
      `${join(d, CERT_FILES.root)}: no PEM block found`,
    ]);
  });

  it('rejects a leaf outside its validity period', async () => {
    const d = join(dir, 'expired');
    writePlain(d, a);
    const later = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    const r = await readCertificates(set(d), later);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/leaf certificate expired/);
    const earlier = new Date(Date.now() - 3 * 24 * 3600 * 1000);
    expect((await readCertificates(set(d), earlier)).problems[0]).toMatch(/not valid before/);
  });
});
