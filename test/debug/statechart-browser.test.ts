/**
 * `/debug/statechart` in a real headless Chromium against a real agent (Envoy simulator): the
 * page draws the machines offline, highlights `ready`, follows a crash through `crashedBackoff`
 * back to `ready`, and the screenshots are kept under the test's temp dir for a human to look at.
 *
 * `crashedBackoff` lasts the restart backoff (200 ms), too short to catch by polling a page. The
 * page's own Pause/Step controls hold the view instead: pause, crash Envoy, step through the
 * queued transitions until `crashedBackoff` is drawn, screenshot, resume. The page's
 * `pilotDebug.history` (what it highlighted, read back from the DOM) is checked as well.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/agent-process.js';
import { waitUntil } from '../helpers/wait.js';
import { agent, cleanup } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`SKIPPED: ${CHROMIUM} is not installed (apt-get install chromium)`);

let browser: Browser | undefined;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pilot-agent-statechart-'));
  if (!haveChromium) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterEach(cleanup);
afterAll(async () => {
  await browser?.close();
  // The screenshots are taken under this test's temp dir; set KEEP_SCREENSHOTS=1 to look at them.
  if (process.env.KEEP_SCREENSHOTS !== '1') rmSync(work, { recursive: true, force: true });
});

/** The state ids the page draws as current in one diagram, read from the DOM. */
async function highlighted(page: Page, machine: string): Promise<string[]> {
  const titles = await page.locator(`#diagram-${machine} g.current > title`).allTextContents();
  return titles.map((t) => t.replace(/^cluster_/, ''));
}

/** The page's own record (window.pilotDebug), read in the page; no DOM types needed here. */
const pageDebug = (page: Page) => page.evaluate<PageDebug>('window.pilotDebug');

async function waitHighlighted(page: Page, machine: string, stateId: string, timeoutMs = 15_000) {
  await waitUntil(
    async () => (await highlighted(page, machine)).includes(stateId),
    `${stateId} highlighted`,
    {
      timeoutMs,
      intervalMs: 25,
    },
  );
}

interface PageDebug {
  history: { machine: string; state: string; highlighted: string[] }[];
  queued: number;
}

describe.skipIf(!haveChromium)('/debug/statechart in headless Chromium', () => {
  it('highlights ready, then crashedBackoff after an Envoy crash, then ready again; offline', async () => {
    const run = await agent();
    await run.waitReady();
    const page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 1000 } });
    // The page must need nothing but the agent: any other request fails the test.
    const foreign: string[] = [];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1' && url.port === String(run.statusPort)) return route.continue();
      foreign.push(url.href);
      return route.abort();
    });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));

    await page.goto(`http://127.0.0.1:${run.statusPort}/debug/statechart`);
    await waitHighlighted(page, 'envoy', 'envoy.ready');
    await waitHighlighted(page, 'agent', 'agent.active.running');
    await waitHighlighted(page, 'certs', 'certs.watching');
    expect(await highlighted(page, 'agent')).toEqual(['agent.active', 'agent.active.running']);
    expect(await page.locator('.card[data-machine="envoy"] .now').textContent()).toBe('ready');
    const readyShot = join(work, '1-ready.png');
    await page.screenshot({ path: readyShot, fullPage: true });

    // Hold the view, crash Envoy, and step through what the page received.
    await page.click('#pause');
    const first = run.starts()[0];
    expect(first).toBeDefined();
    process.kill(first?.pid as number, 'SIGSEGV');
    await run.waitLog(/"to":"ready".*"restarts":1/, 15_000);
    await waitUntil(async () => (await pageDebug(page)).queued > 0, 'transitions queued');
    for (let i = 0; i < 50 && !(await highlighted(page, 'envoy')).includes('envoy.crashedBackoff'); i++) {
      await page.click('#step');
    }
    expect(await highlighted(page, 'envoy')).toEqual(['envoy.crashedBackoff']);
    expect(await page.locator('.card[data-machine="envoy"] .now').textContent()).toBe('crashedBackoff');
    expect(await page.locator('.card[data-machine="envoy"] .facts').textContent()).toContain(
      'killed by SIGSEGV',
    );
    const crashShot = join(work, '2-crashed-backoff.png');
    await page.screenshot({ path: crashShot, fullPage: true });

    await page.click('#pause'); // Resume: the rest of the queue, then live again.
    await waitHighlighted(page, 'envoy', 'envoy.ready');
    const second = run.starts()[1];
    expect(second?.pid).toBeGreaterThan(0);
    expect(await page.locator('.card[data-machine="envoy"] .facts').textContent()).toContain(
      `pid ${second?.pid}`,
    );
    const backShot = join(work, '3-ready-again.png');
    await page.screenshot({ path: backShot, fullPage: true });

    const history = (await pageDebug(page)).history.filter((h) => h.machine === 'envoy').map((h) => h.state);
    const crashAt = history.indexOf('crashedBackoff');
    expect(crashAt).toBeGreaterThan(history.indexOf('ready'));
    expect(history.slice(crashAt)).toContain('ready');

    expect(foreign).toEqual([]);
    expect(consoleErrors).toEqual([]);
    for (const shot of [readyShot, crashShot, backShot]) expect(statSync(shot).size).toBeGreaterThan(10_000);
    console.log(`screenshots: ${readyShot} ${crashShot} ${backShot}`);
    await page.close();
  });

  it("--inspect: the relay page hands the agent's events to the Stately inspector frame", async () => {
    const port = await freePort();
    const run = await agent({ args: ['--inspect'], env: { PILOT_AGENT_INSPECT_PORT: String(port) } });
    await run.waitReady();
    await run.waitLog(/Stately inspector relay on loopback/);
    const page = await (browser as Browser).newPage();
    // Stately's UI is stood in for by a page that announces itself as the real one does and
    // keeps what it is sent; nothing leaves this machine.
    const fakeInspector = `<!doctype html><script>
      window.received = [];
      window.addEventListener('message', (e) => window.received.push({ origin: e.origin, data: e.data }));
      parent.postMessage({ type: '@statelyai.connected' }, '*');
    </script>`;
    const foreign: string[] = [];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.href.startsWith('https://stately.ai/inspect')) {
        return route.fulfill({ status: 200, contentType: 'text/html', body: fakeInspector });
      }
      if (url.hostname === 'localhost' && url.port === String(port)) return route.continue();
      foreign.push(url.href);
      return route.abort();
    });
    await page.goto(`http://localhost:${port}/`);
    const frame = () => page.frames().find((f) => f.url().startsWith('https://stately.ai/'));
    const names = async (): Promise<string[]> =>
      (await frame()?.evaluate<string[]>(
        "window.received.filter((m) => m.data.type === '@xstate.actor').map((m) => m.data.name)",
      )) ?? [];
    await waitUntil(async () => {
      const seen = await names();
      return ['agent', 'lifecycle', 'certs', 'envoy-1'].every((n) => seen.includes(n));
    }, 'registrations in the frame');
    expect(await names()).toEqual(expect.arrayContaining(['agent', 'lifecycle', 'certs', 'envoy-1']));
    expect(await frame()?.evaluate<string[]>('[...new Set(window.received.map((m) => m.origin))]')).toEqual([
      `http://localhost:${port}`,
    ]);
    expect(foreign).toEqual([]);
    await page.close();
  });
});
