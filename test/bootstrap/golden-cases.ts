/**
 * The golden bootstrap cases, as data: each is the `pilot-agent` command line it stands for
 * (`argv`, kept for when these tests go through the real flag/environment loader), the
 * hand-translated `AgentConfig` overrides equivalent to it, and the environment the agent sees.
 *
 * Environments follow what Istio 1.5's sidecar injector (`injection-template.yaml`) and the proxyv2
 * image set; metadata values are made up but shaped like real ones.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentConfig } from '../../src/config/types.js';
import { type AgentConfigOverrides, makeAgentConfig } from '../helpers/agent-config.js';

/** test/golden: goldens, fixtures and templates. */
export const GOLDEN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden');

export interface GoldenCase {
  /** Arguments after `pilot-agent`. */
  argv: string[];
  /** What the loader should make of `argv` (overrides of Istio 1.5 defaults). */
  overrides: Omit<AgentConfigOverrides, 'env'>;
  env: Record<string, string>;
  /** Downward-API labels file for this case (under test/golden/), if any. */
  podLabels?: string;
  /** `ISTIO_BOOTSTRAP_OVERRIDE` file (under test/golden/), if any. */
  bootstrapOverride?: string;
  /** Go template (under test/golden/templates/) instead of the built-in bootstrap. */
  template?: string;
  /**
   * Addresses of the pod's network interfaces (what Istio's private-IP discovery finds); they are
   * appended to INSTANCE_IP in the node IP list, duplicates kept (Istio 1.5 `main.go` `RunE`).
   */
  discoveredIps?: string[];
}

/** The environment of the seed's productpage sidecar, as the 1.5 injector and image set it. */
const INJECTED_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOSTNAME: 'productpage-v1-6b7f6dc7f-x2b9q',
  JWT_POLICY: 'first-party-jwt',
  PILOT_CERT_PROVIDER: 'istiod',
  CA_ADDR: 'istiod.istio-system.svc:15012',
  POD_NAME: 'productpage-v1-6b7f6dc7f-x2b9q',
  POD_NAMESPACE: 'default',
  INSTANCE_IP: '10.44.0.12',
  SERVICE_ACCOUNT: 'bookinfo-productpage',
  HOST_IP: '10.128.0.7',
  ISTIO_META_POD_PORTS: '[\n    {"containerPort":9080,"protocol":"TCP"}\n]',
  ISTIO_META_APP_CONTAINERS: '[\n    productpage\n]',
  ISTIO_META_CLUSTER_ID: 'Kubernetes',
  ISTIO_META_POD_NAME: 'productpage-v1-6b7f6dc7f-x2b9q',
  ISTIO_META_CONFIG_NAMESPACE: 'default',
  ISTIO_META_INTERCEPTION_MODE: 'REDIRECT',
  ISTIO_METAJSON_ANNOTATIONS:
    '{"kubernetes.io/psp":"eks.privileged","sidecar.istio.io/status":"{\\"version\\":\\"e2cb9d4837cda9584fd272bfa1f348525bcaacfadb7e9b9efbd21a3bb44ad7a1\\",\\"initContainers\\":[\\"istio-init\\"],\\"containers\\":[\\"istio-proxy\\"],\\"volumes\\":[\\"istio-envoy\\",\\"istio-data\\",\\"podinfo\\",\\"istiod-ca-cert\\"],\\"imagePullSecrets\\":null}"}',
  ISTIO_META_WORKLOAD_NAME: 'productpage-v1',
  ISTIO_META_OWNER: 'kubernetes://apis/apps/v1/namespaces/default/deployments/productpage-v1',
  ISTIO_META_MESH_ID: 'cluster.local',
  ISTIO_METAJSON_LABELS:
    '{"app":"productpage","pod-template-hash":"6b7f6dc7f","security.istio.io/tlsMode":"istio","service.istio.io/canonical-name":"productpage","service.istio.io/canonical-revision":"v1","version":"v1"}',
  ISTIO_META_ISTIO_VERSION: '1.5.10',
  ISTIO_META_ISTIO_PROXY_SHA: 'istio-proxy:73f240a29bece92a8882a36893ccce07b4a54664',
};

/**
 * The seed's sidecar invocation, with the values of Istio 1.5's injector
 * (`manifests/istio-control/istio-discovery/files/injection-template.yaml`).
 */
const SIDECAR_ARGV = [
  'proxy',
  'sidecar',
  '--domain',
  'default.svc.cluster.local',
  '--configPath',
  '/etc/istio/proxy',
  '--binaryPath',
  '/usr/local/bin/envoy',
  '--serviceCluster',
  'productpage.default',
  '--drainDuration',
  '45s',
  '--parentShutdownDuration',
  '1m0s',
  '--discoveryAddress',
  'istiod.istio-system.svc:15012',
  '--proxyLogLevel=warning',
  '--proxyComponentLogLevel=misc:error',
  '--connectTimeout',
  '10s',
  '--proxyAdminPort',
  '15000',
  '--concurrency',
  '2',
  '--controlPlaneAuthPolicy',
  'NONE',
  '--dnsRefreshRate',
  '300s',
  '--statusPort',
  '15020',
  '--controlPlaneBootstrap=false',
];

/** SDS mode, with Istio 1.5's absolute socket path (the default is relative to the working directory). */
const SDS_ARGV = ['--certDelivery', 'sds', '--sdsSocketPath', '/etc/istio/proxy/SDS'];
const SDS_OVERRIDES: Pick<GoldenCase['overrides'], 'certDelivery' | 'sds'> = {
  certDelivery: 'sds',
  sds: {
    socketPath: '/etc/istio/proxy/SDS',
    mounted: {
      certChain: '/etc/certs/cert-chain.pem',
      key: '/etc/certs/key.pem',
      rootCert: '/etc/certs/root-cert.pem',
    },
  },
};

/** `argv` with the value after `flag` replaced (or the pair appended). */
function setFlag(argv: readonly string[], flag: string, value: string): string[] {
  const i = argv.indexOf(flag);
  return i < 0 ? [...argv, flag, value] : [...argv.slice(0, i + 1), value, ...argv.slice(i + 2)];
}

const SIDECAR_OVERRIDES: GoldenCase['overrides'] = {
  proxy: {
    serviceCluster: 'productpage.default',
    drainDurationMs: 45_000,
    parentShutdownDurationMs: 60_000,
    discoveryAddress: 'istiod.istio-system.svc:15012',
    connectTimeoutMs: 10_000,
    proxyAdminPort: 15000,
    concurrency: 2,
    controlPlaneAuthPolicy: 'NONE',
  },
  node: { domain: 'default.svc.cluster.local' },
  proxyLogLevel: 'warning',
  proxyComponentLogLevel: 'misc:error',
  dnsRefreshRate: '300s',
  statusPort: 15020,
  controlPlaneBootstrap: false,
};

/** Metrics and access-log services with TLS and keepalive (`--envoyMetricsService` JSON). */
const SERVICES_TLS: GoldenCase = {
  argv: [
    ...SIDECAR_ARGV,
    '--envoyMetricsService',
    '{"address":"metrics.istio-system:15000","tlsSettings":{"mode":"ISTIO_MUTUAL"},"tcpKeepalive":{"probes":3,"time":"10s","interval":"5s"}}',
    '--envoyAccessLogService',
    '{"address":"als.telemetry:9001","tlsSettings":{"mode":"MUTUAL","clientCertificate":"/etc/als/cert.pem","privateKey":"/etc/als/key.pem","caCertificates":"/etc/als/ca.pem","subjectAltNames":["spiffe://cluster.local/ns/telemetry/sa/als"],"sni":"als.telemetry.svc"}}',
  ],
  overrides: {
    ...SIDECAR_OVERRIDES,
    proxy: {
      ...SIDECAR_OVERRIDES.proxy,
      envoyMetricsService: {
        address: 'metrics.istio-system:15000',
        tlsSettings: {
          mode: 'ISTIO_MUTUAL',
          clientCertificate: '',
          privateKey: '',
          caCertificates: '',
          subjectAltNames: [],
          sni: '',
        },
        tcpKeepalive: { probes: 3, timeMs: 10_000, intervalMs: 5_000 },
      },
      envoyAccessLogService: {
        address: 'als.telemetry:9001',
        tlsSettings: {
          mode: 'MUTUAL',
          clientCertificate: '/etc/als/cert.pem',
          privateKey: '/etc/als/key.pem',
          caCertificates: '/etc/als/ca.pem',
          subjectAltNames: ['spiffe://cluster.local/ns/telemetry/sa/als'],
          sni: 'als.telemetry.svc',
        },
      },
    },
  },
  env: INJECTED_ENV,
};

export const GOLDEN_CASES: Readonly<Record<string, GoldenCase>> = {
  sidecar: {
    argv: SIDECAR_ARGV,
    overrides: SIDECAR_OVERRIDES,
    env: INJECTED_ENV,
  },

  /** An IPv6-only pod: loopback/wildcard/lookup family and --local-address-ip-version follow. */
  ipv6: {
    argv: SIDECAR_ARGV,
    overrides: SIDECAR_OVERRIDES,
    env: { ...INJECTED_ENV, INSTANCE_IP: 'fd00:10:44::c' },
  },

  /** 1.5 with mTLS to Pilot using the mounted /etc/certs (no SDS), Pilot's SAN checked. */
  'mutual-tls': {
    argv: [
      ...setFlag(
        setFlag(SIDECAR_ARGV, '--discoveryAddress', 'istio-pilot.istio-system:15011'),
        '--controlPlaneAuthPolicy',
        'MUTUAL_TLS',
      ),
    ],
    overrides: {
      ...SIDECAR_OVERRIDES,
      proxy: {
        ...SIDECAR_OVERRIDES.proxy,
        discoveryAddress: 'istio-pilot.istio-system:15011',
        controlPlaneAuthPolicy: 'MUTUAL_TLS',
      },
      pilotSAN: ['spiffe://cluster.local/ns/istio-system/sa/istio-pilot-service-account'],
      mixerSAN: ['spiffe://cluster.local/ns/istio-system/sa/istio-mixer-service-account'],
    },
    env: INJECTED_ENV,
  },

  /** Zipkin tracer and a statsd sink (the statsd address already resolved to an IP, as Istio does). */
  'zipkin-statsd': {
    argv: [
      ...SIDECAR_ARGV,
      '--zipkinAddress',
      'zipkin.istio-system:9411',
      '--statsdUdpAddress',
      '10.96.0.25:9125',
    ],
    overrides: {
      ...SIDECAR_OVERRIDES,
      proxy: {
        ...SIDECAR_OVERRIDES.proxy,
        tracing: { kind: 'zipkin', address: 'zipkin.istio-system:9411' },
        statsdUdpAddress: '10.96.0.25:9125',
      },
    },
    env: INJECTED_ENV,
  },

  /** Datadog tracer (the injector passes $(HOST_IP):8126; Kubernetes expands it before we see it). */
  datadog: {
    argv: [...SIDECAR_ARGV, '--datadogAgentAddress', '10.128.0.7:8126'],
    overrides: {
      ...SIDECAR_OVERRIDES,
      proxy: { ...SIDECAR_OVERRIDES.proxy, tracing: { kind: 'datadog', address: '10.128.0.7:8126' } },
    },
    env: INJECTED_ENV,
  },

  /**
   * Metadata from every source: ISTIO_META_* raw keys (including one that lands in a typed field
   * case-insensitively), ISTIO_METAJSON_* merged at the top level, the typed overrides, a locality
   * from the `istio-locality` label (dotted form), the telemetry-service label, the downward-API
   * labels file, and a mesh network.
   */
  'metadata-json': {
    argv: setFlag(
      setFlag(SIDECAR_ARGV, '--domain', 'bookinfo.svc.cluster.local'),
      '--serviceCluster',
      'reviews.bookinfo',
    ),
    overrides: {
      ...SIDECAR_OVERRIDES,
      proxy: { ...SIDECAR_OVERRIDES.proxy, serviceCluster: 'reviews.bookinfo' },
      node: { domain: 'bookinfo.svc.cluster.local' },
    },
    env: {
      POD_NAME: 'reviews-v2-7bf8c9648f-4mnvx',
      POD_NAMESPACE: 'bookinfo',
      INSTANCE_IP: '10.44.1.9',
      SERVICE_ACCOUNT: 'bookinfo-reviews',
      ISTIO_META_NETWORK: 'network-1',
      ISTIO_META_CLUSTER_ID: 'cluster-east',
      ISTIO_META_ROUTER_MODE: 'standard',
      ISTIO_META_REQUESTED_NETWORK_VIEW: 'network-1,network-2',
      ISTIO_META_foo: 'baz',
      ISTIO_META_http10: '1',
      ISTIO_META_WORKLOAD_NAME: 'reviews-v2',
      ISTIO_META_WORKLOAD_IGNORED: 'ISTIO_META_WORKLOAD* is never raw metadata',
      ISTIO_META_OWNER: 'kubernetes://apis/apps/v1/namespaces/bookinfo/deployments/reviews-v2',
      NOT_AN_ISTIO_META_foo: 'ignored',
      ISTIO_METAJSON_LABELS:
        '{"app":"reviews","version":"v2","istio-locality":"us-east1.us-east1-b.rack-7","istioTelemetryService":"reviews.bookinfo"}',
      ISTIO_METAJSON_EXTRA: '{"custom":{"nested":[1,2.5,"x<y&z"]},"foo":"from-metajson"}',
    },
    podLabels: 'metadata-json.pod-labels',
  },

  /**
   * Istio's stats-inclusion vectors (`pkg/bootstrap/instance_test.go`): annotations merged from
   * ISTIO_METAJSON_ANNOTATIONS, `{pod_ip}` expanded once per unique node IP.
   */
  'stats-inclusion': {
    argv: SIDECAR_ARGV,
    overrides: SIDECAR_OVERRIDES,
    // Istio's node IPs for this test: 10.3.3.3,10.4.4.4,10.5.5.5,10.6.6.6,10.4.4.4.
    discoveredIps: ['10.4.4.4', '10.5.5.5', '10.6.6.6', '10.4.4.4'],
    env: {
      POD_NAME: 'foo',
      POD_NAMESPACE: 'bar',
      INSTANCE_IP: '10.3.3.3',
      ISTIO_METAJSON_ANNOTATIONS: JSON.stringify({
        'sidecar.istio.io/statsInclusionPrefixes': 'prefix1,http.{pod_ip}_',
        'sidecar.istio.io/statsInclusionSuffixes': 'suffix1,suffix2',
        'sidecar.istio.io/statsInclusionRegexps':
          'http\\.[0-9]*\\.[0-9]*\\.[0-9]*\\.[0-9]*_8080\\.downstream_rq_time',
        'sidecar.istio.io/extraStatTags': 'dlp_status,dlp_version',
      }),
    },
  },

  'services-tls': SERVICES_TLS,

  /**
   * SDS mode under MUTUAL_TLS: the sds-grpc cluster, and the xds-grpc cluster's certificate and
   * root as the secrets `default` and `ROOTCA`, Pilot's SAN still checked.
   */
  'sds-mutual-tls': {
    argv: [
      ...setFlag(
        setFlag(SIDECAR_ARGV, '--discoveryAddress', 'istio-pilot.istio-system:15011'),
        '--controlPlaneAuthPolicy',
        'MUTUAL_TLS',
      ),
      ...SDS_ARGV,
    ],
    overrides: {
      ...SIDECAR_OVERRIDES,
      ...SDS_OVERRIDES,
      proxy: {
        ...SIDECAR_OVERRIDES.proxy,
        discoveryAddress: 'istio-pilot.istio-system:15011',
        controlPlaneAuthPolicy: 'MUTUAL_TLS',
      },
      pilotSAN: ['spiffe://cluster.local/ns/istio-system/sa/istio-pilot-service-account'],
      mixerSAN: ['spiffe://cluster.local/ns/istio-system/sa/istio-mixer-service-account'],
    },
    env: INJECTED_ENV,
  },

  /** SDS mode with the remote services of `services-tls`: their files as `file-cert:`/`file-root:` secrets. */
  'sds-services-tls': {
    argv: [...SERVICES_TLS.argv, ...SDS_ARGV],
    overrides: { ...SERVICES_TLS.overrides, ...SDS_OVERRIDES },
    env: INJECTED_ENV,
  },

  /**
   * An ingress gateway (`proxy router`, from the 1.5 gateway deployment), with the outlier event
   * log, an STS port, a bootstrap override file and a base id (our addition: `--base-id`).
   */
  router: {
    argv: [
      'proxy',
      'router',
      '--domain',
      'istio-system.svc.cluster.local',
      '--proxyLogLevel=warning',
      '--proxyComponentLogLevel=misc:error',
      '--log_output_level=default:info',
      '--drainDuration',
      '45s',
      '--parentShutdownDuration',
      '1m0s',
      '--connectTimeout',
      '10s',
      '--serviceCluster',
      'istio-ingressgateway',
      '--statusPort',
      '15020',
      '--stsPort',
      '15463',
      '--discoveryAddress',
      'istio-pilot.istio-system.svc:15010',
      '--outlierLogPath',
      '/dev/stdout',
      '--baseId',
      '7',
    ],
    overrides: {
      proxy: {
        serviceCluster: 'istio-ingressgateway',
        discoveryAddress: 'istio-pilot.istio-system.svc:15010',
        connectTimeoutMs: 10_000,
      },
      node: { type: 'router', domain: 'istio-system.svc.cluster.local' },
      statusPort: 15020,
      stsPort: 15463,
      outlierLogPath: '/dev/stdout',
      baseId: 7,
    },
    env: {
      POD_NAME: 'istio-ingressgateway-5d9f8c6d4b-q7w2x',
      POD_NAMESPACE: 'istio-system',
      INSTANCE_IP: '10.44.2.3',
      SERVICE_ACCOUNT: 'istio-ingressgateway-service-account',
      ISTIO_META_WORKLOAD_NAME: 'istio-ingressgateway',
      ISTIO_META_OWNER: 'kubernetes://apis/apps/v1/namespaces/istio-system/deployments/istio-ingressgateway',
      ISTIO_META_ROUTER_MODE: 'sni-dnat',
      ISTIO_META_CLUSTER_ID: 'Kubernetes',
      ISTIO_METAJSON_LABELS: '{"app":"istio-ingressgateway","istio":"ingressgateway"}',
      ISTIO_BOOTSTRAP_OVERRIDE: '/etc/istio/custom-bootstrap/custom_bootstrap.yaml',
    },
    bootstrapOverride: 'router.override.yaml',
  },

  /** A user's Go template (`--templateFile` with `--controlPlaneBootstrap=false`). */
  'custom-template': {
    argv: [
      ...SIDECAR_ARGV,
      '--zipkinAddress',
      'zipkin.istio-system:9411',
      '--templateFile',
      '/var/lib/istio/custom/bootstrap.tmpl',
    ],
    overrides: {
      ...SIDECAR_OVERRIDES,
      proxy: { ...SIDECAR_OVERRIDES.proxy, tracing: { kind: 'zipkin', address: 'zipkin.istio-system:9411' } },
    },
    env: INJECTED_ENV,
    template: 'custom.json.tmpl',
  },
};

/** The case's AgentConfig, with its fixture files mapped into test/golden/. */
export function goldenConfig(golden: GoldenCase): AgentConfig {
  const templateFlag = golden.argv[golden.argv.indexOf('--templateFile') + 1] ?? '';
  const instanceIp = golden.env.INSTANCE_IP;
  return makeAgentConfig({
    ...golden.overrides,
    env: golden.env,
    ...(golden.discoveredIps && instanceIp
      ? { node: { ...golden.overrides.node, ipAddresses: [instanceIp, ...golden.discoveredIps] } }
      : {}),
    bootstrapTemplatePath: golden.template ? path.join(GOLDEN_DIR, 'templates', golden.template) : '',
    bootstrapOverridePath: golden.bootstrapOverride ? path.join(GOLDEN_DIR, golden.bootstrapOverride) : '',
    proxy: {
      ...golden.overrides.proxy,
      proxyBootstrapTemplatePath: golden.template ? templateFlag : '',
    },
  });
}

/** The downward-API labels file of a case, or a path that does not exist. */
export function goldenLabelsPath(golden: GoldenCase, fallbackDir: string): string {
  return golden.podLabels
    ? path.join(GOLDEN_DIR, golden.podLabels)
    : path.join(fallbackDir, 'no-such-labels-file');
}
