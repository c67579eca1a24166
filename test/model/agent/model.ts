/**
 * The root agent as a test model: OS signals, operator requests, the certificate child's reports
 * and the end (or failure) of the lifecycle child.
 */
import type { AnyEventObject, SnapshotFrom } from 'xstate';
import { type AgentInput, agentMachine } from '../../../machines/agent.js';
import { MODEL_CERT_SETTINGS } from '../certs/model.js';
import { labelled, Model } from '../core/paths.js';
import { activeInvocations } from '../core/timed-model.js';
import { MODEL_SETTINGS } from '../lifecycle/model.js';

export type AgentSnap = SnapshotFrom<typeof agentMachine>;

export const AGENT_INPUT: AgentInput = {
  lifecycle: { settings: MODEL_SETTINGS },
  certs: { settings: MODEL_CERT_SETTINGS },
};

/** How the lifecycle can end, as its output says. */
export const LIFECYCLE_OUTPUTS = {
  'exit 0': { exitCode: 0, reason: 'shutdown complete' },
  'exit 3': { exitCode: 3, reason: 'Envoy epoch 0 killed by SIGSEGV; restart budget of 1 spent' },
} as const;

export function agentEvents(s: AgentSnap): AnyEventObject[] {
  const out: AnyEventObject[] = [];
  const add = (e: AnyEventObject, label: string) => out.push(labelled(e, label));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) add({ type: 'SIGNAL', signal }, signal);
  add({ type: 'QUIT' }, 'QUIT');
  add({ type: 'DRAIN' }, 'DRAIN');
  // The certificate child reports the baseline once, from `initial`, and changes only after it.
  if (s.matches({ active: 'waitingForCerts' })) add({ type: 'CERTS.READY', hash: 'h0' }, 'CERTS.READY');
  if (s.matches({ active: 'running' })) add({ type: 'CERTS.CHANGED', hash: 'h1' }, 'CERTS.CHANGED');
  for (const inv of activeInvocations(s)) {
    if (inv.src !== 'envoyLifecycle') continue;
    for (const [name, output] of Object.entries(LIFECYCLE_OUTPUTS)) {
      add({ type: `xstate.done.actor.${inv.id}`, actorId: inv.id, output }, `lifecycle done (${name})`);
    }
    add(
      { type: `xstate.error.actor.${inv.id}`, actorId: inv.id, error: new Error('spawn exploded') },
      'lifecycle fails',
    );
  }
  return out;
}

export function agentModel() {
  return new Model({
    name: 'agent',
    machine: agentMachine,
    input: AGENT_INPUT,
    events: agentEvents,
    abstract: (s: AgentSnap) => ({ exitCode: s.context.exitCode }),
    limit: 10_000,
  });
}
