/** Executes one generated certificate-rotation path against the machine with fakes (sut.ts). */
import { expect } from 'vitest';
import type { certRotationMachine } from '../../../machines/cert-rotation.js';
import type { CoverageTracker } from '../core/coverage.js';
import type { GeneratedPath } from '../core/paths.js';
import { checkCommon, runPath } from '../core/run-path.js';
import { activeInvocations, childInput, pendingTimers } from '../core/timed-model.js';
import type { CertSnap } from './model.js';
import { CERT_CALLBACK_SRCS, CertSut } from './sut.js';

const byType = (a: { type: string }, b: { type: string }) => a.type.localeCompare(b.type);

export async function runCertPath(
  path: GeneratedPath<typeof certRotationMachine>,
  settings: CertSnap['context']['settings'],
  coverage: CoverageTracker,
): Promise<void> {
  const sut = new CertSut(settings, coverage);
  await runPath(
    path,
    {
      log: sut.log,
      start: () => sut.start(),
      cause: (event, elapsed) => sut.cause(event, elapsed),
      activeNodeIds: () => sut.activeNodeIds(),
      stop: () => sut.stop(),
      checkState: (model) => {
        checkCommon(sut.snapshot(), model);
        expect([...sut.pendingTimers()].sort(byType), 'pending timers').toEqual(
          [...pendingTimers(model)].sort(byType),
        );
        expect(sut.watchers.size, 'the watcher runs for as long as the machine').toBe(
          model.status === 'active' ? 1 : 0,
        );
        expect(
          [...sut.promises.pending].map(([id, d]) => ({ id, input: d.input })),
          'pending reads',
        ).toEqual(
          activeInvocations(model)
            .filter((i) => i.src === 'readCerts')
            .map((i) => ({ id: i.id, input: childInput(i.child) })),
        );
      },
    },
    { coverage, callbackSrcs: CERT_CALLBACK_SRCS },
  );
}
