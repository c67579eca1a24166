/**
 * Certificate rotation and hot restart through the real CLI against the Envoy simulator, with real
 * certificates made by openssl: rotated the Kubernetes way (the `..data` symlink swap) and the
 * plain ways, and SIGHUP. Observed from outside only: Envoy's argv and hot-restart steps from the
 * simulator's record file, readiness sampled every 25 ms, the agent's log, files in configPath.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AgentRun, sampleReadiness } from '../helpers/agent-process.js';
import { agentsStoppedAfterEach } from '../helpers/agents.js';
import { certFixture } from '../helpers/cert-fixture.js';
import { CERT_FILES, writePlain, writeSecretVolume } from '../helpers/certs.js';
import { waitUntil } from '../helpers/wait.js';

const { cert } = certFixture('pilot-agent-rotation-');

const agent = agentsStoppedAfterEach();

const started = (run: AgentRun, epoch: number) => run.waitStart(epoch);
const readyAt = (run: AgentRun, epoch: number) =>
  run.waitLog(new RegExp(`"to":"ready".*"epoch":${epoch}[,}]`), 15_000);
const exitOf = (run: AgentRun, epoch: number) =>
  run.records().find((r) => r.event === 'exit' && r.epoch === epoch);

describe('hot restart on certificate rotation', () => {
  it('a Kubernetes secret-volume swap starts epoch 1; readiness never drops; the parent drains and exits 0', async () => {
    const run = await agent({ prepare: ({ certDir }) => writeSecretVolume(certDir, cert(0)) });
    await run.waitReady();
    const sampler = sampleReadiness(run, 25);
    writeSecretVolume(run.certDir, cert(1));
    await started(run, 1);
    await readyAt(run, 1);
    // Envoy's parent-shutdown time is 3 s in these runs; the parent then exits on its own.
    await run.waitRecord((r) => r.event === 'exit' && r.epoch === 0, 'epoch 0 exited', 10_000);
    const samples = await sampler.stop();

    expect(samples.length).toBeGreaterThan(40);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(exitOf(run, 0)?.code).toBe(0);
    expect(run.records().some((r) => r.step === 'drain-listeners-received' && r.epoch === 0)).toBe(true);
    expect(run.starts()[1]?.argv?.slice(0, 6)).toEqual([
      '-c',
      join(run.configPath, 'envoy-rev1.json'),
      '--restart-epoch',
      '1',
      '--base-id',
      String(run.baseId),
    ]);
    expect(run.starts()[1]?.argv).toContain('[Envoy (Epoch 1)] [%Y-%m-%d %T.%e][%t][%l][%n] %v');
    // Envoy checked the new bootstrap first: the same argv with --mode validate.
    expect(run.validations().map((v) => v.argv?.slice(-2))).toEqual([['--mode', 'validate']]);
    // The new epoch's bootstrap stays; the old one went with its process.
    await waitUntil(() => !existsSync(join(run.configPath, 'envoy-rev0.json')), 'envoy-rev0.json removed');
    const bootstrap = JSON.parse(readFileSync(join(run.configPath, 'envoy-rev1.json'), 'utf8')) as {
      admin: { address: { socket_address: { port_value: number } } };
    };
    expect(bootstrap.admin.address.socket_address.port_value).toBe(run.adminPort);
    expect(run.leftovers()).toHaveLength(1);
  });

  it('keeps working across consecutive swaps, one epoch each', async () => {
    const run = await agent({ prepare: ({ certDir }) => writeSecretVolume(certDir, cert(0)) });
    await run.waitReady();
    for (let epoch = 1; epoch <= 3; epoch++) {
      writeSecretVolume(run.certDir, cert(epoch % 4));
      await started(run, epoch);
      await readyAt(run, epoch);
    }
    expect(run.starts().map((s) => s.epoch)).toEqual([0, 1, 2, 3]);
  });

  it('follows the plain ways files change: in-place write, rename over, delete and recreate', async () => {
    const run = await agent({ prepare: ({ certDir }) => writePlain(certDir, cert(0)) });
    await run.waitReady();
    const file = (name: string) => join(run.certDir, name);

    // In place, the whole set at once.
    writeFileSync(file(CERT_FILES.chain), cert(1).chain);
    writeFileSync(file(CERT_FILES.key), cert(1).key);
    writeFileSync(file(CERT_FILES.root), cert(1).root);
    await started(run, 1);
    await readyAt(run, 1);

    // Renamed over.
    for (const [name, text] of [
      [CERT_FILES.chain, cert(2).chain],
      [CERT_FILES.key, cert(2).key],
      [CERT_FILES.root, cert(2).root],
    ] as const) {
      writeFileSync(file(`${name}.tmp`), text);
      renameSync(file(`${name}.tmp`), file(name));
    }
    await started(run, 2);
    await readyAt(run, 2);

    // Deleted, then written again.
    for (const name of Object.values(CERT_FILES)) rmSync(file(name));
    writePlain(run.certDir, cert(3));
    await started(run, 3);
    await readyAt(run, 3);
    expect(run.starts().map((s) => s.epoch)).toEqual([0, 1, 2, 3]);
  });

  it('never acts on a torn pair: a new certificate alone waits for its key', async () => {
    const run = await agent({ prepare: ({ certDir }) => writePlain(certDir, cert(0)) });
    await run.waitReady();
    writeFileSync(join(run.certDir, CERT_FILES.chain), cert(1).chain);
    await run.waitLog(/certificate rotation incomplete/);
    expect(run.starts()).toHaveLength(1);
    writeFileSync(join(run.certDir, CERT_FILES.key), cert(1).key);
    await started(run, 1);
    await readyAt(run, 1);
  });

  it('rewriting identical content never restarts Envoy', async () => {
    const run = await agent({
      args: ['--log_output_level', 'default:debug'],
      prepare: ({ certDir }) => writePlain(certDir, cert(0)),
    });
    await run.waitReady();
    writePlain(run.certDir, cert(0));
    await run.waitLog(/certificates unchanged/);
    expect(run.starts()).toHaveLength(1);
  });

  it('SIGHUP hot-restarts on demand', async () => {
    const run = await agent();
    await run.waitReady();
    run.signal('SIGHUP');
    await started(run, 1);
    await readyAt(run, 1);
  });
});

describe('hot restart failure modes', () => {
  it('SIGTERM during a hot restart drains and stops every epoch, exit 0, nothing left', async () => {
    const run = await agent({ sim: { FAULT_EPOCHS: '1', XDS_DELAY_MS: '1500' } });
    await run.waitReady();
    run.signal('SIGHUP');
    await started(run, 1);
    run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(run.adminCalls().some((r) => r.path === '/drain_listeners?inboundonly&graceful')).toBe(true);
    await waitUntil(() => run.leftovers().length === 0, 'every epoch gone');
    expect(exitOf(run, 1)?.code).toBe(0);
    expect(exitOf(run, 0)?.code).toBe(0);
  });

  it('a child dying before it takes over leaves the parent serving while it is retried; a refused retry replaces it', async () => {
    const run = await agent({
      // Epoch 1 crashes at start, before its admin handshake with the parent; it has already set
      // Envoy's INITIALIZING flag, so the retry is refused with "still initializing".
      sim: { FAULT_EPOCHS: '1', CRASH_AFTER_MS: '0' },
    });
    await run.waitReady();
    const parent = run.starts()[0]?.pid ?? 0;
    const sampler = sampleReadiness(run, 25);
    run.signal('SIGHUP');
    const refused = /epoch 1 refused: previous envoy process is still initializing/;
    await run.waitLog(refused, 15_000);
    // When the agent decided (its log line's own time), not when this test read the line.
    const line = run.lines.find((l) => l.startsWith('{') && refused.test(l)) ?? '{}';
    const replaced = Date.parse((JSON.parse(line) as { time?: string }).time ?? '') || Date.now();
    const samples = await sampler.stop();
    // Ready all along while the parent served and the child was retried.
    expect(samples.filter((s) => s.t < replaced - 50 && s.status !== 200)).toEqual([]);
    await run.waitLog(/flag set by the failed child until a fresh epoch 0\); replacing epoch 0/);
    await waitUntil(() => run.starts().some((r) => r.epoch === 0 && r.pid !== parent), 'fresh epoch 0');
    await run.waitReady();
    expect(run.starts().filter((s) => s.epoch === 1)).toHaveLength(2);
    expect(run.leftovers()).toHaveLength(1);
  });

  it('a child dying after it took the admin port is replaced, with its parent, by a fresh epoch 0', async () => {
    const run = await agent({
      // Epoch 1 answers on the admin port (still initializing: its xDS would take 5 s) and dies.
      sim: { FAULT_EPOCHS: '1', XDS_DELAY_MS: '5000', CRASH_AFTER_MS: '400' },
    });
    await run.waitReady();
    const parent = run.starts()[0]?.pid ?? 0;
    run.signal('SIGHUP');
    await run.waitLog(/after taking the admin port; replacing epoch 0 with a fresh epoch 0/, 15_000);
    await waitUntil(() => run.starts().some((r) => r.epoch === 0 && r.pid !== parent), 'fresh epoch 0');
    await run.waitReady();
    expect(exitOf(run, 0)?.code).toBe(0);
    expect(run.leftovers()).toHaveLength(1);
  });

  it('falls back to a fresh epoch 0 when the parent is gone during the handover', async () => {
    const run = await agent({ sim: { FAULT_EPOCHS: '1', START_DELAY_MS: '2000' } });
    await run.waitReady();
    const parent = run.starts()[0]?.pid ?? 0;
    run.signal('SIGHUP');
    await started(run, 1);
    process.kill(parent, 'SIGKILL');
    await waitUntil(() => run.starts().some((r) => r.epoch === 0 && r.pid !== parent), 'fresh epoch 0');
    await run.waitReady();
    expect(run.leftovers()).toHaveLength(1);
  });
});

describe('certificate files missing at start', () => {
  it('waits for them with a log line, answering readiness meanwhile, and starts Envoy once they exist', async () => {
    const run = await agent({ args: ['--controlPlaneAuthPolicy', 'MUTUAL_TLS'] });
    await run.waitLog(/waiting for certificate files/);
    const answer = await run.get('/healthz/ready');
    expect(answer).toEqual({ status: 503, body: 'waiting for the certificate files Envoy needs\n' });
    expect(run.starts()).toHaveLength(0);
    writePlain(run.certDir, cert(0));
    await run.waitReady();
    expect(run.starts()).toHaveLength(1);
  });
});
