/**
 * The validated, frozen configuration of one `pilot-agent proxy` run. Built once from flags and
 * environment (src/config/load.ts); everything downstream (bootstrap, argv, machines' input,
 * status server) reads from it and nothing writes to it.
 *
 * Names follow Istio's: `ProxyConfig` mirrors the fields of Istio 1.5's `meshconfig.ProxyConfig`
 * that `pilot-agent proxy` fills from its flags (defaults from `pkg/config/mesh/mesh.go`
 * `DefaultProxyConfig()`, flags copied in `pilot/cmd/pilot-agent/main.go`). Durations are milliseconds.
 */

export type NodeType = 'sidecar' | 'router';
export type ServiceRegistry = 'Kubernetes' | 'Consul' | 'Mock' | 'MCP';
export type ControlPlaneAuthPolicy = 'NONE' | 'MUTUAL_TLS';

/** Istio `networking.TLSSettings` as accepted inside `--envoyMetricsService` JSON. */
export interface TlsSettings {
  mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  clientCertificate: string;
  privateKey: string;
  caCertificates: string;
  subjectAltNames: string[];
  sni: string;
}

/** Istio `networking.ConnectionPoolSettings.TCPSettings.TcpKeepalive`. */
export interface TcpKeepalive {
  probes?: number;
  timeMs?: number;
  intervalMs?: number;
}

/** Istio `meshconfig.RemoteService` (`--envoyMetricsService`, `--envoyAccessLogService`). */
export interface RemoteService {
  /** `host:port`; empty means "not configured". */
  address: string;
  tlsSettings?: TlsSettings;
  tcpKeepalive?: TcpKeepalive;
}

/**
 * The tracer chosen by Istio's precedence (LightStep, Zipkin, Datadog, Stackdriver: first set
 * wins). LightStep and Stackdriver are accepted on the command line but not implemented: the
 * loader reports them as ignored and leaves tracing undefined.
 */
export type Tracing = { kind: 'zipkin'; address: string } | { kind: 'datadog'; address: string };

/** Istio 1.5 `DefaultProxyConfig()` overwritten by the `proxy` flags. */
export interface ProxyConfig {
  configPath: string;
  binaryPath: string;
  serviceCluster: string;
  drainDurationMs: number;
  parentShutdownDurationMs: number;
  discoveryAddress: string;
  connectTimeoutMs: number;
  statsdUdpAddress: string;
  envoyMetricsService: RemoteService;
  envoyAccessLogService: RemoteService;
  proxyAdminPort: number;
  controlPlaneAuthPolicy: ControlPlaneAuthPolicy;
  customConfigFile: string;
  concurrency: number;
  /** `--templateFile` when `--controlPlaneBootstrap=false` (Istio `ProxyBootstrapTemplatePath`). */
  proxyBootstrapTemplatePath: string;
  statNameLength: number;
  tracing: Tracing | undefined;
}

/** Who this proxy is (Istio 1.5 `pilot/cmd/pilot-agent/main.go` `RunE`, `pilot/pkg/model/context.go`). */
export interface NodeIdentity {
  type: NodeType;
  /** `--ip` or INSTANCE_IP first, then discovered addresses; `127.0.0.1, ::1` when none. */
  ipAddresses: string[];
  /** True iff no entry of `ipAddresses` is IPv4. */
  ipv6: boolean;
  id: string;
  domain: string;
  /** `type~ip~id~domain`, Envoy's `--service-node`. */
  serviceNode: string;
  trustDomain: string;
  podName: string;
  podNamespace: string;
  /** INSTANCE_IP (or `--ip`) when it parses as an IP address, else ''. */
  podIp: string;
}

/** Shutdown and supervision settings: the drain and kill waits, the restart budget and back-off. */
export interface LifecycleConfig {
  /** TERMINATION_DRAIN_DURATION_SECONDS × 1000 (default 5 s). */
  terminationDrainMs: number;
  /**
   * TERMINATION_GRACE_PERIOD_SECONDS × 1000: the pod's grace period, the time kubelet allows
   * between its SIGTERM and its SIGKILL. null when unset. `shutdownPlan` (shutdown-plan.ts) fits
   * the timings below into it; the fields here stay as configured.
   */
  terminationGracePeriodMs: number | null;
  /** EXIT_ON_ZERO_ACTIVE_CONNECTIONS. */
  exitOnZeroActiveConnections: boolean;
  /** MINIMUM_DRAIN_DURATION (default 5 s). */
  minimumDrainMs: number;
  /** Upper bound of the zero-connection wait: `--drainDuration` (Envoy's own drain time). */
  maximumDrainMs: number;
  /** Crash restarts allowed before the agent gives up; 0 = never restart (Istio ≥1.5). */
  restartBudget: number;
  restartBackoffInitialMs: number;
  restartBackoffMaxMs: number;
  /** Envoy ready for this long gives the whole restart budget back. */
  budgetResetMs: number;
  /** Time between SIGTERM and SIGKILL for each Envoy process at shutdown. */
  killGraceMs: number;
  /** Admin readiness poll period while starting (≤ 100 ms) and once ready (≥ 1 s). */
  pollStartingMs: number;
  pollReadyMs: number;
  /** Per admin request timeout. */
  adminTimeoutMs: number;
}

/** Certificate files watched for rotation (hot restart, or a push in SDS mode). */
export interface CertConfig {
  /** Deduplicated, non-empty, in Istio's order: server chain, key, root, client chain, key, root, remote-service TLS files. */
  files: string[];
  /**
   * Wait for the files at start-up (MUTUAL_TLS, remote-service TLS or ISTIO_AUTO_MTLS_ENABLED),
   * never in SDS mode: there Envoy waits for the secrets itself, as with Istio's SDS.
   */
  waitForFiles: boolean;
  /** Certificate chains and the keys that must match their leaf (server, client, remote-service TLS). */
  pairs: { cert: string; key: string }[];
}

/**
 * How rotated certificates reach Envoy: `hot-restart`, a new Envoy epoch started with them (Istio
 * 1.5's file certificates), or `sds`, pushed in place by the agent's own SDS server.
 */
export type CertDelivery = 'hot-restart' | 'sds';

/** The agent's SDS server (SDS mode only). */
export interface SdsServerConfig {
  /** The socket, absolute (`--sdsSocketPath` resolved against the working directory). */
  socketPath: string;
  /**
   * The file-mounted certificates served as `default` (chain and key) and `ROOTCA` (root): the
   * `ISTIO_META_TLS_CLIENT_CERT_CHAIN`, `_KEY` and `_ROOT_CERT` paths, as Istio's file mode
   * reads them (`security/pkg/nodeagent/cache/secretcache.go`).
   */
  mounted: { certChain: string; key: string; rootCert: string };
}

/** Everything one `pilot-agent proxy` run needs. */
export interface AgentConfig {
  proxy: ProxyConfig;
  node: NodeIdentity;
  registry: ServiceRegistry;
  /** `--statusPort`; 0 disables the status server. */
  statusPort: number;
  stsPort: number;
  proxyLogLevel: string;
  proxyComponentLogLevel: string;
  /** `--dnsRefreshRate` as given (a Go duration such as "300s"). */
  dnsRefreshRate: string;
  disableInternalTelemetry: boolean;
  controlPlaneBootstrap: boolean;
  outlierLogPath: string;
  pilotSAN: string[];
  mixerSAN: string[];
  /** Template for the per-epoch bootstrap: ISTIO_BOOTSTRAP, else `--templateFile`; '' = built-in v3. */
  bootstrapTemplatePath: string;
  /** ISTIO_BOOTSTRAP_OVERRIDE: file whose contents go to Envoy as `--config-yaml`. */
  bootstrapOverridePath: string;
  /** `--baseId`: Envoy `--base-id` (omitted when 0, as Istio never passes it). */
  baseId: number;
  /** ISTIO_KUBE_APP_PROBERS as given (parsed by the status server). */
  kubeAppProbers: string;
  /** ISTIO_PROMETHEUS_ANNOTATIONS as given (read by the status server's metrics merge). */
  prometheusAnnotations: string;
  lifecycle: LifecycleConfig;
  certs: CertConfig;
  /** Attach the Stately inspector (`--inspect` or PILOT_AGENT_INSPECT). */
  inspect: boolean;
  /** `--certDelivery`, else PILOT_AGENT_CERT_DELIVERY, else `hot-restart`. */
  certDelivery: CertDelivery;
  /** Where and what the SDS server serves (used in SDS mode only). */
  sds: SdsServerConfig;
  /** The environment the agent was started with (node metadata comes from it). */
  env: Readonly<Record<string, string>>;
  /** Flags given that this agent accepts but does not implement (reported in one warning). */
  ignoredFlags: string[];
}
