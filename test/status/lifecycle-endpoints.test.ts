/**
 * `/quitquitquit` and `/drain`: loopback callers only, POST only, the callback runs once the 200
 * is written (Istio TestHandleQuit, spec §7.5, §7.7). The non-loopback caller is real: the status
 * server listens on every interface and the request goes to this machine's own non-loopback
 * address, so the server sees a non-loopback peer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopbackAddress } from '../../src/http/loopback.js';
import { closeAll, get, nonLoopbackAddress, startStatus } from './helpers.js';

afterEach(closeAll);

function recorder() {
  let calls = 0;
  let notify: () => void = () => {};
  const called = new Promise<void>((resolve) => (notify = resolve));
  return {
    fn: () => {
      calls++;
      notify();
    },
    called,
    calls: () => calls,
  };
}

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.3.4', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:2', true],
    ['192.0.2.2', false],
    ['::ffff:192.0.2.2', false],
    ['fd00::2', false],
    ['::', false],
    ['0.0.0.0', false],
    ['128.0.0.1', false],
    ['localhost', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});

describe.each([
  ['/quitquitquit', 'quit'],
  ['/drain', 'drain'],
] as const)('%s', (path, dep) => {
  it('from 127.0.0.1 and ::1 (dual-stack listener): 200 OK, then the callback', async () => {
    for (const from of ['127.0.0.1', '::1']) {
      const callback = recorder();
      const status = await startStatus({ [dep]: callback.fn }, '::');
      const res = await get(`http://${from.includes(':') ? `[${from}]` : from}:${status.port}${path}`, {
        method: 'POST',
      });
      expect([res.status, res.body]).toEqual([200, 'OK']);
      await callback.called;
      expect(callback.calls()).toBe(1);
    }
  });

  it('GET from loopback: 405 and no callback', async () => {
    const callback = recorder();
    const status = await startStatus({ [dep]: callback.fn });
    const res = await get(`${status.url}${path}`);
    expect([res.status, res.body, res.headers.allow]).toEqual([405, 'Method Not Allowed\n', 'POST']);
    expect(callback.calls()).toBe(0);
  });

  it.for(['IPv4', 'IPv6'] as const)(
    'POST from a non-loopback %s address: 403 and no callback',
    async (family, ctx) => {
      const address = nonLoopbackAddress(family);
      if (!address) {
        ctx.skip(true, `no non-loopback ${family} address on this machine`);
        return;
      }
      const callback = recorder();
      const status = await startStatus({ [dep]: callback.fn }, family === 'IPv4' ? '0.0.0.0' : '::');
      const host = family === 'IPv6' ? `[${address}]` : address;
      for (const method of ['POST', 'GET']) {
        const res = await get(`http://${host}:${status.port}${path}`, { method });
        expect([res.status, res.body]).toEqual([403, 'Only requests from localhost are allowed\n']);
      }
      // A forwarding header claiming loopback changes nothing.
      const forged = await get(`http://${host}:${status.port}${path}`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' },
      });
      expect(forged.status).toBe(403);
      expect(callback.calls()).toBe(0);
    },
  );

  it('is not served when the agent gives no callback', async () => {
    const status = await startStatus({});
    expect((await get(`${status.url}${path}`, { method: 'POST' })).status).toBe(404);
  });
});
