/** Executes one generated root-agent path against the machine with fake children (sut.ts). */
import { expect } from 'vitest';
import type { AgentInput, agentMachine } from '../../../machines/agent.js';
import type { CoverageTracker } from '../core/coverage.js';
import type { GeneratedPath } from '../core/paths.js';
import { checkCommon, runPath } from '../core/run-path.js';
import { AGENT_CALLBACK_SRCS, AgentSut } from './sut.js';

export async function runAgentPath(
  path: GeneratedPath<typeof agentMachine>,
  input: AgentInput,
  coverage: CoverageTracker,
): Promise<void> {
  const sut = new AgentSut(input, coverage);
  await runPath(
    path,
    {
      log: sut.log,
      start: () => sut.start(),
      cause: (event) => sut.cause(event),
      activeNodeIds: () => sut.activeNodeIds(),
      stop: () => sut.stop(),
      checkState: (model) => {
        const real = sut.snapshot();
        checkCommon(real, model);
        // The certificate child is a real machine: it must be where the agent believes it is.
        const certs = (real.children as Record<string, { getSnapshot: () => { value: unknown } } | undefined>)
          .certs;
        if (model.status === 'active') {
          expect(certs?.getSnapshot().value, 'certificate child').toEqual(
            model.matches({ active: 'waitingForCerts' }) ? { initial: 'reading' } : 'watching',
          );
        }
      },
    },
    {
      coverage,
      callbackSrcs: AGENT_CALLBACK_SRCS,
      // The certificate child is a real machine started by the agent; its effects are its own.
      ignore: (e) => e.kind === 'start' && e.id === 'certs',
    },
  );
}
