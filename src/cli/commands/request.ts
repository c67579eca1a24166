/**
 * `pilot-agent request <method> <path> [<body>] [--debug-port N]` (Istio ≥1.11
 * `pilot/cmd/pilot-agent/app/request.go`, `pilot/pkg/request/command.go`): one request to
 * `http://localhost:<port>/<path>` with a 60 s timeout. Statuses above 399 fail, except 404 (Istio
 * treats it as an answer). The body is printed followed by a newline and nothing else reaches stdout:
 * `istioctl proxy-config` parses this output as JSON.
 */

import { DEFAULT_REQUEST } from '../../config/defaults.js';
import type { RequestFlagValues } from '../../config/flags.js';
import { AgentError, usageError } from '../../errors.js';
import { httpCall } from './http-get.js';

export interface RequestIo {
  stdout: { write(chunk: string | Uint8Array): unknown };
}

export interface RequestDeps {
  /**
   * Where to connect for a debug port (tests point the allowed ports at a server of their own; the
   * URL in messages stays Istio's). Default: the URL's own host and port.
   */
  connectTo?: (debugPort: number) => { host: string; port: number };
}

/** The URL Istio builds: one leading slash of the path is dropped. */
export function requestUrl(port: number, path: string): string {
  return `http://localhost:${port}/${path.startsWith('/') ? path.slice(1) : path}`;
}

export async function runRequest(
  args: readonly string[],
  flags: RequestFlagValues,
  io: RequestIo,
  deps: RequestDeps = {},
): Promise<number> {
  // cobra validates the argument count before PreRunE checks the port.
  if (args.length < 2) throw usageError(`requires at least 2 arg(s), only received ${args.length}`);
  const port = flags['debug-port'];
  const allowed: readonly number[] = DEFAULT_REQUEST.allowedPorts;
  if (!allowed.includes(port)) {
    throw usageError(`debug port ${port} is not in allowed list [${allowed.join(' ')}]`);
  }
  const [method = '', path = '', body = ''] = args;
  let result: Awaited<ReturnType<typeof httpCall>>;
  try {
    result = await httpCall(method, requestUrl(port, path), {
      body,
      timeoutMs: DEFAULT_REQUEST.timeoutMs,
      ...(deps.connectTo ? { connectTo: deps.connectTo(port) } : {}),
    });
  } catch (err) {
    throw new AgentError('usage', err instanceof Error ? err.message : String(err));
  }
  if (result.status > 399 && result.status !== 404) {
    throw new AgentError(
      'usage',
      `received unsuccessful status code ${result.status}: ${result.body.toString('utf8')}`,
    );
  }
  io.stdout.write(result.body);
  io.stdout.write('\n');
  return 0;
}
