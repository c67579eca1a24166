/**
 * `pilot-agent wait`, with Istio ≥1.16 timing (`pilot/cmd/pilot-agent/app/wait.go`): the first check
 * happens one period after start, then one per period; success is a 200 with the body read; the
 * overall timeout wins over a pending check, and the error carries the last check's error (Go prints
 * a nil error as `<nil>`). Used as the `postStart` hook of `holdApplicationUntilProxyStarts`.
 */

import type { WaitFlagValues } from '../../config/flags.js';
import { AgentError, usageError } from '../../errors.js';
import { goQuote } from '../../go/strconv.js';
import type { Logger } from '../../log.js';
import { httpCall } from './http-get.js';

export interface WaitDeps {
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

function checkFlags(flags: WaitFlagValues): void {
  let url: URL | undefined;
  try {
    url = new URL(flags.url);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw usageError(`--url ${goQuote(flags.url)} must be an http:// or https:// URL`);
  }
  if (flags.timeoutSeconds < 0)
    throw usageError(`--timeoutSeconds ${flags.timeoutSeconds} must not be negative`);
  if (flags.requestTimeoutMillis < 0) {
    throw usageError(`--requestTimeoutMillis ${flags.requestTimeoutMillis} must not be negative`);
  }
  // Go's loop with a 0 period spins; a period of at least 1 ms keeps the same meaning without that.
  if (flags.periodMillis < 1) throw usageError(`--periodMillis ${flags.periodMillis} must be at least 1`);
}

async function checkIfReady(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const { status } = await httpCall('GET', url, { timeoutMs });
    return status === 200 ? undefined : `HTTP status code ${status}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export async function runWait(flags: WaitFlagValues, log: Logger, deps: WaitDeps = {}): Promise<number> {
  checkFlags(flags);
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  log.info(`Waiting for Envoy proxy to be ready (timeout: ${flags.timeoutSeconds} seconds)...`);
  const deadline = now() + flags.timeoutSeconds * 1000;
  let lastError = '<nil>';
  for (;;) {
    const left = deadline - now();
    if (left <= 0 || left < flags.periodMillis) {
      if (left > 0) await sleep(left);
      throw new AgentError(
        'usage',
        `timeout waiting for Envoy proxy to become ready. Last error: ${lastError}`,
      );
    }
    await sleep(flags.periodMillis);
    const problem = await checkIfReady(flags.url, flags.requestTimeoutMillis);
    if (problem === undefined) {
      log.info('Envoy is ready!');
      return 0;
    }
    log.debug(`Not ready yet: ${problem}`);
    lastError = problem;
  }
}
