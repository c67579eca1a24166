/**
 * The statsd address is resolved once at start-up, as Istio 1.5 `pilot/pkg/proxy/resolve.go`
 * `ResolveAddr` does: DNS lookup with a 15 s timeout, the first IPv4 result as `a.b.c.d:port`,
 * otherwise the last IPv6 result as `[v6]:port`. A failed lookup is Istio's one deliberate non-fatal
 * start-up problem: a warning, and statsd is disabled. We keep that behaviour.
 */
import { lookup } from 'node:dns/promises';
import { formatGoDuration } from '../go/duration.js';
import { parseIp, splitHostPort } from '../go/net.js';
import { STARTUP_WAITS } from './defaults.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to its addresses (injected in tests). */
export type ResolveHost = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolveHost: ResolveHost = (host) => lookup(host, { all: true, verbatim: true });

export async function resolveStatsdAddress(
  address: string,
  resolveHost: ResolveHost = systemResolveHost,
  timeoutMs: number = STARTUP_WAITS.statsdResolveTimeoutMs,
): Promise<{ address: string } | { error: string }> {
  const split = splitHostPort(address);
  if ('error' in split) return { error: `address ${address}: ${split.error}` };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`lookup of ${split.host} timed out after ${formatGoDuration(timeoutMs)}`)),
      timeoutMs,
    );
    timer.unref();
  });
  let results: ResolvedAddress[];
  try {
    results = await Promise.race([resolveHost(split.host), timeout]);
  } catch (err) {
    return { error: `lookup failed for ${split.host}: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
  }
  let resolved: string | undefined;
  for (const entry of results) {
    const ip = parseIp(entry.address);
    if (ip === undefined) continue;
    if (ip.family === 4) {
      resolved = `${ip.text}:${split.port}`;
      break;
    }
    resolved = `[${ip.text}]:${split.port}`;
  }
  return resolved === undefined
    ? { error: `lookup failed for ${split.host}: no addresses` }
    : { address: resolved };
}
