/**
 * The image built from the real Dockerfile (test/container/global-setup.ts), run with podman as a
 * Kubernetes sidecar runs: read-only root filesystem, every capability dropped, no privilege
 * escalation, `/etc/istio/proxy` a writable volume owned by 1337 (an emptyDir), the host's
 * network. Envoy is the simulator (its record file on a mounted directory tells what it received).
 * Observed from the host only: the status port, podman, the record file, /proc read inside.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AGENT_NODE_FLAGS,
  AGENT_SHEBANG_ENV,
  httpGet,
  ROOT,
  type SimRecord,
  sampleReadiness,
} from '../helpers/agent-process.js';
import { type CertMaterial, makeCerts, writeSecretVolume } from '../helpers/certs.js';
import {
  Container,
  type ContainerProcess,
  ISTIO_PROXY_UID,
  ownedDir as ownedDirIn,
  podman,
  SECURED,
  SIDECAR_DRAIN_S,
  type SidecarOptions,
  startSidecar,
} from '../helpers/container.js';
import { waitUntil } from '../helpers/wait.js';

const images = inject('images');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
};

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pilot-agent-container-test-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const started: Container[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.remove()));
});

const ownedDir = (name: string) => ownedDirIn(work, name);

async function sidecar(options: Omit<SidecarOptions, 'image' | 'runId' | 'work'> & { image?: string } = {}) {
  const s = await startSidecar({ image: images.sidecar, runId: images.runId, work, ...options });
  started.push(s.container);
  return s;
}

const isEnvoy = (p: ContainerProcess) => p.cmdline.includes('/usr/local/bin/envoy');
const isAgent = (p: ContainerProcess) => p.cmdline.includes('/app/bin/pilot-agent.js') && p.pid !== 1;

describe('the image', () => {
  it('is labelled, runs as 1337 with tini as its entrypoint, and adds at most 20 MB to its base', async () => {
    const config = JSON.parse(
      (await podman(['image', 'inspect', '--format', '{{json .Config}}', images.sidecar])).stdout,
    ) as {
      User: string;
      Entrypoint: string[];
      Cmd: string[];
      StopSignal: string;
      Labels: Record<string, string>;
      WorkingDir: string;
    };
    expect(config.User).toBe('1337:1337');
    expect(config.Entrypoint).toEqual(['/usr/bin/tini', '--', '/app/bin/pilot-agent.js']);
    expect(config.Cmd).toEqual(['proxy', 'sidecar']);
    expect(config.StopSignal).toBe('SIGTERM');
    expect(config.WorkingDir).toBe('/');
    expect(config.Labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(config.Labels['org.opencontainers.image.licenses']).toBe(pkg.license);
    const added = (images.sizes.agent - images.sizes.base) / 1e6;
    const envoy = (images.sizes.sidecar - images.sizes.agent) / 1e6;
    process.stderr.write(
      `image: base ${(images.sizes.base / 1e6).toFixed(1)} MB, agent target +${added.toFixed(2)} MB, ` +
        `sidecar target +${envoy.toFixed(2)} MB more (the simulator standing in for Envoy)\n`,
    );
    expect(added).toBeLessThanOrEqual(20);
  });

  it('runs tini as PID 1 and the agent as uid 1337 with its Node flags, without capabilities, read-only', async () => {
    const s = await sidecar();
    await s.waitReady();
    const ps = await s.container.processes();
    const init = ps.find((p) => p.pid === 1);
    const agent = ps.find(isAgent);
    const envoy = ps.find(isEnvoy);
    expect(init?.cmdline.slice(0, 3)).toEqual(['/usr/bin/tini', '--', '/app/bin/pilot-agent.js']);
    // The agent ran through bin/pilot-agent.js's #! line: its Node flags and malloc settings.
    expect(agent?.ppid).toBe(1);
    expect(agent?.cmdline.slice(1, 1 + AGENT_NODE_FLAGS.length)).toEqual(AGENT_NODE_FLAGS);
    expect(agent?.malloc).toEqual(AGENT_SHEBANG_ENV);
    expect(envoy?.ppid).toBe(agent?.pid);
    const who = (p: ContainerProcess) => `${p.pid} ${p.cmdline[0]}`;
    expect(ps.map((p) => [who(p), p.uid, p.capEff])).toEqual(
      ps.map((p) => [who(p), ISTIO_PROXY_UID, '0000000000000000']),
    );
    expect(await s.container.inspect('{{.HostConfig.ReadonlyRootfs}}')).toBe('true');
    // What the agent wrote went to --configPath; the root filesystem refuses writes.
    expect(readFileSync(join(s.configPath, 'envoy-rev0.json'), 'utf8')).toContain('"admin"');
    const write = await s.container.exec(['node', '-e', "require('fs').writeFileSync('/app/x', '')"]);
    expect(write.stderr).toContain('EROFS');
  });

  it('answers readiness 200 on the status port from the host once Envoy is LIVE, 503 before', async () => {
    const s = await sidecar({ env: { ENVOY_SIM_XDS_DELAY_MS: '1500' } });
    const seen: { live: boolean; ready: number }[] = [];
    await waitUntil(
      async () => {
        const [admin, ready] = await Promise.all([
          httpGet(s.adminPort, '/ready').catch(() => ({ status: 0, body: '' })),
          s.ready(),
        ]);
        seen.push({ live: admin.body.startsWith('LIVE'), ready });
        return ready === 200;
      },
      'readiness 200',
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const firstLive = seen.findIndex((x) => x.live);
    expect(firstLive).toBeGreaterThan(0);
    expect(seen.slice(0, firstLive).some((x) => x.ready === 503)).toBe(true);
    expect(seen.slice(0, firstLive).filter((x) => x.ready === 200)).toEqual([]);
  });

  it('podman stop: readiness 503 at once, drain, Envoy stopped by the agent, exit 0', async () => {
    const s = await sidecar();
    await s.waitReady();
    const sampler = sampleReadiness(s, 20);
    const t0 = Date.now();
    const stop = await s.container.stop(30);
    const stopMs = Date.now() - t0;
    const samples = await sampler.stop();
    expect(stop.code).toBe(0);
    expect(await s.container.inspect('{{.State.ExitCode}}')).toBe('0');

    const records = s.records();
    const drain = records.find((r) => r.event === 'admin' && r.path?.startsWith('/drain_listeners'));
    const signals = records.filter((r) => r.event === 'signal');
    const exit = records.find((r) => r.event === 'exit');
    expect(drain).toMatchObject({ method: 'POST', path: '/drain_listeners?inboundonly&graceful' });
    // One SIGTERM, after the drain: the runtime's SIGTERM reached the agent only.
    expect(signals.map((r) => r.name)).toEqual(['SIGTERM']);
    const sigterm = signals[0] as SimRecord;
    expect(sigterm.t).toBeGreaterThan(drain?.t ?? Number.POSITIVE_INFINITY);
    expect(exit).toMatchObject({ code: 0 });
    // Readiness went 503 while Envoy was still draining, and stayed answered (not refused).
    const first503 = samples.find((x) => x.t >= t0 && x.status === 503);
    expect(first503?.t).toBeLessThan(sigterm.t);
    expect(samples.filter((x) => x.t >= t0 && x.t < sigterm.t).map((x) => x.status)).not.toContain(0);
    process.stderr.write(
      `podman stop -t 30 → exit ${stopMs} ms (drain ${SIDECAR_DRAIN_S * 1000} ms); first 503 after ${(first503?.t ?? 0) - t0} ms; ` +
        `drain_listeners → Envoy SIGTERM ${sigterm.t - (drain?.t ?? 0)} ms\n`,
    );
  });

  it('restarts Envoy after each of 20 crashes and leaves no zombie process', async () => {
    // Four containers crash five times each, at once: the restart backoff doubles per crash.
    const CONTAINERS = 4;
    const CRASHES = 5;
    const crashed = await Promise.all(
      Array.from({ length: CONTAINERS }, async () => {
        const s = await sidecar({ env: { ENVOY_SIM_CRASH_AFTER_MS: '3000' } });
        await waitUntil(() => s.serving().length > CRASHES, `${CRASHES} restarts`, { timeoutMs: 60_000 });
        // The newest Envoy lives 3 s: the check runs while it serves, after 5 crashes.
        const ps = await s.container.processes();
        const exits = s.records().filter((r) => r.event === 'exit');
        return { ps, exits, starts: s.serving() };
      }),
    );
    for (const { ps, exits, starts } of crashed) {
      expect(exits.slice(0, CRASHES).map((e) => e.signal)).toEqual(Array(CRASHES).fill('SIGSEGV'));
      expect(new Set(starts.map((r) => r.pid)).size).toBe(starts.length);
      expect(ps.filter((p) => p.state === 'Z')).toEqual([]);
      expect(ps.filter(isEnvoy)).toHaveLength(1);
    }
    expect(crashed.reduce((n, c) => n + Math.min(CRASHES, c.exits.length), 0)).toBe(CONTAINERS * CRASHES);
  });

  it('hot-restarts to epoch 1 when a mounted secret volume is swapped on the host, ready throughout', async () => {
    const certDir = join(work, `certs-${Date.now()}`);
    const certs: CertMaterial[] = [makeCerts(work, 'a'), makeCerts(work, 'b')];
    writeSecretVolume(certDir, certs[0] as CertMaterial);
    // Istio 1.5's default certificate paths: /etc/certs/{cert-chain,key,root-cert}.pem.
    const s = await sidecar({ volumes: [`${certDir}:/etc/certs:ro`] });
    await s.waitReady();
    const sampler = sampleReadiness(s, 25);
    writeSecretVolume(certDir, certs[1] as CertMaterial);
    await waitUntil(() => s.serving().some((r) => r.epoch === 1), 'epoch 1 started', { timeoutMs: 30_000 });
    // Envoy's parent-shutdown time (3 s here) ends epoch 0 once epoch 1 is LIVE.
    await waitUntil(() => s.records().some((r) => r.event === 'exit' && r.epoch === 0), 'epoch 0 exited', {
      timeoutMs: 30_000,
    });
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(40);
    expect(samples.filter((x) => x.status !== 200)).toEqual([]);
    expect(s.records().find((r) => r.event === 'exit' && r.epoch === 0)).toMatchObject({ code: 0 });
    expect(s.serving().find((r) => r.epoch === 1)?.argv).toEqual(
      expect.arrayContaining(['--restart-epoch', '1', '--base-id', String(s.baseId)]),
    );
    // Hot restart's shared memory lives in the container's /dev/shm, outside the read-only root.
    const shm = await s.container.exec(['ls', '/dev/shm']);
    expect(shm.stdout.split('\n')).toContain(`envoy_shared_memory_${s.baseId * 10}`);
    expect(await s.ready()).toBe(200);
  });
});

describe('one-off commands', () => {
  const once = (image: string, args: string[], flags: string[] = []) =>
    Container.once({ image, runId: images.runId, args, flags });

  it('`version` and `--help` work', async () => {
    const version = await once(images.sidecar, ['version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(
      new RegExp(
        `^version\\.BuildInfo\\{Version:"${pkg.version.replace(/\./g, '\\.')}".*GolangVersion:"node24\\.`,
      ),
    );
    // yaml is one of the two packages the bundle loads from node_modules.
    const yaml = await once(images.sidecar, ['version', '-o', 'yaml']);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toContain(`version: ${pkg.version}`);
    const help = await once(images.sidecar, ['--help']);
    expect(help.code).toBe(0);
    for (const command of ['proxy', 'version', 'wait', 'request']) expect(help.stdout).toContain(command);
  });

  it('without Envoy (the agent target) exits 127 with one line naming --binaryPath', async () => {
    const configPath = ownedDir('proxy');
    const flags = [...SECURED, '--volume', `${configPath}:/etc/istio/proxy`];
    const r = await once(images.agent, [], flags);
    expect(r.code).toBe(127);
    expect(r.stderr.trim().split('\n')).toEqual([
      '--binaryPath /usr/local/bin/envoy: no such file (or its interpreter is missing)',
    ]);
    // On a terminal the log is readable text (one line per event), not JSON.
    const tty = await once(images.agent, [], ['-t', ...flags]);
    expect(tty.code).toBe(127);
    expect(tty.stdout).toContain('agent failed');
    expect(tty.stdout).not.toContain('{"level"');
  });
});
