/** Executes one generated root-agent path against the machine with fake children (sut.ts). */
import { expect } from 'vitest';
import type { AnyActorRef } from 'xstate';
import type { AgentInput, agentMachine } from '../../../machines/agent.js';
import type { CoverageTracker } from '../core/coverage.js';
import type { GeneratedPath } from '../core/paths.js';
import { checkCommon, runPath } from '../core/run-path.js';
import type { AgentSnap } from './model.js';
import { AGENT_CALLBACK_SRCS, AgentSut, contentOf } from './sut.js';

const children = (s: AgentSnap) => s.children as Record<string, AnyActorRef | undefined>;

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
        const certs = children(real).certs;
        if (model.status === 'active') {
          expect(certs?.getSnapshot().value, 'certificate child').toEqual(
            model.matches({ active: 'waitingForCerts' }) ? { initial: 'reading' } : 'watching',
          );
          // No handle left behind: every actor the agent holds still runs (an ended stream is let go).
          expect(
            Object.entries(children(real))
              .filter(([, child]) => child?.getSnapshot().status !== 'active')
              .map(([id]) => id),
            'children of the running agent that have ended',
          ).toEqual([]);
        }
        const active = model.status === 'active';
        expect(sut.sdsServer !== undefined, 'the SDS server runs').toBe(
          active && 'sdsServer' in model.children,
        );
        expect([...sut.envoyStreams.keys()].sort(), "Envoy's open SDS streams").toEqual(
          active ? [...model.context.streams].sort() : [],
        );
        // Every open stream has delivered the certificates on disk: Envoy holds them.
        for (const [id, envoy] of sut.envoyStreams) {
          expect(children(real)[id]?.getSnapshot().value, `stream ${id}`).toBe('idle');
          expect(envoy.held, `what Envoy holds on stream ${id}`).toBe(contentOf(envoy.name, sut.certHash));
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
