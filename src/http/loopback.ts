/**
 * "Only requests from localhost are allowed": the guard of the status server's local-only
 * endpoints (`/quitquitquit`, `/drain`, `/debug/*`) and of the inspector relay. The status port
 * listens on every interface because kubelet probes it on the pod IP, so these endpoints must
 * check the caller.
 *
 * Loopback is 127.0.0.0/8, ::1, and 127.0.0.0/8 written as an IPv4-mapped IPv6 address
 * (::ffff:127.0.0.0/104), which is how a dual-stack listener reports IPv4 callers. An address that
 * is missing or does not parse is not loopback (Istio `IsRequestFromLocalhost`, spec §5.3).
 */
import { BlockList, isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
// BlockList matches IPv4-mapped IPv6 addresses against the IPv4 rule; said again for the reader.
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

export function isLoopbackAddress(address: string | undefined): boolean {
  const family = address === undefined ? 0 : isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address as string, family === 6 ? 'ipv6' : 'ipv4');
}

export const LOCAL_ONLY_MESSAGE = 'Only requests from localhost are allowed\n';

/**
 * Answers 403 and returns false unless the request came over loopback. The peer address of the
 * connection is used, never a header: anyone can write X-Forwarded-For.
 */
export function allowLocalOnly(req: FastifyRequest, reply: FastifyReply): boolean {
  if (isLoopbackAddress(req.socket.remoteAddress)) return true;
  void reply.code(403).type('text/plain').send(LOCAL_ONLY_MESSAGE);
  return false;
}
