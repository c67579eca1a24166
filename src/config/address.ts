/**
 * `host:port` checks as Istio 1.5's `validation.ValidateProxyAddress` makes them (used for the
 * discovery, tracer, statsd and remote-service addresses): Go `net.SplitHostPort`, a decimal port in
 * 1..65535, and a host that is an RFC 1123 DNS name or an IP address.
 */
import { parseIp, splitHostPort } from '../go/net.js';
import { parseGoAtoi } from '../go/strconv.js';

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
