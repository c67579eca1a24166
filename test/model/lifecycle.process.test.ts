/**
 * Model-based tests of the lifecycle against real processes: the restart
 * and drain paths of the lifecycle model (lifecycle/scenarios.ts), turned into paths with
 * `getPathsFromEvents` and executed against the built agent (`bin/pilot-agent.js`: run
 * `npm run build` first) and the Envoy simulator. lifecycle/real.ts maps events to actions and
 * states to observations. The same paths run at machine level in machines.model.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';
import { CoverageTracker, formatCoverageTable, inventory } from './core/coverage.js';
import { nodeIds } from './core/paths.js';
import { stepRecord } from './core/timed-model.js';
import { lifecycleModel } from './lifecycle/model.js';
import { type RealRunReport, runRealPath } from './lifecycle/real.js';
import { LIFECYCLE_SCENARIOS, scenarioSettings } from './lifecycle/scenarios.js';

const real = LIFECYCLE_SCENARIOS.filter((s) => s.real).map((scenario) => {
  const settings = scenarioSettings(scenario);
  const path = lifecycleModel(`real: ${scenario.name}`, settings).scenarioPath(
    scenario.name,
    scenario.labels,
  );
  return { scenario, settings, path };
});
const reports: { name: string; report: RealRunReport }[] = [];

afterAll(() => {
  // What these paths exercise of the machine (by replaying them on the model).
  const coverage = new CoverageTracker(inventory(envoyLifecycleMachine));
  for (const { path } of real) {
    for (const step of path.testPath.steps) {
      coverage.recordStates(nodeIds(step.state));
      coverage.recordTransitions(stepRecord(step.state)?.transitions ?? []);
    }
  }
  const rows = reports.map(
    ({ name, report }) =>
      `  ${name} (${report.ms} ms, exit ${report.exitCode}, ${report.probes} readiness answers checked):\n    ${report.states.join(' → ')}`,
  );
  const table = formatCoverageTable(
    [{ ...coverage.row('envoy-lifecycle (real paths)'), paths: reports.length }],
    'Part of the lifecycle the real-process paths exercise (model replay; the gate is machine level):',
  );
  console.log(
    `\nLifecycle paths run against the real agent and the Envoy simulator (${reports.length}/${real.length}):\n${rows.join('\n')}\n\n${table}\n`,
  );
});

describe('envoy lifecycle against the real agent (model paths)', () => {
  for (const { scenario, settings, path } of real) {
    it(`${scenario.name}: ${path.description}`, async () => {
      const report = await runRealPath(scenario, path, settings);
      reports.push({ name: scenario.name, report });
      expect(report.probes, 'readiness answers compared with the model').toBeGreaterThan(0);
    }, 30_000);
  }
});
