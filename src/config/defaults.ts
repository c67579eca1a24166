/**
 * Every default of `pilot-agent proxy` in one frozen place, validated eagerly. The flag table
 * (src/config/flags.ts), the loader and the README read these values; nothing else spells a default.
 *
 * Sources: Istio 1.5 `pkg/config/mesh/mesh.go` `DefaultProxyConfig()`, `pilot/cmd/pilot-agent/main.go`
 * flag registrations, `pilot/cmd/pilot-agent/model.go` (TLS cert env vars), `pilot/pkg/features/pilot.go`
 * (termination drain), and Istio ≥1.12 `pilot/cmd/pilot-agent/options/options.go` for the two drain
 * variables that 1.5 does not have.
 */

/** Freezes an object and everything inside it (the loader hands out a read-only config). */
import { basename, join } from 'node:path';
import { DEFAULT_SDS_SOCKET_PATH } from '../sds/bootstrap.js';

export function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const inner of Object.values(value)) {
    if (inner !== null && typeof inner === 'object') deepFreeze(inner);
  }
  return Object.freeze(value);
}

/** Istio 1.5 `mesh.DefaultProxyConfig()`; durations in milliseconds. */
export const DEFAULT_PROXY_CONFIG = deepFreeze({
  configPath: '/etc/istio/proxy',
  binaryPath: '/usr/local/bin/envoy',
  serviceCluster: 'istio-proxy',
  drainDurationMs: 45_000,
  parentShutdownDurationMs: 60_000,
  discoveryAddress: 'istio-pilot:15010',
  connectTimeoutMs: 1_000,
  statsdUdpAddress: '',
  proxyAdminPort: 15000,
  controlPlaneAuthPolicy: 'NONE',
  customConfigFile: '',
  concurrency: 0,
  // Envoy `--max-obj-name-len`; Istio 1.5 `DefaultProxyConfig().StatNameLength`.
  statNameLength: 189,
} as const);

/** Defaults of the `proxy` flags that are not ProxyConfig fields (main.go `init()`). */
export const DEFAULT_PROXY_FLAGS = deepFreeze({
  serviceregistry: 'Kubernetes',
  statusPort: 0,
  stsPort: 0,
  tokenManagerPlugin: 'GoogleTokenExchange',
  proxyLogLevel: 'warning',
  proxyComponentLogLevel: 'misc:error',
  dnsRefreshRate: '300s',
  controlPlaneBootstrap: true,
} as const);

/** Root logging flags, `istio.io/pkg/log` `DefaultOptions()` at the commit pinned by Istio 1.5. */
export const DEFAULT_LOG_FLAGS = deepFreeze({
  log_target: '[stdout]',
  log_output_level: 'default:info',
  log_stacktrace_level: 'default:none',
  log_caller: '',
  log_as_json: false,
  log_rotate: '',
  log_rotate_max_age: 30,
  // 100 * 1024 * 1024, although the flag text says megabytes (upstream quirk, kept for --help parity).
  log_rotate_max_size: 104_857_600,
  log_rotate_max_backups: 1000,
} as const);

/** Our additions (not in Istio); documented as such in the flag table. */
export const DEFAULT_AGENT_FLAGS = deepFreeze({
  restartBudget: 10,
  baseId: 0,
  inspect: false,
  /** Istio 1.5's behaviour with file certificates: every rotation hot-restarts Envoy. */
  certDelivery: 'hot-restart',
  /**
   * Istio's in-agent SDS socket (`LocalSDS`, `pkg/istio-agent`), relative to the working
   * directory as from Istio 1.6 on (1.5.0: `/etc/istio/proxy/SDS`, the same file in the proxy
   * image, whose working directory is `/`).
   */
  sdsSocketPath: DEFAULT_SDS_SOCKET_PATH,
} as const);

/** The ways rotated certificates reach Envoy (`--certDelivery`, PILOT_AGENT_CERT_DELIVERY). */
export const CERT_DELIVERIES = ['hot-restart', 'sds'] as const;

/** Environment variables and their defaults when unset. */
export const DEFAULT_ENV = deepFreeze({
  TERMINATION_DRAIN_DURATION_SECONDS: 5,
  EXIT_ON_ZERO_ACTIVE_CONNECTIONS: false,
  MINIMUM_DRAIN_DURATION_MS: 5_000,
  ISTIO_AUTO_MTLS_ENABLED: false,
  STACKDRIVER_TRACING_ENABLED: false,
  PILOT_AGENT_INSPECT: false,
  // Control-plane namespace used in the Pilot SAN when the discovery host has ≥ 3 labels.
  ISTIO_NAMESPACE_FALLBACK: 'istio-system',
} as const);

/**
 * Istio's well-known file certificates (`pkg/config/constants`: `DefaultCertChain`, `DefaultKey`,
 * `DefaultRootCert`): where the TLS variables and ISTIO_MUTUAL point when nothing else is given.
 */
export const ISTIO_CERT_FILES = deepFreeze({
  certChain: '/etc/certs/cert-chain.pem',
  key: '/etc/certs/key.pem',
  rootCert: '/etc/certs/root-cert.pem',
} as const);

/** `model.go`: the six TLS file variables; server and client share the same defaults. */
export const DEFAULT_TLS_FILES = deepFreeze({
  ISTIO_META_TLS_SERVER_CERT_CHAIN: ISTIO_CERT_FILES.certChain,
  ISTIO_META_TLS_SERVER_KEY: ISTIO_CERT_FILES.key,
  ISTIO_META_TLS_SERVER_ROOT_CERT: ISTIO_CERT_FILES.rootCert,
  ISTIO_META_TLS_CLIENT_CERT_CHAIN: ISTIO_CERT_FILES.certChain,
  ISTIO_META_TLS_CLIENT_KEY: ISTIO_CERT_FILES.key,
  ISTIO_META_TLS_CLIENT_ROOT_CERT: ISTIO_CERT_FILES.rootCert,
} as const);

/** The six TLS path variables with the same file names in `dir` (the demo and the tests use it). */
export function tlsFilesIn(dir: string): Record<keyof typeof DEFAULT_TLS_FILES, string> {
  const entries = Object.entries(DEFAULT_TLS_FILES).map(([name, path]) => [name, join(dir, basename(path))]);
  return Object.fromEntries(entries) as Record<keyof typeof DEFAULT_TLS_FILES, string>;
}

/**
 * Supervision constants of this agent. Istio 1.5 never restarts Envoy; these belong to our restart
 * budget and to the admin poller.
 */
export const DEFAULT_LIFECYCLE = deepFreeze({
  restartBackoffInitialMs: 200,
  restartBackoffMaxMs: 30_000,
  budgetResetMs: 60_000,
  killGraceMs: 5_000,
  pollStartingMs: 50,
  pollReadyMs: 1_000,
  adminTimeoutMs: 1_000,
} as const);

/**
 * The agent's own engineering limits (not user settings): how long each bounded wait lasts.
 * Istio's equivalents are noted where they exist.
 */
export const AGENT_LIMITS = deepFreeze({
  /** After SIGKILL, how long an Envoy may take to be reaped before we call it stuck. */
  stuckTimeoutMs: 5_000,
  /**
   * The shutdown's drain request (`POST /drain_listeners`), retries included, ends within this: the
   * admin port is closed for an instant while a hot restart hands it to the child.
   */
  drainRequestMs: 1_000,
  /** A hot-restart child must go LIVE within this, or it is abandoned and epoch N keeps serving. */
  handoverTimeoutMs: 60_000,
  /** Failed admin polls in a row before a ready Envoy stops counting as ready (≥ 3 s at 1 s polls). */
  adminLostThreshold: 3,
  /** `--mode validate` must finish within this. */
  validateTimeoutMs: 30_000,
  /** Certificate files must be quiet this long before they are read (Istio 1.5: a fixed 10 s). */
  certSettleMs: 250,
  /** A rotation that does not validate (torn pair) may take this long to complete. */
  certTornTimeoutMs: 30_000,
  /** Required certificate files missing at start: wait at most this long (Istio: 2 min). */
  certMissingTimeoutMs: 120_000,
  /** Re-read period while waiting for missing files (Istio polls `stat` every 100 ms). */
  certMissingRecheckMs: 500,
  /** Safety net for lost file events: the files are re-read this often anyway. */
  certPeriodicRecheckMs: 30_000,
} as const);

/** Limits of `validation.ValidateProxyConfig` (Istio 1.5 `pkg/config/validation/validation.go`). */
export const VALIDATION_LIMITS = deepFreeze({
  drainTimeMaxMs: 3_600_000,
  parentShutdownTimeMaxMs: 3_600_000,
  connectTimeoutMinMs: 1,
  connectTimeoutMaxMs: 30_000,
} as const);

/** Start-up waits of Istio 1.5 (`pilot/pkg/proxy/`, called from `pilot/cmd/pilot-agent/main.go`). */
export const STARTUP_WAITS = deepFreeze({
  /** `pilot/pkg/proxy/net.go` `GetPrivateIPs`: poll every 100 ms for up to 2 min. */
  privateIpPollMs: 100,
  privateIpTimeoutMs: 120_000,
  /** `pilot/pkg/proxy/resolve.go`: DNS lookup of the statsd host with a 15 s timeout. */
  statsdResolveTimeoutMs: 15_000,
} as const);

/** `pilot-agent wait` (Istio ≥1.7 `pilot/cmd/pilot-agent/app/wait.go`). */
export const DEFAULT_WAIT_FLAGS = deepFreeze({
  url: 'http://localhost:15021/healthz/ready',
  timeoutSeconds: 60,
  requestTimeoutMillis: 500,
  periodMillis: 500,
} as const);

/** `pilot-agent request` (Istio ≥1.11 `pilot/cmd/pilot-agent/app/request.go`). */
export const DEFAULT_REQUEST = deepFreeze({
  debugPort: 15000,
  /** Sorted, as Go's `sets.SortedList` prints them in the error message. */
  allowedPorts: [15000, 15004, 15020, 15021],
  timeoutMs: 60_000,
} as const);
