/**
 * Certificate material for a test file: leaves made once (beforeAll) in a temp dir removed
 * afterwards (afterAll). A file of its own because it registers vitest hooks, and the benchmarks
 * use the certificate helpers outside vitest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type CertMaterial, makeCerts } from './certs.js';

export function certFixture(prefix: string, names: readonly string[] = ['a', 'b', 'c', 'd']) {
  let work = '';
  let certs: CertMaterial[] = [];
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), prefix));
    certs = names.map((n) => makeCerts(work, n));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  return {
    /** The i-th leaf of `names`. */
    cert(i: number): CertMaterial {
      const c = certs[i];
      if (!c) throw new Error(`no cert material #${i}`);
      return c;
    },
    /** The temp dir, for more material made in a later beforeAll. */
    dir: () => work,
  };
}
