/**
 * Who this proxy is, exactly as Istio 1.5 works it out (`pilot/cmd/pilot-agent/main.go` `RunE`,
 * `pilot/pkg/proxy/net.go`, `pilot/pkg/model/context.go`): the IP list, IPv6 mode, the proxy ID, the
 * DNS domain, the service node string `type~ip~id~domain`, the trust domain, and the Pilot/Mixer
 * SPIFFE SANs used under MUTUAL_TLS. Every function here is pure except `discoverPrivateIps`, which
 * polls the interface list it is given.
 */
import type { networkInterfaces } from 'node:os';
import { isLoopback, isUnspecified, parseIp } from '../go/net.js';
import { STARTUP_WAITS } from './defaults.js';
import type { NodeType, ServiceRegistry } from './types.js';

/** The shape `os.networkInterfaces()` returns. */
export type NetworkInterfaces = ReturnType<typeof networkInterfaces>;

/**
 * Istio `getPrivateIPsIfAvailable`: every address of every up, non-loopback interface, minus loopback
 * addresses; IPv6 link-local addresses are kept (Istio 1.5 does not filter them). `ok` is false while
 * some interface still reports an unspecified address (`0.0.0.0`, `::`), which Istio waits out.
 *
 * `os.networkInterfaces()` (libuv `uv_interface_addresses`) lists only interfaces that are up and
 * running, and marks addresses of loopback interfaces `internal`, so both of Istio's interface
 * filters reduce to skipping `internal` entries.
 */
export function privateIpsOf(interfaces: NetworkInterfaces): { ips: string[]; ok: boolean } {
  const ips: string[] = [];
  let ok = true;
  for (const addresses of Object.values(interfaces)) {
    for (const entry of addresses ?? []) {
      if (entry.internal) continue;
      const ip = parseIp(entry.address);
      if (ip === undefined || isLoopback(ip)) continue;
      if (isUnspecified(ip)) {
        ok = false;
        continue;
      }
      ips.push(ip.text);
    }
  }
  return { ips, ok };
}

export interface DiscoverOptions {
  pollMs?: number;
  timeoutMs?: number;
  /** Injected for tests; resolves after `ms`. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Istio `GetPrivateIPs`: re-reads the interfaces every 100 ms for up to 2 min until none reports an
 * unspecified address. On timeout the result is `ok: false` and Istio appends none of the addresses.
 */
export async function discoverPrivateIps(
  read: () => NetworkInterfaces,
  options: DiscoverOptions = {},
): Promise<{ ips: string[]; ok: boolean }> {
  const pollMs = options.pollMs ?? STARTUP_WAITS.privateIpPollMs;
  const timeoutMs = options.timeoutMs ?? STARTUP_WAITS.privateIpTimeoutMs;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + timeoutMs;
  for (;;) {
    const found = privateIpsOf(read());
    if (found.ok || now() >= deadline) return found;
    await sleep(pollMs);
  }
}

/**
 * The node's IP list: `--ip`, else INSTANCE_IP when it parses (normalised as Go prints it), then every
 * discovered address (duplicates of the pod IP are kept, as Istio does), else `127.0.0.1, ::1`.
 */
export function nodeIpAddresses(input: {
  ipFlag: string;
  instanceIp: string;
  discovered: readonly string[];
}): string[] {
  const ips: string[] = [];
  if (input.ipFlag !== '') ips.push(input.ipFlag);
  else {
    const pod = parseIp(input.instanceIp);
    if (pod !== undefined) ips.push(pod.text);
  }
  ips.push(...input.discovered);
  return ips.length > 0 ? ips : ['127.0.0.1', '::1'];
}

/**
 * Istio `isIPv6Proxy`: true iff no parseable entry is IPv4 (unparseable entries are skipped, so an
 * empty or all-garbage list is IPv6). Mixed lists run Envoy in IPv4 mode.
 */
export function isIpv6Proxy(addresses: readonly string[]): boolean {
  return !addresses.some((a) => parseIp(a)?.family === 4);
}

/** Istio's proxy ID when `--id` is empty. Kubernetes gives `"."` when both pod variables are unset (quirk kept). */
export function defaultNodeId(
  registry: ServiceRegistry,
  ips: readonly string[],
  podName: string,
  podNamespace: string,
): string {
  if (registry === 'Kubernetes') return `${podName}.${podNamespace}`;
  if (registry === 'Consul') return `${ips[0] ?? ''}.service.consul`;
  return ips[0] ?? '';
}

/** Istio `getDNSDomain`. */
export function dnsDomain(registry: ServiceRegistry, podNamespace: string, domainFlag: string): string {
  if (domainFlag !== '') return domainFlag;
  if (registry === 'Kubernetes') return `${podNamespace}.svc.cluster.local`;
  if (registry === 'Consul') return 'service.consul';
  return '';
}

/** Istio `Proxy.ServiceNode()`: `type~ip~id~domain`, ip being the first address. */
export function serviceNode(type: NodeType, ips: readonly string[], id: string, domain: string): string {
  return [type, ips[0] ?? '', id, domain].join('~');
}

/**
 * The trust domain of the Pilot and Mixer SANs under MUTUAL_TLS (Istio `setSpiffeTrustDomain`):
 * `--trust-domain` when set; else `cluster.local` for Kubernetes with the default or no DNS domain,
 * `""` for Consul with `service.consul` or no domain (yielding `spiffe:///…`), otherwise the domain.
 */
export function sanTrustDomain(input: {
  trustDomainFlag: string;
  registry: ServiceRegistry;
  podNamespace: string;
  domain: string;
}): string {
  if (input.trustDomainFlag !== '') return input.trustDomainFlag;
  const { registry, domain } = input;
  if (registry === 'Kubernetes' && (domain === `${input.podNamespace}.svc.cluster.local` || domain === '')) {
    return 'cluster.local';
  }
  if (registry === 'Consul' && (domain === 'service.consul' || domain === '')) return '';
  return domain;
}

/**
 * Istio `getControlPlaneNamespace`: for Kubernetes the Pilot namespace comes from the discovery host:
 * one label → the pod's namespace; two → the second label; more → ISTIO_NAMESPACE or `istio-system`.
 * Other registries have none ('').
 */
export function controlPlaneNamespace(input: {
  registry: ServiceRegistry;
  podNamespace: string;
  discoveryAddress: string;
  istioNamespace: string;
}): string {
  if (input.registry !== 'Kubernetes') return '';
  const host = input.discoveryAddress.split(':')[0] ?? '';
  const labels = host.split('.');
  if (labels.length === 1) return input.podNamespace;
  if (labels.length === 2) return labels[1] ?? '';
  return input.istioNamespace !== '' ? input.istioNamespace : 'istio-system';
}

/**
 * Istio `getSAN` → `envoy.GetSAN`: `spiffe://<td>/ns/<ns>/sa/<account>`, or with an override
 * identity `spiffe://<td>/<identity>`; with no namespace the account itself is the identity.
 */
export function spiffeSan(
  trustDomain: string,
  namespace: string,
  serviceAccount: string,
  identity: string,
): string[] {
  if (identity !== '') return [`spiffe://${trustDomain}/${identity}`];
  if (namespace !== '') return [`spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`];
  return [`spiffe://${trustDomain}/${serviceAccount}`];
}

/** Istio 1.5 `envoyDiscovery.PilotSvcAccName` / `MixerSvcAccName`. */
export const PILOT_SERVICE_ACCOUNT = 'istio-pilot-service-account';
export const MIXER_SERVICE_ACCOUNT = 'istio-mixer-service-account';
