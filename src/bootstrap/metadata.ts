/**
 * Envoy node metadata, built as Istio 1.5's `getNodeMetaData` + `marshalMetadata` build it
 * (`pkg/bootstrap/config.go`, `pkg/bootstrap/option/convert.go`, `pilot/pkg/model/context.go`):
 *
 * 1. raw map: every `ISTIO_META_<K>=<V>` gives `K: "V"` (except `ISTIO_META_WORKLOAD*`), then every
 *    `ISTIO_METAJSON_<K>=<object>` is merged into the top level (the `<K>` part is ignored);
 * 2. the raw map, as Go JSON, is decoded into the typed `NodeMetadata` struct: keys match its JSON
 *    tags case-insensitively (encoding/json), in sorted key order, later matches winning; the field
 *    types re-shape the values (`INSTANCE_IPS` "a,b" is a list, `POD_PORTS` is re-serialised…);
 * 3. typed overrides from the environment: `ISTIO_METAJSON_LABELS` → `LABELS` (and
 *    `CANONICAL_TELEMETRY_SERVICE` from its `istioTelemetryService` label), `POD_NAME` → `NAME`,
 *    `POD_NAMESPACE` → `NAMESPACE`, `ISTIO_META_OWNER` → `OWNER`, `ISTIO_META_WORKLOAD_NAME` →
 *    `WORKLOAD_NAME`, `SERVICE_ACCOUNT` → `SERVICE_ACCOUNT`; `EXCHANGE_KEYS` is fixed;
 *    `INSTANCE_IPS` is the deduplicated node IP list; `STS_PORT` when an STS port is set;
 * 4. pod labels from the downward-API file `./etc/istio/pod/labels` are merged into `LABELS`;
 * 5. output: the typed struct as JSON (empty fields omitted), plus every raw key the typed output
 *    does not already have, marshalled by Go as a map, i.e. **with keys sorted** (Go's
 *    `json.Marshal` of a `map[string]interface{}` sorts them; that is the exact text Istio 1.5 puts
 *    in the bootstrap).
 *
 * Deliberate differences from Istio 1.5:
 * - a malformed `ISTIO_METAJSON_*` value (invalid JSON, not an object, a label that is not a
 *   string) is a usage error, where Istio logs a warning and carries on without it;
 * - a raw value the typed struct cannot decode (`ISTIO_META_LABELS=x`) is a usage error naming the
 *   variable (Istio fails the whole bootstrap with a Go decoding message);
 * - no platform metadata: Istio asks the GCP/AWS metadata servers (with a 5 s timeout) for
 *   `PLATFORM_METADATA` and a fallback locality; we make no cloud calls, so `PLATFORM_METADATA` is
 *   absent and the locality comes only from `istio-locality`;
 * - in SDS mode (`--certDelivery sds`) `SDS` is set, as Istio sets it when its agent serves SDS,
 *   but `TRUSTJWT` is not: no token is involved (Istio 1.5 sets both, for a token it sends);
 * - a labels file missing at the default path is a warning only in Kubernetes
 *   (`KUBERNETES_SERVICE_HOST` set), where the downward API mounts it; Istio warns wherever it runs.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { AgentError, messageOf } from '../errors.js';
import { goJsonMarshal } from '../go/json.js';
import type { GoMap, GoValue } from '../go/value.js';

/** Keys Istio asks peers to exchange (`metadataExchangeKeys`, release-1.5 `pkg/bootstrap/config.go`). */
export const EXCHANGE_KEYS = [
  'NAME',
  'NAMESPACE',
  'INSTANCE_IPS',
  'LABELS',
  'OWNER',
  'PLATFORM_METADATA',
  'WORKLOAD_NAME',
  'CANONICAL_TELEMETRY_SERVICE',
  'MESH_ID',
  'SERVICE_ACCOUNT',
] as const;

/** Where the Kubernetes downward API mounts pod labels (Istio `constants.PodInfoLabelsPath`). */
export const POD_LABELS_PATH = './etc/istio/pod/labels';

type FieldKind = 'string' | 'stringList' | 'stringMap' | 'stringBool' | 'podPorts';

/** The JSON keys of Istio 1.5's `model.NodeMetadata`, in struct order, with their Go field types. */
const TYPED_FIELDS: ReadonlyArray<readonly [string, FieldKind]> = [
  ['ISTIO_VERSION', 'string'],
  ['LABELS', 'stringMap'],
  ['INSTANCE_IPS', 'stringList'],
  ['CONFIG_NAMESPACE', 'string'],
  ['NAMESPACE', 'string'],
  ['INTERCEPTION_MODE', 'string'],
  ['SERVICE_ACCOUNT', 'string'],
  ['ROUTER_MODE', 'string'],
  ['MESH_ID', 'string'],
  ['CLUSTER_ID', 'string'],
  ['NETWORK', 'string'],
  ['REQUESTED_NETWORK_VIEW', 'stringList'],
  ['EXCHANGE_KEYS', 'stringList'],
  ['PLATFORM_METADATA', 'stringMap'],
  ['NAME', 'string'],
  ['WORKLOAD_NAME', 'string'],
  ['OWNER', 'string'],
  ['POD_PORTS', 'podPorts'],
  ['CANONICAL_TELEMETRY_SERVICE', 'string'],
  ['istio-locality', 'string'],
  ['policy.istio.io/check', 'string'],
  ['policy.istio.io/checkRetries', 'string'],
  ['policy.istio.io/checkBaseRetryWaitTime', 'string'],
  ['policy.istio.io/checkMaxRetryWaitTime', 'string'],
  ['sidecar.istio.io/statsInclusionPrefixes', 'string'],
  ['sidecar.istio.io/statsInclusionRegexps', 'string'],
  ['sidecar.istio.io/statsInclusionSuffixes', 'string'],
  ['sidecar.istio.io/extraStatTags', 'string'],
  ['TLS_SERVER_CERT_CHAIN', 'string'],
  ['TLS_SERVER_KEY', 'string'],
  ['TLS_SERVER_ROOT_CERT', 'string'],
  ['TLS_CLIENT_CERT_CHAIN', 'string'],
  ['TLS_CLIENT_KEY', 'string'],
  ['TLS_CLIENT_ROOT_CERT', 'string'],
  ['SDS_TOKEN_PATH', 'string'],
  ['USER_SDS', 'stringBool'],
  ['BASE', 'string'],
  ['SDS', 'stringBool'],
  ['TRUSTJWT', 'stringBool'],
  ['STS_PORT', 'string'],
  ['istio.io/insecurepath', 'string'],
  ['IDLE_TIMEOUT', 'string'],
  ['HTTP10', 'string'],
];

type TypedValue = string | string[] | Record<string, string> | boolean;

/** The typed `NodeMetadata`, keyed by JSON tag; absent = Go zero value. */
export type TypedNodeMetadata = Partial<Record<string, TypedValue>>;

export interface NodeMetadata {
  /** `meta_json_str`: the metadata JSON exactly as Istio 1.5 renders it (sorted keys, compact). */
  json: string;
  /** The typed struct after all overrides (what Istio's options read). */
  typed: TypedNodeMetadata;
  /** `INSTANCE_IPS`: node IPs, deduplicated, first occurrence kept. */
  instanceIps: string[];
  /** Region / zone / sub-zone from the `istio-locality` key ('' when absent). */
  locality: { region: string; zone: string; subZone: string };
}

export interface NodeMetadataOptions {
  /** The pod labels file; default `./etc/istio/pod/labels` against the working directory. */
  podLabelsPath?: string;
  /** Receives non-fatal problems (unreadable labels file, unparsable lines), as Istio logs them. */
  warn?: (message: string) => void;
}

/** A value in the raw map with the variable it came from (for error messages). */
interface RawEntry {
  value: GoValue;
  source: string;
}

const META_PREFIX = 'ISTIO_META_';
const METAJSON_PREFIX = 'ISTIO_METAJSON_';

export async function buildNodeMetadata(
  config: AgentConfig,
  options: NodeMetadataOptions = {},
): Promise<NodeMetadata> {
  const env = config.env;
  const raw = buildRawMetadata(env);
  const typed = decodeTyped(raw);

  // Typed overrides, in environment order as Istio walks os.Environ().
  for (const [name, value] of Object.entries(env)) {
    switch (name) {
      case 'ISTIO_METAJSON_LABELS': {
        const labels = parseLabelsJson(value);
        if (Object.keys(labels).length > 0) {
          typed.LABELS = labels;
          const telemetry = labels.istioTelemetryService;
          if (telemetry) typed.CANONICAL_TELEMETRY_SERVICE = telemetry;
        }
        break;
      }
      case 'POD_NAME':
        typed.NAME = value;
        break;
      case 'POD_NAMESPACE':
        typed.NAMESPACE = value;
        break;
      case 'ISTIO_META_OWNER':
        typed.OWNER = value;
        break;
      case 'ISTIO_META_WORKLOAD_NAME':
        typed.WORKLOAD_NAME = value;
        break;
      case 'SERVICE_ACCOUNT':
        typed.SERVICE_ACCOUNT = value;
        break;
    }
  }
  typed.EXCHANGE_KEYS = [...EXCHANGE_KEYS];

  const instanceIps = dedupe(config.node.ipAddresses);
  typed.INSTANCE_IPS = instanceIps;
  if (config.stsPort !== 0) typed.STS_PORT = String(config.stsPort);
  if (config.certDelivery === 'sds') typed.SDS = true;

  const labelsPath = options.podLabelsPath ?? POD_LABELS_PATH;
  const podLabels = await readPodLabels(labelsPath, options.warn, {
    // Outside Kubernetes nothing mounts the downward-API file: its absence at the default path is
    // no news (Istio 1.5 warns wherever it runs). A path given, or any other failure, is reported.
    quietIfMissing: options.podLabelsPath === undefined && !inKubernetes(env),
  });
  if (podLabels) {
    const labels = { ...((typed.LABELS as Record<string, string> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(podLabels)) labels[k] = v;
    typed.LABELS = labels;
  }

  const output: Record<string, GoValue> = {};
  for (const [key, kind] of TYPED_FIELDS) {
    const value = typed[key];
    if (value === undefined || isEmpty(value)) continue;
    output[key] = encodeTyped(value, kind);
  }
  for (const [key, entry] of raw) {
    if (!(key in output)) output[key] = entry.value;
  }

  return {
    json: goJsonMarshal(output),
    typed,
    instanceIps,
    locality: splitLocality(typeof typed['istio-locality'] === 'string' ? typed['istio-locality'] : ''),
  };
}

function buildRawMetadata(env: Readonly<Record<string, string>>): Map<string, RawEntry> {
  const raw = new Map<string, RawEntry>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(META_PREFIX) || name.startsWith('ISTIO_META_WORKLOAD')) continue;
    raw.set(name.slice(META_PREFIX.length), { value, source: name });
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(METAJSON_PREFIX)) continue;
    for (const [k, v] of Object.entries(parseMetaJson(name, value))) raw.set(k, { value: v, source: name });
  }
  return raw;
}

/** `ISTIO_METAJSON_*` must hold a JSON object (Istio only warns; we refuse to start). */
function parseMetaJson(name: string, value: string): GoMap {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new AgentError('usage', `${name}: invalid JSON: ${messageOf(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AgentError('usage', `${name}: invalid JSON: expected an object, got ${jsonKind(parsed)}`);
  }
  return parsed as GoMap;
}

function parseLabelsJson(value: string): Record<string, string> {
  const parsed = parseMetaJson('ISTIO_METAJSON_LABELS', value);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    // Istio decodes this variable into map[string]string.
    if (typeof v !== 'string' && v !== null) {
      throw new AgentError(
        'usage',
        `ISTIO_METAJSON_LABELS: label "${k}" must be a string, got ${jsonKind(v)}`,
      );
    }
    labels[k] = v ?? '';
  }
  return labels;
}

/**
 * Decodes the raw map into the typed struct the way `json.Unmarshal` does: raw keys in sorted order
 * (the order of Go's marshalled map), each matched to a field by exact tag or, failing that, by
 * case-insensitive tag; a later match overwrites an earlier one.
 */
function decodeTyped(raw: Map<string, RawEntry>): TypedNodeMetadata {
  const typed: TypedNodeMetadata = {};
  const byFolded = new Map(TYPED_FIELDS.map(([key, kind]) => [key.toLowerCase(), [key, kind] as const]));
  const exact = new Map(TYPED_FIELDS.map(([key, kind]) => [key, kind]));
  const keys = [...raw.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const rawKey of keys) {
    const entry = raw.get(rawKey) as RawEntry;
    const exactKind = exact.get(rawKey);
    const field: readonly [string, FieldKind] | undefined =
      exactKind !== undefined ? [rawKey, exactKind] : byFolded.get(rawKey.toLowerCase());
    if (!field) continue;
    const [key, kind] = field;
    const decoded = decodeField(entry, rawKey, kind);
    if (decoded !== undefined) typed[key] = decoded;
  }
  return typed;
}

function decodeField(entry: RawEntry, key: string, kind: FieldKind): TypedValue | undefined {
  const { value, source } = entry;
  const fail = (want: string): never => {
    throw new AgentError(
      'usage',
      `${source}: node metadata key "${key}" must be ${want}, got ${jsonKind(value)} (Istio's NodeMetadata cannot decode it)`,
    );
  };
  if (value === null) return undefined; // JSON null leaves a Go field at its zero value.
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? value : fail('a string');
    case 'stringMap': {
      if (typeof value !== 'object' || Array.isArray(value)) return fail('an object of strings');
      const map: Record<string, string> = {};
      for (const [k, v] of Object.entries(value as GoMap)) {
        if (typeof v !== 'string' && v !== null) return fail('an object of strings');
        map[k] = v ?? '';
      }
      return map;
    }
    case 'stringList': {
      // StringList.UnmarshalJSON splits the raw JSON text between its first and last byte on ",".
      const text = goJsonMarshal(value);
      return text === '""' ? [] : text.slice(1, -1).split(',');
    }
    case 'stringBool': {
      if (typeof value !== 'string') return fail('a string holding a boolean');
      const parsed = parseGoBool(value);
      return parsed === undefined ? fail('a string holding a boolean') : parsed;
    }
    case 'podPorts': {
      // PodPortList.UnmarshalJSON: a value that is not a JSON string is ignored, not an error.
      if (typeof value !== 'string') return undefined;
      return decodePodPorts(value, source);
    }
  }
}

/**
 * The injector's `ISTIO_META_POD_PORTS` (a JSON array in a string), decoded into Go's `[]PodPort`;
 * returns each element as Go re-serialises it, or undefined for JSON null (a nil list).
 */
function decodePodPorts(text: string, source: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AgentError('usage', `${source}: invalid JSON in POD_PORTS: ${messageOf(err)}`);
  }
  if (parsed === null) return undefined;
  if (!Array.isArray(parsed)) throw new AgentError('usage', `${source}: POD_PORTS must be a JSON array`);
  const ports = parsed.map((item: unknown, i: number) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new AgentError('usage', `${source}: POD_PORTS[${i}] must be an object`);
    }
    const get = (field: string): unknown => {
      const entries = Object.entries(item as Record<string, unknown>);
      const exactHit = entries.filter(([k]) => k === field);
      const hits =
        exactHit.length > 0 ? exactHit : entries.filter(([k]) => k.toLowerCase() === field.toLowerCase());
      return hits.at(-1)?.[1];
    };
    const name = get('name') ?? '';
    const containerPort = get('containerPort') ?? 0;
    const protocol = get('protocol') ?? '';
    if (typeof name !== 'string' || typeof protocol !== 'string' || !Number.isInteger(containerPort)) {
      throw new AgentError('usage', `${source}: POD_PORTS[${i}] has a field of the wrong type`);
    }
    // Go struct order: name (omitempty), containerPort, protocol.
    return `{${name ? `"name":${goJsonMarshal(name)},` : ''}"containerPort":${containerPort},"protocol":${goJsonMarshal(protocol)}}`;
  });
  return ports;
}

function encodeTyped(value: TypedValue, kind: FieldKind): GoValue {
  switch (kind) {
    case 'stringList':
      return (value as string[]).join(',');
    case 'stringBool':
      return value ? 'true' : 'false';
    case 'podPorts':
      // PodPortList.MarshalJSON: the list as JSON, inside a JSON string.
      return `[${(value as string[]).join(',')}]`;
    default:
      return value as GoValue;
  }
}

function isEmpty(value: TypedValue): boolean {
  if (typeof value === 'string') return value === '';
  if (typeof value === 'boolean') return !value;
  if (Array.isArray(value)) return value.length === 0;
  return Object.keys(value).length === 0;
}

/** `strconv.ParseBool`. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The kubelet sets `KUBERNETES_SERVICE_HOST` in every container of a pod. */
function inKubernetes(env: Readonly<Record<string, string>>): boolean {
  return (env.KUBERNETES_SERVICE_HOST ?? '') !== '';
}

/**
 * Reads the downward-API labels file: one `key="value"` per line; the value's first and last
 * characters are dropped, as Istio's `ParseDownwardAPI` does (escapes are kept as written). A
 * file that cannot be read is only a warning, as in Istio; `quietIfMissing` leaves out the one
 * for a file that does not exist.
 */
async function readPodLabels(
  file: string,
  warn: ((message: string) => void) | undefined,
  options: { quietIfMissing: boolean },
): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(path.resolve(file), 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!(missing && options.quietIfMissing)) warn?.(`failed to read pod labels: ${messageOf(err)}`);
    return undefined;
  }
  const labels: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    const eq = line.indexOf('=');
    if (eq < 0) return;
    const value = line.slice(eq + 1);
    if (value.length < 2) {
      // Istio would panic on a slice out of range here; skip the line and say so.
      warn?.(`${file}:${i + 1}: label value is not quoted, line ignored`);
      return;
    }
    labels[line.slice(0, eq)] = value.slice(1, -1);
  });
  return labels;
}

/**
 * Istio's `GetLocalityOrDefault` + `SplitLocality`: a label with `/` is used as is, otherwise every
 * `.` becomes `/`; then region/zone/sub-zone, missing parts empty and extra parts ignored.
 */
export function splitLocality(label: string): { region: string; zone: string; subZone: string } {
  if (label === '') return { region: '', zone: '', subZone: '' };
  const normalised = label.includes('/') ? label : label.replaceAll('.', '/');
  const [region = '', zone = '', subZone = ''] = normalised.split('/');
  return { region, zone, subZone };
}
