/**
 * Signals, crashes and the fault switches, as a supervisor observes them: exit code or death by
 * signal, stderr lines, admin answers, and the record file (`RunHelper` in
 * `source/server/server.cc`, `source/exe/signal_action.cc`; docs/envoy-process.md, "Signals",
 * "Exit status", "Parent-death signal").
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminAddress, bootstrapYaml, Lab, request, SIMULATOR, type Sim, waitUntil } from './test-harness.js';

let lab: Lab;
beforeEach(() => {
  lab = new Lab();
});
afterEach(async () => {
  await lab.cleanup();
});

function start(args: string[] = [], env: Record<string, string> = {}, yaml = bootstrapYaml()): Sim {
  const config = lab.write('bootstrap.yaml', yaml);
  return lab.spawn(['-c', config, '--admin-address-path', lab.path('admin.addr'), ...args], env);
}

async function live(sim: Sim): Promise<string> {
  await sim.waitForStderr('starting workers');
  return adminAddress(lab);
}

describe('signals once running', () => {
  it('SIGTERM: caught ENVOY_SIGTERM, shutdown lines, exit 0', async () => {
    const sim = start(lab.hotRestartArgs(0));
    await live(sim);
    sim.signal('SIGTERM');
    expect(await sim.waitForExit()).toEqual({ code: 0, signal: null });
    expect(sim.stderr).toMatch(
      /\[warning\]\[main\] \[\S+\] caught ENVOY_SIGTERM\n.*shutting down server instance\n/,
    );
    expect(sim.stderr).toMatch(/exiting\n$/);
    const events = lab.records().map((r) => r.event);
    expect(events).toEqual(['start', 'hot-restart', 'hot-restart', 'signal', 'exit']);
    expect(lab.records().at(-1)).toMatchObject({ event: 'exit', code: 0 });
  });

  it('SIGINT: caught SIGINT, exit 0', async () => {
    const sim = start(['--disable-hot-restart']);
    await live(sim);
    sim.signal('SIGINT');
    expect(await sim.waitForExit()).toEqual({ code: 0, signal: null });
    expect(sim.stderr).toContain('caught SIGINT');
  });

  it('SIGHUP is logged and eaten; SIGUSR1 reopens the logs', async () => {
    const sim = start(['--disable-hot-restart']);
    const admin = await live(sim);
    sim.signal('SIGHUP');
    await sim.waitForStderr('caught and eating SIGHUP. See documentation for how to hot restart.');
    sim.signal('SIGUSR1');
    await sim.waitForStderr('caught SIGUSR1. Reopening access logs.');
    expect((await request(admin, 'GET', '/ready')).body).toBe('LIVE\n');
    expect(sim.status).toBeUndefined();
  });
});

describe('before the main loop', () => {
  it('SIGTERM during a slow start takes the default action: death by SIGTERM', async () => {
    const sim = start(['--disable-hot-restart'], { ENVOY_SIM_START_DELAY_MS: '5000' });
    await sim.waitForStderr('initializing epoch 0');
    sim.signal('SIGTERM');
    expect(await sim.waitForExit()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(sim.stderr).not.toContain('caught ENVOY_SIGTERM');
    expect(existsSync(lab.path('admin.addr'))).toBe(false);
    expect(lab.records().at(-1)).toMatchObject({ event: 'exit', signal: 'SIGTERM' });
  });
});

describe('crashes', () => {
  it('ENVOY_SIM_CRASH_AFTER_MS: backtrace on stderr, then death by SIGSEGV', async () => {
    const sim = start(['--disable-hot-restart'], { ENVOY_SIM_CRASH_AFTER_MS: '300' });
    await live(sim);
    expect(await sim.waitForExit()).toEqual({ code: null, signal: 'SIGSEGV' });
    expect(sim.stderr).toMatch(
      /\[critical\]\[backtrace\] \[\S+\] Caught Segmentation fault, suspect faulting address 0x0\n/,
    );
    expect(sim.stderr).toContain('Backtrace (use tools/stack_decode.py to get line numbers):');
    expect(sim.stderr).toMatch(/Envoy version: [0-9a-f]{40}\/1\.\d+/);
  });

  it('CRASH_AFTER_MS=0 crashes before the admin listener binds; CRASH_SIGNAL picks the signal', async () => {
    const sim = start(lab.hotRestartArgs(0), {
      ENVOY_SIM_CRASH_AFTER_MS: '0',
      ENVOY_SIM_CRASH_SIGNAL: 'SIGABRT',
    });
    expect(await sim.waitForExit()).toEqual({ code: null, signal: 'SIGABRT' });
    expect(sim.stderr).toMatch(/Caught Aborted, suspect faulting address 0x[0-9a-f]+\n/);
    expect(existsSync(lab.path('admin.addr'))).toBe(false);
  });

  it('ENVOY_SIM_EXIT_CODE turns the crash into an exit with that code', async () => {
    const sim = start(['--disable-hot-restart'], {
      ENVOY_SIM_CRASH_AFTER_MS: '100',
      ENVOY_SIM_EXIT_CODE: '3',
    });
    expect(await sim.waitForExit()).toEqual({ code: 3, signal: null });
  });

  it('ENVOY_SIM_FAULT_EPOCHS limits the faults to the listed epochs', async () => {
    const sim = start(lab.hotRestartArgs(0), {
      ENVOY_SIM_CRASH_AFTER_MS: '0',
      ENVOY_SIM_FAULT_EPOCHS: '1,2',
    });
    await live(sim);
    expect(sim.status).toBeUndefined();
  });
});

describe('fault switches', () => {
  it('ENVOY_SIM_IGNORE_SIGTERM: SIGTERM and SIGINT do not end it, SIGKILL does', async () => {
    const sim = start(['--disable-hot-restart'], { ENVOY_SIM_IGNORE_SIGTERM: '1' });
    const admin = await live(sim);
    sim.signal('SIGTERM');
    await sim.waitForStderr('caught ENVOY_SIGTERM');
    sim.signal('SIGINT');
    await sim.waitForStderr('caught SIGINT');
    expect((await request(admin, 'GET', '/ready')).status).toBe(200);
    expect(sim.status).toBeUndefined();
    sim.signal('SIGKILL');
    expect(await sim.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('ENVOY_SIM_ADMIN_FAIL=500 and ENVOY_SIM_ADMIN_DELAY_MS', async () => {
    const sim = start(['--disable-hot-restart'], {
      ENVOY_SIM_ADMIN_FAIL: '500',
      ENVOY_SIM_ADMIN_DELAY_MS: '200',
    });
    const admin = await live(sim);
    const before = Date.now();
    expect((await request(admin, 'GET', '/ready')).status).toBe(500);
    expect(Date.now() - before).toBeGreaterThanOrEqual(190);
    expect(lab.records().filter((r) => r.event === 'admin')).toEqual([
      expect.objectContaining({ method: 'GET', path: '/ready' }),
    ]);
  });

  it('ENVOY_SIM_ADMIN_FAIL=reset resets every admin connection', async () => {
    const sim = start(['--disable-hot-restart'], { ENVOY_SIM_ADMIN_FAIL: 'reset' });
    const admin = await live(sim);
    await expect(request(admin, 'GET', '/ready')).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it('rejects a malformed switch before doing anything Envoy would', async () => {
    const sim = start([], { ENVOY_SIM_CRASH_SIGNAL: 'SIGFOO' });
    expect(await sim.waitForExit()).toEqual({ code: 2, signal: null });
    expect(sim.stderr).toMatch(/^envoy-simulator: ENVOY_SIM_CRASH_SIGNAL='SIGFOO' must be one of/);
  });
});

describe('PDEATHSIG (hot restart enabled)', () => {
  it('the death of the spawning process shuts the simulator down as a SIGTERM would', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const args = ['-c', config, '--admin-address-path', lab.path('admin.addr'), ...lab.hotRestartArgs(0)];
    // An intermediate parent starts the simulator, reports its pid, then exits.
    const launcher = spawn(
      process.execPath,
      [
        '-e',
        'const c = require("node:child_process").spawn(process.argv[1], JSON.parse(process.argv[2]), {stdio: "ignore"}); console.log(c.pid); setTimeout(() => process.exit(0), 1500);',
        SIMULATOR,
        JSON.stringify(args),
      ],
      { cwd: lab.dir, env: lab.env(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let pidText = '';
    launcher.stdout.setEncoding('utf8');
    launcher.stdout.on('data', (chunk: string) => {
      pidText += chunk;
    });
    const pid = await waitUntil(
      () => (pidText.includes('\n') ? Number(pidText.trim()) : undefined),
      'simulator pid',
    );
    lab.adopt(pid);
    await adminAddress(lab);
    const exit = await waitUntil(
      () => lab.records().find((r) => r.event === 'exit' && r.pid === pid),
      'simulator exit',
      10_000,
    );
    expect(exit).toMatchObject({ code: 0 });
    expect(lab.records().find((r) => r.event === 'signal' && r.pid === pid)).toMatchObject({
      name: 'SIGTERM',
      source: 'pdeathsig',
    });
  });
});
