/**
 * Real certificates for tests, made by openssl in a temp dir: a CA, and leaf key pairs it signs.
 * Plus the Kubernetes secret-volume layout: files are symlinks through `..data`, which points at
 * a timestamped directory and is swapped atomically on update (kubelet's AtomicWriter).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertMaterial {
  chain: string;
  key: string;
  root: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A CA and one leaf signed by it; each call makes a new leaf key (ECDSA P-256, or RSA of
 * `rsaBits` bits: 1024 makes a pair the agent accepts and Envoy refuses).
 */
export function makeCerts(workDir: string, name = 'leaf', options: { rsaBits?: number } = {}): CertMaterial {
  const dir = join(workDir, `openssl-${name}-${process.hrtime.bigint()}`);
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const leafKey = options.rsaBits ? ['-newkey', `rsa:${options.rsaBits}`, '-nodes'] : ec;
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/O=test-ca', '-days', '2'],
    dir,
  );
  openssl(['req', ...leafKey, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${name}`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'leaf.pem',
      '-days',
      '1',
    ],
    dir,
  );
  const material = {
    chain: readFileSync(join(dir, 'leaf.pem'), 'utf8') + readFileSync(join(dir, 'ca.pem'), 'utf8'),
    key: readFileSync(join(dir, 'leaf.key'), 'utf8'),
    root: readFileSync(join(dir, 'ca.pem'), 'utf8'),
  };
  rmSync(dir, { recursive: true, force: true });
  return material;
}

export const CERT_FILES = { chain: 'cert-chain.pem', key: 'key.pem', root: 'root-cert.pem' } as const;

export function writePlain(dir: string, m: CertMaterial): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CERT_FILES.chain), m.chain);
  writeFileSync(join(dir, CERT_FILES.key), m.key);
  writeFileSync(join(dir, CERT_FILES.root), m.root);
}

let generation = 0;

/** Writes (or rotates) a secret volume the way kubelet does. */
export function writeSecretVolume(dir: string, m: CertMaterial): void {
  mkdirSync(dir, { recursive: true });
  generation += 1;
  const ts = `..2026_11_26_23_00_00.${process.pid}_${generation}`;
  mkdirSync(join(dir, ts));
  writeFileSync(join(dir, ts, CERT_FILES.chain), m.chain);
  writeFileSync(join(dir, ts, CERT_FILES.key), m.key);
  writeFileSync(join(dir, ts, CERT_FILES.root), m.root);
  let old: string | undefined;
  try {
    old = readlinkSafe(join(dir, '..data'));
  } catch {
    old = undefined;
  }
  symlinkSync(ts, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const f of Object.values(CERT_FILES)) {
    try {
      symlinkSync(join('..data', f), join(dir, f));
    } catch {
      // already there: the link goes through ..data and needs no change
    }
  }
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
}

function readlinkSafe(path: string): string {
  return execFileSync('readlink', [path], { encoding: 'utf8' }).trim();
}

/** A leaf's serial number as Envoy's `/certs` reports it (lower-case hex). */
export const serial = (m: CertMaterial): string => new X509Certificate(m.chain).serialNumber.toLowerCase();

interface CertsAnswer {
  certificates: { cert_chain: { serial_number: string }[]; ca_cert: { serial_number: string }[] }[];
}

/**
 * The serial of the certificate Envoy holds for its first TLS context (the xds-grpc cluster under
 * MUTUAL_TLS), read from its admin `/certs`; undefined when it holds none or does not answer.
 */
export async function heldSerial(run: {
  admin(path: string): Promise<{ status: number; body: string }>;
}): Promise<string | undefined> {
  try {
    const answer = await run.admin('/certs');
    if (answer.status !== 200) return undefined;
    return (JSON.parse(answer.body) as CertsAnswer).certificates[0]?.cert_chain[0]?.serial_number;
  } catch {
    return undefined;
  }
}
