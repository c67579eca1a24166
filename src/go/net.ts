/**
 * Go's `net` package as Istio uses it: IP addresses as `net.ParseIP` and `net.IP.String()` treat
 * them, because Istio writes the normalised form into the service node (`sidecar~<ip>~…`), decides
 * IPv6 mode with `To4()` (an IPv4-mapped IPv6 address, `::ffff:1.2.3.4`, is IPv4 and prints as
 * `1.2.3.4`) and base64-encodes the 16-byte form into the `PodIP` template option; and
 * `net.SplitHostPort` for every `host:port` flag.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ParsedIp {
  /** 4 for IPv4 and IPv4-mapped IPv6 (Go `To4() != nil`), else 6. */
  family: 4 | 6;
  /** Go `net.IP.String()`. */
  text: string;
  /** The 16-byte form as 8 groups (IPv4 is mapped into `::ffff:a.b.c.d`). */
  groups: number[];
}

/** Go `net.ParseIP` followed by `String()`; `undefined` when Go would return nil (zones included). */
export function parseIp(input: string): ParsedIp | undefined {
  if (isIPv4(input)) {
    const bytes = input.split('.').map(Number) as [number, number, number, number];
    return { family: 4, text: bytes.join('.'), groups: mapV4(bytes) };
  }
  if (!isIPv6(input) || input.includes('%')) return undefined;
  const groups = ipv6Groups(input);
  if (groups === undefined) return undefined;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    const hi = groups[6] ?? 0;
    const lo = groups[7] ?? 0;
    const bytes: [number, number, number, number] = [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
    return { family: 4, text: bytes.join('.'), groups };
  }
  return { family: 6, text: formatIpv6(groups), groups };
}

function mapV4(bytes: [number, number, number, number]): number[] {
  return [0, 0, 0, 0, 0, 0xffff, (bytes[0] << 8) | bytes[1], (bytes[2] << 8) | bytes[3]];
}

function ipv6Groups(input: string): number[] | undefined {
  let text = input;
  // A trailing dotted quad stands for the last two groups: rewrite it as two hex groups first.
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    if (!isIPv4(maybeV4)) return undefined;
    const b = maybeV4.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const head = parse(halves[0] ?? '');
  const rest = halves.length > 1 ? parse(halves[1] ?? '') : [];
  const zeros = halves.length > 1 ? 8 - head.length - rest.length : 0;
  if (zeros < 0) return undefined;
  const groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : undefined;
}

/** RFC 5952 / Go: the longest run of two or more zero groups (the first on a tie) becomes `::`. */
function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Go `ip.IsUnspecified()`: `0.0.0.0` or `::`. */
export function isUnspecified(ip: ParsedIp): boolean {
  return ip.family === 4 ? ip.text === '0.0.0.0' : ip.groups.every((g) => g === 0);
}

/** Go `ip.IsLoopback()`: 127.0.0.0/8 or `::1`. */
export function isLoopback(ip: ParsedIp): boolean {
  if (ip.family === 4) return ip.text.startsWith('127.');
  return ip.groups.slice(0, 7).every((g) => g === 0) && ip.groups[7] === 1;
}

/** The 16 bytes of Go's `net.IP` as `net.ParseIP` returns it (IPv4 in its IPv4-mapped form). */
export function ipBytes16(ip: ParsedIp): number[] {
  return ip.groups.flatMap((g) => [g >> 8, g & 0xff]);
}

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
