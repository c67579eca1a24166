/**
 * The data side of the debug endpoints and the inspector (src/debug/source.ts): what is
 * stripped before anything leaves the process, the actor tree, and the feed that observes the
 * actors only while someone listens, with a bounded replay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import {
  actorTree,
  createDebugSource,
  type DebugMessage,
  REDACTED,
  redactString,
  sanitize,
} from '../../src/debug/source.js';
import { encodeTlsCertificateSecret } from '../../src/sds/messages.js';
import { SecretResource } from '../../src/sds/secrets.js';
import { waitUntil } from '../helpers/wait.js';
import { BLOB, countObservers, HASH, LEAK, PATH, PEM_BODY, PEM_KEY, startFixture } from './fixture.js';

const running: AnyActorRef[] = [];
afterEach(() => {
  for (const actor of running.splice(0)) actor.stop();
});
function fixture() {
  const root = startFixture();
  running.push(root);
  return root;
}

describe('sanitize', () => {
  it.each([
    ['a PEM block', PEM_KEY],
    ['text around a PEM block', `key: ${PEM_KEY} (loaded)`],
    ['the words of a private key alone', 'RSA PRIVATE KEY'],
    ['END armour alone', '-----END CERTIFICATE-----'],
    ['a PEM body without armour', PEM_BODY],
  ])('removes %s entirely', (_what, text) => {
    expect(redactString(text)).toBe(REDACTED);
  });

  it('cuts long base64 runs out of a string and keeps the rest', () => {
    expect(redactString(`token=${BLOB} end`)).toBe(`token=${REDACTED} end`);
  });

  it('keeps hex hashes, paths, argv and ordinary text', () => {
    for (const text of [
      HASH,
      PATH,
      '/tmp/pilot-agent-it-k3JdQe/proxy/envoy-rev0.json',
      'sidecar~10.1.2.3~productpage-v1-7d4cd8f7c5-abcde.default~default.svc.cluster.local',
      '[Envoy (Epoch 0)] [%Y-%m-%d %T.%e][%t][%l][%n] %v',
      'key.pem does not match the leaf certificate of cert-chain.pem',
    ]) {
      expect(redactString(text)).toBe(text);
    }
  });

  it('hides values under secret-like names, keeps numbers and flags there, and never shows bytes', () => {
    const out = sanitize({
      password: 'hunter2',
      apiToken: 'abc',
      private_key: { inline: 'x' },
      Authorization: 'Bearer x',
      key: 'k',
      tlsKey: '/etc/certs/key.pem',
      keyRotations: 3,
      hasKey: true,
      bytes: Buffer.from(PEM_KEY),
      view: new Uint8Array(4),
      name: 'fine',
    });
    expect(out).toEqual({
      password: REDACTED,
      apiToken: REDACTED,
      private_key: REDACTED,
      Authorization: REDACTED,
      key: REDACTED,
      tlsKey: REDACTED,
      keyRotations: 3,
      hasKey: true,
      bytes: `[${Buffer.byteLength(PEM_KEY)} bytes]`,
      view: '[4 bytes]',
      name: 'fine',
    });
  });

  it('turns errors, maps, sets, bigints, functions, cycles and deep or long values into bounded JSON', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { deep };
    const out = sanitize({
      error: new Error(`bad ${PEM_KEY}`),
      map: new Map([['a', 1]]),
      set: new Set(['x']),
      big: 10n,
      fn: () => 1,
      nan: Number.NaN,
      cyclic,
      deep,
      many: Array.from({ length: 150 }, (_, i) => i),
      long: 'x'.repeat(5000),
    }) as Record<string, unknown>;
    expect(out.error).toEqual({ name: 'Error', message: REDACTED });
    expect(out.map).toEqual({ a: 1 });
    expect(out.set).toEqual(['x']);
    expect(out.big).toBe('10');
    expect('fn' in out).toBe(false);
    expect(out.nan).toBe('NaN');
    expect(out.cyclic).toEqual({ name: 'loop', self: '[circular]' });
    expect(JSON.stringify(out.deep)).toContain('[…]');
    expect((out.many as unknown[]).length).toBe(101);
    expect((out.many as unknown[])[100]).toBe('… 50 more');
    expect((out.long as string).length).toBeLessThan(2100);
    expect(() => JSON.stringify(out)).not.toThrow();
  });
});

describe('sanitize: SDS secrets', () => {
  it('an encoded secret holding a real key shows as its name and hash, never as bytes, base64 or text', () => {
    const resource = new SecretResource(
      'default',
      encodeTlsCertificateSecret('default', Buffer.from('chain'), Buffer.from(PEM_KEY)),
    );
    const bytes = Buffer.from(resource.value);
    const text = JSON.stringify(
      sanitize({
        inFlight: { default: resource },
        resources: [resource],
        value: resource.value,
        base64: bytes.toString('base64'),
        error: new Error(`cannot send ${bytes.toString('latin1')}`),
      }),
    );
    expect(text).not.toMatch(LEAK);
    expect(text).not.toContain(bytes.toString('base64').slice(0, 40));
    expect(text).toContain(resource.sha256);
    expect(text).toContain('"name":"default"');
  });
});

describe('createDebugSource', () => {
  it('machines(): every actor from the root down, with state, and no key material anywhere', () => {
    const root = fixture();
    const report = createDebugSource(root).machines();
    expect(report.actors.map((a) => [a.path, a.kind, a.status])).toEqual([
      ['fixture', 'machine', 'active'],
      ['fixture/holder', 'actor', 'active'],
    ]);
    const [top, holder] = report.actors;
    expect(top).toMatchObject({ machine: 'fixture', state: 'idle', stateIds: ['fixture.idle'], tags: [] });
    expect(holder).toMatchObject({ src: 'holder', systemId: 'holder', parent: root.sessionId });
    expect(holder?.input).toEqual({ material: REDACTED, file: PATH });
    const text = JSON.stringify(report);
    expect(text).not.toMatch(LEAK);
    expect(text).toContain(HASH);
    expect(text).toContain(PATH);
    expect(actorTree(root)).toHaveLength(2);
  });

  it('attaches its observer with the first listener and detaches it with the last', async () => {
    const root = fixture();
    const observers = countObservers(root);
    const source = createDebugSource(root);
    expect(observers()).toBe(0);
    const a: DebugMessage[] = [];
    const b: DebugMessage[] = [];
    const stopA = source.subscribe((m) => a.push(m));
    const stopB = source.subscribe((m) => b.push(m));
    expect([observers(), source.listeners()]).toEqual([1, 2]);
    expect(a.map((m) => m.kind)).toEqual(['attached', 'machines']);
    stopA();
    expect(observers()).toBe(1);
    stopB();
    stopB();
    expect([observers(), source.listeners()]).toEqual([0, 0]);
    // Nothing observes now: transitions produce no messages for anyone.
    root.send({ type: 'STEP' });
    expect(b.filter((m) => m.kind === 'snapshot')).toEqual([]);
  });

  it('publishes only snapshots that change something, sanitised, with the event that caused them', async () => {
    const root = fixture();
    const source = createDebugSource(root);
    const seen: DebugMessage[] = [];
    const stop = source.subscribe((m) => seen.push(m));
    root.send({ type: 'NOOP' });
    expect(seen.filter((m) => m.kind === 'snapshot')).toEqual([]);
    root.send({ type: 'GO', payload: { key: PEM_KEY, note: `here: ${PEM_KEY}`, size: 3 } });
    await waitUntil(
      () => seen.some((m) => m.kind === 'snapshot' && m.actor.state === 'idle' && m.actor.context !== null),
      'back to idle after the failing load',
    );
    const snapshots = seen.flatMap((m) => (m.kind === 'snapshot' ? [m] : []));
    expect(snapshots.map((m) => m.actor.state)).toEqual(['loading', 'idle']);
    expect(snapshots[0]?.event).toEqual({ type: 'GO', payload: { key: REDACTED, note: REDACTED, size: 3 } });
    expect((snapshots[1]?.actor.context as { lastError?: unknown } | undefined)?.lastError).toEqual({
      name: 'Error',
      message: REDACTED,
    });
    expect(JSON.stringify(seen)).not.toMatch(LEAK);
    stop();
  });

  it('replays at most `replay` messages to a late listener, then the current state', () => {
    const root = fixture();
    const source = createDebugSource(root, { replay: 3 });
    const stop = source.subscribe(() => {});
    for (let i = 0; i < 10; i++) root.send({ type: 'STEP' });
    const late: DebugMessage[] = [];
    const stopLate = source.subscribe((m) => late.push(m));
    expect(late.map((m) => m.kind)).toEqual(['snapshot', 'snapshot', 'snapshot', 'machines']);
    const steps = late.flatMap((m) =>
      m.kind === 'snapshot' ? [(m.actor.context as { steps: number }).steps] : [],
    );
    expect(steps).toEqual([8, 9, 10]);
    expect(late.map((m) => m.seq)).toEqual([...late.map((m) => m.seq)].sort((x, y) => x - y));
    stop();
    stopLate();
  });

  it('a listener that throws neither breaks the actor nor the other listeners', () => {
    const root = fixture();
    const source = createDebugSource(root);
    let calls = 0;
    const stopBad = source.subscribe((m) => {
      if (m.kind === 'snapshot') throw new Error('broken socket');
    });
    const stopGood = source.subscribe((m) => {
      if (m.kind === 'snapshot') calls++;
    });
    root.send({ type: 'STEP' });
    root.send({ type: 'STEP' });
    expect(calls).toBe(2);
    expect(root.getSnapshot().status).toBe('active');
    stopBad();
    stopGood();
  });
});
