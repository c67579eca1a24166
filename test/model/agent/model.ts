/**
 * The root agent as a test model: OS signals, operator requests, the certificate child's reports,
 * the end (or failure) of the lifecycle child and, when certificates are delivered over SDS, the
 * streams Envoy opens on the agent's SDS server and their end.
 */
import type { AnyEventObject, SnapshotFrom } from 'xstate';
import { type AgentInput, agentMachine, type CertDelivery, streamActorId } from '../../../machines/agent.js';
import { MODEL_CERT_SETTINGS } from '../certs/model.js';
import { labelled, Model, worldOf } from '../core/paths.js';
import { activeInvocations, stepRecord } from '../core/timed-model.js';
import { MODEL_SETTINGS } from '../lifecycle/model.js';

export type AgentSnap = SnapshotFrom<typeof agentMachine>;

export const agentInput = (delivery: CertDelivery): AgentInput => ({
  lifecycle: { settings: MODEL_SETTINGS },
  certs: { settings: MODEL_CERT_SETTINGS },
  delivery,
});

/** Envoy opens one SDS stream per secret it references: `default` and `ROOTCA`. */
export const MAX_STREAMS = 2;

/** The id the SDS server gives the next stream: the lowest one not open (`s1`, `s2`). */
export function nextStreamId(s: AgentSnap): string {
  for (let k = 1; ; k++) if (!s.context.streams.includes(streamActorId(`s${k}`))) return `s${k}`;
}

/** How the lifecycle can end, as its output says. */
export const LIFECYCLE_OUTPUTS = {
  'exit 0': { exitCode: 0, reason: 'shutdown complete' },
  'exit 3': { exitCode: 3, reason: 'Envoy epoch 0 killed by SIGSEGV; restart budget of 1 spent' },
} as const;

/**
 * Facts outside the agent's context, followed beside the machine (core/paths.ts `world`): the
 * certificates on disk, and which open streams have lived through a rotation (were told
 * SECRETS.CHANGED), so that paths rotate certificates with streams open, not only before.
 */
export interface AgentWorld {
  certs: string;
  rotatedStreams: string[];
}

function nextWorld(world: AgentWorld, event: AnyEventObject, after: AgentSnap): AgentWorld {
  const told = (stepRecord(after)?.actions ?? []).flatMap((a) => {
    const p = a.params as { targetId?: unknown; event?: { type?: string } } | undefined;
    return a.type === 'xstate.sendTo' &&
      p?.event?.type === 'SECRETS.CHANGED' &&
      typeof p.targetId === 'string'
      ? [p.targetId]
      : [];
  });
  return {
    certs: event.type === 'CERTS.READY' || event.type === 'CERTS.CHANGED' ? String(event.hash) : world.certs,
    rotatedStreams: [...new Set([...world.rotatedStreams, ...told])]
      .filter(
        (id) =>
          after.context.streams.includes(id) &&
          !(event.type === 'SDS.STREAM_OPENED' && id === streamActorId(String(event.streamId))),
      )
      .sort(),
  };
}

export function agentEvents(s: AgentSnap): AnyEventObject[] {
  const out: AnyEventObject[] = [];
  const add = (e: AnyEventObject, label: string) => out.push(labelled(e, label));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) add({ type: 'SIGNAL', signal }, signal);
  add({ type: 'QUIT' }, 'QUIT');
  add({ type: 'DRAIN' }, 'DRAIN');
  // The certificate child reports the baseline once, from `initial`, and changes only after it.
  if (s.matches({ active: 'waitingForCerts' })) add({ type: 'CERTS.READY', hash: 'h0' }, 'CERTS.READY');
  // Each change is a new set (the certificate child reports nothing else): h1, h2, h1, …
  const certs = worldOf<AgentWorld>(s).certs;
  if (s.matches({ active: 'running' }))
    add({ type: 'CERTS.CHANGED', hash: certs === 'h1' ? 'h2' : 'h1' }, 'CERTS.CHANGED');
  // Envoy opens streams on the SDS server while it runs (the server is there only in SDS mode; an
  // Envoy left by an earlier agent may connect before this one starts its own), and ends them.
  if ('sdsServer' in s.children && s.context.streams.length < MAX_STREAMS) {
    add({ type: 'SDS.STREAM_OPENED', streamId: nextStreamId(s) }, 'SDS.STREAM_OPENED');
  }
  for (const id of s.context.streams) {
    add({ type: `xstate.done.actor.${id}`, actorId: id, output: undefined }, `stream ${id} ends`);
  }
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

export function agentModel(name: string, delivery: CertDelivery) {
  return new Model({
    name,
    machine: agentMachine,
    input: agentInput(delivery),
    events: agentEvents,
    abstract: (s: AgentSnap) => ({
      exitCode: s.context.exitCode,
      streams: s.context.streams,
      // The hash on disk only names the next set (h1, h2, h1, …): left out.
      rotatedStreams: worldOf<AgentWorld>(s).rotatedStreams,
    }),
    limit: 10_000,
    world: {
      initial: { certs: 'h0', rotatedStreams: [] },
      next: (world: AgentWorld, event: AnyEventObject, _before: AgentSnap, after: AgentSnap) =>
        nextWorld(world, event, after),
    },
  });
}
