import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIFECYCLE, DEFAULT_PROXY_CONFIG, tlsFilesIn } from '../../src/config/defaults.js';
import { dedupeKeepOrder } from '../../src/config/env.js';
import { PROXY_FLAGS, parseFlagValues } from '../../src/config/flags.js';
import type { NetworkInterfaces } from '../../src/config/identity.js';
import { type LoadAgentConfigInput, loadAgentConfig } from '../../src/config/load.js';
import type { ResolveHost } from '../../src/config/statsd.js';
import { AgentError } from '../../src/errors.js';
import { captureLogger } from './capture-log.js';

function v4(address: string): NetworkInterfaceInfo {
  return {
    address,
    family: 'IPv4',
    internal: false,
    netmask: '255.255.255.0',
    mac: '02:00:00:00:00:01',
    cidr: null,
  };
}
function v6(address: string): NetworkInterfaceInfo {
  return {
    address,
    family: 'IPv6',
    internal: false,
    netmask: 'ffff::',
    mac: '02:00:00:00:00:01',
    cidr: null,
    scopeid: 0,
  };
}

const POD_INTERFACES: NetworkInterfaces = {
  lo: [{ ...v4('127.0.0.1'), internal: true }],
  eth0: [v4('10.4.0.7')],
};
const noDns: ResolveHost = async () => {
  throw new Error('DNS must not be used here');
};

function input(
  flags: Record<string, string> = {},
  extra: Partial<LoadAgentConfigInput> = {},
): LoadAgentConfigInput {
  return {
    flags: parseFlagValues(PROXY_FLAGS, new Map(Object.entries(flags))),
    env: { POD_NAME: 'productpage-v1-6b7f', POD_NAMESPACE: 'default', INSTANCE_IP: '10.4.0.7' },
    interfaces: POD_INTERFACES,
    resolveHost: noDns,
    ...extra,
  };
}

async function loadError(promise: Promise<unknown>): Promise<AgentError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AgentError);
  return error as AgentError;
}

describe('loadAgentConfig: defaults and identity', () => {
  it('builds DefaultProxyConfig with the Kubernetes identity of a pod', async () => {
    const config = await loadAgentConfig(input());
    const { statNameLength, ...dpc } = DEFAULT_PROXY_CONFIG;
    expect(config.proxy).toMatchObject({
      ...dpc,
      statNameLength,
      tracing: undefined,
      proxyBootstrapTemplatePath: '',
    });
    expect(config.proxy.envoyMetricsService).toEqual({ address: '' });
    expect(config.node).toEqual({
      type: 'sidecar',
      ipAddresses: ['10.4.0.7', '10.4.0.7'],
      ipv6: false,
      id: 'productpage-v1-6b7f.default',
      domain: 'default.svc.cluster.local',
      serviceNode: 'sidecar~10.4.0.7~productpage-v1-6b7f.default~default.svc.cluster.local',
      trustDomain: 'cluster.local',
      podName: 'productpage-v1-6b7f',
      podNamespace: 'default',
      podIp: '10.4.0.7',
    });
    expect(config.registry).toBe('Kubernetes');
    expect(config.statusPort).toBe(0);
    expect(config.proxyLogLevel).toBe('warning');
    expect(config.proxyComponentLogLevel).toBe('misc:error');
    expect(config.dnsRefreshRate).toBe('300s');
    expect(config.controlPlaneBootstrap).toBe(true);
    expect(config.pilotSAN).toEqual([]);
    expect(config.mixerSAN).toEqual([]);
    expect(config.baseId).toBe(0);
    expect(config.inspect).toBe(false);
    expect(config.ignoredFlags).toEqual([]);
    expect(config.lifecycle).toEqual({
      terminationDrainMs: 5_000,
      terminationGracePeriodMs: null,
      exitOnZeroActiveConnections: false,
      minimumDrainMs: 5_000,
      maximumDrainMs: 45_000,
      restartBudget: 10,
      ...DEFAULT_LIFECYCLE,
    });
    expect(config.certs).toEqual({
      files: ['/etc/certs/cert-chain.pem', '/etc/certs/key.pem', '/etc/certs/root-cert.pem'],
      waitForFiles: false,
      // Server and client default to the same files: one pair.
      pairs: [{ cert: '/etc/certs/cert-chain.pem', key: '/etc/certs/key.pem' }],
    });
  });

  it('returns a deeply frozen config', async () => {
    const config = await loadAgentConfig(input());
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.proxy)).toBe(true);
    expect(Object.isFrozen(config.node.ipAddresses)).toBe(true);
  });

  it('accepts router and rejects any other role with Istio’s message', async () => {
    expect((await loadAgentConfig(input({}, { role: 'router' }))).node.type).toBe('router');
    const error = await loadError(loadAgentConfig(input({}, { role: 'gateway' })));
    expect(error.message).toBe('Invalid role Type: gateway');
    expect(error.exitCode).toBe(255);
  });

  it('detects IPv6 mode when no address is IPv4', async () => {
    const config = await loadAgentConfig(
      input(
        {},
        { env: { INSTANCE_IP: '2001:db8::7' }, interfaces: { eth0: [v6('2001:db8::7'), v6('fe80::1')] } },
      ),
    );
    expect(config.node.ipAddresses).toEqual(['2001:db8::7', '2001:db8::7', 'fe80::1']);
    expect(config.node.ipv6).toBe(true);
    expect(config.node.id).toBe('.');
  });

  it('falls back to 127.0.0.1,::1 (IPv4 mode) with no addresses', async () => {
    const config = await loadAgentConfig(input({ serviceregistry: 'Mock' }, { env: {}, interfaces: {} }));
    expect(config.node.ipAddresses).toEqual(['127.0.0.1', '::1']);
    expect(config.node.ipv6).toBe(false);
    expect(config.node.id).toBe('127.0.0.1');
    expect(config.node.serviceNode).toBe('sidecar~127.0.0.1~127.0.0.1~');
  });

  it('uses --ip, --id, --domain and Consul identity rules', async () => {
    const config = await loadAgentConfig(input({ ip: '10.9.9.9', serviceregistry: 'Consul' }));
    expect(config.node.ipAddresses[0]).toBe('10.9.9.9');
    expect(config.node.podIp).toBe('10.9.9.9');
    expect(config.node.id).toBe('10.9.9.9.service.consul');
    expect(config.node.domain).toBe('service.consul');
    const explicit = await loadAgentConfig(
      input({ id: 'my-id', domain: 'my.domain', 'trust-domain': 'mesh.com' }),
    );
    expect(explicit.node.serviceNode).toBe('sidecar~10.4.0.7~my-id~my.domain');
    expect(explicit.node.trustDomain).toBe('mesh.com');
  });

  it('ignores an INSTANCE_IP that does not parse, with a warning', async () => {
    const { log, lines } = captureLogger();
    const config = await loadAgentConfig(input({}, { env: { INSTANCE_IP: 'pod-ip' }, log }));
    expect(config.node.ipAddresses).toEqual(['10.4.0.7']);
    expect(config.node.podIp).toBe('');
    expect(lines.some((l) => l.level === 'warn' && String(l.msg).includes('INSTANCE_IP "pod-ip"'))).toBe(
      true,
    );
  });

  it('appends none of the discovered addresses when interfaces stay unspecified', async () => {
    let clock = 0;
    const config = await loadAgentConfig(
      input(
        {},
        {
          interfaces: () => ({ eth0: [v4('0.0.0.0'), v4('10.4.0.8')] }),
          discover: {
            now: () => clock,
            sleep: async (ms) => {
              clock += ms;
            },
          },
        },
      ),
    );
    expect(config.node.ipAddresses).toEqual(['10.4.0.7']);
  });
});

describe('loadAgentConfig: control-plane auth and SANs', () => {
  it('computes Pilot and Mixer SANs under MUTUAL_TLS from the discovery address', async () => {
    const config = await loadAgentConfig(
      input({ controlPlaneAuthPolicy: 'MUTUAL_TLS', discoveryAddress: 'istio-pilot.istio-system:15011' }),
    );
    expect(config.proxy.controlPlaneAuthPolicy).toBe('MUTUAL_TLS');
    expect(config.pilotSAN).toEqual([
      'spiffe://cluster.local/ns/istio-system/sa/istio-pilot-service-account',
    ]);
    expect(config.mixerSAN).toEqual([
      'spiffe://cluster.local/ns/istio-system/sa/istio-mixer-service-account',
    ]);
    expect(config.certs.waitForFiles).toBe(true);
  });

  it('uses ISTIO_NAMESPACE for a remote (≥3 labels) discovery host and honours identities', async () => {
    const config = await loadAgentConfig(
      input(
        {
          controlPlaneAuthPolicy: 'MUTUAL_TLS',
          discoveryAddress: 'istio-pilot.cp.svc.cluster.local:15011',
          pilotIdentity: 'pilot-identity',
        },
        { env: { POD_NAMESPACE: 'default', ISTIO_NAMESPACE: 'cp' } },
      ),
    );
    expect(config.pilotSAN).toEqual(['spiffe://cluster.local/pilot-identity']);
    expect(config.mixerSAN).toEqual(['spiffe://cluster.local/ns/cp/sa/istio-mixer-service-account']);
  });

  it('rejects an auth policy other than NONE or MUTUAL_TLS (Istio silently meant NONE)', async () => {
    const error = await loadError(loadAgentConfig(input({ controlPlaneAuthPolicy: 'MUTUAL-TLS' })));
    expect(error.message).toBe('--controlPlaneAuthPolicy "MUTUAL-TLS" must be NONE or MUTUAL_TLS');
  });
});

describe('loadAgentConfig: tracing, remote services, statsd', () => {
  it('picks the tracer by Istio precedence: LightStep, Zipkin, Datadog, Stackdriver', async () => {
    const zipkin = await loadAgentConfig(
      input({ zipkinAddress: 'zipkin:9411', datadogAgentAddress: 'dd:8126' }),
    );
    expect(zipkin.proxy.tracing).toEqual({ kind: 'zipkin', address: 'zipkin:9411' });
    const datadog = await loadAgentConfig(input({ datadogAgentAddress: '$(HOST_IP):8126' }));
    expect(datadog.proxy.tracing).toEqual({ kind: 'datadog', address: '$(HOST_IP):8126' });
    const lightstep = await loadAgentConfig(
      input({ lightstepAddress: 'ls:8080', lightstepAccessToken: 't', zipkinAddress: 'zipkin:9411' }),
    );
    expect(lightstep.proxy.tracing).toBeUndefined();
    expect(lightstep.ignoredFlags).toEqual(['--lightstepAddress', '--lightstepAccessToken']);
    const stackdriver = await loadAgentConfig(input({}, { env: { STACKDRIVER_TRACING_ENABLED: 'true' } }));
    expect(stackdriver.proxy.tracing).toBeUndefined();
    expect(stackdriver.ignoredFlags).toEqual(['STACKDRIVER_TRACING_ENABLED']);
    const notSelected = await loadAgentConfig(
      input({ zipkinAddress: 'zipkin:9411' }, { env: { STACKDRIVER_TRACING_ENABLED: 'true' } }),
    );
    expect(notSelected.ignoredFlags).toEqual([]);
  });

  it('reports ignored flags in one warning line', async () => {
    const { log, lines } = captureLogger();
    const config = await loadAgentConfig(
      input({ stsPort: '15463', tokenManagerPlugin: 'x' }, { ignored: ['--unknown', '--log_target'], log }),
    );
    expect(config.ignoredFlags).toEqual(['--stsPort', '--tokenManagerPlugin', '--unknown', '--log_target']);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe(
      'Ignoring flags and settings this agent does not implement: --stsPort, --tokenManagerPlugin, --unknown, --log_target',
    );
  });

  it('adds remote-service TLS files to the certificate list and waits for them', async () => {
    const config = await loadAgentConfig(
      input({
        envoyMetricsService: JSON.stringify({
          address: 'metrics:15000',
          tlsSettings: {
            mode: 'MUTUAL',
            caCertificates: '/etc/certs/root-cert.pem',
            clientCertificate: '/m/c.pem',
            privateKey: '/m/k.pem',
          },
        }),
        envoyAccessLogService:
          '{"address":"als:9000","tlsSettings":{"mode":"DISABLE","caCertificates":"/ignored.pem"}}',
      }),
    );
    expect(config.proxy.envoyMetricsService.address).toBe('metrics:15000');
    expect(config.proxy.envoyAccessLogService.tlsSettings?.mode).toBe('DISABLE');
    expect(config.certs).toEqual({
      files: [
        '/etc/certs/cert-chain.pem',
        '/etc/certs/key.pem',
        '/etc/certs/root-cert.pem',
        '/m/c.pem',
        '/m/k.pem',
      ],
      waitForFiles: true,
      pairs: [
        { cert: '/etc/certs/cert-chain.pem', key: '/etc/certs/key.pem' },
        { cert: '/m/c.pem', key: '/m/k.pem' },
      ],
    });
  });

  it('watches and pair-checks the files ISTIO_MUTUAL defaults to, wherever ISTIO_META_TLS_* point', async () => {
    const config = await loadAgentConfig(
      input(
        { envoyMetricsService: '{"address":"metrics:15000","tlsSettings":{"mode":"ISTIO_MUTUAL"}}' },
        {
          env: {
            POD_NAME: 'productpage-v1-6b7f',
            POD_NAMESPACE: 'default',
            INSTANCE_IP: '10.4.0.7',
            ...tlsFilesIn('/var/run/certs'),
          },
        },
      ),
    );
    // Envoy reads /etc/certs/* for the metrics service (the bootstrap's ISTIO_MUTUAL defaults).
    expect(config.certs.files).toEqual([
      '/var/run/certs/cert-chain.pem',
      '/var/run/certs/key.pem',
      '/var/run/certs/root-cert.pem',
      '/etc/certs/root-cert.pem',
      '/etc/certs/cert-chain.pem',
      '/etc/certs/key.pem',
    ]);
    expect(config.certs.pairs).toContainEqual({
      cert: '/etc/certs/cert-chain.pem',
      key: '/etc/certs/key.pem',
    });
    expect(config.certs.waitForFiles).toBe(true);
  });

  it('builds the certificate list from ISTIO_META_TLS_* in order, deduplicated, empties dropped', async () => {
    const config = await loadAgentConfig(
      input(
        {},
        {
          env: {
            ISTIO_META_TLS_SERVER_CERT_CHAIN: '/s/chain.pem',
            ISTIO_META_TLS_SERVER_KEY: '/s/key.pem',
            ISTIO_META_TLS_SERVER_ROOT_CERT: '/root.pem',
            ISTIO_META_TLS_CLIENT_CERT_CHAIN: '',
            ISTIO_META_TLS_CLIENT_ROOT_CERT: '/root.pem',
            ISTIO_AUTO_MTLS_ENABLED: 'true',
          },
        },
      ),
    );
    expect(config.certs).toEqual({
      files: ['/s/chain.pem', '/s/key.pem', '/root.pem', '/etc/certs/key.pem'],
      waitForFiles: true,
      // The client pair has an empty chain and is dropped.
      pairs: [{ cert: '/s/chain.pem', key: '/s/key.pem' }],
    });
  });

  it('resolves statsd to the first IPv4 address', async () => {
    const resolveHost: ResolveHost = async (host) => {
      expect(host).toBe('statsd.monitoring');
      return [
        { address: '2001:db8::1', family: 6 },
        { address: '10.0.0.5', family: 4 },
        { address: '10.0.0.6', family: 4 },
      ];
    };
    const config = await loadAgentConfig(
      input({ statsdUdpAddress: 'statsd.monitoring:9125' }, { resolveHost }),
    );
    expect(config.proxy.statsdUdpAddress).toBe('10.0.0.5:9125');
  });

  it('resolves statsd to the last IPv6 address when there is no IPv4', async () => {
    const resolveHost: ResolveHost = async () => [
      { address: '2001:db8::1', family: 6 },
      { address: '2001:db8::2', family: 6 },
    ];
    const config = await loadAgentConfig(input({ statsdUdpAddress: 'statsd:9125' }, { resolveHost }));
    expect(config.proxy.statsdUdpAddress).toBe('[2001:db8::2]:9125');
  });

  it('disables statsd with a warning when the lookup fails (Istio’s non-fatal case)', async () => {
    const { log, lines } = captureLogger();
    const resolveHost: ResolveHost = async () => {
      throw new Error('getaddrinfo ENOTFOUND statsd');
    };
    const config = await loadAgentConfig(input({ statsdUdpAddress: 'statsd:9125' }, { resolveHost, log }));
    expect(config.proxy.statsdUdpAddress).toBe('');
    expect(lines.find((l) => l.level === 'warn')?.msg).toBe(
      'resolve StatsdUdpAddress failed: lookup failed for statsd: getaddrinfo ENOTFOUND statsd; statsd is disabled',
    );
  });
});

describe('loadAgentConfig: bootstrap template and environment', () => {
  it('uses --templateFile as the per-epoch template; ISTIO_BOOTSTRAP takes precedence', async () => {
    const sidecar = await loadAgentConfig(input({ templateFile: '/t.json', controlPlaneBootstrap: 'false' }));
    expect(sidecar.bootstrapTemplatePath).toBe('/t.json');
    expect(sidecar.proxy.proxyBootstrapTemplatePath).toBe('/t.json');
    const controlPlane = await loadAgentConfig(input({ templateFile: '/t.json' }));
    expect(controlPlane.bootstrapTemplatePath).toBe('/t.json');
    expect(controlPlane.proxy.proxyBootstrapTemplatePath).toBe('');
    const env = await loadAgentConfig(
      input(
        { templateFile: '/t.json' },
        { env: { ISTIO_BOOTSTRAP: '/b.json', ISTIO_BOOTSTRAP_OVERRIDE: '/o.yaml' } },
      ),
    );
    expect(env.bootstrapTemplatePath).toBe('/b.json');
    expect(env.bootstrapOverridePath).toBe('/o.yaml');
    const custom = await loadAgentConfig(input({ templateFile: '/t.json', customConfigFile: '/envoy.yaml' }));
    expect(custom.bootstrapTemplatePath).toBe('');
    expect(custom.proxy.customConfigFile).toBe('/envoy.yaml');
  });

  it('reads the termination and drain variables', async () => {
    const config = await loadAgentConfig(
      input(
        { drainDuration: '20s', restartBudget: '0', inspect: 'true', baseId: '7' },
        {
          env: {
            TERMINATION_DRAIN_DURATION_SECONDS: '12',
            EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true',
            MINIMUM_DRAIN_DURATION: '1m',
            ISTIO_KUBE_APP_PROBERS: '{"/app-health/a/livez":{"httpGet":{"port":8080}}}',
            ISTIO_PROMETHEUS_ANNOTATIONS: '{"scrape":"true"}',
            ISTIO_METAJSON_LABELS: '{"app":"productpage"}',
          },
        },
      ),
    );
    expect(config.lifecycle).toMatchObject({
      terminationDrainMs: 12_000,
      exitOnZeroActiveConnections: true,
      minimumDrainMs: 60_000,
      maximumDrainMs: 20_000,
      restartBudget: 0,
    });
    expect(config.inspect).toBe(true);
    expect(config.baseId).toBe(7);
    expect(config.kubeAppProbers).toBe('{"/app-health/a/livez":{"httpGet":{"port":8080}}}');
    expect(config.prometheusAnnotations).toBe('{"scrape":"true"}');
    expect(config.env.ISTIO_METAJSON_LABELS).toBe('{"app":"productpage"}');
  });

  it('turns on the inspector with PILOT_AGENT_INSPECT=true', async () => {
    expect((await loadAgentConfig(input({}, { env: { PILOT_AGENT_INSPECT: 'true' } }))).inspect).toBe(true);
  });

  it.each([
    [
      { TERMINATION_DRAIN_DURATION_SECONDS: 'abc' },
      'TERMINATION_DRAIN_DURATION_SECONDS="abc" must be a non-negative whole number of seconds',
    ],
    [
      { TERMINATION_DRAIN_DURATION_SECONDS: '-1' },
      'TERMINATION_DRAIN_DURATION_SECONDS="-1" must be a non-negative whole number of seconds',
    ],
    [
      { TERMINATION_GRACE_PERIOD_SECONDS: '30s' },
      'TERMINATION_GRACE_PERIOD_SECONDS="30s" must be a non-negative whole number of seconds',
    ],
    [
      { TERMINATION_GRACE_PERIOD_SECONDS: '-5' },
      'TERMINATION_GRACE_PERIOD_SECONDS="-5" must be a non-negative whole number of seconds',
    ],
    [
      { MINIMUM_DRAIN_DURATION: '5' },
      'MINIMUM_DRAIN_DURATION="5" must be a non-negative duration with a unit, such as "5s"',
    ],
    [
      { EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'maybe' },
      'EXIT_ON_ZERO_ACTIVE_CONNECTIONS="maybe" must be a boolean (true or false)',
    ],
    [{ ISTIO_AUTO_MTLS_ENABLED: 'yes' }, 'ISTIO_AUTO_MTLS_ENABLED="yes" must be a boolean (true or false)'],
    [{ ISTIO_METAJSON_LABELS: '{"app":' }, 'ISTIO_METAJSON_LABELS="{\\"app\\":" must be a JSON object: '],
    [{ ISTIO_METAJSON_ANNOTATIONS: '["a"]' }, 'ISTIO_METAJSON_ANNOTATIONS="[\\"a\\"]" must be a JSON object'],
  ])('rejects the environment %j', async (env, message) => {
    const error = await loadError(loadAgentConfig(input({}, { env })));
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.exitCode).toBe(255);
  });

  it('treats empty bool/int/duration variables as unset', async () => {
    const config = await loadAgentConfig(
      input(
        {},
        {
          env: {
            TERMINATION_DRAIN_DURATION_SECONDS: '',
            TERMINATION_GRACE_PERIOD_SECONDS: '',
            EXIT_ON_ZERO_ACTIVE_CONNECTIONS: '',
            MINIMUM_DRAIN_DURATION: '',
          },
        },
      ),
    );
    expect(config.lifecycle.terminationDrainMs).toBe(5_000);
    expect(config.lifecycle.terminationGracePeriodMs).toBeNull();
  });

  it('warns once when the drain does not fit in the pod grace period, and keeps the configured values', async () => {
    const { log, lines } = captureLogger();
    const config = await loadAgentConfig(
      input(
        {},
        { env: { TERMINATION_DRAIN_DURATION_SECONDS: '30', TERMINATION_GRACE_PERIOD_SECONDS: '20' }, log },
      ),
    );
    const warnings = lines.filter((l) => l.level !== 'info' && l.level !== 'debug');
    expect(warnings.map((l) => l.msg)).toEqual([
      "The drain of 30s (TERMINATION_DRAIN_DURATION_SECONDS) and up to 11s to request it and stop Envoy do not fit in the pod's grace period of 20s (TERMINATION_GRACE_PERIOD_SECONDS) less 1s before kubelet's SIGKILL: the drain is shortened to 8s",
    ]);
    expect(config.lifecycle).toMatchObject({ terminationDrainMs: 30_000, terminationGracePeriodMs: 20_000 });
  });

  it('says nothing louder than info when the shutdown fits', async () => {
    const { log, lines } = captureLogger();
    await loadAgentConfig(input({}, { env: { TERMINATION_GRACE_PERIOD_SECONDS: '30' }, log }));
    expect(lines.filter((l) => l.level !== 'info' && l.level !== 'debug')).toEqual([]);
    expect(lines.map((l) => l.msg)).toContain("The shutdown fits in the pod's grace period");
  });
});

describe('loadAgentConfig: certificate delivery', () => {
  it('hot-restarts by default, as Istio 1.5; the SDS socket is resolved against the working directory', async () => {
    const config = await loadAgentConfig(input({}, { cwd: '/' }));
    expect(config.certDelivery).toBe('hot-restart');
    expect(config.sds.socketPath).toBe('/etc/istio/proxy/SDS');
  });

  it('SDS mode from the flag or the variable; a flag given wins over the variable', async () => {
    const fromFlag = await loadAgentConfig(input({ certDelivery: 'sds' }, { cwd: '/srv/pod' }));
    expect(fromFlag.certDelivery).toBe('sds');
    expect(fromFlag.sds.socketPath).toBe('/srv/pod/etc/istio/proxy/SDS');
    const env = { PILOT_AGENT_CERT_DELIVERY: 'sds' };
    expect((await loadAgentConfig(input({}, { env }))).certDelivery).toBe('sds');
    const given = ['certDelivery'];
    const explicit = await loadAgentConfig(input({ certDelivery: 'hot-restart' }, { env, given }));
    expect(explicit.certDelivery).toBe('hot-restart');
  });

  it('serves the ISTIO_META_TLS_CLIENT_* files as default and ROOTCA, and does not wait for them', async () => {
    const config = await loadAgentConfig(
      input(
        { certDelivery: 'sds', controlPlaneAuthPolicy: 'MUTUAL_TLS', sdsSocketPath: '/run/sds.sock' },
        {
          env: {
            ISTIO_META_TLS_CLIENT_CERT_CHAIN: '/mnt/c/chain.pem',
            ISTIO_META_TLS_CLIENT_KEY: '/mnt/c/key.pem',
            ISTIO_META_TLS_CLIENT_ROOT_CERT: '/mnt/c/root.pem',
          },
        },
      ),
    );
    expect(config.sds).toEqual({
      socketPath: '/run/sds.sock',
      mounted: { certChain: '/mnt/c/chain.pem', key: '/mnt/c/key.pem', rootCert: '/mnt/c/root.pem' },
    });
    // Envoy holds its start until the secrets arrive; the agent watches the files all the same.
    expect(config.certs.waitForFiles).toBe(false);
    expect(config.certs.files).toEqual(expect.arrayContaining(['/mnt/c/chain.pem', '/mnt/c/root.pem']));
  });

  it.each([
    [{ certDelivery: 'file' }, {}, '--certDelivery "file" must be hot-restart or sds'],
    [{}, { PILOT_AGENT_CERT_DELIVERY: 'SDS' }, 'PILOT_AGENT_CERT_DELIVERY="SDS" must be hot-restart or sds'],
    [{ certDelivery: 'sds', sdsSocketPath: '' }, {}, '--sdsSocketPath must not be empty'],
    [
      { certDelivery: 'sds', sdsSocketPath: `/${'x'.repeat(110)}` },
      {},
      `--sdsSocketPath "/${'x'.repeat(110)}" is 111 bytes long; a Unix socket path holds at most 107`,
    ],
    [
      {
        certDelivery: 'sds',
        envoyMetricsService:
          '{"address":"m:1","tlsSettings":{"mode":"MUTUAL","clientCertificate":"/c~1.pem","privateKey":"/k.pem"}}',
      },
      {},
      '"/c~1.pem": with --certDelivery sds a remote service\'s certificate file cannot have "~" in its path',
    ],
  ])('rejects %j %j: one line, exit 255', async (flags, env, message) => {
    const error = await loadError(loadAgentConfig(input(flags, { env })));
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.exitCode).toBe(255);
  });
});

describe('loadAgentConfig: validation (ValidateProxyConfig and our checks)', () => {
  it.each([
    [{ configPath: '' }, '--configPath must not be empty'],
    [{ binaryPath: '' }, '--binaryPath must not be empty'],
    [{ serviceCluster: '' }, '--serviceCluster must not be empty'],
    [{ drainDuration: '0s' }, '--drainDuration 0s must be at least 1ms'],
    [{ drainDuration: '45.5s' }, '--drainDuration 45.5s must be a whole number of seconds'],
    [
      { parentShutdownDuration: '61500ms' },
      '--parentShutdownDuration 1m1.5s must be a whole number of seconds',
    ],
    [
      { parentShutdownDuration: '30s' },
      '--parentShutdownDuration 30s must be greater than --drainDuration 45s',
    ],
    [
      { parentShutdownDuration: '45s' },
      '--parentShutdownDuration 45s must be greater than --drainDuration 45s',
    ],
    [
      { drainDuration: '1h1s', parentShutdownDuration: '1h2s' },
      '--drainDuration 1h0m1s must be at most 1h0m0s',
    ],
    [{ parentShutdownDuration: '2h' }, '--parentShutdownDuration 2h0m0s must be at most 1h0m0s'],
    [{ discoveryAddress: '' }, '--discoveryAddress must not be empty'],
    [
      { discoveryAddress: 'istio-pilot' },
      '--discoveryAddress "istio-pilot" is not a valid host:port address: missing port in address',
    ],
    [
      { discoveryAddress: 'istio-pilot:0' },
      '--discoveryAddress "istio-pilot:0" is not a valid host:port address: port 0 must be in the range 1..65535',
    ],
    [{ discoveryAddress: 'istio-pilot:65536' }, 'port 65536 must be in the range 1..65535'],
    [{ discoveryAddress: 'bad_host:15010' }, '"bad_host" is not a valid hostname or an IP address'],
    [{ zipkinAddress: 'zipkin' }, '--zipkinAddress "zipkin" is not a valid host:port address'],
    [
      { datadogAgentAddress: '$(HOST_IP)' },
      '--datadogAgentAddress "$(HOST_IP)" is not a valid host:port address',
    ],
    [{ lightstepAddress: 'ls:8080' }, '--lightstepAccessToken must be set when --lightstepAddress is used'],
    [{ connectTimeout: '0s' }, '--connectTimeout 0s must be between 1ms and 30s (whole milliseconds)'],
    [{ connectTimeout: '31s' }, '--connectTimeout 31s must be between 1ms and 30s (whole milliseconds)'],
    [{ connectTimeout: '1.5ms' }, '--connectTimeout 1.5ms must be between 1ms and 30s (whole milliseconds)'],
    [{ statsdUdpAddress: 'statsd' }, '--statsdUdpAddress "statsd" is not a valid host:port address'],
    [
      { envoyMetricsService: '{"address":"metrics"}' },
      '--envoyMetricsService address "metrics" is not a valid host:port address',
    ],
    [
      { envoyAccessLogService: '{"address":"als:0"}' },
      '--envoyAccessLogService address "als:0" is not a valid host:port address',
    ],
    [{ proxyAdminPort: '0' }, '--proxyAdminPort 0 must be in the range 1..65535'],
    [
      { serviceregistry: 'Eureka' },
      '--serviceregistry "Eureka" must be one of Kubernetes, Consul, Mock, MCP',
    ],
    [{ ip: '10.0.0' }, '--ip "10.0.0" must be an IP address'],
    [{ concurrency: '-1' }, "--concurrency -1 must be 0 (Envoy's default) or more"],
    [{ stsPort: '70000' }, '--stsPort 70000 must be in the range 0..65535'],
    [{ restartBudget: '-1' }, '--restartBudget -1 must be 0 (never restart) or more'],
    [
      { proxyLogLevel: 'loud' },
      '--proxyLogLevel "loud" must be one of trace, debug, info, warning, warn, error, critical, off',
    ],
    [{ proxyComponentLogLevel: 'misc' }, '--proxyComponentLogLevel "misc" must be <component>:<level>,...'],
    [{ dnsRefreshRate: '300' }, '--dnsRefreshRate "300" must be a duration greater than 1ms'],
  ])('rejects %j', async (flags, message) => {
    const error = await loadError(loadAgentConfig(input(flags)));
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('\n');
    expect(error.exitCode).toBe(255);
  });

  it('accepts the boundaries', async () => {
    const config = await loadAgentConfig(
      input({
        drainDuration: '1s',
        parentShutdownDuration: '1h',
        connectTimeout: '30s',
        proxyAdminPort: '65535',
        discoveryAddress: '[2001:db8::1]:15010',
        datadogAgentAddress: '$(HOST_IP):8126',
        proxyComponentLogLevel: 'misc:error,upstream:debug',
      }),
    );
    expect(config.proxy.parentShutdownDurationMs).toBe(3_600_000);
  });

  it('reports every validation problem on one line', async () => {
    const error = await loadError(loadAgentConfig(input({ configPath: '', proxyAdminPort: '0' })));
    expect(error.message).toBe(
      '--configPath must not be empty; --proxyAdminPort 0 must be in the range 1..65535',
    );
  });
});

// Istio 1.5 main_test.go TestDedupeStrings (there: any order; here: first occurrence kept, on purpose).
it('dedupes certificate paths, keeping the first occurrence of each', () => {
  const chain = '/etc/certs/cert-chain.pem';
  const key = '/etc/certs/key.pem';
  const root = '/etc/certs/root-cert.pem';
  expect(dedupeKeepOrder([chain, key, root, chain, key, root])).toEqual([chain, key, root]);
  expect(dedupeKeepOrder(['', root, '', chain, root])).toEqual([root, chain]);
});
