/**
 * `--envoyMetricsService` / `--envoyAccessLogService`: protobuf-JSON `meshconfig.RemoteService`, as
 * Istio 1.5 reads it with gogo `jsonpb.UnmarshalString` — camelCase or proto field names, enum names
 * or numbers, `null` meaning "unset", unknown fields rejected, and durations in Go syntax (that
 * jsonpb version parses `Duration` with `time.ParseDuration`, so "10s" and "1m30s" both work).
 *
 * Deviation: Istio logs "Unable to unmarshal" and carries on without the service; we reject the
 * flag, since a silently missing metrics or access-log sink is found only much later.
 */
import { usageError } from '../errors.js';
import { parseGoDuration } from '../go/duration.js';
import { goQuote } from '../go/strconv.js';
import { ISTIO_CERT_FILES } from './defaults.js';
import type { RemoteService, TcpKeepalive, TlsSettings } from './types.js';

const TLS_MODES = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

class FieldError extends Error {}

function isObject(value: Json | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Reads an object's fields by proto name or JSON (camelCase) name, rejecting any other key. */
function fields(obj: JsonObject, path: string, names: Record<string, string>): Map<string, Json> {
  const byAlias = new Map<string, string>();
  for (const [json, proto] of Object.entries(names)) {
    byAlias.set(json, json);
    byAlias.set(proto, json);
  }
  const out = new Map<string, Json>();
  for (const [key, value] of Object.entries(obj)) {
    const canonical = byAlias.get(key);
    if (canonical === undefined) throw new FieldError(`unknown field "${path}${key}"`);
    if (value !== null) out.set(canonical, value);
  }
  return out;
}

function str(value: Json | undefined, path: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new FieldError(`${path} must be a string`);
  return value;
}

function tlsSettings(value: Json, path: string): TlsSettings {
  if (!isObject(value)) throw new FieldError(`${path} must be an object`);
  const f = fields(value, `${path}.`, {
    mode: 'mode',
    clientCertificate: 'client_certificate',
    privateKey: 'private_key',
    caCertificates: 'ca_certificates',
    subjectAltNames: 'subject_alt_names',
    sni: 'sni',
  });
  const rawMode = f.get('mode');
  let mode: TlsSettings['mode'] = 'DISABLE';
  if (typeof rawMode === 'number' && TLS_MODES[rawMode] !== undefined) mode = TLS_MODES[rawMode];
  else if (typeof rawMode === 'string' && (TLS_MODES as readonly string[]).includes(rawMode)) {
    mode = rawMode as TlsSettings['mode'];
  } else if (rawMode !== undefined) {
    throw new FieldError(`${path}.mode ${JSON.stringify(rawMode)} must be one of ${TLS_MODES.join(', ')}`);
  }
  const sans = f.get('subjectAltNames') ?? [];
  if (!Array.isArray(sans) || !sans.every((s): s is string => typeof s === 'string')) {
    throw new FieldError(`${path}.subjectAltNames must be an array of strings`);
  }
  return {
    mode,
    clientCertificate: str(f.get('clientCertificate'), `${path}.clientCertificate`),
    privateKey: str(f.get('privateKey'), `${path}.privateKey`),
    caCertificates: str(f.get('caCertificates'), `${path}.caCertificates`),
    subjectAltNames: sans,
    sni: str(f.get('sni'), `${path}.sni`),
  };
}

function durationMs(value: Json | undefined, path: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' ? parseGoDuration(value) : undefined;
  if (ms === undefined || ms < 0) throw new FieldError(`${path} must be a duration string such as "10s"`);
  return ms;
}

function tcpKeepalive(value: Json, path: string): TcpKeepalive {
  if (!isObject(value)) throw new FieldError(`${path} must be an object`);
  const f = fields(value, `${path}.`, { probes: 'probes', time: 'time', interval: 'interval' });
  const out: TcpKeepalive = {};
  const probes = f.get('probes');
  if (probes !== undefined) {
    // proto3 JSON accepts a uint32 as a number or a decimal string.
    const n = typeof probes === 'string' && /^[0-9]+$/.test(probes) ? Number(probes) : probes;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 4_294_967_295) {
      throw new FieldError(`${path}.probes must be an unsigned 32-bit integer`);
    }
    out.probes = n;
  }
  const time = durationMs(f.get('time'), `${path}.time`);
  if (time !== undefined) out.timeMs = time;
  const interval = durationMs(f.get('interval'), `${path}.interval`);
  if (interval !== undefined) out.intervalMs = interval;
  return out;
}

/**
 * The certificate files a remote service's TLS settings make Envoy read. ISTIO_MUTUAL without
 * files means Istio's file certificates; Istio 1.5's converter swaps two of them (a certificate
 * chain as trust anchor, the root as client certificate: `pkg/bootstrap/option/convert.go`), which
 * Envoy then refuses because the key does not match. The swap is fixed here, on purpose.
 */
export function remoteTlsFiles(tls: TlsSettings): {
  caCertificates: string;
  clientCertificate: string;
  privateKey: string;
} {
  const istioMutual = tls.mode === 'ISTIO_MUTUAL';
  return {
    caCertificates: tls.caCertificates || (istioMutual ? ISTIO_CERT_FILES.rootCert : ''),
    clientCertificate: tls.clientCertificate || (istioMutual ? ISTIO_CERT_FILES.certChain : ''),
    privateKey: tls.privateKey || (istioMutual ? ISTIO_CERT_FILES.key : ''),
  };
}

export interface ParsedRemoteService {
  service: RemoteService;
  /** TLS with a mode other than DISABLE: Istio's `rsTLSEnabled`. */
  tlsEnabled: boolean;
  /** Files Istio appends to the watched certificates: CA, client certificate, private key. */
  tlsFiles: string[];
  /** The client certificate and its key when TLS is enabled. */
  tlsPair?: { cert: string; key: string };
}

/** Parses the flag's JSON; throws a one-line usage error naming the flag, the value and the field. */
export function parseRemoteService(flag: string, text: string): ParsedRemoteService {
  const fail = (reason: string) =>
    usageError(`--${flag} ${goQuote(text)} is not valid RemoteService JSON: ${reason}`);
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
  try {
    if (!isObject(parsed)) throw new FieldError('must be a JSON object');
    const f = fields(parsed, '', {
      address: 'address',
      tlsSettings: 'tls_settings',
      tcpKeepalive: 'tcp_keepalive',
    });
    const service: RemoteService = { address: str(f.get('address'), 'address') };
    const tls = f.get('tlsSettings');
    if (tls !== undefined) service.tlsSettings = tlsSettings(tls, 'tlsSettings');
    const keepalive = f.get('tcpKeepalive');
    if (keepalive !== undefined) service.tcpKeepalive = tcpKeepalive(keepalive, 'tcpKeepalive');
    const tlsEnabled = service.tlsSettings !== undefined && service.tlsSettings.mode !== 'DISABLE';
    if (!tlsEnabled || !service.tlsSettings) return { service, tlsEnabled, tlsFiles: [] };
    const files = remoteTlsFiles(service.tlsSettings);
    return {
      service,
      tlsEnabled,
      tlsFiles: [files.caCertificates, files.clientCertificate, files.privateKey],
      tlsPair: { cert: files.clientCertificate, key: files.privateKey },
    };
  } catch (err) {
    if (err instanceof FieldError) throw fail(err.message);
    throw err;
  }
}
