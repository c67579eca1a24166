/**
 * Watches the directories that hold the certificate files, not the files: Kubernetes updates a
 * secret volume by writing a new timestamped directory and atomically re-pointing the `..data`
 * symlink the files resolve through, and a watch on the files themselves sees nothing (measured
 * with chokidar 5: docs/certificate-watch.md; Istio 1.5's `pkg/envoy/watcher.go` watches the
 * directories for the same reason).
 *
 * Three kinds of directory are watched, each non-recursively:
 * - the directory named in each path (where the `..data` swap and plain writes happen);
 * - its parent, so a directory that is removed and recreated is watched again;
 * - the directory each file resolves to through its symlinks (the current `..2026_…` directory, or
 *   wherever a hand-made symlink points), re-resolved after every event, so a write made behind
 *   a symlink is seen too.
 * Any event is only a hint: the rotation machine re-reads and hashes the files.
 */
import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type EventObject, fromCallback } from 'xstate';
import type { CertEvent } from '../../machines/cert-rotation.js';
import { messageOf } from '../errors.js';

function resolvedDirs(files: string[]): Set<string> {
  const dirs = new Set<string>();
  for (const file of files) {
    try {
      dirs.add(dirname(realpathSync(file)));
    } catch {
      // missing for now: its named directory is watched anyway
    }
  }
  return dirs;
}

export const certWatcherActor = fromCallback<EventObject, { files: string[] }>(({ input, sendBack }) => {
  const report = (event: CertEvent) => sendBack(event);
  const files = input.files.map((f) => resolve(f));
  const dirs = [...new Set(files.map((f) => dirname(f)))];
  if (dirs.length === 0) return () => {};
  const fixed = new Set([...dirs, ...dirs.map((d) => dirname(d))]);
  let followed = new Set<string>();
  let closed = false;
  let close: () => Promise<void> = async () => {};

  // chokidar is loaded here, not at start-up: it is off the path from exec to Envoy's spawn.
  void import('chokidar')
    .then(({ watch }) => {
      if (closed) return;
      const watcher = watch([...fixed], { ignoreInitial: true, depth: 0, followSymlinks: false });
      close = () => watcher.close();
      const follow = () => {
        const now = resolvedDirs(files);
        for (const dir of now) if (!fixed.has(dir) && !followed.has(dir)) watcher.add(dir);
        for (const dir of followed) {
          if (now.has(dir) || fixed.has(dir)) continue;
          // A secret volume's old `..<timestamp>` directory sits in a watched directory and is
          // deleted right after the swap: chokidar drops its watch when it sees it go. unwatch()
          // would add it to chokidar's ignored paths for good (two entries per rotation, each
          // checked on every later event). Only a target elsewhere (a hand-made symlink) is unwatched.
          if (!dirs.includes(dirname(dir))) watcher.unwatch(dir);
        }
        followed = now;
      };
      follow();
      watcher.on('all', (kind, path) => {
        const full = resolve(path);
        const where = dirname(full);
        const ours = dirs.includes(full) || dirs.includes(where) || followed.has(where) || followed.has(full);
        if (!ours) return;
        // Our directory came back: chokidar dropped its watch when it went away.
        if (kind === 'addDir' && dirs.includes(full)) watcher.add(full);
        follow();
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
