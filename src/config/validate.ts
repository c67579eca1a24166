/**
 * Istio 1.5 `validation.ValidateProxyConfig` (`pkg/config/validation/validation.go`), reworded so
 * each problem names the flag that set the field, the value and the rule. Like Istio we collect every
 * problem; the loader joins them into one line.
 */

import { formatGoDuration } from '../go/duration.js';
import { goQuote } from '../go/strconv.js';
import { isValidPort, proxyAddressProblem } from './address.js';
import { VALIDATION_LIMITS } from './defaults.js';
import type { ProxyConfig } from './types.js';

/** LightStep is validated as Istio does even though we do not implement it (same exit as Istio). */
export interface LightstepSettings {
  address: string;
  accessToken: string;
}

function addressProblem(flag: string, value: string, label = ''): string | undefined {
  const reason = proxyAddressProblem(value);
  return reason === undefined
    ? undefined
    : `--${flag}${label} ${goQuote(value)} is not a valid host:port address: ${reason}`;
}

/** Istio `ValidateParentAndDrain`: ≥ 1 ms first (and stop there), then whole seconds, order and the 1 h caps. */
function drainProblems(drainMs: number, parentMs: number): string[] {
  const d = formatGoDuration(drainMs);
  const p = formatGoDuration(parentMs);
  const early: string[] = [];
  if (drainMs < 1) early.push(`--drainDuration ${d} must be at least 1ms`);
  if (parentMs < 1) early.push(`--parentShutdownDuration ${p} must be at least 1ms`);
  if (early.length > 0) return early;
  const out: string[] = [];
  if (drainMs % 1000 !== 0) out.push(`--drainDuration ${d} must be a whole number of seconds`);
  if (parentMs % 1000 !== 0) out.push(`--parentShutdownDuration ${p} must be a whole number of seconds`);
  if (parentMs <= drainMs)
    out.push(`--parentShutdownDuration ${p} must be greater than --drainDuration ${d}`);
  const max = VALIDATION_LIMITS.drainTimeMaxMs;
  if (drainMs > max) out.push(`--drainDuration ${d} must be at most ${formatGoDuration(max)}`);
  const pmax = VALIDATION_LIMITS.parentShutdownTimeMaxMs;
  if (parentMs > pmax) out.push(`--parentShutdownDuration ${p} must be at most ${formatGoDuration(pmax)}`);
  return out;
}

/** Every problem with the assembled config, in Istio's order; empty when valid. */
export function proxyConfigProblems(config: ProxyConfig, lightstep?: LightstepSettings): string[] {
  const out: (string | undefined)[] = [];
  if (config.configPath === '') out.push('--configPath must not be empty');
  if (config.binaryPath === '') out.push('--binaryPath must not be empty');
  if (config.serviceCluster === '') out.push('--serviceCluster must not be empty');
  out.push(...drainProblems(config.drainDurationMs, config.parentShutdownDurationMs));

  // Istio: "discovery address is mandatory since mutual TLS relies on CDS".
  if (config.discoveryAddress === '') out.push('--discoveryAddress must not be empty');
  else out.push(addressProblem('discoveryAddress', config.discoveryAddress));

  if (lightstep !== undefined) {
    out.push(addressProblem('lightstepAddress', lightstep.address));
    if (lightstep.accessToken === '')
      out.push('--lightstepAccessToken must be set when --lightstepAddress is used');
  }
  if (config.tracing?.kind === 'zipkin') out.push(addressProblem('zipkinAddress', config.tracing.address));
  if (config.tracing?.kind === 'datadog') {
    // Istio replaces the first $(HOST_IP) before validating; Kubernetes expands it in the container args.
    const reason = proxyAddressProblem(config.tracing.address.replace('$(HOST_IP)', '127.0.0.1'));
    if (reason !== undefined) {
      out.push(
        `--datadogAgentAddress ${goQuote(config.tracing.address)} is not a valid host:port address: ${reason}`,
      );
    }
  }

  const { connectTimeoutMinMs: min, connectTimeoutMaxMs: max } = VALIDATION_LIMITS;
  const ct = config.connectTimeoutMs;
  if (ct < min || ct > max || !Number.isInteger(ct)) {
    out.push(
      `--connectTimeout ${formatGoDuration(ct)} must be between ${formatGoDuration(min)} and ${formatGoDuration(max)} (whole milliseconds)`,
    );
  }

  if (config.statsdUdpAddress !== '') out.push(addressProblem('statsdUdpAddress', config.statsdUdpAddress));
  const metrics = config.envoyMetricsService.address;
  if (metrics !== '') out.push(addressProblem('envoyMetricsService', metrics, ' address'));
  const accessLog = config.envoyAccessLogService.address;
  if (accessLog !== '') out.push(addressProblem('envoyAccessLogService', accessLog, ' address'));

  if (!isValidPort(config.proxyAdminPort)) {
    out.push(`--proxyAdminPort ${config.proxyAdminPort} must be in the range 1..65535`);
  }
  return out.filter((p): p is string => p !== undefined);
}
