/**
 * Flags + environment → one validated, frozen `AgentConfig`, in the order of Istio 1.5's `proxy`
 * `RunE` (`pilot/cmd/pilot-agent/main.go`): role, environment, node identity, ProxyConfig =
 * DefaultProxyConfig overwritten by flags, remote services, control-plane auth and SANs, tracer,
 * validation, statsd resolution, certificate list. Nothing is written and no process is started
 * here, so a usage error always leaves the machine untouched.
 */
import { networkInterfaces as osNetworkInterfaces } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { usageError } from '../errors.js';
import { parseGoDuration } from '../go/duration.js';
import { parseIp } from '../go/net.js';
import { goQuote } from '../go/strconv.js';
import type { Logger } from '../log.js';
import { SDS_NAME_SEPARATOR } from '../sds/bootstrap.js';
import { CERT_DELIVERIES, DEFAULT_LIFECYCLE, DEFAULT_PROXY_CONFIG as DPC, deepFreeze } from './defaults.js';
import { dedupeKeepOrder, dedupePairs, readAgentEnv } from './env.js';
import { PROXY_FLAGS, type ProxyFlagValues } from './flags.js';
import {
  controlPlaneNamespace,
  type DiscoverOptions,
  defaultNodeId,
  discoverPrivateIps,
  dnsDomain,
  isIpv6Proxy,
  MIXER_SERVICE_ACCOUNT,
  type NetworkInterfaces,
  nodeIpAddresses,
  PILOT_SERVICE_ACCOUNT,
  privateIpsOf,
  sanTrustDomain,
  serviceNode,
  spiffeSan,
} from './identity.js';
import { type ParsedRemoteService, parseRemoteService } from './remote-service.js';
import { shutdownPlan } from './shutdown-plan.js';
import { type ResolveHost, resolveStatsdAddress } from './statsd.js';
import type {
  AgentConfig,
  CertDelivery,
  ControlPlaneAuthPolicy,
  NodeIdentity,
  NodeType,
  ProxyConfig,
  ServiceRegistry,
  Tracing,
} from './types.js';
import { type LightstepSettings, proxyConfigProblems } from './validate.js';

export interface LoadAgentConfigInput {
  /** Positional argument of `proxy`: `sidecar` (default) or `router`. */
  role?: string;
  flags: ProxyFlagValues;
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Flags the CLI accepted but does not implement outside the proxy table (unknown flags, unused root
   * logging flags), as typed (`--foo`); reported with the rest in the one "ignored" warning.
   */
  ignored?: readonly string[];
  /**
   * Names of the `proxy` flags given on the command line (the CLI knows); without it, a flag
   * counts as given when its value differs from its default. Decides whether `--certDelivery` or
   * PILOT_AGENT_CERT_DELIVERY applies.
   */
  given?: readonly string[];
  /** The working directory relative paths are resolved against (default `process.cwd()`). */
  cwd?: string;
  /** `os.networkInterfaces()` result, or a reader polled while addresses are unspecified. */
  interfaces?: NetworkInterfaces | (() => NetworkInterfaces);
  discover?: DiscoverOptions;
  resolveHost?: ResolveHost;
  log?: Logger;
}

const REGISTRIES: readonly ServiceRegistry[] = ['Kubernetes', 'Consul', 'Mock', 'MCP'];
const AUTH_POLICIES: readonly ControlPlaneAuthPolicy[] = ['NONE', 'MUTUAL_TLS'];
/** Envoy `-l` levels (spdlog names Envoy's CLI accepts). */
const ENVOY_LEVELS = ['trace', 'debug', 'info', 'warning', 'warn', 'error', 'critical', 'off'];
/** Envoy `Cluster.dns_refresh_rate` must be greater than 1 ms. */
const MIN_DNS_REFRESH_MS = 1;
/** Linux's `sun_path` holds 108 bytes with the terminating NUL (`unix(7)`). */
const MAX_SOCKET_PATH_BYTES = 107;

/** Istio `model.IsApplicationNodeType`. */
function nodeType(role: string | undefined): NodeType {
  if (role === undefined || role === 'sidecar') return 'sidecar';
  if (role === 'router') return 'router';
  throw usageError(`Invalid role Type: ${role}`);
}

/** Checks of flag values that Istio 1.5 does not make (each one a documented deviation). */
function flagProblems(flags: ProxyFlagValues): string[] {
  const out: string[] = [];
  if (!(REGISTRIES as readonly string[]).includes(flags.serviceregistry)) {
    out.push(`--serviceregistry ${goQuote(flags.serviceregistry)} must be one of ${REGISTRIES.join(', ')}`);
  }
  if (flags.ip !== '' && parseIp(flags.ip) === undefined) {
    out.push(`--ip ${goQuote(flags.ip)} must be an IP address`);
  }
  // Istio's switch has no default branch, so a typo such as "MUTUAL-TLS" silently meant NONE there.
  if (!(AUTH_POLICIES as readonly string[]).includes(flags.controlPlaneAuthPolicy)) {
    out.push(`--controlPlaneAuthPolicy ${goQuote(flags.controlPlaneAuthPolicy)} must be NONE or MUTUAL_TLS`);
  }
  if (flags.concurrency < 0)
    out.push(`--concurrency ${flags.concurrency} must be 0 (Envoy's default) or more`);
  if (flags.stsPort < 0 || flags.stsPort > 65535)
    out.push(`--stsPort ${flags.stsPort} must be in the range 0..65535`);
  if (flags.restartBudget < 0)
    out.push(`--restartBudget ${flags.restartBudget} must be 0 (never restart) or more`);
  if (!(CERT_DELIVERIES as readonly string[]).includes(flags.certDelivery)) {
    out.push(`--certDelivery ${goQuote(flags.certDelivery)} must be ${CERT_DELIVERIES.join(' or ')}`);
  }
  if (!ENVOY_LEVELS.includes(flags.proxyLogLevel)) {
    out.push(`--proxyLogLevel ${goQuote(flags.proxyLogLevel)} must be one of ${ENVOY_LEVELS.join(', ')}`);
  }
  if (flags.proxyComponentLogLevel !== '') {
    const bad = flags.proxyComponentLogLevel.split(',').find((entry) => {
      const [component, level, ...rest] = entry.split(':');
      return !component || level === undefined || rest.length > 0 || !ENVOY_LEVELS.includes(level);
    });
    if (bad !== undefined) {
      out.push(
        `--proxyComponentLogLevel ${goQuote(flags.proxyComponentLogLevel)} must be <component>:<level>,... with level one of ${ENVOY_LEVELS.join(', ')} (bad entry ${goQuote(bad)})`,
      );
    }
  }
  const refresh = parseGoDuration(flags.dnsRefreshRate);
  if (refresh === undefined || refresh <= MIN_DNS_REFRESH_MS) {
    out.push(
      `--dnsRefreshRate ${goQuote(flags.dnsRefreshRate)} must be a duration greater than 1ms, such as "300s"`,
    );
  }
  return out;
}

/** `--certDelivery` when given, else PILOT_AGENT_CERT_DELIVERY, else the flag's default. */
function certDeliveryOf(input: LoadAgentConfigInput, fromEnv: CertDelivery | undefined): CertDelivery {
  const flag = input.flags.certDelivery as CertDelivery;
  const given = input.given
    ? input.given.includes('certDelivery')
    : flag !== PROXY_FLAGS.certDelivery.default;
  return given ? flag : (fromEnv ?? flag);
}

/** The SDS socket as an absolute path, checked (SDS mode only). */
function sdsSocketPath(raw: string, cwd: string): string {
  if (raw === '') throw usageError('--sdsSocketPath must not be empty with --certDelivery sds');
  const absolute = resolvePath(cwd, raw);
  const bytes = Buffer.byteLength(absolute);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw usageError(
      `--sdsSocketPath ${goQuote(absolute)} is ${bytes} bytes long; a Unix socket path holds at most ${MAX_SOCKET_PATH_BYTES}`,
    );
  }
  return absolute;
}

/** Tracer precedence of Istio 1.5: LightStep, Zipkin, Datadog, then Stackdriver (first set wins). */
function selectTracer(
  flags: ProxyFlagValues,
  stackdriver: boolean,
): { tracing: Tracing | undefined; lightstep?: LightstepSettings; ignored: string[] } {
  if (flags.lightstepAddress !== '') {
    return {
      tracing: undefined,
      lightstep: { address: flags.lightstepAddress, accessToken: flags.lightstepAccessToken },
      ignored: [],
    };
  }
  if (flags.zipkinAddress !== '')
    return { tracing: { kind: 'zipkin', address: flags.zipkinAddress }, ignored: [] };
  if (flags.datadogAgentAddress !== '') {
    return { tracing: { kind: 'datadog', address: flags.datadogAgentAddress }, ignored: [] };
  }
  return { tracing: undefined, ignored: stackdriver ? ['STACKDRIVER_TRACING_ENABLED'] : [] };
}

async function discoveredIps(input: LoadAgentConfigInput): Promise<{ ips: string[]; ok: boolean }> {
  const source = input.interfaces;
  if (source !== undefined && typeof source !== 'function') return privateIpsOf(source);
  return discoverPrivateIps(source ?? osNetworkInterfaces, input.discover);
}

/** Builds the validated, deeply frozen config of one `pilot-agent proxy` run. */
export async function loadAgentConfig(input: LoadAgentConfigInput): Promise<AgentConfig> {
  const { flags, log } = input;
  const type = nodeType(input.role);
  const env = readAgentEnv(input.env);
  const problems = flagProblems(flags);
  if (problems.length > 0) throw usageError(problems.join('; '));
  const registry = flags.serviceregistry as ServiceRegistry;
  const authPolicy = flags.controlPlaneAuthPolicy as ControlPlaneAuthPolicy;

  // Node identity (Istio 1.5 `main.go` `RunE`; the service node of `pilot/pkg/model/context.go`).
  if (flags.ip === '' && env.instanceIp !== '' && parseIp(env.instanceIp) === undefined) {
    log?.warn(`INSTANCE_IP ${goQuote(env.instanceIp)} is not an IP address; ignoring it, as Istio does`);
  }
  const discovered = await discoveredIps(input);
  if (!discovered.ok) {
    log?.warn(
      'Network interfaces still report unspecified addresses; using none of the discovered addresses',
    );
  }
  const ipAddresses = nodeIpAddresses({
    ipFlag: flags.ip,
    instanceIp: env.instanceIp,
    discovered: discovered.ok ? discovered.ips : [],
  });
  const id = flags.id !== '' ? flags.id : defaultNodeId(registry, ipAddresses, env.podName, env.podNamespace);
  const domain = dnsDomain(registry, env.podNamespace, flags.domain);
  const podIp = flags.ip !== '' ? (parseIp(flags.ip)?.text ?? '') : (parseIp(env.instanceIp)?.text ?? '');
  const node: NodeIdentity = {
    type,
    ipAddresses,
    ipv6: isIpv6Proxy(ipAddresses),
    id,
    domain,
    serviceNode: serviceNode(type, ipAddresses, id, domain),
    trustDomain: flags['trust-domain'] !== '' ? flags['trust-domain'] : 'cluster.local',
    podName: env.podName,
    podNamespace: env.podNamespace,
    podIp,
  };

  // ProxyConfig = DefaultProxyConfig() (`pkg/config/mesh/mesh.go`) overwritten by the flags (`main.go`).
  const remote: ParsedRemoteService[] = [];
  const metrics =
    flags.envoyMetricsService !== ''
      ? parseRemoteService('envoyMetricsService', flags.envoyMetricsService)
      : undefined;
  const accessLog =
    flags.envoyAccessLogService !== ''
      ? parseRemoteService('envoyAccessLogService', flags.envoyAccessLogService)
      : undefined;
  if (metrics) remote.push(metrics);
  if (accessLog) remote.push(accessLog);
  const tracer = selectTracer(flags, env.stackdriverTracingEnabled);
  const proxy: ProxyConfig = {
    configPath: flags.configPath,
    binaryPath: flags.binaryPath,
    serviceCluster: flags.serviceCluster,
    drainDurationMs: flags.drainDuration,
    parentShutdownDurationMs: flags.parentShutdownDuration,
    discoveryAddress: flags.discoveryAddress,
    connectTimeoutMs: flags.connectTimeout,
    statsdUdpAddress: flags.statsdUdpAddress,
    envoyMetricsService: metrics?.service ?? { address: '' },
    envoyAccessLogService: accessLog?.service ?? { address: '' },
    proxyAdminPort: flags.proxyAdminPort,
    controlPlaneAuthPolicy: authPolicy,
    customConfigFile: flags.customConfigFile,
    concurrency: flags.concurrency,
    proxyBootstrapTemplatePath:
      !flags.controlPlaneBootstrap && flags.customConfigFile === '' ? flags.templateFile : '',
    statNameLength: DPC.statNameLength,
    tracing: tracer.tracing,
  };

  const invalid = proxyConfigProblems(proxy, tracer.lightstep);
  if (invalid.length > 0) throw usageError(invalid.join('; '));

  // Pilot and Mixer SANs, only under MUTUAL_TLS (`main.go` `getSAN`).
  let pilotSAN: string[] = [];
  let mixerSAN: string[] = [];
  if (authPolicy === 'MUTUAL_TLS') {
    const td = sanTrustDomain({
      trustDomainFlag: flags['trust-domain'],
      registry,
      podNamespace: env.podNamespace,
      domain,
    });
    const ns = controlPlaneNamespace({
      registry,
      podNamespace: env.podNamespace,
      discoveryAddress: proxy.discoveryAddress,
      istioNamespace: env.istioNamespace,
    });
    pilotSAN = spiffeSan(td, ns, PILOT_SERVICE_ACCOUNT, flags.pilotIdentity);
    mixerSAN = spiffeSan(td, ns, MIXER_SERVICE_ACCOUNT, flags.mixerIdentity);
  }

  // Statsd: resolved once; a failed lookup disables statsd with a warning, as Istio
  // (`pilot/pkg/proxy/resolve.go` `ResolveAddr`).
  if (proxy.statsdUdpAddress !== '') {
    const resolved = await resolveStatsdAddress(proxy.statsdUdpAddress, input.resolveHost);
    if ('error' in resolved) {
      log?.warn(`resolve StatsdUdpAddress failed: ${resolved.error}; statsd is disabled`);
      proxy.statsdUdpAddress = '';
    } else {
      proxy.statsdUdpAddress = resolved.address;
    }
  }

  // Certificates to wait for and watch: the `ISTIO_META_TLS_*` files, then remote-service TLS files
  // (Istio 1.5 `main.go`, which dedupes them in map order; we keep the first occurrence's order).
  const remoteTls = remote.some((r) => r.tlsEnabled);
  const certFiles = dedupeKeepOrder([...env.tlsFiles, ...remote.flatMap((r) => r.tlsFiles)]);

  // SDS mode: the socket, and remote-service files the bootstrap names as `file-cert:`/`file-root:`.
  const certDelivery = certDeliveryOf(input, env.certDelivery);
  const sds = {
    socketPath:
      certDelivery === 'sds'
        ? sdsSocketPath(flags.sdsSocketPath, input.cwd ?? process.cwd())
        : resolvePath(input.cwd ?? process.cwd(), flags.sdsSocketPath),
    mounted: env.clientTls,
  };
  if (certDelivery === 'sds' && remoteTls) {
    const named = [...remote.flatMap((r) => r.tlsFiles), ...Object.values(env.clientTls)];
    const bad = named.find((file) => file.includes(SDS_NAME_SEPARATOR));
    if (bad !== undefined) {
      throw usageError(
        `${goQuote(bad)}: with --certDelivery sds a remote service's certificate file cannot have "${SDS_NAME_SEPARATOR}" in its path (it separates the paths of an SDS file-cert name)`,
      );
    }
  }

  const ignored = [
    ...Object.entries(PROXY_FLAGS)
      .filter(([name, spec]) => !spec.implemented && flags[name as keyof ProxyFlagValues] !== spec.default)
      .map(([name]) => `--${name}`),
    ...tracer.ignored,
    ...(input.ignored ?? []),
  ];
  if (ignored.length > 0) {
    log?.warn(
      { ignored },
      `Ignoring flags and settings this agent does not implement: ${ignored.join(', ')}`,
    );
  }

  const config: AgentConfig = {
    proxy,
    node,
    registry,
    statusPort: flags.statusPort,
    stsPort: flags.stsPort,
    proxyLogLevel: flags.proxyLogLevel,
    proxyComponentLogLevel: flags.proxyComponentLogLevel,
    dnsRefreshRate: flags.dnsRefreshRate,
    disableInternalTelemetry: flags.disableInternalTelemetry,
    controlPlaneBootstrap: flags.controlPlaneBootstrap,
    outlierLogPath: flags.outlierLogPath,
    pilotSAN,
    mixerSAN,
    // Istio 2.2: ISTIO_BOOTSTRAP wins; a custom config file means no rendering at all. With
    // --controlPlaneBootstrap=true Istio renders --templateFile once into <configPath>/envoy.yaml;
    // we render it per epoch like the sidecar path (documented deviation).
    bootstrapTemplatePath:
      flags.customConfigFile !== ''
        ? ''
        : env.bootstrapTemplatePath !== ''
          ? env.bootstrapTemplatePath
          : flags.templateFile,
    bootstrapOverridePath: env.bootstrapOverridePath,
    baseId: flags.baseId,
    kubeAppProbers: env.kubeAppProbers,
    prometheusAnnotations: env.prometheusAnnotations,
    lifecycle: {
      terminationDrainMs: env.terminationDrainMs,
      terminationGracePeriodMs: env.terminationGracePeriodMs,
      exitOnZeroActiveConnections: env.exitOnZeroActiveConnections,
      minimumDrainMs: env.minimumDrainMs,
      maximumDrainMs: flags.drainDuration,
      restartBudget: flags.restartBudget,
      ...DEFAULT_LIFECYCLE,
    },
    certs: {
      files: certFiles,
      // Istio waits for the files only without SDS; with SDS, Envoy holds its start until the
      // secrets arrive (`initial_fetch_timeout: 0s` on `default` and `ROOTCA`).
      waitForFiles:
        certDelivery !== 'sds' && (authPolicy === 'MUTUAL_TLS' || remoteTls || env.autoMtlsEnabled),
      pairs: dedupePairs([...env.tlsPairs, ...remote.flatMap((r) => (r.tlsPair ? [r.tlsPair] : []))]),
    },
    inspect: flags.inspect || env.inspect,
    certDelivery,
    sds,
    env: env.env,
    ignoredFlags: ignored,
  };
  // One deadline: the shutdown must end before kubelet's SIGKILL (shutdown-plan.ts).
  const plan = shutdownPlan(config.lifecycle);
  if (plan.warning !== null) {
    log?.warn(
      {
        terminationGracePeriodMs: config.lifecycle.terminationGracePeriodMs,
        shutdown: plan.timings,
        worstCaseMs: plan.worstCaseMs,
      },
      plan.warning,
    );
  } else if (plan.budgetMs !== null) {
    log?.info(
      { worstCaseMs: plan.worstCaseMs, budgetMs: plan.budgetMs },
      "The shutdown fits in the pod's grace period",
    );
  }
  return deepFreeze(config);
}
