/**
 * The machines that get diagrams, with presentation choices only (file name, title, layout
 * direction). Structure always comes from the machine objects themselves.
 */
import type { AnyStateMachine } from 'xstate';
import { agentMachine } from '../../machines/agent.js';
import { certRotationMachine } from '../../machines/cert-rotation.js';
import { envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';
import { sdsStreamMachine } from '../../machines/sds-stream.js';

export interface DiagramSpec {
  /** Base name of the generated files in `visualizations/`. */
  name: string;
  title: string;
  /** Where the machine is defined and under which export, for the pages. */
  source: string;
  exportName: string;
  machine: AnyStateMachine;
  rankdir: 'LR' | 'TB';
  /** Also draw the top-level states alone, for a chart too dense to take in at once. */
  overview?: boolean;
}

export const DIAGRAMS: readonly DiagramSpec[] = [
  {
    name: 'agent',
    title: 'Root agent',
    source: 'machines/agent.ts',
    exportName: 'agentMachine',
    machine: agentMachine,
    rankdir: 'LR',
  },
  {
    name: 'envoy-lifecycle',
    title: 'Envoy lifecycle',
    source: 'machines/envoy-lifecycle.ts',
    exportName: 'envoyLifecycleMachine',
    machine: envoyLifecycleMachine,
    rankdir: 'TB',
    overview: true,
  },
  {
    name: 'cert-rotation',
    title: 'Certificate rotation',
    source: 'machines/cert-rotation.ts',
    exportName: 'certRotationMachine',
    machine: certRotationMachine,
    rankdir: 'LR',
  },
  {
    name: 'sds-stream',
    title: 'SDS stream (one per Envoy stream, SDS mode)',
    source: 'machines/sds-stream.ts',
    exportName: 'sdsStreamMachine',
    machine: sdsStreamMachine,
    rankdir: 'LR',
  },
];
