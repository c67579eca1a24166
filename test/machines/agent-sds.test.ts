import { describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import { type AgentEvent, agentMachine } from '../../machines/agent.js';
import {
  type SdsStreamEvent,
  type SecretCheck,
  type StreamIoCommand,
  sdsStreamMachine,
} from '../../machines/sds-stream.js';
import { fakeCertEffects, TEST_CERT_SETTINGS, valid } from '../helpers/cert-harness.js';
import { fakeEffects } from '../helpers/lifecycle-harness.js';

/** The agent in SDS mode, with a fake SDS server and streams whose Envoy side the test plays. */
function startSdsAgent() {
  const clock = new SimulatedClock();
  const fakes = fakeEffects();
  const certs = fakeCertEffects(valid('h0'));
  let openStream: ((e: AgentEvent) => void) | undefined;
  const envoy = new Map<string, (e: SdsStreamEvent) => void>();
  const sent: StreamIoCommand[] = [];
  const machine = agentMachine.provide({
    actors: {
      envoyLifecycle: fakes.machine,
      certRotation: certs.machine,
      osSignals: fromCallback(() => {}),
      sdsServer: fromCallback(({ sendBack }) => {
        openStream = sendBack;
      }),
      sdsStream: sdsStreamMachine.provide({
        actors: {
          streamIo: fromCallback<StreamIoCommand, { streamId: string }>(({ input, sendBack, receive }) => {
            envoy.set(input.streamId, sendBack);
            receive((command) => sent.push(command));
          }),
          resolveSecrets: fromPromise<SecretCheck[], { names: string[] }>(async ({ input }) =>
            input.names.map((name) => ({ name, sha256: certs.state.reading.hash })),
          ),
        },
      }),
    },
  });
  const root = createActor(machine, {
    clock,
    input: {
      lifecycle: { settings: fakes.settings },
      certs: { settings: TEST_CERT_SETTINGS },
      delivery: 'sds',
    },
  }).start();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    root,
    clock,
    fakes,
    certs,
    envoy,
    sent,
    settle,
    open: (streamId: string) => openStream?.({ type: 'SDS.STREAM_OPENED', streamId }),
  };
}

describe('root agent, certificates over SDS', () => {
  it('pushes a rotation to every open stream instead of a hot restart, and lets an ended stream go', async () => {
    const a = startSdsAgent();
    await a.settle();
    a.open('1');
    await a.settle();
    a.envoy.get('1')?.({
      type: 'SDS.REQUEST',
      request: { versionInfo: '', resourceNames: ['default'], responseNonce: '' },
    });
    await a.settle();
    expect(a.sent.map((s) => s.secrets)).toEqual([[{ name: 'default', sha256: 'h0' }]]);
    a.envoy.get('1')?.({
      type: 'SDS.REQUEST',
      request: {
        versionInfo: a.sent[0]?.versionInfo ?? '',
        resourceNames: ['default'],
        responseNonce: '1-1',
      },
    });

    a.certs.setFiles(valid('h1'));
    a.certs.fsEvent();
    a.clock.increment(TEST_CERT_SETTINGS.settleMs);
    await a.settle();
    expect(a.sent.map((s) => s.secrets)).toEqual([
      [{ name: 'default', sha256: 'h0' }],
      [{ name: 'default', sha256: 'h1' }],
    ]);
    expect(a.fakes.prepared).toEqual([0]);

    a.envoy.get('1')?.({ type: 'SDS.CLOSED', reason: 'Envoy closed the stream' });
    expect(a.root.getSnapshot().context.streams).toEqual([]);
    // A stream that ended leaves no actor behind in the agent (a done child stays until stopped).
    const children = a.root.getSnapshot().children as Record<string, AnyActorRef | undefined>;
    expect(Object.keys(children).filter((id) => id.startsWith('sds-'))).toEqual([]);
  });
});
