/**
 * Reads the certificate files, hashes their content and checks that they form a usable set, so
 * Envoy is never hot-restarted into a broken pair. Pure with respect to time (`now` is a
 * parameter) so expiry is testable.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CertReading } from '../../machines/cert-rotation.js';
import { messageOf } from '../errors.js';

export interface CertPair {
  /** Certificate chain, leaf first. */
  cert: string;
  key: string;
}

export interface CertFileSet {
  /** Every watched file, in Istio's order; the hash covers them in this order. */
  files: string[];
  /** Which of them must match each other. */
  pairs: CertPair[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/g;

interface PemBlock {
  label: string;
  text: string;
}

function pemBlocks(content: string): PemBlock[] {
  return [...content.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] ?? '', text: m[0] }));
}

/**
 * Why a set of certificate files must not be used: `torn` when a file is not valid PEM or a key
 * does not match its leaf (typically a rotation caught half-way), `expired` / `not-yet-valid` for
 * a leaf outside its validity period. `message` is one line naming the file; it never quotes
 * file content.
 */
export interface CertProblem {
  kind: 'torn' | 'expired' | 'not-yet-valid';
  message: string;
}

/** What is wrong with one file on its own (undefined when nothing). */
export function checkPemFile(path: string, content: string): CertProblem | undefined {
  const blocks = pemBlocks(content);
  if (blocks.length === 0) return { kind: 'torn', message: `${path}: no PEM block found` };
  for (const block of blocks) {
    try {
      if (block.label === 'CERTIFICATE') new X509Certificate(block.text);
      else if (block.label.endsWith('PRIVATE KEY')) createPrivateKey(block.text);
    } catch (err) {
      return { kind: 'torn', message: `${path}: invalid ${block.label}: ${messageOf(err)}` };
    }
  }
  return undefined;
}

/**
 * Whether a chain's leaf (its first certificate) matches the key and is valid at `now`
 * (undefined when both hold). The files are named by their paths.
 */
export function checkKeyPair(pair: CertPair, chain: string, key: string, now: Date): CertProblem | undefined {
  const leafBlock = pemBlocks(chain).find((b) => b.label === 'CERTIFICATE');
  const keyBlock = pemBlocks(key).find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!leafBlock) return { kind: 'torn', message: `${pair.cert}: no CERTIFICATE block` };
  if (!keyBlock) return { kind: 'torn', message: `${pair.key}: no PRIVATE KEY block` };
  try {
    const leaf = new X509Certificate(leafBlock.text);
    if (!leaf.checkPrivateKey(createPrivateKey(keyBlock.text))) {
      return { kind: 'torn', message: `${pair.key} does not match the leaf certificate of ${pair.cert}` };
    }
    if (now < new Date(leaf.validFrom)) {
      return {
        kind: 'not-yet-valid',
        message: `${pair.cert}: leaf certificate not valid before ${leaf.validFrom}`,
      };
    }
    if (now > new Date(leaf.validTo)) {
      return { kind: 'expired', message: `${pair.cert}: leaf certificate expired ${leaf.validTo}` };
    }
  } catch (err) {
    return { kind: 'torn', message: `${pair.cert}: ${messageOf(err)}` };
  }
  return undefined;
}

/** Whether `content` holds at least one certificate (a CA bundle must). */
export function hasCertificate(content: string): boolean {
  return pemBlocks(content).some((b) => b.label === 'CERTIFICATE');
}

export async function readCertificates(set: CertFileSet, now: Date = new Date()): Promise<CertReading> {
  const hash = createHash('sha256');
  const contents = new Map<string, string>();
  const missing: string[] = [];
  const problems: string[] = [];
  for (const file of set.files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      // Istio's hash skips files it cannot read; absence is reported, anything else is a problem.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') missing.push(file);
      else problems.push(`${file}: ${messageOf(err)}`);
      continue;
    }
    hash.update(bytes);
    const text = bytes.toString('utf8');
    contents.set(file, text);
    const problem = checkPemFile(file, text);
    if (problem) problems.push(problem.message);
  }
  if (problems.length === 0) {
    for (const pair of set.pairs) {
      const chain = contents.get(pair.cert);
      const key = contents.get(pair.key);
      if (chain === undefined || key === undefined) continue;
      const problem = checkKeyPair(pair, chain, key, now);
      if (problem) problems.push(problem.message);
    }
  }
  return { hash: hash.digest('hex'), missing, problems };
}
