import { describe, expect, it } from 'vitest';
import { type Harness, startLifecycle, status } from '../helpers/lifecycle-harness.js';

const output = (h: Harness) => h.snapshot().output;

describe('envoy lifecycle: start', () => {
  it('renders epoch 0, spawns it with that argv, and is ready only once LIVE with CDS and LDS accepted', async () => {
    const h = startLifecycle();
    await h.settle();
    expect(h.prepared).toEqual([0]);
    expect(h.spawns).toHaveLength(1);
    expect(h.lastSpawn().args).toEqual(['-c', '/etc/istio/proxy/envoy-rev0.json', '--restart-epoch', '0']);
    expect(h.matches({ starting: 'spawning' })).toBe(true);
    expect(h.readiness()).toEqual({ ready: false, reason: 'starting Envoy' });

    h.spawned();
    expect(h.matches({ starting: 'initializing' })).toBe(true);
    expect(h.pollers).toEqual([100]);

    h.status(
      status(0, {
        state: 'PRE_INITIALIZING',
        workersStarted: false,
        cds: { success: 0, rejected: 0 },
        lds: { success: 0, rejected: 0 },
      }),
    );
    expect(h.readiness().reason).toBe('server is not live, current state is: PRE_INITIALIZING');

    h.status(status(0, { lds: { success: 0, rejected: 0 } }));
    expect(h.matches('live')).toBe(true);
    expect(h.readiness()).toEqual({
      ready: false,
      reason:
        'config not fully received from XDS server: cds updates: 1 successful, 0 rejected; lds updates: 0 successful, 0 rejected',
    });

    h.status(status(0));
    expect(h.matches('ready')).toBe(true);
    expect(h.readiness()).toEqual({ ready: true, reason: '' });
    // Slow polling once ready.
    expect(h.pollers.at(-1)).toBe(1000);
  });

  it('reports rejected config in Istio wording', async () => {
    const h = startLifecycle();
    await h.settle();
    h.spawned();
    h.status(status(0, { cds: { success: 0, rejected: 2 }, lds: { success: 1, rejected: 0 } }));
    expect(h.readiness().reason).toBe(
      'config received from XDS server, but was rejected: cds updates: 0 successful, 2 rejected; lds updates: 1 successful, 0 rejected',
    );
  });

  it('remembers accepted config once seen: a later status without counters stays ready', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.status(status(0, { cds: { success: 0, rejected: 0 }, lds: { success: 0, rejected: 0 } }));
    expect(h.matches('ready')).toBe(true);
  });

  it('drops readiness when Envoy reports DRAINING (/healthcheck/fail) and regains it on LIVE', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.status(status(0, { state: 'DRAINING' }));
    expect(h.readiness()).toEqual({ ready: false, reason: 'server is not live, current state is: DRAINING' });
    h.status(status(0));
    expect(h.readiness().ready).toBe(true);
  });

  it('drops readiness after 3 consecutive failed admin polls, not after one', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'ADMIN.UNREACHABLE', reason: 'timeout after 1000 ms' });
    h.actor.send({ type: 'ADMIN.UNREACHABLE', reason: 'timeout after 1000 ms' });
    expect(h.readiness().ready).toBe(true);
    h.actor.send({ type: 'ADMIN.UNREACHABLE', reason: 'timeout after 1000 ms' });
    expect(h.readiness()).toEqual({
      ready: false,
      reason: 'Envoy admin API not answering: timeout after 1000 ms',
    });
  });

  it('exits 127 when the binary does not exist and 126 when it cannot be executed, without retrying', async () => {
    for (const [errno, code] of [
      ['ENOENT', 127],
      ['EACCES', 126],
    ] as const) {
      const h = startLifecycle();
      await h.settle();
      const s = h.lastSpawn();
      h.actor.send({
        type: 'EPOCH.SPAWN_FAILED',
        seq: s.seq,
        epoch: 0,
        errno,
        message: `cannot execute /x/envoy: ${errno}`,
      });
      expect(h.snapshot().status).toBe('done');
      expect(output(h)).toEqual({ exitCode: code, reason: `cannot execute /x/envoy: ${errno}` });
      expect(h.spawns).toHaveLength(1);
    }
  });

  it('exits 1 when the bootstrap cannot be rendered', async () => {
    const h = startLifecycle({ prepareFails: true });
    await h.settle();
    expect(output(h)).toEqual({ exitCode: 1, reason: 'cannot render envoy-rev0.json' });
    expect(h.spawns).toHaveLength(0);
  });
});

describe('envoy lifecycle: supervision', () => {
  it('restarts a crashed Envoy as a fresh epoch 0 after 200, 400, 800 ms', async () => {
    const h = startLifecycle();
    await h.toReady();
    for (const [attempt, delay] of [
      [1, 200],
      [2, 400],
      [3, 800],
    ] as const) {
      h.exited(h.lastSpawn(), { signal: 'SIGSEGV' });
      expect(h.matches('crashedBackoff')).toBe(true);
      expect(h.readiness()).toEqual({
        ready: false,
        reason: `Envoy epoch 0 was killed by SIGSEGV; restart ${attempt} of 10 pending`,
      });
      const spawnsBefore = h.spawns.length;
      await h.tick(delay - 1);
      expect(h.matches('crashedBackoff')).toBe(true);
      await h.tick(1);
      expect(h.spawns.length).toBe(spawnsBefore + 1);
      expect(h.lastSpawn().epoch).toBe(0);
      h.spawned();
      h.status(status(0));
    }
    expect(h.matches('ready')).toBe(true);
  });

  it('caps the backoff', async () => {
    const h = startLifecycle({ settings: { restartBackoffMaxMs: 1_000 } });
    await h.toReady();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      h.exited(h.lastSpawn(), { code: 1 });
      const before = h.spawns.length;
      let waited = 0;
      while (h.spawns.length === before) {
        await h.tick(100);
        waited += 100;
      }
      delays.push(waited);
      h.spawned();
    }
    expect(delays).toEqual([200, 400, 800, 1000, 1000]);
  });

  it('gives up with exit code 3 once the restart budget is spent', async () => {
    const h = startLifecycle({ settings: { restartBudget: 2 } });
    await h.toReady();
    h.exited(h.lastSpawn(), { code: 1 });
    await h.tick(200);
    h.spawned();
    h.exited(h.lastSpawn(), { code: 1 });
    await h.tick(400);
    h.spawned();
    h.exited(h.lastSpawn(), { signal: 'SIGABRT' });
    expect(h.snapshot().status).toBe('done');
    expect(output(h)).toEqual({
      exitCode: 3,
      reason: 'Envoy epoch 0 killed by SIGABRT; restart budget of 2 spent',
    });
    expect(h.spawns).toHaveLength(3);
  });

  it('never restarts with a budget of 0 (Istio ≥ 1.5): the first crash ends the agent with 3', async () => {
    const h = startLifecycle({ settings: { restartBudget: 0 } });
    await h.toReady();
    h.exited(h.lastSpawn(), { code: 134 });
    expect(output(h)?.exitCode).toBe(3);
    expect(h.spawns).toHaveLength(1);
  });

  it('gives the budget back after Envoy stayed ready for budgetReset', async () => {
    const h = startLifecycle({ settings: { restartBudget: 1, budgetResetMs: 60_000 } });
    await h.toReady();
    h.exited(h.lastSpawn(), { code: 1 });
    await h.tick(200);
    h.spawned();
    h.status(status(0));
    expect(h.snapshot().context.restarts).toBe(1);
    await h.tick(59_999);
    expect(h.snapshot().context.restarts).toBe(1);
    await h.tick(1);
    expect(h.snapshot().context.restarts).toBe(0);
    // So one more crash is restarted instead of ending the agent.
    h.exited(h.lastSpawn(), { code: 1 });
    expect(h.matches('crashedBackoff')).toBe(true);
  });

  it('exits 0 when Envoy exits 0 on its own', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.exited(h.lastSpawn(), { code: 0 });
    expect(output(h)).toEqual({ exitCode: 0, reason: 'Envoy epoch 0 exited 0' });
  });

  it('crash while starting is a crash too', async () => {
    const h = startLifecycle();
    await h.settle();
    h.spawned();
    h.exited(h.lastSpawn(), { signal: 'SIGSEGV' });
    expect(h.matches('crashedBackoff')).toBe(true);
  });
});

describe('envoy lifecycle: shutdown', () => {
  it('SIGTERM while ready: not ready at once, drain, wait the termination drain, SIGTERM, exit 0', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.readiness()).toEqual({ ready: false, reason: 'server is terminating: draining listeners' });
    await h.settle();
    expect(h.drainRequests).toEqual([{ skipExit: false }]);
    expect(h.lastSpawn().signals).toEqual([]);
    await h.tick(4_999);
    expect(h.lastSpawn().signals).toEqual([]);
    await h.tick(1);
    expect(h.matches('stopping')).toBe(true);
    expect(h.lastSpawn().signals).toEqual(['SIGTERM']);
    h.exited(h.lastSpawn(), { code: 0 });
    expect(output(h)).toEqual({ exitCode: 0, reason: 'shutdown complete' });
  });

  it('SIGKILLs an Envoy that ignores SIGTERM after the grace, and waits for it to be gone', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'QUIT' });
    expect(h.lastSpawn().signals).toEqual(['SIGTERM']);
    await h.tick(5_000);
    expect(h.lastSpawn().signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(h.snapshot().status).toBe('active');
    h.exited(h.lastSpawn(), { signal: 'SIGKILL' });
    expect(output(h)?.exitCode).toBe(0);
  });

  it('reports exit code 4 when an old Envoy survives SIGKILL before a fresh start', async () => {
    const h = startLifecycle();
    await h.settle();
    h.spawned();
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    expect(h.matches({ starting: 'clearing' })).toBe(true);
    await h.tick(10_000);
    expect(output(h)?.exitCode).toBe(4);
  });

  it('reports exit code 4 when an Envoy survives SIGKILL', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'QUIT' });
    await h.tick(10_000);
    expect(output(h)?.exitCode).toBe(4);
    expect(output(h)?.reason).toMatch(/survived SIGKILL/);
  });

  it('a second SIGTERM skips the rest of the drain', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'SHUTDOWN' });
    await h.tick(1_000);
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.matches('stopping')).toBe(true);
    expect(h.lastSpawn().signals).toEqual(['SIGTERM']);
  });

  it('Envoy exiting during the drain ends it early', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'SHUTDOWN' });
    await h.tick(1_000);
    h.exited(h.lastSpawn(), { code: 0 });
    expect(output(h)).toEqual({ exitCode: 0, reason: 'Envoy epoch 0 exit code 0 while draining' });
  });

  it('SIGTERM while starting stops at once (nothing is served yet)', async () => {
    const h = startLifecycle();
    await h.settle();
    h.spawned();
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.matches('stopping')).toBe(true);
    expect(h.drains).toBe(0);
    h.exited(h.lastSpawn(), { code: 0 });
    expect(output(h)?.exitCode).toBe(0);
  });

  it('SIGTERM in crashed-backoff stops without restarting', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.exited(h.lastSpawn(), { code: 1 });
    h.actor.send({ type: 'SHUTDOWN' });
    expect(output(h)?.exitCode).toBe(0);
    await h.tick(1_000);
    expect(h.spawns).toHaveLength(1);
  });

  it('zero-connection mode waits the minimum, then until connections reach 0', async () => {
    const h = startLifecycle({ settings: { exitOnZeroActiveConnections: true } });
    await h.toReady();
    h.actor.send({ type: 'SHUTDOWN' });
    await h.settle();
    expect(h.matches({ draining: 'minimumWait' })).toBe(true);
    await h.tick(5_000);
    expect(h.matches({ draining: 'counting' })).toBe(true);
    h.actor.send({ type: 'CONNECTIONS', active: 3 });
    expect(h.matches({ draining: 'counting' })).toBe(true);
    h.actor.send({ type: 'CONNECTIONS', active: 0 });
    expect(h.matches('stopping')).toBe(true);
  });

  it('zero-connection mode is bounded by the maximum drain', async () => {
    const h = startLifecycle({ settings: { exitOnZeroActiveConnections: true, maximumDrainMs: 45_000 } });
    await h.toReady();
    h.actor.send({ type: 'SHUTDOWN' });
    await h.settle();
    await h.tick(5_000);
    h.actor.send({ type: 'CONNECTIONS', active: 7 });
    await h.tick(39_999);
    expect(h.matches({ draining: 'counting' })).toBe(true);
    await h.tick(1);
    expect(h.matches('stopping')).toBe(true);
  });

  it('DRAIN drains and holds Envoy; the next SIGTERM stops it at once', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'DRAIN' });
    await h.settle();
    expect(h.drainRequests).toEqual([{ skipExit: true }]);
    expect(h.matches({ draining: 'held' })).toBe(true);
    expect(h.readiness()).toEqual({
      ready: false,
      reason: 'server is draining: drain requested, waiting for termination',
    });
    await h.tick(600_000);
    expect(h.lastSpawn().signals).toEqual([]);
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.lastSpawn().signals).toEqual(['SIGTERM']);
  });
});

describe('envoy lifecycle: hot restart', () => {
  async function toHandover(h: Harness) {
    await h.toReady();
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    await h.settle();
    expect(h.matches({ hotRestarting: 'spawning' })).toBe(true);
    h.spawned();
    expect(h.matches({ hotRestarting: 'handover' })).toBe(true);
  }

  it('renders, validates and spawns epoch N+1, stays ready throughout, and promotes it once LIVE', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    expect(h.readiness().ready).toBe(true);
    await h.settle();
    expect(h.prepared).toEqual([0, 1]);
    expect(h.validated.map((v) => v.epoch)).toEqual([1]);
    const child = h.lastSpawn();
    expect(child.args).toEqual(['-c', '/etc/istio/proxy/envoy-rev1.json', '--restart-epoch', '1']);
    h.spawned(child);
    // The old epoch still answers the admin port for a while.
    h.status(status(0));
    expect(h.matches({ hotRestarting: 'handover' })).toBe(true);
    expect(h.readiness().ready).toBe(true);
    h.status(status(1));
    expect(h.matches('ready')).toBe(true);
    expect(h.snapshot().context.epoch).toBe(1);
    expect(h.snapshot().context.procs.map((p) => [p.epoch, p.role])).toEqual([
      [0, 'retiring'],
      [1, 'current'],
    ]);
    // The parent's exit 0 after parent-shutdown-time is expected.
    h.exited(h.spawn(0), { code: 0 });
    expect(h.matches('ready')).toBe(true);
    expect(h.snapshot().context.procs.map((p) => p.epoch)).toEqual([1]);
    expect(h.spawn(0).stopped).toBe(true);
    expect(h.snapshot().context.hotRestarts).toBe(1);
  });

  it('keeps epoch N serving when Envoy rejects the new bootstrap', async () => {
    const h = startLifecycle({
      validateFails: "error initializing configuration '/etc/istio/proxy/envoy-rev1.json': bad",
    });
    await h.toReady();
    h.actor.send({ type: 'HOT_RESTART', reason: 'SIGHUP' });
    await h.settle();
    expect(h.matches('ready')).toBe(true);
    expect(h.spawns).toHaveLength(1);
    expect(h.snapshot().context.notice).toMatch(
      /Envoy rejected the new bootstrap: error initializing configuration/,
    );
  });

  it('coalesces rotations during a hot restart into exactly one more hot restart', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    h.status(status(1));
    await h.settle();
    // Straight into the next one, for epoch 2, never two children at once.
    expect(h.matches({ hotRestarting: 'spawning' })).toBe(true);
    expect(h.lastSpawn().epoch).toBe(2);
    h.spawned();
    h.status(status(2));
    await h.settle();
    expect(h.matches('ready')).toBe(true);
    expect(h.spawns.map((s) => s.epoch)).toEqual([0, 1, 2]);
  });

  it('SIGTERM during a hot restart drains, then stops every epoch, the newest first', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.readiness().ready).toBe(false);
    await h.settle();
    expect(h.drains).toBe(1);
    await h.tick(5_000);
    // The child first: Envoy's child terminates its own parent when it shuts down.
    expect(h.spawns.map((s) => s.signals)).toEqual([[], ['SIGTERM']]);
    h.exited(h.spawn(1), { code: 0 });
    expect(h.spawns.map((s) => s.signals)).toEqual([['SIGTERM'], ['SIGTERM']]);
    expect(h.snapshot().status).toBe('active');
    h.exited(h.spawn(0), { code: 0 });
    expect(output(h)?.exitCode).toBe(0);
  });

  it('SIGKILLs every epoch still alive after the grace, whatever the order', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.actor.send({ type: 'QUIT' });
    await h.tick(5_000);
    expect(h.spawns.map((s) => s.signals)).toEqual([['SIGKILL'], ['SIGTERM', 'SIGKILL']]);
  });

  it('a child crashing during the handover leaves the parent serving and retries after backoff', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.exited(h.lastSpawn(), { signal: 'SIGSEGV' });
    expect(h.matches({ hotRestarting: 'retrying' })).toBe(true);
    expect(h.readiness().ready).toBe(true);
    expect(h.snapshot().context.restarts).toBe(1);
    await h.tick(200);
    expect(h.prepared).toEqual([0, 1, 1]);
    expect(h.lastSpawn().epoch).toBe(1);
  });

  it('retries "previous envoy process is still initializing" once with the same epoch and backoff', async () => {
    // The flag may belong to another Envoy on the same base id: worth one retry.
    const h = startLifecycle();
    await toHandover(h);
    h.exited(h.lastSpawn(), { code: 1, failure: 'still-initializing' });
    expect(h.snapshot().context.notice).toBe('epoch 1 refused: previous envoy process is still initializing');
    await h.tick(199);
    expect(h.spawns).toHaveLength(2);
    await h.tick(1);
    expect(h.spawns.map((s) => s.epoch)).toEqual([0, 1, 1]);
    expect(h.readiness().ready).toBe(true);
  });

  it('replaces the parent with a fresh epoch 0 when a retry is refused after our own child failed', async () => {
    // Envoy keeps the INITIALIZING flag a dead child set until a fresh epoch 0 (envoy#33446):
    // once our child died, "still initializing" means no hot restart can ever succeed.
    const h = startLifecycle();
    await toHandover(h);
    h.exited(h.lastSpawn(), { signal: 'SIGSEGV' });
    await h.tick(200);
    h.spawned();
    h.exited(h.lastSpawn(), { code: 1, failure: 'still-initializing' });
    expect(h.matches('crashedBackoff')).toBe(true);
    expect(h.snapshot().context.notice).toMatch(
      /flag set by the failed child until a fresh epoch 0\); replacing epoch 0/,
    );
    h.exited(h.spawn(0), { code: 0 });
    await h.tick(400);
    expect(h.lastSpawn().epoch).toBe(0);
  });

  it('an abandoned child that had taken the admin port leaves an unusable parent: fresh epoch 0', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.status(status(1, { state: 'PRE_INITIALIZING', workersStarted: false }));
    await h.tick(60_000);
    expect(h.matches({ hotRestarting: 'abandoning' })).toBe(true);
    h.exited(h.lastSpawn(), { code: 0 });
    expect(h.matches('crashedBackoff')).toBe(true);
  });

  it('reports exit code 4 when an abandoned child survives SIGKILL', async () => {
    const h = startLifecycle();
    await toHandover(h);
    await h.tick(60_000);
    await h.tick(10_000);
    expect(output(h)?.exitCode).toBe(4);
  });

  it('gives up on the hot restart when the budget is spent, epoch N keeps serving', async () => {
    const h = startLifecycle({ settings: { restartBudget: 1 } });
    await toHandover(h);
    h.exited(h.lastSpawn(), { code: 1 });
    await h.tick(200);
    h.spawned();
    h.exited(h.lastSpawn(), { code: 1 });
    expect(h.matches('ready')).toBe(true);
    expect(h.snapshot().context.epoch).toBe(0);
    expect(h.snapshot().context.notice).toMatch(/restart budget spent, epoch 0 keeps serving/);
  });

  it('falls back to a fresh epoch 0 when the parent is gone during the handover', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.exited(h.spawn(0), { code: 0 });
    expect(h.matches({ starting: 'clearing' })).toBe(true);
    expect(h.lastSpawn().signals).toEqual(['SIGTERM']);
    h.exited(h.lastSpawn(), { signal: 'SIGABRT' });
    await h.settle();
    expect(h.lastSpawn().epoch).toBe(0);
    expect(h.spawns).toHaveLength(3);
  });

  it('a parent crash during the handover is a crash: backoff, then a fresh epoch 0', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.exited(h.spawn(0), { signal: 'SIGKILL' });
    expect(h.matches('crashedBackoff')).toBe(true);
    expect(h.spawn(1).signals).toEqual(['SIGTERM']);
    await h.tick(200);
    expect(h.matches({ starting: 'clearing' })).toBe(true);
    h.exited(h.spawn(1), { code: 0 });
    await h.settle();
    expect(h.lastSpawn().epoch).toBe(0);
  });

  it('abandons a child that does not go live in time with SIGKILL, keeping epoch N untouched', async () => {
    // SIGTERM would make Envoy's child tell its parent to terminate: only SIGKILL spares it.
    const h = startLifecycle();
    await toHandover(h);
    await h.tick(60_000);
    expect(h.matches({ hotRestarting: 'abandoning' })).toBe(true);
    expect(h.lastSpawn().signals).toEqual(['SIGKILL']);
    expect(h.spawn(0).signals).toEqual([]);
    h.exited(h.lastSpawn(), { signal: 'SIGKILL' });
    expect(h.matches('ready')).toBe(true);
    expect(h.snapshot().context.epoch).toBe(0);
    await h.tick(10_000);
    expect(h.spawn(0).signals).toEqual([]);
  });

  it('remembers across hot restarts that a dead child left Envoy INITIALIZING: the next refusal replaces the parent', async () => {
    const h = startLifecycle();
    await toHandover(h);
    await h.tick(60_000);
    h.exited(h.lastSpawn(), { signal: 'SIGKILL' });
    expect(h.matches('ready')).toBe(true);
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    await h.settle();
    h.spawned();
    h.exited(h.lastSpawn(), { code: 1, failure: 'still-initializing' });
    expect(h.matches('crashedBackoff')).toBe(true);
  });

  it('a rotation while starting restarts the not-yet-serving epoch cold', async () => {
    const h = startLifecycle();
    await h.settle();
    h.spawned();
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    expect(h.matches({ starting: 'clearing' })).toBe(true);
    expect(h.lastSpawn().signals).toEqual(['SIGTERM']);
    h.exited(h.lastSpawn(), { code: 0 });
    await h.settle();
    expect(h.spawns.map((s) => s.epoch)).toEqual([0, 0]);
    expect(h.snapshot().context.restarts).toBe(0);
  });

  it('a rotation while LIVE without config waits until ready; readiness never turns 200 before', async () => {
    // Found by the model-based tests: hot-restarting from `live` used to carry the ready tag.
    const h = startLifecycle();
    await h.settle();
    h.spawned();
    h.status(status(0, { cds: { success: 0, rejected: 3 }, lds: { success: 0, rejected: 3 } }));
    expect(h.matches('live')).toBe(true);
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    await h.settle();
    expect(h.matches('live')).toBe(true);
    expect(h.readiness().ready).toBe(false);
    expect(h.spawns).toHaveLength(1);
    h.status(status(0));
    await h.settle();
    expect(h.matches({ hotRestarting: 'spawning' })).toBe(true);
  });

  it('a fresh start serves a pending hot restart: no extra epoch afterwards', async () => {
    const h = startLifecycle();
    await toHandover(h);
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    h.exited(h.spawn(0), { code: 1 });
    await h.tick(200);
    h.exited(h.spawn(1), { code: 0 });
    await h.settle();
    h.spawned();
    h.status(status(0));
    await h.settle();
    expect(h.matches('ready')).toBe(true);
    expect(h.spawns.map((s) => s.epoch)).toEqual([0, 1, 0]);
  });

  it('replaces the parent with a fresh epoch 0 when a child dies after taking the admin port', async () => {
    // Envoy's parent has closed its admin listener for the child, and Envoy keeps the INITIALIZING
    // flag set until a fresh epoch 0: the parent can no longer be drained, watched or hot-restarted.
    const h = startLifecycle();
    await toHandover(h);
    h.status(
      status(1, {
        state: 'PRE_INITIALIZING',
        workersStarted: false,
        cds: { success: 0, rejected: 0 },
        lds: { success: 0, rejected: 0 },
      }),
    );
    expect(h.snapshot().context.adminMoved).toBe(true);
    h.exited(h.lastSpawn(), { signal: 'SIGSEGV' });
    expect(h.matches('crashedBackoff')).toBe(true);
    expect(h.readiness().ready).toBe(false);
    expect(h.spawn(0).signals).toEqual(['SIGTERM']);
    expect(h.snapshot().context.notice).toMatch(
      /after taking the admin port; replacing epoch 0 with a fresh epoch 0/,
    );
    h.exited(h.spawn(0), { code: 0 });
    await h.tick(200);
    expect(h.lastSpawn().epoch).toBe(0);
    expect(h.spawns).toHaveLength(3);
  });

  it('gives up with exit code 3 when such a child failure finds the budget spent', async () => {
    const h = startLifecycle({ settings: { restartBudget: 0 } });
    await toHandover(h);
    h.status(status(1, { state: 'PRE_INITIALIZING', workersStarted: false }));
    h.exited(h.lastSpawn(), { code: 1, failure: 'still-initializing' });
    expect(h.matches('stopping')).toBe(true);
    h.exited(h.spawn(0), { code: 0 });
    expect(output(h)?.exitCode).toBe(3);
  });

  it('a rotation while Envoy reports DRAINING waits until it is LIVE again', async () => {
    const h = startLifecycle();
    await h.toReady();
    h.status(status(0, { state: 'DRAINING' }));
    h.actor.send({ type: 'HOT_RESTART', reason: 'certificates changed' });
    expect(h.matches('live')).toBe(true);
    expect(h.snapshot().context.restartPending).toBe(true);
    h.status(status(0));
    await h.settle();
    expect(h.matches({ hotRestarting: 'spawning' })).toBe(true);
  });
});
