/**
 * Watches the directories that hold the certificate files, not the files: Kubernetes updates a
 * secret volume by writing a new timestamped directory and atomically re-pointing the `..data`
 * symlink the files resolve through, and a watch on the files themselves sees nothing (checked
 * here with chokidar 5, shared/reference/verified-here.md; Istio's watcher.go says the same).
 * Each directory's parent is watched too (depth 0), so a directory that is removed and recreated
 * is watched again. Any event is only a hint: the rotation machine re-reads and hashes.
 */
import { dirname, resolve } from 'node:path';
import { type EventObject, fromCallback } from 'xstate';
import type { CertEvent } from '../../machines/cert-rotation.js';
import { messageOf } from '../errors.js';

export const certWatcherActor = fromCallback<EventObject, { files: string[] }>(({ input, sendBack }) => {
  const report = (event: CertEvent) => sendBack(event);
  const dirs = [...new Set(input.files.map((f) => dirname(resolve(f))))];
  if (dirs.length === 0) return () => {};
  const watched = new Set([...dirs, ...dirs.map((d) => dirname(d))]);
  let closed = false;
  let close: () => Promise<void> = async () => {};

  // chokidar is loaded here, not at start-up: it is off the path from exec to Envoy's spawn.
  void import('chokidar')
    .then(({ watch }) => {
      if (closed) return;
      const watcher = watch([...watched], { ignoreInitial: true, depth: 0, followSymlinks: false });
      close = () => watcher.close();
      watcher.on('all', (kind, path) => {
        const full = resolve(path);
        const parentEvent = !dirs.includes(full) && !dirs.includes(dirname(full));
        if (parentEvent) return;
        // Our directory came back: chokidar dropped its watch when it went away.
        if (kind === 'addDir' && dirs.includes(full)) watcher.add(full);
        report({ type: 'FS.CHANGED', path: full });
      });
      watcher.on('error', (err) => report({ type: 'FS.ERROR', message: messageOf(err) }));
    })
    .catch((err: unknown) => report({ type: 'FS.ERROR', message: messageOf(err) }));

  return () => {
    closed = true;
    void close().catch(() => {});
  };
});
