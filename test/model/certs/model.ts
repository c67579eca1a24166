/**
 * Certificate rotation as a test model. Readings are derived from the snapshot: "the same set"
 * is the hash the machine currently holds, "a new set" is another one, "torn" does not validate,
 * "missing" lacks a file.
 */
import type { AnyEventObject, SnapshotFrom } from 'xstate';
import {
  type CertReading,
  type CertRotationSettings,
  certRotationMachine,
} from '../../../machines/cert-rotation.js';
import { labelled, Model } from '../core/paths.js';
import { activeInvocations } from '../core/timed-model.js';

export type CertSnap = SnapshotFrom<typeof certRotationMachine>;

/** Short waits so that the bounded waits are reached in a few steps (3 rechecks, then the timeout). */
export const MODEL_CERT_SETTINGS: CertRotationSettings = {
  files: ['/etc/certs/cert-chain.pem', '/etc/certs/key.pem', '/etc/certs/root-cert.pem'],
  waitForFiles: false,
  settleMs: 250,
  tornTimeoutMs: 1_000,
  missingFilesTimeoutMs: 3_500,
  missingRecheckMs: 1_000,
  periodicRecheckMs: 30_000,
};

export const otherHash = (current: string | null) => (current === 'hA' ? 'hB' : 'hA');

export const READINGS: Record<string, (current: string | null) => CertReading | null> = {
  same: (current) => (current === null ? null : { hash: current, missing: [], problems: [] }),
  new: (current) => ({ hash: otherHash(current), missing: [], problems: [] }),
  torn: () => ({ hash: 'h-torn', missing: [], problems: ['/etc/certs/key.pem does not match the leaf'] }),
  missing: () => ({ hash: 'h-partial', missing: ['/etc/certs/key.pem'], problems: [] }),
};

export function certEvents(s: CertSnap): AnyEventObject[] {
  const out: AnyEventObject[] = [];
  const add = (e: AnyEventObject, label: string) => out.push(labelled(e, label));
  add({ type: 'FS.CHANGED', path: '/etc/certs/..data' }, 'FS.CHANGED');
  add({ type: 'FS.ERROR', message: 'inotify: queue overflow' }, 'FS.ERROR');
  for (const inv of activeInvocations(s)) {
    if (inv.src !== 'readCerts') continue;
    for (const [name, read] of Object.entries(READINGS)) {
      const output = read(s.context.current);
      if (output) add({ type: `xstate.done.actor.${inv.id}`, actorId: inv.id, output }, `read ${name}`);
    }
    add(
      {
        type: `xstate.error.actor.${inv.id}`,
        actorId: inv.id,
        error: new Error("EACCES: permission denied, open 'key.pem'"),
      },
      'read fails',
    );
  }
  return out;
}

export const certAbstract = (s: CertSnap): unknown => ({ baseline: s.context.current !== null });

export function certModel(name: string, settings: Partial<CertRotationSettings> = {}) {
  return new Model({
    name,
    machine: certRotationMachine,
    input: { settings: { ...MODEL_CERT_SETTINGS, ...settings } },
    events: certEvents,
    abstract: certAbstract,
    limit: 100_000,
  });
}
