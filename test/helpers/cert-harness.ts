/**
 * Fakes for the certificate rotation machine: the test decides what the files contain (as a
 * reading: hash, missing, problems) and when the watcher reports that something moved.
 */
import { fromCallback, fromPromise } from 'xstate';
import {
  type CertEvent,
  type CertReading,
  type CertRotationSettings,
  certRotationMachine,
} from '../../machines/cert-rotation.js';

export const TEST_CERT_SETTINGS: CertRotationSettings = {
  files: ['/etc/certs/cert-chain.pem', '/etc/certs/key.pem', '/etc/certs/root-cert.pem'],
  waitForFiles: false,
  settleMs: 250,
  tornTimeoutMs: 30_000,
  missingFilesTimeoutMs: 120_000,
  missingRecheckMs: 1_000,
  periodicRecheckMs: 30_000,
};

export const valid = (hash: string): CertReading => ({ hash, missing: [], problems: [] });

export function fakeCertEffects(initial: CertReading = valid('h0')) {
  const state = { reading: initial, reads: 0, watchers: 0 };
  let emit: ((e: CertEvent) => void) | undefined;
  const machine = certRotationMachine.provide({
    actors: {
      certWatcher: fromCallback(({ sendBack }) => {
        state.watchers += 1;
        emit = sendBack;
        return () => {
          state.watchers -= 1;
        };
      }),
      readCerts: fromPromise<CertReading, { files: string[] }>(async () => {
        state.reads += 1;
        return state.reading;
      }),
    },
  });
  return {
    machine,
    state,
    /** What the files contain from now on. */
    setFiles: (reading: CertReading) => {
      state.reading = reading;
    },
    /** The watcher saw something move in a watched directory. */
    fsEvent: (path = '/etc/certs/..data') => emit?.({ type: 'FS.CHANGED', path }),
  };
}
