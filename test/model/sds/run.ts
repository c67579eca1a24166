/**
 * Executes one generated SDS-stream path against the machine with fakes (sut.ts): every step is
 * caused for real, the effects (reads started, responses sent, the transport stopped) and the
 * decisions the stream announced are compared with the model step, the snapshot, the pending
 * reading and the transport with the model state; properties.ts is checked on every state.
 */
import { expect } from 'vitest';
import type { SdsStreamInput, sdsStreamMachine } from '../../../machines/sds-stream.js';
import type { CoverageTracker } from '../core/coverage.js';
import type { Findings } from '../core/findings.js';
import type { GeneratedPath } from '../core/paths.js';
import { checkCommon, runPath } from '../core/run-path.js';
import { activeInvocations, childInput, stepRecord } from '../core/timed-model.js';
import type { SdsSnap } from './model.js';
import { SdsProperties } from './properties.js';
import { SDS_CALLBACK_SRCS, SdsSut } from './sut.js';

/** The decisions a model step announces (`emit`), in order. */
export function decisionsOf(model: SdsSnap): unknown[] {
  return (stepRecord(model)?.actions ?? [])
    .filter((a) => a.type === 'xstate.emit')
    .map((a) => (a.params as { event: unknown }).event);
}

export async function runSdsPath(
  path: GeneratedPath<typeof sdsStreamMachine>,
  coverage: CoverageTracker,
  findings: Findings,
  input: SdsStreamInput,
): Promise<void> {
  const sut = new SdsSut(input, coverage);
  const properties = new SdsProperties(findings);
  await runPath(
    path,
    {
      log: sut.log,
      start: () => sut.start(),
      cause: (event) => sut.cause(event),
      activeNodeIds: () => sut.activeNodeIds(),
      stop: () => sut.stop(),
      checkState: (model) => {
        checkCommon(sut.snapshot(), model);
        expect(
          [...sut.promises.pending].map(([id, d]) => ({ id, input: d.input })),
          'pending readings',
        ).toEqual(
          (model.status === 'active' ? activeInvocations(model) : [])
            .filter((i) => i.src === 'resolveSecrets')
            .map((i) => ({ id: i.id, input: childInput(i.child) })),
        );
        expect(sut.envoy !== undefined, 'the transport runs for as long as the stream').toBe(
          model.status === 'active',
        );
      },
      checkStep: (model) => {
        expect(sut.takeDecisions(), 'decisions announced').toEqual(decisionsOf(model));
      },
    },
    {
      coverage,
      callbackSrcs: SDS_CALLBACK_SRCS,
      onState: (model, labels) => properties.check(model, labels),
    },
  );
}
