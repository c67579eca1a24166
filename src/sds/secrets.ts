/**
 * The secrets the agent serves over SDS, from files, under Istio's resource names
 * (`pkg/security/security.go`, `security/pkg/nodeagent/cache/secretcache.go`):
 * - `default`: a `tls_certificate` with the workload's chain and key (Istio's file-mounted
 *   `/etc/certs/cert-chain.pem` and `key.pem`, or the `ISTIO_META_TLS_*` paths);
 * - `ROOTCA`: a `validation_context` whose `trusted_ca` is the root certificate (`root-cert.pem`);
 * - `file-cert:<chain>~<key>`: a `tls_certificate` from any two files;
 * - `file-root:<ca>`: a `validation_context` from any CA file.
 * Bytes go inline (`inline_bytes`), as Istio's `toEnvoySecret` sends them.
 *
 * A secret is built only from a consistent set of files, checked as a certificate rotation is
 * (`../certs/read.ts`): every file is PEM, a chain's leaf matches its key and is within its
 * validity period, a CA file holds a certificate. Otherwise it is withheld, with the reason: never
 * sent empty or half.
 *
 * Private keys stay in Buffers inside `SecretResource`, which prints and serializes (logs, JSON,
 * `/debug`, the inspector) as its name and content hash only.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { type CertProblem, checkKeyPair, checkPemFile, hasCertificate } from '../certs/read.js';
import { messageOf } from '../errors.js';
import {
  FILE_CERT_PREFIX,
  FILE_ROOT_PREFIX,
  ROOT_SECRET,
  SDS_NAME_SEPARATOR,
  WORKLOAD_SECRET,
} from './bootstrap.js';
import {
  type AnyMessage,
  encodeTlsCertificateSecret,
  encodeValidationContextSecret,
  SECRET_TYPE_URL,
} from './messages.js';

export { ROOT_SECRET, WORKLOAD_SECRET };

/** The file-mounted certificates behind `default` and `ROOTCA`. */
export interface MountedCerts {
  certChain: string;
  key: string;
  rootCert: string;
}

/** The files a secret name stands for. */
export type SecretSource = { kind: 'tls'; certChain: string; key: string } | { kind: 'root'; ca: string };

/** Why a secret is withheld (see `CertProblem` for torn, expired, not-yet-valid). */
export type WithheldReason = 'unknown-name' | 'missing' | 'unreadable' | CertProblem['kind'];

export type SecretReading =
  | { kind: 'ready'; resource: SecretResource }
  | { kind: 'withheld'; name: string; reason: WithheldReason; detail: string };

/**
 * An encoded `Secret`, ready to go in a `DiscoveryResponse`, as a `google.protobuf.Any`.
 * `sha256` (hex, over the encoded bytes) identifies its content. Serializes as `{name, sha256}`.
 */
export class SecretResource implements AnyMessage {
  readonly typeUrl = SECRET_TYPE_URL;
  readonly sha256: string;
  readonly #value: Buffer;

  constructor(
    readonly name: string,
    value: Buffer,
  ) {
    this.#value = value;
    this.sha256 = createHash('sha256').update(value).digest('hex');
  }

  /** The encoded Secret (with the private key, for a TLS certificate): for the transport only. */
  get value(): Uint8Array {
    return this.#value;
  }

  toJSON(): { name: string; sha256: string } {
    return { name: this.name, sha256: this.sha256 };
  }

  [inspect.custom](): string {
    return `SecretResource { name: ${JSON.stringify(this.name)}, sha256: '${this.sha256}' }`;
  }
}

/** The files behind a secret name, or undefined for a name the agent does not serve. */
export function secretSource(name: string, mounted: MountedCerts): SecretSource | undefined {
  if (name === WORKLOAD_SECRET) return { kind: 'tls', certChain: mounted.certChain, key: mounted.key };
  if (name === ROOT_SECRET) return { kind: 'root', ca: mounted.rootCert };
  if (name.startsWith(FILE_CERT_PREFIX)) {
    const parts = name.slice(FILE_CERT_PREFIX.length).split(SDS_NAME_SEPARATOR);
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return undefined;
    return { kind: 'tls', certChain: parts[0] as string, key: parts[1] as string };
  }
  if (name.startsWith(FILE_ROOT_PREFIX)) {
    const ca = name.slice(FILE_ROOT_PREFIX.length);
    if (ca === '' || ca.includes(SDS_NAME_SEPARATOR)) return undefined;
    return { kind: 'root', ca };
  }
  return undefined;
}

/** The files of a source, in the order they are read. */
export function sourceFiles(source: SecretSource): string[] {
  return source.kind === 'tls' ? [source.certChain, source.key] : [source.ca];
}

/**
 * Pure: checks the files' contents (path → bytes, every file of the source present) and builds the
 * secret, or says why it is withheld.
 */
export function buildSecret(
  name: string,
  source: SecretSource,
  files: ReadonlyMap<string, Buffer>,
  now: Date,
): SecretReading {
  const withheld = (reason: WithheldReason, detail: string): SecretReading => ({
    kind: 'withheld',
    name,
    reason,
    detail,
  });
  const texts = new Map<string, string>();
  for (const path of sourceFiles(source)) {
    const bytes = files.get(path);
    if (bytes === undefined) return withheld('missing', `${path}: not read`);
    const text = bytes.toString('utf8');
    const problem = checkPemFile(path, text);
    if (problem) return withheld(problem.kind, problem.message);
    texts.set(path, text);
  }
  if (source.kind === 'root') {
    if (!hasCertificate(texts.get(source.ca) ?? '')) {
      return withheld('torn', `${source.ca}: no CERTIFICATE block`);
    }
    const ca = files.get(source.ca) as Buffer;
    return { kind: 'ready', resource: new SecretResource(name, encodeValidationContextSecret(name, ca)) };
  }
  const pair = { cert: source.certChain, key: source.key };
  const problem = checkKeyPair(pair, texts.get(pair.cert) ?? '', texts.get(pair.key) ?? '', now);
  if (problem) return withheld(problem.kind, problem.message);
  const chain = files.get(source.certChain) as Buffer;
  const key = files.get(source.key) as Buffer;
  return { kind: 'ready', resource: new SecretResource(name, encodeTlsCertificateSecret(name, chain, key)) };
}

/** Reads the files behind `name` and builds its secret (or says why it is withheld). */
export async function readSecret(
  name: string,
  mounted: MountedCerts,
  now: Date = new Date(),
): Promise<SecretReading> {
  const source = secretSource(name, mounted);
  if (source === undefined) {
    return {
      kind: 'withheld',
      name,
      reason: 'unknown-name',
      detail: `no secret is served as ${JSON.stringify(name)}`,
    };
  }
  const files = new Map<string, Buffer>();
  const missing: string[] = [];
  for (const path of sourceFiles(source)) {
    try {
      files.set(path, await readFile(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') missing.push(path);
      else return { kind: 'withheld', name, reason: 'unreadable', detail: `${path}: ${messageOf(err)}` };
    }
  }
  if (missing.length > 0) {
    return { kind: 'withheld', name, reason: 'missing', detail: `missing ${missing.join(', ')}` };
  }
  return buildSecret(name, source, files, now);
}
