import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  controlPlaneNamespace,
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
} from '../../src/config/identity.js';

function addr(address: string, internal = false): NetworkInterfaceInfo {
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  return family === 'IPv6'
    ? {
        address,
        family,
        internal,
        netmask: 'ffff:ffff:ffff:ffff::',
        mac: '00:00:00:00:00:00',
        cidr: null,
        scopeid: 0,
      }
    : { address, family, internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null };
}

/**
 * Istio 1.5 pilot/cmd/pilot-agent/main_test.go: the SAN tests call setSpiffeTrustDomain then getSAN
 * with namespace "anything"; here that is sanTrustDomain + spiffeSan.
 */
describe('Pilot and Mixer SANs (main_test.go vectors)', () => {
  const san = (input: Parameters<typeof sanTrustDomain>[0], identity = '') =>
    spiffeSan(sanTrustDomain(input), 'anything', PILOT_SERVICE_ACCOUNT, identity);
  const k8s = { trustDomainFlag: '', registry: 'Kubernetes', podNamespace: '', domain: '' } as const;

  it('Kubernetes, empty domain → cluster.local', () => {
    expect(san(k8s)).toEqual(['spiffe://cluster.local/ns/anything/sa/istio-pilot-service-account']);
  });
  it('Kubernetes, domain my.domain → the domain is the trust domain', () => {
    expect(san({ ...k8s, domain: 'my.domain' })).toEqual([
      'spiffe://my.domain/ns/anything/sa/istio-pilot-service-account',
    ]);
  });
  it('Consul, empty domain → empty trust domain (spiffe:///…, kept as upstream)', () => {
    expect(san({ ...k8s, registry: 'Consul' })).toEqual([
      'spiffe:///ns/anything/sa/istio-pilot-service-account',
    ]);
  });
  it('trust domain "secured" wins, with or without a domain', () => {
    expect(san({ ...k8s, trustDomainFlag: 'secured' })).toEqual([
      'spiffe://secured/ns/anything/sa/istio-pilot-service-account',
    ]);
    expect(san({ ...k8s, trustDomainFlag: 'secured', domain: 'my.domain' })).toEqual([
      'spiffe://secured/ns/anything/sa/istio-pilot-service-account',
    ]);
  });
  it('standard domains: .svc.cluster.local (empty namespace) and service.consul', () => {
    expect(san({ ...k8s, domain: '.svc.cluster.local' })).toEqual([
      'spiffe://cluster.local/ns/anything/sa/istio-pilot-service-account',
    ]);
    expect(san({ ...k8s, registry: 'Consul', domain: 'service.consul' })).toEqual([
      'spiffe:///ns/anything/sa/istio-pilot-service-account',
    ]);
  });
  it('custom identities: --pilotIdentity and --mixerIdentity', () => {
    expect(san(k8s, 'pilot-identity')).toEqual(['spiffe://cluster.local/pilot-identity']);
    expect(san({ ...k8s, trustDomainFlag: 'mesh.com' }, 'pilot-identity')).toEqual([
      'spiffe://mesh.com/pilot-identity',
    ]);
    const td = sanTrustDomain({ ...k8s, trustDomainFlag: 'mesh.com' });
    expect(spiffeSan(td, '', MIXER_SERVICE_ACCOUNT, 'mixer-identity')).toEqual([
      'spiffe://mesh.com/mixer-identity',
    ]);
  });
  it('without a namespace the service account is the identity (Consul in the real flow)', () => {
    expect(spiffeSan('', '', PILOT_SERVICE_ACCOUNT, '')).toEqual(['spiffe:///istio-pilot-service-account']);
  });
});

describe('DNS domain (main_test.go TestPilotDefaultDomain*)', () => {
  it.each([
    ['Kubernetes', 'default', '', 'default.svc.cluster.local'],
    ['Consul', '', '', 'service.consul'],
    ['Mock', '', '', ''],
    ['Mock', '', 'my.domain', 'my.domain'],
  ] as const)('%s ns=%j flag=%j → %j', (registry, ns, flag, expected) => {
    expect(dnsDomain(registry, ns, flag)).toBe(expected);
  });
});

describe('control-plane namespace of the Pilot SAN', () => {
  const base = { registry: 'Kubernetes', podNamespace: 'app-ns', istioNamespace: '' } as const;
  it('one label → pod namespace; two → second label; more → ISTIO_NAMESPACE or istio-system', () => {
    expect(controlPlaneNamespace({ ...base, discoveryAddress: 'istio-pilot:15010' })).toBe('app-ns');
    expect(controlPlaneNamespace({ ...base, discoveryAddress: 'istio-pilot.istio-system:15010' })).toBe(
      'istio-system',
    );
    expect(controlPlaneNamespace({ ...base, discoveryAddress: 'istio-pilot.cp.svc:15010' })).toBe(
      'istio-system',
    );
    expect(
      controlPlaneNamespace({ ...base, istioNamespace: 'cp', discoveryAddress: 'pilot.cp.svc:15010' }),
    ).toBe('cp');
    expect(
      controlPlaneNamespace({ ...base, registry: 'Consul', discoveryAddress: 'istio-pilot:15010' }),
    ).toBe('');
  });
});

describe('node IPs, ID and service node (spec §1.4)', () => {
  it('puts --ip first, else INSTANCE_IP normalised, then discovered addresses (duplicates kept)', () => {
    expect(nodeIpAddresses({ ipFlag: '10.0.0.9', instanceIp: '10.0.0.1', discovered: ['10.0.0.1'] })).toEqual(
      ['10.0.0.9', '10.0.0.1'],
    );
    expect(nodeIpAddresses({ ipFlag: '', instanceIp: '::ffff:10.0.0.1', discovered: ['10.0.0.1'] })).toEqual([
      '10.0.0.1',
      '10.0.0.1',
    ]);
    expect(nodeIpAddresses({ ipFlag: '', instanceIp: 'garbage', discovered: ['fe80::1'] })).toEqual([
      'fe80::1',
    ]);
  });

  it('falls back to 127.0.0.1 and ::1', () => {
    expect(nodeIpAddresses({ ipFlag: '', instanceIp: '', discovered: [] })).toEqual(['127.0.0.1', '::1']);
  });

  it('derives the ID per registry, including the "." quirk', () => {
    expect(defaultNodeId('Kubernetes', ['10.0.0.1'], 'pod', 'ns')).toBe('pod.ns');
    expect(defaultNodeId('Kubernetes', ['10.0.0.1'], '', '')).toBe('.');
    expect(defaultNodeId('Consul', ['10.0.0.1'], 'pod', 'ns')).toBe('10.0.0.1.service.consul');
    expect(defaultNodeId('Mock', ['10.0.0.1'], 'pod', 'ns')).toBe('10.0.0.1');
    expect(defaultNodeId('MCP', ['::1'], '', '')).toBe('::1');
  });

  it('joins type~ip~id~domain', () => {
    expect(
      serviceNode(
        'sidecar',
        ['10.1.2.3', '10.0.0.1'],
        'productpage-v1-6b7f.default',
        'default.svc.cluster.local',
      ),
    ).toBe('sidecar~10.1.2.3~productpage-v1-6b7f.default~default.svc.cluster.local');
    expect(serviceNode('router', [], 'x', '')).toBe('router~~x~');
  });
});

describe('private IP discovery (pilot/pkg/proxy/net.go)', () => {
  const interfaces: NetworkInterfaces = {
    lo: [addr('127.0.0.1', true), addr('::1', true)],
    eth0: [addr('10.4.0.7'), addr('fe80::a8b:ff:fe00:7')],
    eth1: [addr('192.168.1.2'), addr('2001:db8::7')],
  };

  it('lists every non-loopback address, IPv6 link-local included', () => {
    expect(privateIpsOf(interfaces)).toEqual({
      ips: ['10.4.0.7', 'fe80::a8b:ff:fe00:7', '192.168.1.2', '2001:db8::7'],
      ok: true,
    });
  });

  it('skips loopback addresses even on a non-loopback interface', () => {
    expect(privateIpsOf({ dummy: [addr('127.0.0.2'), addr('10.0.0.3')] })).toEqual({
      ips: ['10.0.0.3'],
      ok: true,
    });
  });

  it('is not ok while an interface reports an unspecified address', () => {
    expect(privateIpsOf({ eth0: [addr('0.0.0.0'), addr('10.0.0.3')] })).toEqual({
      ips: ['10.0.0.3'],
      ok: false,
    });
  });

  it('polls until the unspecified address is gone', async () => {
    let reads = 0;
    const slept: number[] = [];
    const result = await discoverPrivateIps(
      () => (++reads < 3 ? { eth0: [addr('::')] } : { eth0: [addr('10.0.0.5')] }),
      { sleep: async (ms) => void slept.push(ms), now: () => 0 },
    );
    expect(result).toEqual({ ips: ['10.0.0.5'], ok: true });
    expect(slept).toEqual([100, 100]);
  });

  it('gives up after the timeout with ok=false', async () => {
    let clock = 0;
    const result = await discoverPrivateIps(() => ({ eth0: [addr('0.0.0.0')] }), {
      sleep: async (ms) => {
        clock += ms;
      },
      now: () => clock,
    });
    expect(result.ok).toBe(false);
    expect(clock).toBe(120_000);
  });
});

describe('IPv6 mode (Istio isIPv6Proxy)', () => {
  // Istio 1.5 pilot/cmd/pilot-agent/main_test.go TestIsIPv6Proxy.
  it.each([
    ['ipv4 only', ['1.1.1.1', '127.0.0.1', '2.2.2.2'], false],
    ['ipv6 only', ['1111:2222::1', '::1', '2222:3333::1'], true],
    ['mixed ipv4 and ipv6', ['1111:2222::1', '::1', '127.0.0.1', '2.2.2.2', '2222:3333::1'], false],
  ])('isIPv6Proxy: %s', (_name, addrs, expected) => {
    expect(isIpv6Proxy(addrs)).toBe(expected);
  });

  it('skips unparseable entries and treats IPv4-mapped addresses as IPv4', () => {
    expect(isIpv6Proxy(['not-an-ip', '::1'])).toBe(true);
    expect(isIpv6Proxy(['::ffff:1.2.3.4', '::1'])).toBe(false);
  });
});
