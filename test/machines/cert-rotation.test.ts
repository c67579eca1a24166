import { describe, expect, it } from 'vitest';
import { createActor, createMachine, type EventObject, SimulatedClock } from 'xstate';
import type { CertReading, CertRotationSettings } from '../../machines/cert-rotation.js';
import { fakeCertEffects, TEST_CERT_SETTINGS, valid } from '../helpers/cert-harness.js';

/** Runs the cert machine under a parent that records what it is told. */
function startCerts(initial: CertReading = valid('h0'), settings: Partial<CertRotationSettings> = {}) {
  const clock = new SimulatedClock();
  const fakes = fakeCertEffects(initial);
  const told: EventObject[] = [];
  const parent = createMachine({
    invoke: { id: 'certs', src: fakes.machine, input: { settings: { ...TEST_CERT_SETTINGS, ...settings } } },
    on: { '*': { actions: ({ event }) => told.push(event) } },
  });
  const actor = createActor(parent, { clock }).start();
  const certs = () => actor.getSnapshot().children.certs;
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const tick = async (ms: number) => {
    clock.increment(ms);
    await settle();
  };
  return {
    ...fakes,
    told,
    settle,
    tick,
    value: () => certs()?.getSnapshot().value,
    context: () => certs()?.getSnapshot().context,
  };
}

describe('certificate rotation', () => {
  it('reports the baseline set at start and then watches', async () => {
    const c = startCerts();
    await c.settle();
    expect(c.told).toEqual([{ type: 'CERTS.READY', hash: 'h0' }]);
    expect(c.value()).toBe('watching');
    expect(c.state.watchers).toBe(1);
  });

  it('coalesces a burst of events into one check after the files were quiet for the settle window', async () => {
    const c = startCerts();
    await c.settle();
    c.setFiles(valid('h1'));
    c.fsEvent();
    await c.tick(200);
    c.fsEvent();
    await c.tick(200);
    c.fsEvent();
    await c.tick(249);
    expect(c.state.reads).toBe(1);
    await c.tick(1);
    expect(c.state.reads).toBe(2);
    expect(c.told).toEqual([
      { type: 'CERTS.READY', hash: 'h0' },
      { type: 'CERTS.CHANGED', hash: 'h1' },
    ]);
    expect(c.context()?.rotations).toBe(1);
  });

  it('never reports identical content (a touch, a rewrite with the same bytes)', async () => {
    const c = startCerts();
    await c.settle();
    for (let i = 0; i < 3; i++) {
      c.fsEvent('/etc/certs/key.pem');
      await c.tick(250);
    }
    expect(c.state.reads).toBe(4);
    expect(c.told).toHaveLength(1);
    expect(c.value()).toBe('watching');
  });

  it('waits on a torn pair, then reports once the matching key arrives', async () => {
    const c = startCerts();
    await c.settle();
    c.setFiles({
      hash: 'h-torn',
      missing: [],
      problems: ['/etc/certs/key.pem does not match the leaf of /etc/certs/cert-chain.pem'],
    });
    c.fsEvent();
    await c.tick(250);
    expect(c.value()).toBe('torn');
    expect(c.told).toHaveLength(1);
    c.setFiles(valid('h1'));
    c.fsEvent('/etc/certs/key.pem');
    await c.tick(250);
    expect(c.told.at(-1)).toEqual({ type: 'CERTS.CHANGED', hash: 'h1' });
    expect(c.value()).toBe('watching');
  });

  it('gives up on a torn pair that never completes and keeps the current set', async () => {
    const c = startCerts();
    await c.settle();
    c.setFiles({ hash: 'h-torn', missing: [], problems: ['key mismatch'] });
    c.fsEvent();
    await c.tick(250);
    await c.tick(29_999);
    expect(c.value()).toBe('torn');
    await c.tick(1);
    expect(c.value()).toBe('rejected');
    expect(c.context()?.current).toBe('h0');
    expect(c.context()?.rejected?.problems).toEqual(['key mismatch']);
    expect(c.told).toHaveLength(1);
    // A later, complete rotation is still picked up.
    c.setFiles(valid('h2'));
    c.fsEvent();
    await c.tick(250);
    expect(c.told.at(-1)).toEqual({ type: 'CERTS.CHANGED', hash: 'h2' });
  });

  it('re-reads periodically, so a change whose events were lost is still found', async () => {
    const c = startCerts();
    await c.settle();
    c.setFiles(valid('h1'));
    await c.tick(30_000);
    expect(c.told.at(-1)).toEqual({ type: 'CERTS.CHANGED', hash: 'h1' });
  });

  it('waits for missing files when they are required, then starts with them', async () => {
    const c = startCerts(
      { hash: 'h-partial', missing: ['/etc/certs/key.pem'], problems: [] },
      { waitForFiles: true },
    );
    await c.settle();
    expect(c.value()).toEqual({ initial: 'waitingForFiles' });
    expect(c.told).toEqual([]);
    await c.tick(1_000);
    expect(c.state.reads).toBe(2);
    c.setFiles(valid('h0'));
    c.fsEvent('/etc/certs/key.pem');
    await c.settle();
    expect(c.told).toEqual([{ type: 'CERTS.READY', hash: 'h0' }]);
  });

  it('starts anyway after the bounded wait for missing files (Istio: 2 min)', async () => {
    const c = startCerts(
      { hash: 'h-partial', missing: ['/etc/certs/key.pem'], problems: [] },
      { waitForFiles: true },
    );
    await c.settle();
    await c.tick(120_000);
    expect(c.told).toEqual([{ type: 'CERTS.READY', hash: '' }]);
    expect(c.value()).toBe('watching');
  });

  it('does not wait for missing files when they are optional', async () => {
    const c = startCerts({ hash: 'h-none', missing: ['/etc/certs/key.pem'], problems: [] });
    await c.settle();
    expect(c.told).toEqual([{ type: 'CERTS.READY', hash: 'h-none' }]);
  });
});
