/**
 * `pilot-agent proxy [sidecar|router]`: log the flags and the version as Istio does at start-up,
 * build the validated config, then hand over to the runtime (loaded lazily, so `version`, `wait` and
 * `request` never load the machines).
 */

import {
  type FlagSpec,
  flagLogLines,
  LOG_FLAGS,
  type LogFlagValues,
  PROXY_FLAGS,
  type ProxyFlagValues,
} from '../../config/flags.js';
import type { NetworkInterfaces } from '../../config/identity.js';
import { loadAgentConfig } from '../../config/load.js';
import type { ResolveHost } from '../../config/statsd.js';
import type { AgentConfig } from '../../config/types.js';
import type { RunOutcome } from '../../errors.js';
import type { Logger } from '../../log.js';
import { buildInfo, buildInfoString } from './build-info.js';

/** `src/runtime/run-proxy.ts`: runs the agent and resolves with how it ended. */
export type RunProxy = (config: AgentConfig, log: Logger) => Promise<RunOutcome>;

export interface ProxyCommandInput {
  role: string | undefined;
  flags: ProxyFlagValues;
  /** Names of the `proxy` flags given on the command line. */
  given?: readonly string[];
  logFlags: LogFlagValues;
  /** Unknown and unimplemented root flags, as typed. */
  ignored: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  runProxy?: RunProxy;
  interfaces?: NetworkInterfaces | (() => NetworkInterfaces);
  resolveHost?: ResolveHost;
}

function entries<T extends Readonly<Record<string, FlagSpec>>>(
  table: T,
  values: Readonly<Record<keyof T, string | number | boolean>>,
): [string, FlagSpec, string | number | boolean][] {
  return Object.entries(table).map(([name, spec]) => [name, spec, values[name as keyof T]]);
}

export async function runProxyCommand(input: ProxyCommandInput): Promise<RunOutcome> {
  const { log } = input;
  // Istio `cmd.PrintFlags`: every flag, as `FLAG: --name="value"` (we log them at debug level).
  for (const line of flagLogLines([
    ...entries(PROXY_FLAGS, input.flags),
    ...entries(LOG_FLAGS, input.logFlags),
  ])) {
    log.debug(line);
  }
  log.info(`Version ${buildInfoString(buildInfo())}`);
  const config = await loadAgentConfig({
    ...(input.role !== undefined ? { role: input.role } : {}),
    flags: input.flags,
    ...(input.given !== undefined ? { given: input.given } : {}),
    env: input.env,
    ignored: input.ignored,
    log,
    ...(input.interfaces !== undefined ? { interfaces: input.interfaces } : {}),
    ...(input.resolveHost !== undefined ? { resolveHost: input.resolveHost } : {}),
  });
  // Istio logs the effective ProxyConfig, the proxy role and the SANs before starting anything.
  log.info({ proxyConfig: config.proxy }, 'Effective config');
  log.info({ node: config.node }, 'Proxy role');
  log.info({ pilotSAN: config.pilotSAN, mixerSAN: config.mixerSAN }, 'Control plane SANs');
  const runProxy = input.runProxy ?? (await import('../../runtime/run-proxy.js')).runProxy;
  return runProxy(config, log);
}
