/**
 * `host:port` checks as Istio 1.5's `validation.ValidateProxyAddress` makes them (used for the
 * discovery, tracer, statsd and remote-service addresses): Go `net.SplitHostPort`, a decimal port in
 * 1..65535, and a host that is an RFC 1123 DNS name or an IP address.
 */
import { parseGoAtoi } from './go-values.js';
import { parseIp } from './ip.js';

export interface HostPort {
  host: string;
  port: string;
}

/** Go `net.SplitHostPort`; the error text is Go's reason (`missing port in address`, …). */
export function splitHostPort(hostport: string): HostPort | { error: string } {
  const last = hostport.lastIndexOf(':');
  if (last < 0) return { error: 'missing port in address' };
  let host: string;
  let from = 0;
  let after = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return { error: "missing ']' in address" };
    if (end + 1 === hostport.length) return { error: 'missing port in address' };
    if (end + 1 !== last) {
      return { error: hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address' };
    }
    host = hostport.slice(1, end);
    from = 1;
    after = end + 1;
  } else {
    host = hostport.slice(0, last);
    if (host.includes(':')) return { error: 'too many colons in address' };
  }
  if (hostport.slice(from).includes('[')) return { error: "unexpected '[' in address" };
  if (hostport.slice(after).includes(']')) return { error: "unexpected ']' in address" };
  return { host, port: hostport.slice(last + 1) };
}

const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;

/** Istio 1.5 `ValidateFQDN`: 1..255 characters, every dot-separated label an RFC 1123 label. */
export function isValidFqdn(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  return name.split('.').every((label) => label.length <= 63 && DNS1123_LABEL.test(label));
}

/** Istio `ValidatePort`: 1..65535. */
export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/**
 * Istio `ValidateProxyAddress`. Returns the reason the address is invalid, or `undefined` when it is
 * valid. Reasons are phrased for a message that already names the flag and the value.
 */
export function proxyAddressProblem(address: string): string | undefined {
  const split = splitHostPort(address);
  if ('error' in split) return split.error;
  const port = parseGoAtoi(split.port);
  if (port === undefined) return `port "${split.port}" is not a number`;
  if (!isValidPort(port)) return `port ${port} must be in the range 1..65535`;
  if (!isValidFqdn(split.host) && parseIp(split.host) === undefined) {
    return `"${split.host}" is not a valid hostname or an IP address`;
  }
  return undefined;
}
