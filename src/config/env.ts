/**
 * The environment variables `pilot-agent proxy` reads (Istio 1.5 `pilot/cmd/pilot-agent/main.go` and
 * `model.go`, `pilot/pkg/features/pilot.go`; plus the ≥1.12 drain variables of `options/options.go`).
 * Semantics of `istio.io/pkg/env`: a string variable is its value when set (even empty), else the
 * default. For bool, int and duration variables Istio logs a warning on a bad value and uses the
 * default; we reject the value instead (one usage error naming the variable), and treat an empty
 * value as unset.
 */
import { usageError } from '../errors.js';
import { formatGoDuration, parseGoDuration } from '../go/duration.js';
import { goQuote, parseGoAtoi, parseGoBool } from '../go/strconv.js';
import { CERT_DELIVERIES, DEFAULT_ENV, DEFAULT_TLS_FILES } from './defaults.js';
import type { CertDelivery } from './types.js';

export interface AgentEnv {
  podName: string;
  podNamespace: string;
  /** INSTANCE_IP as given (the identity code keeps it only when it parses as an IP). */
  instanceIp: string;
  istioNamespace: string;
  terminationDrainMs: number;
  /** TERMINATION_GRACE_PERIOD_SECONDS × 1000, or null when unset. */
  terminationGracePeriodMs: number | null;
  exitOnZeroActiveConnections: boolean;
  minimumDrainMs: number;
  autoMtlsEnabled: boolean;
  stackdriverTracingEnabled: boolean;
  inspect: boolean;
  /** PILOT_AGENT_CERT_DELIVERY, or undefined when unset or empty. */
  certDelivery: CertDelivery | undefined;
  /** ISTIO_BOOTSTRAP ('' when unset). */
  bootstrapTemplatePath: string;
  /** ISTIO_BOOTSTRAP_OVERRIDE ('' when unset). */
  bootstrapOverridePath: string;
  /** The six ISTIO_META_TLS_* paths in Istio's order: server chain, key, root, client chain, key, root. */
  tlsFiles: string[];
  /** The server and client certificate chains with their keys (from the same variables). */
  tlsPairs: { cert: string; key: string }[];
  /** The client chain, key and root: what Istio's SDS serves as `default` and `ROOTCA`. */
  clientTls: { certChain: string; key: string; rootCert: string };
  kubeAppProbers: string;
  prometheusAnnotations: string;
  /** Every defined variable (node metadata is built from ISTIO_META_* / ISTIO_METAJSON_* by the bootstrap). */
  env: Record<string, string>;
}

type Env = Readonly<Record<string, string | undefined>>;

function stringVar(env: Env, name: string, fallback = ''): string {
  const value = env[name];
  return value === undefined ? fallback : value;
}

function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = parseGoBool(raw);
  if (value === undefined) throw usageError(`${name}=${goQuote(raw)} must be a boolean (true or false)`);
  return value;
}

/**
 * TERMINATION_DRAIN_DURATION_SECONDS: `strconv.Atoi` as Istio's int variable. Negative values
 * (a no-op sleep in Istio 1.5) are rejected too.
 */
function terminationDrainMs(env: Env): number {
  const name = 'TERMINATION_DRAIN_DURATION_SECONDS';
  const raw = env[name];
  if (raw === undefined || raw === '') return DEFAULT_ENV.TERMINATION_DRAIN_DURATION_SECONDS * 1000;
  const seconds = parseGoAtoi(raw);
  if (seconds === undefined || seconds < 0) {
    throw usageError(`${name}=${goQuote(raw)} must be a non-negative whole number of seconds`);
  }
  return seconds * 1000;
}

/**
 * TERMINATION_GRACE_PERIOD_SECONDS: the pod's `terminationGracePeriodSeconds`, a whole number of
 * seconds ≥ 0 as the pod spec takes it (ours, not Istio's). Unset or empty: no deadline is planned.
 */
function terminationGracePeriodMs(env: Env): number | null {
  const name = 'TERMINATION_GRACE_PERIOD_SECONDS';
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  const seconds = parseGoAtoi(raw);
  if (seconds === undefined || seconds < 0) {
    throw usageError(
      `${name}=${goQuote(raw)} must be a non-negative whole number of seconds (the pod's terminationGracePeriodSeconds)`,
    );
  }
  return seconds * 1000;
}

/** MINIMUM_DRAIN_DURATION: a Go duration (Istio ≥1.12 `env.RegisterDurationVar`), default 5s. */
function minimumDrainMs(env: Env): number {
  const name = 'MINIMUM_DRAIN_DURATION';
  const raw = env[name];
  if (raw === undefined || raw === '') return DEFAULT_ENV.MINIMUM_DRAIN_DURATION_MS;
  const ms = parseGoDuration(raw);
  if (ms === undefined || ms < 0) {
    throw usageError(
      `${name}=${goQuote(raw)} must be a non-negative duration with a unit, such as "${formatGoDuration(DEFAULT_ENV.MINIMUM_DRAIN_DURATION_MS)}"`,
    );
  }
  return ms;
}

/** PILOT_AGENT_CERT_DELIVERY (ours): `hot-restart` or `sds`. */
function certDelivery(env: Env): CertDelivery | undefined {
  const name = 'PILOT_AGENT_CERT_DELIVERY';
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!(CERT_DELIVERIES as readonly string[]).includes(raw)) {
    throw usageError(`${name}=${goQuote(raw)} must be ${CERT_DELIVERIES.join(' or ')}`);
  }
  return raw as CertDelivery;
}

/**
 * ISTIO_METAJSON_* must each be a JSON object: the bootstrap merges them into node metadata, and we
 * want the error here, before anything starts (Istio logs a warning and drops the variable).
 */
function checkMetaJson(env: Env): void {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('ISTIO_METAJSON_') || raw === undefined) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      throw usageError(
        `${name}=${goQuote(raw)} must be a JSON object: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw usageError(`${name}=${goQuote(raw)} must be a JSON object`);
    }
  }
}

/** Reads and checks every variable; throws the first usage error. */
export function readAgentEnv(env: Env): AgentEnv {
  checkMetaJson(env);
  const tls = (name: keyof typeof DEFAULT_TLS_FILES) => stringVar(env, name, DEFAULT_TLS_FILES[name]);
  const defined: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) defined[name] = value;
  return {
    podName: stringVar(env, 'POD_NAME'),
    podNamespace: stringVar(env, 'POD_NAMESPACE'),
    instanceIp: stringVar(env, 'INSTANCE_IP'),
    istioNamespace: stringVar(env, 'ISTIO_NAMESPACE'),
    terminationDrainMs: terminationDrainMs(env),
    terminationGracePeriodMs: terminationGracePeriodMs(env),
    exitOnZeroActiveConnections: boolVar(
      env,
      'EXIT_ON_ZERO_ACTIVE_CONNECTIONS',
      DEFAULT_ENV.EXIT_ON_ZERO_ACTIVE_CONNECTIONS,
    ),
    minimumDrainMs: minimumDrainMs(env),
    autoMtlsEnabled: boolVar(env, 'ISTIO_AUTO_MTLS_ENABLED', DEFAULT_ENV.ISTIO_AUTO_MTLS_ENABLED),
    stackdriverTracingEnabled: boolVar(
      env,
      'STACKDRIVER_TRACING_ENABLED',
      DEFAULT_ENV.STACKDRIVER_TRACING_ENABLED,
    ),
    inspect: boolVar(env, 'PILOT_AGENT_INSPECT', DEFAULT_ENV.PILOT_AGENT_INSPECT),
    certDelivery: certDelivery(env),
    bootstrapTemplatePath: stringVar(env, 'ISTIO_BOOTSTRAP'),
    bootstrapOverridePath: stringVar(env, 'ISTIO_BOOTSTRAP_OVERRIDE'),
    tlsFiles: (Object.keys(DEFAULT_TLS_FILES) as (keyof typeof DEFAULT_TLS_FILES)[]).map((name) => tls(name)),
    tlsPairs: [
      { cert: tls('ISTIO_META_TLS_SERVER_CERT_CHAIN'), key: tls('ISTIO_META_TLS_SERVER_KEY') },
      { cert: tls('ISTIO_META_TLS_CLIENT_CERT_CHAIN'), key: tls('ISTIO_META_TLS_CLIENT_KEY') },
    ],
    clientTls: {
      certChain: tls('ISTIO_META_TLS_CLIENT_CERT_CHAIN'),
      key: tls('ISTIO_META_TLS_CLIENT_KEY'),
      rootCert: tls('ISTIO_META_TLS_CLIENT_ROOT_CERT'),
    },
    kubeAppProbers: stringVar(env, 'ISTIO_KUBE_APP_PROBERS'),
    prometheusAnnotations: stringVar(env, 'ISTIO_PROMETHEUS_ANNOTATIONS'),
    env: defined,
  };
}

/**
 * Istio `dedupeStrings`: drop empty entries and duplicates. Istio returns Go map order (unspecified
 * across runs); we keep first-occurrence order so the certificate hash input is stable.
 */
export function dedupeKeepOrder(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}

/** Certificate/key pairs without empty members, each pair once, in first-occurrence order. */
export function dedupePairs(
  pairs: readonly { cert: string; key: string }[],
): { cert: string; key: string }[] {
  const seen = new Set<string>();
  const out: { cert: string; key: string }[] = [];
  for (const pair of pairs) {
    const id = JSON.stringify([pair.cert, pair.key]);
    if (pair.cert === '' || pair.key === '' || seen.has(id)) continue;
    seen.add(id);
    out.push({ cert: pair.cert, key: pair.key });
  }
  return out;
}
