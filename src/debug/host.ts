/**
 * The second check of the debug endpoints and the inspector relay, after the peer address: the
 * `Host` header must name this machine's loopback. A loopback peer is not enough on its own when
 * the port is forwarded to a developer's laptop (`kubectl port-forward`): a web page the
 * developer visits can make the browser itself the loopback peer, through DNS rebinding (a name
 * of the attacker's that resolves to 127.0.0.1). Browsers always send the name they resolved, so
 * a `Host` other than `localhost` or a loopback address is refused. A request without `Host` is
 * not from a browser (HTTP/1.0 tooling) and passes.
 */
import { isLoopbackAddress } from '../http/loopback.js';

export const LOCAL_HOST_MESSAGE = 'Host must be localhost or a loopback address\n';

/** The host name of a `Host` header (`[::1]:15020` → `::1`), lower-cased, without a trailing dot. */
export function hostName(header: string): string {
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(1, end);
  }
  const colon = host.indexOf(':');
  // More than one colon without brackets is an IPv6 literal with no port.
  const name = colon >= 0 && host.indexOf(':', colon + 1) < 0 ? host.slice(0, colon) : host;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function isLocalHostHeader(header: string | undefined): boolean {
  if (header === undefined) return true;
  const name = hostName(header);
  return name === 'localhost' || isLoopbackAddress(name);
}
