/**
 * Hot restart between simulator processes (docs/envoy-process.md, "Hot restart"): the admin
 * handover, the parent's drain and termination, the three-epoch rule, and every startup failure of
 * a child.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminAddress, bootstrapYaml, freePort, Lab, request, type Sim, waitUntil } from './test-harness.js';

let lab: Lab;
beforeEach(() => {
  lab = new Lab();
});
afterEach(async () => {
  await lab.cleanup();
});

/** Shortened sendmsg() retries: 3 attempts 50 ms apart instead of 10 × 1 s. */
const FAST_RETRIES = { ENVOY_SIM_SENDMSG_RETRIES: '3', ENVOY_SIM_SENDMSG_RETRY_MS: '50' };

function epoch(n: number, config: string, args: string[] = [], env: Record<string, string> = {}): Sim {
  return lab.spawn(
    ['-c', config, ...lab.hotRestartArgs(n), '--admin-address-path', lab.path(`admin${n}.addr`), ...args],
    {
      ...FAST_RETRIES,
      ...env,
    },
  );
}

async function waitLive(address: string): Promise<void> {
  await waitUntil(
    async () => ((await request(address, 'GET', '/ready')).status === 200 ? true : undefined),
    `LIVE at ${address}`,
  );
}

/**
 * LIVE can be reported a moment before the workers start (and the INITIALIZING bit is cleared),
 * as in Envoy; a test that kills the process next waits for the workers.
 */
async function waitWorkers(address: string): Promise<void> {
  await waitUntil(async () => {
    const body = (
      await request(address, 'GET', '/stats?usedonly&filter=^listener_manager\\.workers_started$')
    ).body;
    return body === 'listener_manager.workers_started: 1\n' ? true : undefined;
  }, `workers started at ${address}`);
}

interface Info {
  command_line_options: { restart_epoch: number };
  uptime_current_epoch: string;
  uptime_all_epochs: string;
}

async function serverInfo(address: string): Promise<Info> {
  return JSON.parse((await request(address, 'GET', '/server_info')).body) as Info;
}

describe('a full hot restart', () => {
  it('0 → 1: admin handover on the same port, parent drained then terminated (exit 0)', async () => {
    const port = await freePort();
    const config = lab.write('bootstrap.yaml', bootstrapYaml({ port }));
    const address = `127.0.0.1:${port}`;
    const parent = epoch(0, config);
    await waitLive(address);

    const child = epoch(1, config, ['--parent-shutdown-time-s', '1']);
    await parent.waitForStderr('shutting down admin due to child startup');
    await child.waitForStderr('starting workers');
    expect(await adminAddress(lab, 'admin1.addr')).toBe(address);
    const info = await waitUntil(async () => {
      const i = await serverInfo(address);
      return i.command_line_options.restart_epoch === 1 ? i : undefined;
    }, 'epoch 1 on the admin port');
    expect(Number.parseInt(info.uptime_all_epochs, 10)).toBeGreaterThanOrEqual(
      Number.parseInt(info.uptime_current_epoch, 10),
    );
    const generation = (
      await request(address, 'GET', '/stats?filter=^server\\.hot_restart_(generation|epoch)$')
    ).body;
    expect(generation).toBe('server.hot_restart_epoch: 1\nserver.hot_restart_generation: 2\n');

    await parent.waitForStderr('closing and draining listeners');
    expect(await parent.waitForExit()).toEqual({ code: 0, signal: null });
    expect(parent.stderr).toMatch(
      /terminating parent process\n[\s\S]*closing and draining listeners\n[\s\S]*shutting down due to child request\n[\s\S]*caught ENVOY_SIGTERM\n[\s\S]*exiting\n$/,
    );
    expect(child.stderr).toContain('shutting down parent after drain');
    expect(child.status).toBeUndefined();

    const steps = lab
      .records()
      .filter((r) => r.event === 'hot-restart' && r.step !== 'bind' && r.step !== 'shm-attach')
      .map((r) => `${r.epoch}:${String(r.step)}`);
    expect(steps).toEqual([
      '1:shutdown-admin-sent',
      '0:shutdown-admin-received',
      '1:shutdown-admin-reply',
      '1:drain-listeners-sent',
      '0:drain-listeners-received',
      '1:terminate-sent',
      '0:terminate-received',
    ]);
    expect(lab.records().find((r) => r.event === 'signal' && r.epoch === 0)).toMatchObject({
      name: 'SIGTERM',
    });
  });

  it('0 → 1 → 2: starting epoch 2 terminates epoch 0 at once', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const e0 = epoch(0, config);
    await waitLive(await adminAddress(lab, 'admin0.addr'));
    const e1 = epoch(1, config, ['--parent-shutdown-time-s', '60']);
    await waitLive(await adminAddress(lab, 'admin1.addr'));
    await e0.waitForStderr('closing and draining listeners');
    expect(e0.status).toBeUndefined();

    const e2 = epoch(2, config, ['--parent-shutdown-time-s', '60']);
    expect(await e0.waitForExit()).toEqual({ code: 0, signal: null });
    await e1.waitForStderr('terminating parent process');
    await waitLive(await adminAddress(lab, 'admin2.addr'));
    await e1.waitForStderr('closing and draining listeners');
    expect(e1.status).toBeUndefined();
    expect(e2.status).toBeUndefined();
  });

  it('SIGTERM to the child also terminates the parent', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const e0 = epoch(0, config);
    await waitLive(await adminAddress(lab, 'admin0.addr'));
    const e1 = epoch(1, config, ['--parent-shutdown-time-s', '60']);
    await waitLive(await adminAddress(lab, 'admin1.addr'));
    e1.signal('SIGTERM');
    expect(await e1.waitForExit()).toEqual({ code: 0, signal: null });
    expect(await e0.waitForExit()).toEqual({ code: 0, signal: null });
    expect(e0.stderr).toContain('shutting down due to child request');
  });
});

describe('base ids and socket paths', () => {
  it('--base-id-path gets the unscaled base id, no newline; --use-dynamic-base-id picks one', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const fixed = epoch(0, config, ['--base-id-path', lab.path('base.id')]);
    await waitLive(await adminAddress(lab, 'admin0.addr'));
    expect(readFileSync(lab.path('base.id'), 'utf8')).toBe(String(lab.baseId));
    fixed.signal('SIGTERM');
    await fixed.waitForExit();

    const dynamic = lab.spawn([
      '-c',
      config,
      '--use-dynamic-base-id',
      '--base-id-path',
      lab.path('dynamic.id'),
      '--socket-path',
      lab.socketPath,
      '--admin-address-path',
      lab.path('dyn.addr'),
    ]);
    const address = await adminAddress(lab, 'dyn.addr');
    const id = readFileSync(lab.path('dynamic.id'), 'utf8');
    expect(id).toMatch(/^\d+$/);
    expect(Number(id)).toBeLessThanOrEqual(0x0fffffff);
    const info = JSON.parse((await request(address, 'GET', '/server_info')).body) as {
      command_line_options: { base_id: string; use_dynamic_base_id: boolean };
    };
    expect(info.command_line_options).toMatchObject({ base_id: id, use_dynamic_base_id: true });
    expect(dynamic.stderr).toContain(`initializing epoch 0 (base id=${id}, hot restart version=11.104)`);
  });

  it('a filesystem --socket-path works for a hot restart (stale files are unlinked)', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const socketArgs = ['--socket-path', lab.path('hr.sock'), '--socket-mode', '644'];
    const e0 = lab.spawn([
      '-c',
      config,
      '--base-id',
      String(lab.baseId),
      '--admin-address-path',
      lab.path('admin0.addr'),
      ...socketArgs,
    ]);
    await waitWorkers(await adminAddress(lab, 'admin0.addr'));
    const slot = lab.baseId * 10;
    expect(statSync(lab.path(`hr.sock_parent_${slot}`)).mode & 0o777).toBe(0o644);
    const e1 = lab.spawn([
      '-c',
      config,
      '--base-id',
      String(lab.baseId),
      '--restart-epoch',
      '1',
      '--parent-shutdown-time-s',
      '0',
      '--admin-address-path',
      lab.path('admin1.addr'),
      ...socketArgs,
    ]);
    expect(await e0.waitForExit()).toEqual({ code: 0, signal: null });
    await waitLive(await adminAddress(lab, 'admin1.addr'));
    expect(e1.status).toBeUndefined();
  });
});

describe('a child that cannot start', () => {
  it('exits 1 while the parent is still initializing, and the flag is sticky after the parent dies', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml({ xds: true }));
    const e0 = epoch(0, config, [], { ENVOY_SIM_NEVER_LIVE: '1', ENVOY_SIM_FAULT_EPOCHS: '0' });
    await e0.waitForStderr('starting main dispatch loop');
    const e1 = epoch(1, config);
    expect(await e1.waitForExit()).toEqual({ code: 1, signal: null });
    expect(e1.stderr).toBe('previous envoy process is still initializing\n');

    e0.signal('SIGKILL');
    await e0.waitForExit();
    const again = epoch(1, config);
    expect(await again.waitForExit()).toEqual({ code: 1, signal: null });
    expect(again.stderr).toBe('previous envoy process is still initializing\n');

    // Only a new epoch 0 (which recreates the shared memory) clears it.
    const fresh = epoch(0, config, [], { ENVOY_SIM_XDS_DELAY_MS: '20' });
    await fresh.waitForStderr('starting workers');
  });

  it('aborts when no shared memory exists for its base id', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const e1 = epoch(1, config);
    expect(await e1.waitForExit()).toEqual({ code: null, signal: 'SIGABRT' });
    expect(e1.stderr).toContain(
      `panic: cannot open shared memory region /envoy_shared_memory_${lab.baseId * 10} check user permissions. Error: No such file or directory`,
    );
    expect(e1.stderr).toContain('Caught Aborted, suspect faulting address');
  });

  it('retries sendmsg() to a dead parent, then aborts', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const e0 = epoch(0, config);
    await waitWorkers(await adminAddress(lab, 'admin0.addr'));
    e0.signal('SIGKILL');
    await e0.waitForExit();

    const e1 = epoch(1, config);
    expect(await e1.waitForExit()).toEqual({ code: null, signal: 'SIGABRT' });
    expect(
      e1.stderr.match(/\[error\]\[main\] \S+ hot restart sendmsg\(\) connection refused, retrying\n/g),
    ).toHaveLength(3);
    expect(e1.stderr).toContain(
      'assert failure: false. Details: hot restart sendmsg() failed: returned -1, errno 111',
    );
  });

  it('--skip-hot-restart-on-no-parent: warns and runs as a fresh server that keeps its epoch', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const e0 = epoch(0, config);
    await waitWorkers(await adminAddress(lab, 'admin0.addr'));
    e0.signal('SIGKILL');
    await e0.waitForExit();

    const e1 = epoch(1, config, ['--skip-hot-restart-on-no-parent']);
    await e1.waitForStderr('[warning][main]');
    expect(e1.stderr).toContain('hot restart sendmsg() connection refused, falling back to regular restart');
    const address = await adminAddress(lab, 'admin1.addr');
    await waitLive(address);
    expect((await serverInfo(address)).command_line_options.restart_epoch).toBe(1);
    const body = (await request(address, 'GET', '/stats?filter=^server\\.hot_restart_(generation|epoch)$'))
      .body;
    expect(body).toBe('server.hot_restart_epoch: 1\nserver.hot_restart_generation: 1\n');
  });

  it('exits 1 on a base-id slot collision, leaving the running process alone', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const first = epoch(0, config);
    const address = await adminAddress(lab, 'admin0.addr');
    await waitLive(address);
    const second = lab.spawn(['-c', config, ...lab.hotRestartArgs(0)]);
    expect(await second.waitForExit()).toEqual({ code: 1, signal: null });
    expect(second.stderr).toBe(
      `unable to bind domain socket with base_id=${lab.baseId * 10}, id=0, errno=98 (see --base-id option)\n`,
    );
    expect((await request(address, 'GET', '/ready')).status).toBe(200);
    expect(first.status).toBeUndefined();
  });

  it('--disable-hot-restart binds nothing: the same base id can run twice', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const a = lab.spawn([
      '-c',
      config,
      ...lab.hotRestartArgs(0),
      '--disable-hot-restart',
      '--admin-address-path',
      lab.path('a.addr'),
    ]);
    const b = lab.spawn([
      '-c',
      config,
      ...lab.hotRestartArgs(0),
      '--disable-hot-restart',
      '--admin-address-path',
      lab.path('b.addr'),
    ]);
    const addressB = await adminAddress(lab, 'b.addr');
    await waitLive(await adminAddress(lab, 'a.addr'));
    await waitLive(addressB);
    expect((await request(addressB, 'GET', '/hot_restart_version')).body).toBe('disabled');
    expect(a.status).toBeUndefined();
    expect(b.status).toBeUndefined();
  });
});
