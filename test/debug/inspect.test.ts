/**
 * `--inspect`: the Stately inspector relay (src/debug/inspect.ts). In process against a small
 * system carrying key material, then through the real CLI: a plain WebSocket client on the relay
 * receives the Stately registrations of the agent's actors, sanitised; the relay is on loopback
 * only and refuses other hosts and origins; without the flag nothing listens.
 */
import { createConnection } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import {
  DEFAULT_INSPECT_PORT,
  type InspectorRelay,
  inspectPortFrom,
  startInspector,
} from '../../src/debug/inspect.js';
import { freePort } from '../helpers/agent-process.js';
import { makeCerts, writePlain } from '../helpers/certs.js';
import { waitUntil } from '../helpers/wait.js';
import { countObservers, LEAK, PATH, startFixture } from './fixture.js';
import { agent, cleanup, get, KEY_MATERIAL, nonLoopbackAddress, onCleanup, openWs } from './helpers.js';

const silent = pino({ level: 'silent' });
afterEach(cleanup);

interface StatelyEvent {
  type: string;
  name?: string;
  sessionId: string;
  parentId?: string;
  definition?: string;
  snapshot?: { status?: string; value?: unknown; context?: unknown; input?: unknown };
  event?: { type: string };
  _version?: string;
}

const registrations = (messages: unknown[]) =>
  (messages as StatelyEvent[]).filter((m) => m.type === '@xstate.actor');

async function relayFor(root: AnyActorRef, options: { maxClients?: number } = {}): Promise<InspectorRelay> {
  const relay = await startInspector(root, { port: 0, log: silent, ...options });
  onCleanup(() => relay.close());
  return relay;
}

function fixture(): AnyActorRef {
  const root = startFixture();
  onCleanup(() => root.stop());
  return root;
}

/** Resolves with the connection error code (ECONNREFUSED…) or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('inspector relay (in process)', () => {
  it('gives a client every live actor, then the live feed in the Stately format, sanitised', async () => {
    const root = fixture();
    const observers = countObservers(root);
    const relay = await relayFor(root);
    expect(relay.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(observers()).toBe(0);
    const ws = await openWs(relay.url.replace('http', 'ws'));
    await ws.waitFor((m) => registrations(m).length === 2, 'two registrations');
    const [top, holder] = registrations(ws.messages());
    expect(top).toMatchObject({
      name: 'fixture',
      sessionId: root.sessionId,
      snapshot: { status: 'active', value: 'idle' },
    });
    expect(holder).toMatchObject({ name: 'holder', parentId: root.sessionId });
    expect(typeof top?._version).toBe('string');
    // The machine definition travels as JSON text (what the inspector draws from); parsable.
    expect((JSON.parse(top?.definition ?? '{}') as { id?: string }).id).toBe('fixture');
    expect(observers()).toBe(1);

    root.send({ type: 'GO', payload: { note: 'loading' } });
    await ws.waitFor(
      (m) =>
        (m as StatelyEvent[]).some(
          (e) => e.type === '@xstate.snapshot' && (e.snapshot?.context as { lastError?: unknown })?.lastError,
        ),
      'the failed load in a snapshot',
    );
    const events = ws.messages() as StatelyEvent[];
    expect(events.some((e) => e.type === '@xstate.event' && e.event?.type === 'GO')).toBe(true);
    const text = JSON.stringify(events);
    expect(text).not.toMatch(LEAK);
    expect(text).toContain(PATH);

    ws.close();
    await waitUntil(() => observers() === 0 && relay.clients() === 0, 'observer detached');
  });

  it('closing the relay ends its clients and detaches their observers', async () => {
    const root = fixture();
    const observers = countObservers(root);
    const relay = await startInspector(root, { port: 0, log: silent });
    const ws = await openWs(relay.url.replace('http', 'ws'));
    await ws.waitFor((m) => registrations(m).length === 2, 'registrations');
    expect(observers()).toBe(1);
    await relay.close();
    expect([observers(), relay.clients()]).toEqual([0, 0]);
    expect(await tryConnect('127.0.0.1', relay.port)).toBe('ECONNREFUSED');
  });

  it('a late client gets the current state at once, whatever happened before', async () => {
    const root = fixture();
    const relay = await relayFor(root);
    const first = await openWs(relay.url.replace('http', 'ws'));
    for (let i = 0; i < 300; i++) root.send({ type: 'STEP' });
    const late = await openWs(relay.url.replace('http', 'ws'));
    await late.waitFor((m) => registrations(m).length === 2, 'registrations');
    const top = registrations(late.messages())[0];
    expect((top?.snapshot?.context as { steps?: number } | undefined)?.steps).toBe(300);
    await first.waitFor((m) => m.length > 300, 'the first client saw the steps');
  });

  it('refuses other Hosts and foreign Origins, and more than maxClients', async () => {
    const root = fixture();
    const relay = await relayFor(root, { maxClients: 1 });
    const url = relay.url.replace('http', 'ws');
    const port = relay.port;
    await expect(openWs(url, { origin: 'https://evil.example' })).rejects.toThrow('HTTP 403');
    await expect(openWs(url, { host: `evil.example:${port}` })).rejects.toThrow('HTTP 403');
    await expect(
      openWs(url, { origin: `http://localhost:${port}`, host: `localhost:${port}` }),
    ).resolves.toBeDefined();
    await expect(openWs(url)).rejects.toThrow('HTTP 503');
  });

  it('listens on loopback only', async (ctx) => {
    const root = fixture();
    const relay = await relayFor(root);
    expect(await tryConnect('127.0.0.1', relay.port)).toBe('connected');
    const address = nonLoopbackAddress('IPv4');
    if (!address) {
      ctx.skip(true, 'no non-loopback IPv4 address on this machine');
      return;
    }
    expect(await tryConnect(address, relay.port)).toBe('ECONNREFUSED');
  });

  it('serves the bridge page: Stately UI in a frame, the feed from the same host, nothing else', async () => {
    const root = fixture();
    const relay = await relayFor(root);
    const page = await get(`${relay.url}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<iframe id="inspector" src="https://stately.ai/inspect"');
    expect(page.body).toContain("location.host + '/'");
    expect(page.body).not.toContain('localhost:8080');
    expect(String(page.headers['content-security-policy'])).toContain('frame-src https://stately.ai');
    expect((await get(`${relay.url}/other`)).status).toBe(404);
    expect((await get(`${relay.url}/`, { headers: { host: 'evil.example' } })).status).toBe(403);
    expect((await get(`${relay.url}/`, { method: 'POST' })).status).toBe(405);
  });

  it('takes its port from PILOT_AGENT_INSPECT_PORT', () => {
    expect(inspectPortFrom({})).toBe(DEFAULT_INSPECT_PORT);
    expect(inspectPortFrom({ PILOT_AGENT_INSPECT_PORT: '9999' })).toBe(9999);
    expect(inspectPortFrom({ PILOT_AGENT_INSPECT_PORT: '0' })).toBe(0);
    expect(() => inspectPortFrom({ PILOT_AGENT_INSPECT_PORT: 'http' })).toThrow(/not a port number/);
    expect(() => inspectPortFrom({ PILOT_AGENT_INSPECT_PORT: '70000' })).toThrow(/not a port number/);
  });
});

describe('pilot-agent proxy --inspect', () => {
  it('a WebSocket client on the relay receives the agent, the lifecycle and the cert rotation', async () => {
    const port = await freePort();
    const run = await agent({
      args: ['--inspect'],
      env: {
        PILOT_AGENT_INSPECT_PORT: String(port),
        ISTIO_META_SOMETHING: '-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n',
      },
      prepare: ({ dir, certDir }) => writePlain(certDir, makeCerts(dir, 'inspect')),
    });
    await run.waitReady();
    await run.waitLog(/Stately inspector relay on loopback/);
    const ws = await openWs(`ws://127.0.0.1:${port}/`);
    const names = () => registrations(ws.messages()).map((r) => r.name);
    await ws.waitFor(
      () => ['agent', 'lifecycle', 'certs', 'envoy-1'].every((n) => names().includes(n)),
      'registrations',
    );
    const byName = new Map(registrations(ws.messages()).map((r) => [r.name, r]));
    const root = byName.get('agent');
    expect(root?.parentId).toBeUndefined();
    expect(byName.get('lifecycle')?.parentId).toBe(root?.sessionId);
    expect(byName.get('certs')?.parentId).toBe(root?.sessionId);
    expect(byName.get('lifecycle')?.snapshot?.value).toBe('ready');
    expect((JSON.parse(byName.get('lifecycle')?.definition ?? '{}') as { id?: string }).id).toBe('envoy');
    // Then the live feed: SIGHUP hot-restarts Envoy (the admin poll reports changes only, so a
    // steady agent is quiet).
    run.signal('SIGHUP');
    await ws.waitFor(
      (m) => (m as StatelyEvent[]).some((e) => e.type === '@xstate.event' && e.event?.type === 'HOT_RESTART'),
      'HOT_RESTART sent to the lifecycle',
    );
    await ws.waitFor(
      (m) =>
        (m as StatelyEvent[]).some(
          (e) =>
            e.type === '@xstate.snapshot' &&
            e.sessionId === byName.get('lifecycle')?.sessionId &&
            JSON.stringify(e.snapshot?.value) === '{"hotRestarting":"handover"}',
        ),
      'the lifecycle handing over to epoch 1',
      15_000,
    );
    expect(JSON.stringify(ws.messages())).not.toMatch(KEY_MATERIAL);
  });

  it('PILOT_AGENT_INSPECT=true does the same; without either, nothing listens and nothing is loaded', async () => {
    const port = await freePort();
    const on = await agent({ env: { PILOT_AGENT_INSPECT: 'true', PILOT_AGENT_INSPECT_PORT: String(port) } });
    await on.waitReady();
    await on.waitLog(/Stately inspector relay on loopback/);
    expect(await tryConnect('127.0.0.1', port)).toBe('connected');

    const offPort = await freePort();
    // At the default level: debug lines list every flag, `--inspect` among them.
    const off = await agent({
      env: { PILOT_AGENT_INSPECT_PORT: String(offPort) },
      args: ['--log_output_level', 'default:info'],
    });
    await off.waitReady();
    expect(await tryConnect('127.0.0.1', offPort)).toBe('ECONNREFUSED');
    expect(off.lines.some((l) => /inspect/i.test(l))).toBe(false);
  });
});
