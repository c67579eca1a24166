/**
 * Envoy's command line for one epoch, in the exact order of Istio 1.5's `envoy.args`
 * (`pkg/envoy/proxy.go`, pinned by its `TestEnvoyArgs`), with two deliberate differences:
 *
 * - no `--max-obj-name-len`: Istio 1.5 passed `--max-obj-name-len 189`, but the option has been a
 *   no-op since Envoy 1.11 ("no longer has any effect", envoyproxy.io v1.11 deprecation notes) and
 *   was later removed, so a current Envoy rejects it as an unknown argument and exits 1;
 * - `--base-id <n>` when `--baseId` > 0, placed right after `--restart-epoch`: the two together name
 *   the hot-restart generation (shared memory `envoy_shared_memory_<10·base-id>`, sockets per epoch),
 *   so they sit side by side; every other argument keeps Istio's order. Istio never passes it
 *   (base id 0), so with the default the line is Istio's.
 */

import type { AgentConfig } from '../config/types.js';

export interface EnvoyArgsInput {
  /** Hot-restart epoch of this Envoy process. */
  epoch: number;
  /** Bootstrap for `-c`: the generated `envoy-rev<N>.json` or `--customConfigFile`. */
  configFile: string;
  /** Contents of the `ISTIO_BOOTSTRAP_OVERRIDE` file, when set and readable. */
  configYaml?: string;
}

export function buildEnvoyArgs(config: AgentConfig, input: EnvoyArgsInput): string[] {
  const proxy = config.proxy;
  const args = ['-c', input.configFile, '--restart-epoch', String(input.epoch)];
  if (config.baseId > 0) args.push('--base-id', String(config.baseId));
  args.push(
    // Istio: int(duration / time.Second), i.e. whole seconds, truncated.
    '--drain-time-s',
    String(Math.trunc(proxy.drainDurationMs / 1000)),
    '--parent-shutdown-time-s',
    String(Math.trunc(proxy.parentShutdownDurationMs / 1000)),
    '--service-cluster',
    proxy.serviceCluster,
    '--service-node',
    config.node.serviceNode,
    '--local-address-ip-version',
    config.node.ipv6 ? 'v6' : 'v4',
    // One argv element: Istio passes it through exec, never through a shell, so no quotes.
    '--log-format',
    `[Envoy (Epoch ${input.epoch})] [%Y-%m-%d %T.%e][%t][%l][%n] %v`,
  );
  if (config.proxyLogLevel) args.push('-l', config.proxyLogLevel);
  if (config.proxyComponentLogLevel) args.push('--component-log-level', config.proxyComponentLogLevel);
  if (input.configYaml !== undefined) args.push('--config-yaml', input.configYaml);
  if (proxy.concurrency > 0) args.push('--concurrency', String(proxy.concurrency));
  return args;
}
