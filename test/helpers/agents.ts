/**
 * `startAgent` for a test file: every agent started through it is stopped after each test (its
 * processes killed, its temp dir removed), whether the test passed or not.
 */
import { afterEach } from 'vitest';
import { type AgentOptions, type AgentRun, startAgent } from './agent-process.js';

export function agentsStoppedAfterEach(): (options?: AgentOptions) => Promise<AgentRun> {
  const runs: AgentRun[] = [];
  afterEach(async () => {
    await Promise.all(runs.splice(0).map((r) => r.stop()));
  });
  return async (options = {}) => {
    const run = await startAgent(options);
    runs.push(run);
    return run;
  };
}
