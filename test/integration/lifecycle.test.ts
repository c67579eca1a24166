/**
 * The lifecycle through the real CLI against the Envoy simulator, observed only from outside:
 * exit codes, Envoy's argv and the admin calls it received (simulator record file), readiness
 * answers over time, and that no Envoy process is left behind (checked by pid).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tlsFilesIn } from '../../src/config/defaults.js';
import {
  AGENT_BIN,
  AGENT_NODE_FLAGS,
  type AgentRun,
  httpGet,
  SIMULATOR,
  sampleReadiness,
} from '../helpers/agent-process.js';
import { agentsStoppedAfterEach } from '../helpers/agents.js';
import { waitUntil } from '../helpers/wait.js';

const agent = agentsStoppedAfterEach();

const pidOf = (run: AgentRun, nth = -1) => {
  const start = run.starts().at(nth);
  if (!start) throw new Error('no Envoy started');
  return start.pid;
};

async function expectNoLeftovers(run: AgentRun) {
  await waitUntil(() => run.leftovers().length === 0, 'every Envoy process gone', { timeoutMs: 5_000 });
}

describe('start and readiness', () => {
  it('starts Envoy with Istio 1.5 argv, answers 503 with a reason, then 200 once Envoy has config', async () => {
    const run = await agent({ sim: { XDS_DELAY_MS: '400' } });
    await run.waitRecord((r) => r.event === 'start', 'Envoy started');
    const early = await run.get('/healthz/ready');
    expect(early.status).toBe(503);
    expect(early.body.trim().length).toBeGreaterThan(0);
    await run.waitReady();

    const [start] = run.starts();
    expect(start?.epoch).toBe(0);
    expect(start?.argv).toEqual([
      '-c',
      join(run.configPath, 'envoy-rev0.json'),
      '--restart-epoch',
      '0',
      '--base-id',
      String(run.baseId),
      '--drain-time-s',
      '2',
      '--parent-shutdown-time-s',
      '3',
      '--service-cluster',
      'istio-proxy',
      '--service-node',
      'sidecar~127.0.0.1~productpage-v1-7d4cd8f7c5-abcde.default~default.svc.cluster.local',
      '--local-address-ip-version',
      'v4',
      '--log-format',
      '[Envoy (Epoch 0)] [%Y-%m-%d %T.%e][%t][%l][%n] %v',
      '-l',
      'warning',
      '--component-log-level',
      'misc:error',
    ]);
    // Readiness comes from polling the admin stats, never from a call per probe.
    const polls = run.adminCalls().filter((r) => r.path?.startsWith('/stats?usedonly'));
    expect(polls.length).toBeGreaterThan(0);
    const before = run.adminCalls().length;
    for (let i = 0; i < 20; i++) expect((await run.get('/healthz/ready')).status).toBe(200);
    expect(run.adminCalls().length - before).toBeLessThan(5);
  });

  it('answers HEAD on /healthz/ready and 404 elsewhere', async () => {
    const run = await agent();
    await run.waitReady();
    expect((await run.get('/healthz/ready', 'HEAD')).status).toBe(200);
    expect((await run.get('/')).status).toBe(404);
  });
});

describe('supervision', () => {
  it('restarts a crashed Envoy as a fresh epoch 0 after the backoff, with readiness 503 meanwhile', async () => {
    const run = await agent();
    await run.waitReady();
    const first = pidOf(run);
    const sampler = sampleReadiness(run);
    process.kill(first, 'SIGSEGV');
    await run.waitRecord((r) => r.event === 'start' && r.pid !== first, 'Envoy restarted');
    await run.waitReady();
    const samples = await sampler.stop();
    expect(samples.some((s) => s.status === 503)).toBe(true);
    const restarts = run.starts();
    expect(restarts).toHaveLength(2);
    expect(restarts[1]?.argv?.slice(0, 4)).toEqual([
      '-c',
      join(run.configPath, 'envoy-rev0.json'),
      '--restart-epoch',
      '0',
    ]);
    // The backoff is at least 200 ms between the crash and the new spawn.
    const exit = run.records().find((r) => r.event === 'exit' && r.pid === first);
    expect((restarts[1]?.t ?? 0) - (exit?.t ?? 0)).toBeGreaterThanOrEqual(190);
    await run.waitLog(/"to":"crashedBackoff"/);
  });

  it('gives up with exit code 3 when the restart budget is spent, leaving no Envoy behind', async () => {
    const run = await agent({ args: ['--restartBudget', '1'], sim: { CRASH_AFTER_MS: '300' } });
    const { code } = await run.exited;
    expect(code).toBe(3);
    expect(run.starts()).toHaveLength(2);
    await expectNoLeftovers(run);
    expect(run.lines.some((l) => l.includes('restart budget of 1 spent'))).toBe(true);
  });

  it('never restarts with --restartBudget 0 (Istio ≥ 1.5)', async () => {
    const run = await agent({
      args: ['--restartBudget', '0'],
      sim: { CRASH_AFTER_MS: '200', EXIT_CODE: '1' },
    });
    expect((await run.exited).code).toBe(3);
    expect(run.starts()).toHaveLength(1);
  });

  it('exits 0 when Envoy exits 0 on its own (POST /quitquitquit to Envoy)', async () => {
    const run = await agent();
    await run.waitReady();
    await httpGet(run.adminPort, '/quitquitquit', 'POST');
    expect((await run.exited).code).toBe(0);
    expect(run.starts()).toHaveLength(1);
  });

  it('exits 127 at once, naming the path, when the binary does not exist', async () => {
    const run = await agent({ binaryPath: '/nonexistent/envoy' });
    expect((await run.exited).code).toBe(127);
    expect(run.lines.join('\n')).toContain('/nonexistent/envoy');
  });

  it('exits 126 at once when the binary is not executable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-agent-bin-'));
    try {
      const bad = join(dir, 'envoy');
      writeFileSync(bad, '#!/bin/sh\nexit 0\n');
      chmodSync(bad, 0o644);
      const run = await agent({ binaryPath: bad });
      expect((await run.exited).code).toBe(126);
      expect(run.lines.join('\n')).toContain(bad);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM: 503 at once, inbound graceful drain, wait the termination drain, SIGTERM Envoy, exit 0', async () => {
    const run = await agent({ env: { TERMINATION_DRAIN_DURATION_SECONDS: '1' } });
    await run.waitReady();
    const t0 = Date.now();
    run.signal('SIGTERM');
    await waitUntil(async () => (await run.ready()) === 503, 'readiness 503 after SIGTERM', {
      timeoutMs: 1_000,
    });
    const { code, at } = await run.exited;
    expect(code).toBe(0);
    expect(at - t0).toBeGreaterThanOrEqual(1_000);
    expect(
      run.adminCalls().some((r) => r.method === 'POST' && r.path === '/drain_listeners?inboundonly&graceful'),
    ).toBe(true);
    expect(run.records().some((r) => r.event === 'signal' && r.name === 'SIGTERM')).toBe(true);
    await expectNoLeftovers(run);
  });

  it('drains all listeners for a router', async () => {
    const run = await agent({ role: 'router', env: { TERMINATION_DRAIN_DURATION_SECONDS: '0' } });
    await run.waitReady();
    run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(run.adminCalls().some((c) => c.path === '/drain_listeners?graceful')).toBe(true);
  });

  it('a second SIGTERM skips the rest of the drain', async () => {
    const run = await agent({ env: { TERMINATION_DRAIN_DURATION_SECONDS: '60' } });
    await run.waitReady();
    run.signal('SIGTERM');
    await run.waitRecord((r) => r.path === '/drain_listeners?inboundonly&graceful', 'drain requested');
    const t1 = Date.now();
    run.signal('SIGTERM');
    const { code, at } = await run.exited;
    expect(code).toBe(0);
    expect(at - t1).toBeLessThan(5_000);
  });

  it('Envoy exiting during the drain ends it early', async () => {
    const run = await agent({ env: { TERMINATION_DRAIN_DURATION_SECONDS: '60' } });
    await run.waitReady();
    run.signal('SIGTERM');
    await run.waitRecord((r) => r.path === '/drain_listeners?inboundonly&graceful', 'drain requested');
    const t1 = Date.now();
    process.kill(pidOf(run), 'SIGTERM');
    const { code, at } = await run.exited;
    expect(code).toBe(0);
    expect(at - t1).toBeLessThan(5_000);
  });

  it('SIGTERM while Envoy is still starting stops at once', async () => {
    const run = await agent({ sim: { NEVER_LIVE: '1' }, env: { TERMINATION_DRAIN_DURATION_SECONDS: '60' } });
    await run.waitRecord((r) => r.event === 'start', 'Envoy started');
    run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(run.adminCalls().some((r) => r.path?.startsWith('/drain_listeners'))).toBe(false);
    await expectNoLeftovers(run);
  });

  it('SIGTERM during the crash backoff stops without restarting', async () => {
    const run = await agent({ args: ['--restartBudget', '5'] });
    await run.waitReady();
    process.kill(pidOf(run), 'SIGKILL');
    await run.waitLog(/"to":"crashedBackoff"/);
    run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(run.starts()).toHaveLength(1);
  });

  it('SIGKILLs an Envoy that ignores SIGTERM, and exits 0 once it is gone', async () => {
    const run = await agent({
      sim: { IGNORE_SIGTERM: '1' },
      env: { TERMINATION_DRAIN_DURATION_SECONDS: '0' },
    });
    await run.waitReady();
    run.signal('SIGTERM');
    const { code } = await run.exited;
    expect(code).toBe(0);
    expect(run.records().some((r) => r.event === 'signal' && r.name === 'SIGTERM')).toBe(true);
    await expectNoLeftovers(run);
  }, 20_000);

  it('zero-connection mode waits for connections to drain, polling Envoy', async () => {
    const run = await agent({
      env: { EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true', MINIMUM_DRAIN_DURATION: '1s' },
      sim: { ACTIVE_CONNECTIONS: '4', CONNECTIONS_DRAIN_MS: '2500' },
    });
    await run.waitReady();
    const t0 = Date.now();
    run.signal('SIGTERM');
    const { code, at } = await run.exited;
    expect(code).toBe(0);
    expect(at - t0).toBeGreaterThanOrEqual(2_000);
    expect(run.adminCalls().some((r) => r.path?.includes('downstream_cx_active'))).toBe(true);
  });

  it('an agent killed outright takes Envoy with it (parent-death signal)', async () => {
    const run = await agent();
    await run.waitReady();
    const envoy = pidOf(run);
    run.signal('SIGKILL');
    await run.exited;
    await waitUntil(() => !run.leftovers().includes(envoy), 'Envoy gone after the agent was killed', {
      timeoutMs: 5_000,
    });
  });
});

describe('a broken log stream', () => {
  it('an agent whose stdout reader went away still drains, stops Envoy and exits, without spinning', async () => {
    const run = await agent({ env: { TERMINATION_DRAIN_DURATION_SECONDS: '1' } });
    await run.waitReady();
    // The reader of the agent's stdout goes away: every later log write fails with EPIPE.
    run.proc.stdout?.destroy();
    run.signal('SIGHUP');
    await run.waitStart(1);
    const pid = run.proc.pid ?? 0;
    const ticks = () => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[11] ?? 0);
    const t0 = ticks();
    const w0 = Date.now();
    await waitUntil(() => Date.now() - w0 >= 1_000, 'a second of agent time');
    // utime in clock ticks (100/s): a spinning agent would burn ~100 per second.
    expect(ticks() - t0).toBeLessThan(30);
    run.signal('SIGTERM');
    const { code } = await run.exited;
    expect(code).toBe(0);
    await expectNoLeftovers(run);
  });
});

describe('bootstrap failures through the CLI', () => {
  const run = (dir: string, args: string[]) =>
    spawnSync(process.execPath, [...AGENT_NODE_FLAGS, AGENT_BIN, 'proxy', 'sidecar', ...args], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
      env: {
        PATH: process.env.PATH ?? '',
        POD_NAME: 'p',
        POD_NAMESPACE: 'ns',
        ENVOY_SIM_SHM_DIR: dir,
        ...tlsFilesIn(dir),
      },
    });

  it('an unreadable template: exit 1, one stderr line naming it, nothing written, Envoy never started', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-agent-tmpl-'));
    try {
      const r = run(dir, [
        '--configPath',
        join(dir, 'proxy'),
        '--binaryPath',
        SIMULATOR,
        '--templateFile',
        join(dir, 'missing.tmpl'),
      ]);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        `cannot read bootstrap template ${join(dir, 'missing.tmpl')}: no such file or directory`,
      ]);
      expect(existsSync(join(dir, 'proxy', 'envoy-rev0.json'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unwritable configPath (a file where the directory should be): exit 1, one stderr line naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-agent-cfg-'));
    try {
      writeFileSync(join(dir, 'proxy'), 'not a directory');
      const r = run(dir, ['--configPath', join(dir, 'proxy'), '--binaryPath', SIMULATOR]);
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(join(dir, 'proxy'));
      expect(readFileSync(join(dir, 'proxy'), 'utf8')).toBe('not a directory');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
