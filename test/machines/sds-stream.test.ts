import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise } from 'xstate';
import {
  type SdsDecision,
  type SdsRequest,
  type SecretCheck,
  type StreamIoCommand,
  sdsStreamMachine,
} from '../../machines/sds-stream.js';

/** A stream with fake effects: the test says what the files hold and plays Envoy's requests. */
function stream(initial: Record<string, string>) {
  let files: Record<string, string> = { ...initial };
  const sent: StreamIoCommand[] = [];
  const decisions: SdsDecision[] = [];
  const machine = sdsStreamMachine.provide({
    actors: {
      streamIo: fromCallback<StreamIoCommand, { streamId: string }>(({ receive }) => {
        receive((cmd) => sent.push(cmd));
      }),
      resolveSecrets: fromPromise<SecretCheck[], { names: string[] }>(async ({ input }) =>
        input.names.map((name) => {
          const content = files[name];
          return content === undefined || content === 'torn'
            ? { name, withheld: content === 'torn' ? 'key does not match certificate' : 'missing' }
            : { name, sha256: content };
        }),
      ),
    },
  });
  const actor = createActor(machine, { input: { streamId: 's1' } });
  actor.on('*', (d) => decisions.push(d as SdsDecision));
  actor.start();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const request = async (r: Partial<SdsRequest>) => {
    actor.send({
      type: 'SDS.REQUEST',
      request: { versionInfo: '', resourceNames: ['default'], responseNonce: '', ...r },
    });
    await settle();
  };
  const last = () => {
    const s = sent.at(-1);
    if (!s) throw new Error('nothing sent');
    return s;
  };
  return {
    actor,
    sent,
    decisions,
    request,
    last,
    ack: () => request({ versionInfo: last().versionInfo, responseNonce: last().nonce }),
    nack: (message: string) =>
      request({ versionInfo: '', responseNonce: last().nonce, errorDetail: { code: 13, message } }),
    rotate: async (next: Record<string, string>) => {
      files = { ...next };
      actor.send({ type: 'SECRETS.CHANGED' });
      await settle();
    },
    state: () => actor.getSnapshot().value,
  };
}

describe('SDS stream', () => {
  it('answers the first request with the secret, then waits for the ACK; a rotation is pushed in place', async () => {
    const s = stream({ default: 'aaa' });
    await s.request({ node: 'sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local' });
    expect(s.sent).toEqual([
      {
        type: 'SEND',
        nonce: 's1-1',
        versionInfo: 'default@aaa',
        secrets: [{ name: 'default', sha256: 'aaa' }],
      },
    ]);
    expect(s.state()).toBe('awaitingAnswer');
    await s.ack();
    expect(s.state()).toBe('idle');
    await s.rotate({ default: 'bbb' });
    expect(s.last()).toMatchObject({ nonce: 's1-2', secrets: [{ name: 'default', sha256: 'bbb' }] });
    expect(s.decisions.map((d) => d.type)).toEqual(['sds.opened', 'sds.pushed', 'sds.acked', 'sds.pushed']);
  });

  it('keeps one response in flight: content that changes meanwhile is sent after the answer', async () => {
    const s = stream({ default: 'aaa' });
    await s.request({});
    await s.rotate({ default: 'bbb' });
    await s.rotate({ default: 'ccc' });
    expect(s.sent).toHaveLength(1);
    await s.ack();
    expect(s.sent).toHaveLength(2);
    expect(s.last().secrets).toEqual([{ name: 'default', sha256: 'ccc' }]);
  });

  it('a NACK keeps the content from being sent again; new content is', async () => {
    const s = stream({ default: 'aaa' });
    await s.request({});
    await s.nack('Failed to load private key from <inline>');
    expect(s.decisions.at(-1)).toMatchObject({
      type: 'sds.nacked',
      error: 'Failed to load private key from <inline>',
    });
    await s.rotate({ default: 'aaa' });
    expect(s.sent).toHaveLength(1);
    await s.rotate({ default: 'bbb' });
    expect(s.sent).toHaveLength(2);
  });

  it('withholds a secret whose files are missing or torn, and sends it once they are whole', async () => {
    const s = stream({ default: 'torn' });
    await s.request({});
    expect(s.sent).toHaveLength(0);
    expect(s.decisions.at(-1)).toEqual({
      type: 'sds.withheld',
      streamId: 's1',
      name: 'default',
      reason: 'key does not match certificate',
    });
    await s.rotate({ default: 'ddd' });
    expect(s.last().secrets).toEqual([{ name: 'default', sha256: 'ddd' }]);
  });

  it('ignores a stale answer, and ends when the stream closes', async () => {
    const s = stream({ default: 'aaa' });
    await s.request({});
    await s.request({ versionInfo: 'old', responseNonce: 's1-0' });
    expect(s.state()).toBe('awaitingAnswer');
    s.actor.send({ type: 'SDS.CLOSED', reason: 'Envoy closed the stream' });
    expect(s.actor.getSnapshot().status).toBe('done');
    expect(s.decisions.at(-1)).toEqual({
      type: 'sds.closed',
      streamId: 's1',
      reason: 'Envoy closed the stream',
    });
  });
});

describe('SDS stream, subscription changes (the protocol allows several names per stream)', () => {
  it('takes a subscription that changes with the ACK, and reads it again', async () => {
    const s = stream({ default: 'aaa', ROOTCA: 'rrr' });
    await s.request({ resourceNames: ['default'] });
    await s.request({
      resourceNames: ['default', 'ROOTCA'],
      versionInfo: s.last().versionInfo,
      responseNonce: 's1-1',
    });
    expect(s.actor.getSnapshot().context.names).toEqual(['default', 'ROOTCA']);
    expect(s.last()).toMatchObject({ nonce: 's1-2', secrets: [{ name: 'ROOTCA', sha256: 'rrr' }] });
  });

  it('sends a secret again when Envoy subscribes to it again, also if it left it while a response was in flight', async () => {
    const s = stream({ default: 'aaa', ROOTCA: 'rrr' });
    await s.request({ resourceNames: ['default', 'ROOTCA'] });
    await s.ack();
    await s.rotate({ default: 'bbb', ROOTCA: 'rrr' });
    // Envoy leaves ROOTCA before the response reaches it (stale nonce), then asks for it again with its ACK.
    await s.request({ resourceNames: ['default'], responseNonce: 's1-1' });
    await s.request({
      resourceNames: ['default', 'ROOTCA'],
      versionInfo: s.last().versionInfo,
      responseNonce: 's1-2',
    });
    expect(s.last()).toMatchObject({ nonce: 's1-3', secrets: [{ name: 'ROOTCA', sha256: 'rrr' }] });
  });
});
