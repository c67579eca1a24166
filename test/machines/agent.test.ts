import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock, type SnapshotFrom } from 'xstate';
import { agentMachine } from '../../machines/agent.js';
import type { envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';
import { readinessOf } from '../../machines/readiness.js';
import { fakeCertEffects, TEST_CERT_SETTINGS, valid } from '../helpers/cert-harness.js';
import { fakeEffects, type HarnessOptions, status } from '../helpers/lifecycle-harness.js';

function startAgent(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const fakes = fakeEffects(options);
  const certs = fakeCertEffects(valid('h0'));
  let signalsActive = false;
  const machine = agentMachine.provide({
    actors: {
      envoyLifecycle: fakes.machine,
      certRotation: certs.machine,
      osSignals: fromCallback(() => {
        signalsActive = true;
        return () => {
          signalsActive = false;
        };
      }),
    },
  });
  const root = createActor(machine, {
    clock,
    input: { lifecycle: { settings: fakes.settings }, certs: { settings: TEST_CERT_SETTINGS } },
  });
  root.start();
  const lifecycle = () => root.system.get('lifecycle');
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const last = () => {
    const s = fakes.spawns.at(-1);
    if (!s) throw new Error('nothing spawned');
    return s;
  };
  return {
    root,
    clock,
    fakes,
    certs,
    settle,
    signalsActive: () => signalsActive,
    lifecycleSnapshot: () =>
      lifecycle()?.getSnapshot() as SnapshotFrom<typeof envoyLifecycleMachine> | undefined,
    readiness: () => readinessOf(lifecycle()?.getSnapshot()),
    toReady: async () => {
      await settle();
      const s = last();
      lifecycle()?.send({ type: 'EPOCH.SPAWNED', seq: s.seq, epoch: s.epoch, pid: 4242 });
      lifecycle()?.send({ type: 'ADMIN.STATUS', status: status(s.epoch) });
      await settle();
    },
    exit: (code: number | null, signal: string | null = null) => {
      const s = last();
      lifecycle()?.send({ type: 'EPOCH.EXITED', seq: s.seq, epoch: s.epoch, code, signal, failure: null });
    },
    last,
  };
}

describe('root agent', () => {
  it('spawns the lifecycle, which starts Envoy, and listens for signals', async () => {
    const a = startAgent();
    await a.toReady();
    expect(a.readiness().ready).toBe(true);
    expect(a.signalsActive()).toBe(true);
  });

  it('SIGTERM drains and stops Envoy; the agent ends with the lifecycle exit code 0', async () => {
    const a = startAgent();
    await a.toReady();
    a.root.send({ type: 'SIGNAL', signal: 'SIGTERM' });
    expect(a.readiness().ready).toBe(false);
    await a.settle();
    expect(a.fakes.drainRequests).toEqual([{ skipExit: false }]);
    a.clock.increment(5_000);
    expect(a.last().signals).toEqual(['SIGTERM']);
    a.exit(0);
    expect(a.root.getSnapshot().status).toBe('done');
    expect(a.root.getSnapshot().output).toEqual({ exitCode: 0, reason: 'shutdown complete' });
    expect(a.signalsActive()).toBe(false);
  });

  it('SIGINT is a stop signal too, and a second one skips the drain', async () => {
    const a = startAgent();
    await a.toReady();
    a.root.send({ type: 'SIGNAL', signal: 'SIGINT' });
    await a.settle();
    a.root.send({ type: 'SIGNAL', signal: 'SIGINT' });
    expect(a.last().signals).toEqual(['SIGTERM']);
    expect(a.root.getSnapshot().context.signals).toEqual(['SIGINT', 'SIGINT']);
  });

  it('SIGHUP asks for a hot restart into the next epoch', async () => {
    const a = startAgent();
    await a.toReady();
    a.root.send({ type: 'SIGNAL', signal: 'SIGHUP' });
    await a.settle();
    expect(a.lifecycleSnapshot()?.matches('hotRestarting')).toBe(true);
    expect(a.last().epoch).toBe(1);
  });

  it('a certificate change asks for a hot restart', async () => {
    const a = startAgent();
    await a.toReady();
    a.certs.setFiles(valid('h1'));
    a.certs.fsEvent();
    a.clock.increment(250);
    await a.settle();
    expect(a.fakes.prepared).toEqual([0, 1]);
    expect(a.lifecycleSnapshot()?.matches('hotRestarting')).toBe(true);
  });

  it('starts Envoy only after the first certificate reading, and a SIGTERM before that exits 0', async () => {
    const clock = new SimulatedClock();
    const fakes = fakeEffects();
    const certs = fakeCertEffects({ hash: 'p', missing: ['/etc/certs/key.pem'], problems: [] });
    const root = createActor(
      agentMachine.provide({
        actors: {
          envoyLifecycle: fakes.machine,
          certRotation: certs.machine,
          osSignals: fromCallback(() => {}),
        },
      }),
      {
        clock,
        input: {
          lifecycle: { settings: fakes.settings },
          certs: { settings: { ...TEST_CERT_SETTINGS, waitForFiles: true } },
        },
      },
    ).start();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(root.getSnapshot().value).toEqual({ active: 'waitingForCerts' });
    expect(fakes.prepared).toEqual([]);
    root.send({ type: 'SIGNAL', signal: 'SIGTERM' });
    expect(root.getSnapshot().output).toEqual({ exitCode: 0, reason: 'stopped before Envoy was started' });
  });

  it('QUIT stops without draining, DRAIN holds', async () => {
    const quit = startAgent();
    await quit.toReady();
    quit.root.send({ type: 'QUIT' });
    expect(quit.fakes.drainRequests).toEqual([]);
    expect(quit.last().signals).toEqual(['SIGTERM']);

    const drain = startAgent();
    await drain.toReady();
    drain.root.send({ type: 'DRAIN' });
    await drain.settle();
    expect(drain.fakes.drainRequests).toEqual([{ skipExit: true }]);
    expect(drain.lifecycleSnapshot()?.matches({ draining: 'held' })).toBe(true);
  });

  it('ends with the crash-loop exit code when the lifecycle gives up', async () => {
    const a = startAgent({ settings: { restartBudget: 0 } });
    await a.toReady();
    a.exit(null, 'SIGSEGV');
    expect(a.root.getSnapshot().output?.exitCode).toBe(3);
  });

  it('ends with 70 when an effect throws inside the lifecycle (a bug), rather than hanging', async () => {
    const fakes = fakeEffects();
    const broken = fakes.machine.provide({
      actors: {
        envoyEpoch: fromCallback(() => {
          throw new Error('spawn exploded');
        }),
      },
    });
    const root = createActor(
      agentMachine.provide({
        actors: {
          envoyLifecycle: broken,
          certRotation: fakeCertEffects().machine,
          osSignals: fromCallback(() => {}),
        },
      }),
      { input: { lifecycle: { settings: fakes.settings }, certs: { settings: TEST_CERT_SETTINGS } } },
    );
    root.subscribe({ error: () => {} });
    root.start();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(root.getSnapshot().status).toBe('done');
    expect(root.getSnapshot().output).toEqual({ exitCode: 70, reason: 'internal error: spawn exploded' });
  });
});
