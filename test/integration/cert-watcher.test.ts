import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor, createMachine, type EventObject } from 'xstate';
import { readCertificates } from '../../src/certs/read.js';
import { certWatcherActor } from '../../src/certs/watcher.js';
import { CERT_FILES, type CertMaterial, makeCerts, writePlain, writeSecretVolume } from '../helpers/certs.js';
import { waitUntil } from '../helpers/wait.js';

let work: string;
let mats: CertMaterial[];
let running: AnyActorRef | undefined;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pilot-agent-watch-'));
  mats = [makeCerts(work, 'one'), makeCerts(work, 'two')];
});
afterEach(() => {
  running?.stop();
  running = undefined;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Starts the real watcher on `dir`'s cert files; returns the events it reported. */
async function watchDir(dir: string) {
  const events: EventObject[] = [];
  const files = Object.values(CERT_FILES).map((f) => join(dir, f));
  const parent = createMachine({
    invoke: { src: certWatcherActor, input: { files } },
    on: { '*': { actions: ({ event }) => events.push(event) } },
  });
  running = createActor(parent).start();
  // chokidar is loaded and ready asynchronously; a probe file shows the watch is live.
  const probe = join(dir, '.probe');
  await waitUntil(() => {
    writeFileSync(probe, String(Date.now()));
    return events.length > 0;
  }, 'watcher ready');
  rmSync(probe, { force: true });
  await waitUntil(() => events.length > 1, 'probe removal seen');
  events.length = 0;
  const hashOf = async () => (await readCertificates({ files, pairs: [] })).hash;
  return { events, hashOf };
}

describe('certificate directory watcher (real files, chokidar)', () => {
  it('sees every Kubernetes secret-volume swap of ..data, many times over', async () => {
    const dir = join(work, 'k8s');
    writeSecretVolume(dir, mats[0] as CertMaterial);
    const w = await watchDir(dir);
    for (let i = 1; i <= 12; i++) {
      const m = mats[i % 2] as CertMaterial;
      const before = w.events.length;
      writeSecretVolume(dir, m);
      await waitUntil(() => w.events.length > before, `swap ${i} seen`);
      expect(await w.hashOf()).toBe(
        createHash('sha256')
          .update(m.chain + m.key + m.root)
          .digest('hex'),
      );
    }
  });

  it('sees an in-place write, a rename over, and a delete then recreate', async () => {
    const dir = join(work, 'plain');
    writePlain(dir, mats[0] as CertMaterial);
    const w = await watchDir(dir);
    let n = w.events.length;
    writeFileSync(join(dir, CERT_FILES.chain), (mats[1] as CertMaterial).chain);
    await waitUntil(() => w.events.length > n, 'in-place write');
    n = w.events.length;
    writeFileSync(join(dir, 'tmp.pem'), (mats[0] as CertMaterial).key);
    renameSync(join(dir, 'tmp.pem'), join(dir, CERT_FILES.key));
    await waitUntil(() => w.events.length > n, 'rename over');
    n = w.events.length;
    rmSync(join(dir, CERT_FILES.root));
    writeFileSync(join(dir, CERT_FILES.root), (mats[1] as CertMaterial).root);
    await waitUntil(() => w.events.length > n, 'delete and recreate');
  });

  it('keeps watching after the directory itself is removed and recreated', async () => {
    const dir = join(work, 'recreated');
    writePlain(dir, mats[0] as CertMaterial);
    const w = await watchDir(dir);
    rmSync(dir, { recursive: true, force: true });
    await waitUntil(() => w.events.length > 0, 'removal seen');
    mkdirSync(dir);
    writePlain(dir, mats[1] as CertMaterial);
    await waitUntil(() => w.events.some((e) => (e as { path?: string }).path === dir), 'recreation seen');
    const n = w.events.length;
    writeFileSync(join(dir, CERT_FILES.chain), (mats[0] as CertMaterial).chain);
    await waitUntil(() => w.events.length > n, 'write after recreation seen');
  });

  it('sees writes made behind a symlink: inside the current ..data target, and into a linked directory', async () => {
    const dir = join(work, 'behind');
    writeSecretVolume(dir, mats[0] as CertMaterial);
    const w = await watchDir(dir);
    writeFileSync(join(dir, '..data', CERT_FILES.key), (mats[1] as CertMaterial).key);
    await waitUntil(() => w.events.length > 0, 'write inside ..data seen');
    // After a swap the new timestamped directory is the one followed.
    writeSecretVolume(dir, mats[1] as CertMaterial);
    await waitUntil(() => w.events.length > 1, 'swap seen');
    const n = w.events.length;
    writeFileSync(join(dir, '..data', CERT_FILES.chain), (mats[0] as CertMaterial).chain);
    await waitUntil(() => w.events.length > n, 'write inside the new ..data target seen');

    const elsewhere = join(work, 'elsewhere');
    const linked = join(work, 'linked');
    writePlain(elsewhere, mats[0] as CertMaterial);
    mkdirSync(linked);
    for (const f of Object.values(CERT_FILES)) symlinkSync(join(elsewhere, f), join(linked, f));
    running?.stop();
    const l = await watchDir(linked);
    writeFileSync(join(elsewhere, CERT_FILES.root), (mats[1] as CertMaterial).root);
    await waitUntil(() => l.events.length > 0, 'write in the linked directory seen');
  });

  it('a touch is reported (the machine, not the watcher, ignores identical content)', async () => {
    const dir = join(work, 'touch');
    writePlain(dir, mats[0] as CertMaterial);
    const w = await watchDir(dir);
    const before = await w.hashOf();
    writeFileSync(join(dir, CERT_FILES.key), (mats[0] as CertMaterial).key);
    utimesSync(join(dir, CERT_FILES.key), new Date(), new Date());
    await waitUntil(() => w.events.length > 0, 'touch seen');
    expect(await w.hashOf()).toBe(before);
  });
});
