/**
 * A complete `AgentConfig` for tests, with Istio 1.5's defaults (`DefaultProxyConfig()` in
 * `pkg/config/mesh/mesh.go`, the `proxy` flag defaults of `pilot/cmd/pilot-agent/main.go`) and the
 * node identity of the seed's sidecar (a `productpage` pod in `default`), derived from the
 * environment the way the agent derives it (as Istio 1.5's `RunE` in `main.go` does): ID
 * `POD_NAME.POD_NAMESPACE`, IP list from `INSTANCE_IP` (no interface discovery in tests), domain
 * `<ns>.svc.cluster.local`.
 *
 * Golden cases describe their command line as data and pass the equivalent overrides here;
 * test/bootstrap/loader-crosscheck.test.ts checks that the real flag/environment loader
 * (src/config/load.ts) turns the same command lines into the same bootstraps.
 */

import { isIPv4, isIPv6 } from 'node:net';
import { DEFAULT_LIFECYCLE, DEFAULT_PROXY_CONFIG, ISTIO_CERT_FILES } from '../../src/config/defaults.js';
import type {
  AgentConfig,
  CertConfig,
  LifecycleConfig,
  NodeIdentity,
  ProxyConfig,
} from '../../src/config/types.js';

/** The pod the seed's invocation runs in (downward-API variables the injector sets). */
export const SEED_POD_ENV: Readonly<Record<string, string>> = {
  POD_NAME: 'productpage-v1-6b7f6dc7f-x2b9q',
  POD_NAMESPACE: 'default',
  INSTANCE_IP: '10.44.0.12',
};

export interface AgentConfigOverrides
  extends Partial<Omit<AgentConfig, 'proxy' | 'node' | 'lifecycle' | 'certs'>> {
  proxy?: Partial<ProxyConfig>;
  node?: Partial<NodeIdentity>;
  lifecycle?: Partial<LifecycleConfig>;
  certs?: Partial<CertConfig>;
}

/** Istio 1.5 `DefaultProxyConfig()`, as the agent defines it (src/config/defaults.ts). */
export function defaultProxyConfig(): ProxyConfig {
  return {
    ...DEFAULT_PROXY_CONFIG,
    envoyMetricsService: { address: '' },
    envoyAccessLogService: { address: '' },
    proxyBootstrapTemplatePath: '',
    tracing: undefined,
  };
}

export function makeAgentConfig(overrides: AgentConfigOverrides = {}): AgentConfig {
  const { proxy, node, lifecycle, certs, ...rest } = overrides;
  const env = rest.env ?? SEED_POD_ENV;
  return {
    registry: 'Kubernetes',
    statusPort: 0,
    stsPort: 0,
    proxyLogLevel: 'warning',
    proxyComponentLogLevel: 'misc:error',
    dnsRefreshRate: '300s',
    disableInternalTelemetry: false,
    controlPlaneBootstrap: true,
    outlierLogPath: '',
    pilotSAN: [],
    mixerSAN: [],
    bootstrapTemplatePath: '',
    bootstrapOverridePath: '',
    baseId: 0,
    kubeAppProbers: '',
    prometheusAnnotations: '',
    inspect: false,
    ignoredFlags: [],
    certDelivery: 'hot-restart',
    sds: { socketPath: '/etc/istio/proxy/SDS', mounted: { ...ISTIO_CERT_FILES } },
    ...rest,
    env,
    proxy: { ...defaultProxyConfig(), ...proxy },
    node: nodeIdentity(env, node),
    lifecycle: {
      terminationDrainMs: 5_000,
      terminationGracePeriodMs: null,
      exitOnZeroActiveConnections: false,
      minimumDrainMs: 5_000,
      maximumDrainMs: proxy?.drainDurationMs ?? 45_000,
      restartBudget: 0,
      ...DEFAULT_LIFECYCLE,
      ...lifecycle,
    },
    certs: {
      files: ['/etc/certs/cert-chain.pem', '/etc/certs/key.pem', '/etc/certs/root-cert.pem'],
      waitForFiles: false,
      pairs: [{ cert: '/etc/certs/cert-chain.pem', key: '/etc/certs/key.pem' }],
      ...certs,
    },
  };
}

/** Istio 1.5's node identity for the Kubernetes registry, from the environment plus explicit overrides. */
function nodeIdentity(
  env: Readonly<Record<string, string>>,
  overrides: Partial<NodeIdentity> = {},
): NodeIdentity {
  const type = overrides.type ?? 'sidecar';
  const instanceIp = env.INSTANCE_IP ?? '';
  const podIp = isIPv4(instanceIp) || isIPv6(instanceIp) ? instanceIp : '';
  const ipAddresses = overrides.ipAddresses ?? (podIp ? [podIp] : ['127.0.0.1', '::1']);
  const podName = overrides.podName ?? env.POD_NAME ?? '';
  const podNamespace = overrides.podNamespace ?? env.POD_NAMESPACE ?? '';
  const id = overrides.id ?? `${podName}.${podNamespace}`;
  const domain = overrides.domain ?? `${podNamespace}.svc.cluster.local`;
  return {
    type,
    ipAddresses,
    ipv6: overrides.ipv6 ?? !ipAddresses.some((ip) => isIPv4(ip)),
    id,
    domain,
    serviceNode: overrides.serviceNode ?? [type, ipAddresses[0] ?? '', id, domain].join('~'),
    trustDomain: overrides.trustDomain ?? 'cluster.local',
    podName,
    podNamespace,
    podIp: overrides.podIp ?? podIp,
  };
}
