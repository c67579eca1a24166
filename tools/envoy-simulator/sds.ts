/**
 * The simulated Envoy as an SDS client: one gRPC `StreamSecrets` stream per subscription
 * (`sds-config.ts`), spoken as Envoy's SotW gRPC mux does
 * (`source/extensions/config_subscription/grpc/grpc_mux_impl.cc`, `grpc_stream.h`,
 * `grpc_subscription_impl.cc`; `source/common/secret/sds_api.cc`):
 *
 * - each new stream starts with a request carrying the node (every request when
 *   `set_node_on_first_message_only` is false), the secret's name, the version last accepted (kept
 *   across streams; '' before the first) and no nonce;
 * - a response is checked (type URL, the resource named as subscribed, the secret itself: the
 *   certificate chain and key load and match, an RSA leaf has at least 2048 bits
 *   (`source/common/tls/context_impl.cc`), the CA loads); then the next request ACKs it (its
 *   `version_info` and nonce) or NACKs it (the previous `version_info`, its nonce, and
 *   `error_detail` {13 INTERNAL, the reason}); a response that does not contain the subscribed
 *   name is ACKed and changes nothing;
 * - a response for another type URL is ignored (no ACK, no NACK);
 * - the first response, accepted or rejected, or `initial_fetch_timeout`, readies the
 *   subscription's init target (`SdsApi::onConfigUpdate`/`onConfigUpdateFailed`);
 * - a broken stream keeps the secrets held and is re-established after a fully jittered
 *   exponential backoff, 500 ms doubling up to 30 s, reset by any received response.
 *
 * What it holds shows on `/certs` (per TLS context whose secrets are all present, like Envoy's
 * contexts) and in `/config_dump`'s `SecretsConfigDump` (active and warming secrets, private keys
 * `[redacted]`). Requests, ACKs, NACKs and stream ends go to the record file: names, versions and
 * nonces, never bytes.
 *
 * Messages are encoded and decoded with protobufjs from Envoy's own .proto files, independently
 * of the agent's hand-written codec; this module is loaded only for bootstraps that use SDS.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadEnvoyProtos } from '../envoy-api/descriptor.js';
import type { SdsNackFault } from './env.js';
import type { Logger } from './logger.js';
import type { Recorder } from './record.js';
import type { SdsFacts, SdsSubscriptionFacts, TlsContextFacts } from './sds-config.js';
import type { StatsStore } from './stats.js';
import type { Json, JsonObject } from './validate-bootstrap.js';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const STREAM_SECRETS = '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets';
/** `Config::Utility::truncateGrpcStatusMessage` keeps error details under 4 KiB. */
const MAX_ERROR_DETAIL = 4096;
/** `SubscriptionFactory::RetryInitialDelayMs` / `RetryMaxDelayMs`. */
const RETRY_INITIAL_MS = 500;
const RETRY_MAX_MS = 30_000;
/** Base64 of `[redacted]`: what `MessageUtil::redact` puts in sensitive bytes fields. */
const REDACTED_BYTES = Buffer.from('[redacted]').toString('base64');
const REDACTED_TEXT = '[redacted]';

interface Messages {
  request: protobuf.Type;
  response: protobuf.Type;
  secret: protobuf.Type;
}

let messages: Messages | undefined;

function protos(): Messages {
  if (messages === undefined) {
    const root = loadEnvoyProtos([
      'envoy/service/secret/v3/sds.proto',
      'envoy/extensions/transport_sockets/tls/v3/secret.proto',
    ]);
    messages = {
      request: root.lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
      response: root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
      secret: root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret'),
    };
  }
  return messages;
}

export interface SdsDeps {
  logger: Logger;
  recorder: Recorder;
  stats: StatsStore;
  nack: SdsNackFault;
  /** The node as `/server_info` shows it. */
  node(): JsonObject;
}

/** A loaded DataSource: its bytes and the path Envoy names it by (`<inline>` for inline data). */
interface Loaded {
  bytes: Buffer;
  path: string;
}

/** What a subscription holds once a secret was accepted. */
interface Held {
  /** The Secret as protobuf JSON, private key and password redacted. */
  dump: JsonObject;
  leaf?: { cert: X509Certificate; path: string };
  ca?: { cert: X509Certificate; path: string };
}

type DataSourceObject = {
  filename?: string;
  inline_bytes?: Buffer;
  inline_string?: string;
  environment_variable?: string;
};

class Rejected extends Error {}

/** `Config::DataSource::read`: the bytes of a DataSource and its path for messages. */
function loadDataSource(source: DataSourceObject | undefined): Loaded {
  if (source?.inline_bytes !== undefined) return { bytes: source.inline_bytes, path: '<inline>' };
  if (source?.inline_string !== undefined)
    return { bytes: Buffer.from(source.inline_string), path: '<inline>' };
  if (source?.filename !== undefined) {
    try {
      return { bytes: readFileSync(source.filename), path: source.filename };
    } catch {
      throw new Rejected(`file ${source.filename} does not exist`);
    }
  }
  if (source?.environment_variable !== undefined) {
    const value = process.env[source.environment_variable];
    if (value === undefined)
      throw new Rejected(`Environment variable doesn't exist: ${source.environment_variable}`);
    return { bytes: Buffer.from(value), path: '<inline>' };
  }
  return { bytes: Buffer.alloc(0), path: '' };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function certificates(pem: Buffer): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const m of pem.toString('utf8').matchAll(PEM_CERT)) out.push(new X509Certificate(m[0]));
  return out;
}

/**
 * What Envoy does with a secret before it is used (`TlsContext::loadCertificateChain` /
 * `loadPrivateKey`, `DefaultCertValidator::initializeSslContexts`): throws `Rejected` with Envoy's
 * message, which becomes the NACK's error detail.
 */
function loadSecret(secret: Record<string, unknown>, kind: SdsSubscriptionFacts['kind']): Held {
  const dump = secretDump(secret);
  if (kind === 'tls_certificate') {
    const tls = (secret.tls_certificate ?? {}) as Record<string, DataSourceObject | undefined>;
    const chain = loadDataSource(tls.certificate_chain);
    let leaf: X509Certificate | undefined;
    try {
      leaf = certificates(chain.bytes)[0];
    } catch {
      leaf = undefined;
    }
    if (leaf === undefined) throw new Rejected(`Failed to load certificate chain from ${chain.path}`);
    // `ContextImpl`: the leaf's public key is checked before the private key is loaded; RSA needs
    // 2048 bits or more outside FIPS builds.
    const rsaBits = leaf.publicKey.asymmetricKeyDetails?.modulusLength;
    if (leaf.publicKey.asymmetricKeyType === 'rsa' && rsaBits !== undefined && rsaBits < 2048) {
      throw new Rejected(
        `Failed to load certificate chain from ${chain.path}, only RSA certificates with 2048-bit or larger keys are supported`,
      );
    }
    const key = loadDataSource(tls.private_key);
    let matches: boolean;
    try {
      matches = leaf.checkPrivateKey(createPrivateKey(key.bytes));
    } catch {
      throw new Rejected(
        `Failed to load private key from ${key.path}, Cause: error:0900006e:PEM routines:OPENSSL_internal:NO_START_LINE`,
      );
    }
    if (!matches) {
      throw new Rejected(
        `Failed to load private key from ${key.path}, Cause: error:0b000074:X.509 certificate routines:OPENSSL_internal:KEY_VALUES_MISMATCH`,
      );
    }
    return { dump, leaf: { cert: leaf, path: chain.path } };
  }
  const context = (secret.validation_context ?? {}) as Record<string, DataSourceObject | undefined>;
  const ca = loadDataSource(context.trusted_ca);
  let first: X509Certificate | undefined;
  try {
    first = certificates(ca.bytes)[0];
  } catch {
    first = undefined;
  }
  if (first === undefined) throw new Rejected(`Failed to load trusted CA certificates from ${ca.path}`);
  return { dump, ca: { cert: first, path: ca.path } };
}

/** The Secret as Envoy's config dump prints it: `MessageUtil::redact` on sensitive fields. */
function secretDump(secret: Record<string, unknown>): JsonObject {
  const { secret: type } = protos();
  const json = type.toObject(type.fromObject(secret), {
    bytes: String,
    longs: String,
    enums: String,
  }) as JsonObject;
  const tls = json.tls_certificate;
  if (tls !== undefined && tls !== null && typeof tls === 'object' && !Array.isArray(tls)) {
    for (const sensitive of ['private_key', 'password', 'pkcs12']) {
      const source = tls[sensitive];
      if (source === undefined || source === null || typeof source !== 'object' || Array.isArray(source))
        continue;
      const redacted: JsonObject = {};
      for (const [k, v] of Object.entries(source))
        redacted[k] = k === 'inline_bytes' ? REDACTED_BYTES : typeof v === 'string' ? REDACTED_TEXT : v;
      tls[sensitive] = redacted;
    }
  }
  return { '@type': SECRET_TYPE_URL, ...json };
}

/** Protobuf-JSON Timestamp (no fractional part when it is zero). */
function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** `Utility::certificateDetails` (`source/common/tls/utility.cc`), as `/certs` prints it. */
function certificateDetails(cert: X509Certificate, path: string, now: number): JsonObject {
  const expiry = Date.parse(cert.validTo);
  const sans: Json[] = [];
  const names = (cert.subjectAltName ?? '').split(/,\s*/).filter((s) => s !== '');
  for (const [prefix, key] of [
    ['DNS:', 'dns'],
    ['URI:', 'uri'],
    ['IP Address:', 'ip_address'],
  ] as const) {
    for (const n of names) if (n.startsWith(prefix)) sans.push({ [key]: n.slice(prefix.length) });
  }
  return {
    path,
    serial_number: cert.serialNumber.toLowerCase(),
    subject_alt_names: sans,
    days_until_expiration: String(daysUntil(expiry, now)),
    valid_from: timestamp(Date.parse(cert.validFrom)),
    expiration_time: timestamp(expiry),
  };
}

/** `Utility::getDaysUntilExpiration`: whole days left, 0 once expired. */
function daysUntil(expiry: number, now: number): number {
  return Math.max(0, Math.floor((expiry - now) / 86_400_000));
}

function jsonToValue(value: Json): Record<string, unknown> {
  if (value === null) return { null_value: 'NULL_VALUE' };
  if (typeof value === 'boolean') return { bool_value: value };
  if (typeof value === 'number') return { number_value: value };
  if (typeof value === 'string') return { string_value: value };
  if (Array.isArray(value)) return { list_value: { values: value.map(jsonToValue) } };
  return { struct_value: jsonToStruct(value) };
}

function jsonToStruct(value: JsonObject): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) fields[k] = jsonToValue(v);
  return { fields };
}

/** The node as Envoy's `LocalInfo` puts it in discovery requests. */
function nodeMessage(node: JsonObject): Record<string, unknown> {
  const metadata = node.metadata;
  const version = (node.user_agent_build_version as JsonObject | undefined)?.version;
  return {
    id: node.id,
    cluster: node.cluster,
    ...(metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata)
      ? { metadata: jsonToStruct(metadata) }
      : {}),
    ...(node.locality !== null && typeof node.locality === 'object' ? { locality: node.locality } : {}),
    user_agent_name: node.user_agent_name,
    ...(version !== undefined ? { user_agent_build_version: { version } } : {}),
  };
}

const RETRIABLE = new Set([
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.UNAVAILABLE,
]);

class Subscription {
  started = false;
  initialized = false;
  /** The version last accepted ('' before the first). */
  acceptedVersion = '';
  held: Held | undefined;
  lastUpdated: number;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private nonce = '';
  private firstRequest = true;
  private receivedOnStream = false;
  private retryIntervalMs = RETRY_INITIAL_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private initTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private lastCloseCode: number | undefined;

  constructor(
    readonly facts: SdsSubscriptionFacts,
    private readonly manager: SdsManager,
    private readonly deps: SdsDeps,
  ) {
    this.lastUpdated = Date.now();
    deps.stats.createSubscriptionStats(`sds.${facts.name}`);
  }

  private stat(name: string): ReturnType<StatsStore['counter']> {
    return this.deps.stats.counter(`sds.${this.facts.name}.${name}`);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.facts.initialFetchTimeoutMs > 0) {
      this.initTimer = setTimeout(() => {
        this.initTimer = undefined;
        if (this.initialized) return;
        this.stat('init_fetch_timeout').add();
        this.deps.logger.warn(
          'config',
          'source/extensions/config_subscription/grpc/grpc_subscription_impl.cc:117',
          `gRPC config: initial fetch timed out for ${SECRET_TYPE_URL}`,
        );
        this.deps.recorder.write({ event: 'sds', step: 'init-fetch-timeout', name: this.facts.name });
        this.markInitialized();
      }, this.facts.initialFetchTimeoutMs);
    }
    this.establish();
  }

  private markInitialized(): void {
    if (this.initialized) return;
    this.initialized = true;
    if (this.initTimer !== undefined) clearTimeout(this.initTimer);
    this.initTimer = undefined;
    this.manager.onInitialized();
  }

  /** `GrpcStream::establishNewStream` then `GrpcMuxImpl::onStreamEstablished`. */
  private establish(): void {
    if (this.closing) return;
    const client = this.manager.channel(this.facts.target);
    const identity = (b: Buffer): Buffer => b;
    const call = client.makeBidiStreamRequest(STREAM_SECRETS, identity, identity);
    this.call = call;
    this.nonce = '';
    this.firstRequest = true;
    this.receivedOnStream = false;
    call.on('data', (bytes: Buffer) => this.onResponse(bytes));
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => this.onClose(call, status));
    this.send(undefined);
  }

  private send(errorDetail: { code: number; message: string } | undefined): void {
    const call = this.call;
    if (call === undefined) return;
    const { request } = protos();
    const withNode = this.firstRequest || !this.facts.nodeOnFirstMessageOnly;
    const fields: Record<string, unknown> = {
      version_info: this.acceptedVersion,
      resource_names: [this.facts.name],
      type_url: SECRET_TYPE_URL,
      response_nonce: this.nonce,
      ...(withNode ? { node: nodeMessage(this.deps.node()) } : {}),
      ...(errorDetail === undefined ? {} : { error_detail: errorDetail }),
    };
    const step = errorDetail !== undefined ? 'nack' : this.nonce === '' ? 'request' : 'ack';
    this.deps.recorder.write({
      event: 'sds',
      step,
      names: [this.facts.name],
      version: this.acceptedVersion,
      nonce: this.nonce,
      node: withNode,
      ...(errorDetail === undefined ? {} : { error: errorDetail.message }),
    });
    this.firstRequest = false;
    call.write(Buffer.from(request.encode(request.fromObject(fields)).finish()));
  }

  /** `GrpcMuxImpl::onDiscoveryResponse` for one watch. */
  private onResponse(bytes: Buffer): void {
    this.retryIntervalMs = RETRY_INITIAL_MS;
    this.receivedOnStream = true;
    this.lastCloseCode = undefined;
    const { response: responseType, secret: secretType } = protos();
    let response: {
      version_info?: string;
      nonce?: string;
      type_url?: string;
      resources?: { type_url?: string; value?: Buffer }[];
    };
    try {
      response = responseType.toObject(responseType.decode(bytes), {
        bytes: Buffer,
        defaults: true,
      }) as typeof response;
    } catch {
      return;
    }
    const typeUrl = response.type_url ?? '';
    if (typeUrl !== SECRET_TYPE_URL) {
      this.deps.logger.warn(
        'config',
        'source/extensions/config_subscription/grpc/grpc_mux_impl.cc:245',
        `Ignoring the message for type URL ${typeUrl} as it has no current subscribers.`,
      );
      return;
    }
    const version = response.version_info ?? '';
    const nonce = response.nonce ?? '';
    this.stat('update_attempt').add();
    let held: Held | undefined;
    let found = false;
    try {
      const byName = new Map<string, Record<string, unknown>>();
      for (const resource of response.resources ?? []) {
        if (resource.type_url !== typeUrl) {
          throw new Rejected(
            `${resource.type_url} does not match the message-wide type URL ${typeUrl} in DiscoveryResponse`,
          );
        }
        const secret = secretType.toObject(secretType.decode(resource.value ?? Buffer.alloc(0)), {
          bytes: Buffer,
        }) as Record<string, unknown>;
        const name = typeof secret.name === 'string' ? secret.name : '';
        if (!byName.has(name)) byName.set(name, secret);
      }
      const mine = byName.get(this.facts.name);
      if (mine !== undefined) {
        found = true;
        held = loadSecret(mine, this.facts.kind);
        if (this.deps.nack.all || this.deps.nack.names.has(this.facts.name)) {
          throw new Rejected(
            this.facts.kind === 'tls_certificate'
              ? 'Failed to load private key from <inline>, Cause: error:0900006e:PEM routines:OPENSSL_internal:NO_START_LINE'
              : 'Failed to load trusted CA certificates from <inline>',
          );
        }
      }
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_DETAIL);
      this.stat('update_rejected').add();
      this.deps.logger.warn(
        'config',
        'source/extensions/config_subscription/grpc/grpc_subscription_impl.cc:128',
        `gRPC config for ${SECRET_TYPE_URL} rejected: ${message}`,
      );
      this.nonce = nonce;
      this.send({ code: grpc.status.INTERNAL, message });
      this.markInitialized();
      return;
    }
    this.acceptedVersion = version;
    this.nonce = nonce;
    if (found && held !== undefined) {
      this.held = held;
      this.lastUpdated = Date.now();
      this.stat('update_success').add();
      this.deps.stats.gauge(`sds.${this.facts.name}.update_time`).set(this.lastUpdated);
      this.deps.stats.textReadout(`sds.${this.facts.name}.version_text`).setText(version);
    }
    this.send(undefined);
    if (found) this.markInitialized();
  }

  /** `GrpcStream::onRemoteClose`: log, keep what is held, retry after a jittered backoff. */
  private onClose(call: grpc.ClientDuplexStream<Buffer, Buffer>, status: grpc.StatusObject): void {
    if (call !== this.call) return;
    this.call = undefined;
    if (this.closing) return;
    this.stat('update_failure').add();
    this.deps.recorder.write({
      event: 'sds',
      step: 'closed',
      name: this.facts.name,
      code: status.code,
      details: status.details,
    });
    const line = `StreamSecrets gRPC config stream to ${this.facts.clusterName} closed: ${status.code}, ${status.details}`;
    const site = 'source/extensions/config_subscription/grpc/grpc_stream.h:193';
    // Ok, and a retriable failure seen for the first time, are logged at debug level.
    if (
      status.code === grpc.status.OK ||
      (RETRIABLE.has(status.code) && this.lastCloseCode !== status.code)
    ) {
      this.deps.logger.debug('config', site, line);
    } else {
      this.deps.logger.warn('config', site, line);
    }
    this.lastCloseCode = status.code;
    if (!this.receivedOnStream) this.manager.resetChannel(this.facts.target);
    // JitteredExponentialBackOffStrategy: uniform in [0, interval), the interval doubling to 30 s.
    const delay = Math.floor(Math.random() * this.retryIntervalMs);
    this.retryIntervalMs = Math.min(this.retryIntervalMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.establish();
    }, delay);
  }

  close(): void {
    this.closing = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.initTimer !== undefined) clearTimeout(this.initTimer);
    this.call?.cancel();
    this.call = undefined;
  }
}

/** Every SDS subscription of one simulated Envoy process. */
export class SdsManager {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly channels = new Map<string, grpc.Client>();
  private readonly waiters: { keys: string[]; done: () => void }[] = [];

  constructor(
    private readonly facts: SdsFacts,
    deps: SdsDeps,
  ) {
    protos();
    for (const s of facts.subscriptions) this.subscriptions.set(s.key, new Subscription(s, this, deps));
  }

  /** Starts the subscriptions (once each). */
  start(keys: readonly string[]): void {
    for (const key of keys) this.subscriptions.get(key)?.start();
  }

  /** Calls `done` once every subscription in `keys` is initialized (at once if they are). */
  whenInitialized(keys: readonly string[], done: () => void): void {
    this.waiters.push({ keys: [...keys], done });
    this.onInitialized();
  }

  onInitialized(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.keys.every((k) => this.subscriptions.get(k)?.initialized ?? true)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.done();
      }
    }
  }

  channel(target: string): grpc.Client {
    let client = this.channels.get(target);
    if (client === undefined) {
      client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.enable_channelz': 0 });
      this.channels.set(target, client);
    }
    return client;
  }

  /** A connection that could not be made: the next stream gets a fresh channel (no grpc-js backoff). */
  resetChannel(target: string): void {
    this.channels.get(target)?.close();
    this.channels.delete(target);
  }

  /** `SecretsConfigDump`: every subscription's secret, active or warming. */
  configDump(): JsonObject {
    const active: Json[] = [];
    const warming: Json[] = [];
    for (const s of this.subscriptions.values()) {
      const entry: JsonObject = {
        name: s.facts.name,
        version_info: s.held === undefined ? 'uninitialized' : s.acceptedVersion,
        last_updated: timestamp(s.lastUpdated),
        secret: s.held?.dump ?? { '@type': SECRET_TYPE_URL, name: s.facts.name },
      };
      (s.held === undefined ? warming : active).push(entry);
    }
    return {
      '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
      static_secrets: [],
      dynamic_active_secrets: active,
      dynamic_warming_secrets: warming,
    };
  }

  private contextReady(context: TlsContextFacts): boolean {
    const keys = [...context.certificates, ...(context.validation === undefined ? [] : [context.validation])];
    return keys.every((k) => this.subscriptions.get(k)?.held !== undefined);
  }

  /** `/certs`: one entry per TLS context whose secrets are all held. */
  certs(now = Date.now()): JsonObject {
    const certificates: Json[] = [];
    for (const context of this.facts.contexts) {
      if (!this.contextReady(context)) continue;
      const ca =
        context.validation === undefined ? undefined : this.subscriptions.get(context.validation)?.held?.ca;
      const chain = context.certificates
        .map((k) => this.subscriptions.get(k)?.held?.leaf)
        .filter((l): l is NonNullable<typeof l> => l !== undefined);
      certificates.push({
        ca_cert: ca === undefined ? [] : [certificateDetails(ca.cert, ca.path, now)],
        cert_chain: chain.map((l) => certificateDetails(l.cert, l.path, now)),
      });
    }
    return { certificates };
  }

  /** `server.days_until_first_cert_expiring`, or undefined when no certificate is held. */
  daysUntilFirstCertExpiring(now = Date.now()): number | undefined {
    let days: number | undefined;
    for (const s of this.subscriptions.values()) {
      for (const c of [s.held?.leaf, s.held?.ca]) {
        if (c === undefined) continue;
        const d = daysUntil(Date.parse(c.cert.validTo), now);
        days = days === undefined ? d : Math.min(days, d);
      }
    }
    return days;
  }

  close(): void {
    for (const s of this.subscriptions.values()) s.close();
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }
}
