/**
 * What the status server needs from the agent's configuration, validated at start-up: a bad
 * `ISTIO_KUBE_APP_PROBERS` or `ISTIO_PROMETHEUS_ANNOTATIONS` stops the agent with exit 255 before
 * Envoy starts (Istio `NewServer` in `pilot/cmd/pilot-agent/status/server.go`, which `main.go`
 * calls before it starts Envoy). Call it before starting anything.
 */
import type { AgentConfig } from '../config/types.js';
import { adminHost } from '../envoy/admin.js';
import { type AppProbers, parseAppProbers } from './app-probes.js';
import { type AppScrapeConfig, parsePrometheusAnnotations } from './metrics.js';
import { podAddress } from './probe-client.js';

export interface StatusOptions {
  probers: AppProbers;
  podHost: string;
  envoyAdmin: { host: string; port: number };
  appMetrics: AppScrapeConfig | null;
}

/** Throws `AgentError('usage')` naming the variable and the entry at fault. */
export function statusOptionsFromConfig(config: AgentConfig): StatusOptions {
  return {
    probers: parseAppProbers(config.kubeAppProbers),
    podHost: podAddress(config.node.podIp, config.node.ipv6),
    envoyAdmin: { host: adminHost(config), port: config.proxy.proxyAdminPort },
    // Istio merges application metrics for sidecars only: a gateway's status port is exposed by
    // its Service, and the application behind a gateway is Envoy itself.
    appMetrics:
      config.node.type === 'sidecar'
        ? parsePrometheusAnnotations(config.prometheusAnnotations, { statusPort: config.statusPort })
        : null,
  };
}
