/**
 * Certificate rotation: watches the certificate files Envoy reads at start and tells the root
 * agent when their content changed into a valid new set, so it can hot-restart Envoy. No I/O here:
 * `certWatcher` (chokidar on the directories) reports that something moved, `readCerts` hashes
 * and validates; this chart decides.
 *
 * Protocol:
 * - **Start.** The first reading sets the baseline that epoch 0 is started with (CERTS.READY to the
 *   parent). When the files must exist (mTLS to the control plane, remote-service TLS,
 *   ISTIO_AUTO_MTLS_ENABLED) and some are missing, it waits for them — re-reading on every file
 *   event and every `missingRecheck` — for at most `missingFilesTimeout` (Istio: 2 min), then
 *   starts anyway with a warning, as Istio does.
 * - **Change.** Any event in a watched directory opens a settle window; more events restart it
 *   (a trailing debounce: Istio 1.5 acted a fixed 10 s after the *first* event). When the files
 *   have been quiet for `settle`, they are read: same SHA-256 as the current set → nothing to do;
 *   a different, valid set → CERTS.CHANGED with the new hash.
 * - **Torn rotation.** A set that does not validate (a new certificate with the old key, a
 *   half-written PEM, an expired leaf) is never reported. The chart waits up to `tornTimeout` for
 *   the missing piece — every event re-checks — then records one error and keeps the current
 *   epoch serving; a later valid set is picked up as usual.
 * - **Lost events.** inotify can drop events (queue overflow, a directory replaced under the
 *   watch). A `periodicRecheck` re-reads the files anyway; with a few small files it costs nothing.
 */
import { assign, type EventObject, fromCallback, fromPromise, sendParent, setup } from 'xstate';

/** What one reading of the certificate files found. */
export interface CertReading {
  /** SHA-256 (hex) over the existing files' bytes in list order (Istio's `generateCertHash`). */
  hash: string;
  missing: string[];
  /** Validation failures, one line each, naming the file (empty = valid). */
  problems: string[];
}

export interface CertRotationSettings {
  files: string[];
  waitForFiles: boolean;
  settleMs: number;
  tornTimeoutMs: number;
  missingFilesTimeoutMs: number;
  missingRecheckMs: number;
  periodicRecheckMs: number;
}

export type CertEvent = { type: 'FS.CHANGED'; path: string } | { type: 'FS.ERROR'; message: string };

/** Sent to the parent (the root agent). */
export type CertNotification =
  | { type: 'CERTS.READY'; hash: string }
  | { type: 'CERTS.CHANGED'; hash: string };

export interface CertContext {
  settings: CertRotationSettings;
  /** Hash of the set the running Envoy was started with. */
  current: string | null;
  /** The last reading that could not be used, and why. */
  rejected: CertReading | null;
  rotations: number;
  watchError: string | null;
}

const notProvided = (name: string) => () => {
  throw new Error(`${name} is not provided: the runtime must .provide() it`);
};

export const certRotationMachine = setup({
  types: {
    context: {} as CertContext,
    events: {} as CertEvent,
    input: {} as { settings: CertRotationSettings },
  },
  actors: {
    /** Watches the certificate directories (src/certs/watcher.ts): FS.CHANGED / FS.ERROR. */
    certWatcher: fromCallback<EventObject, { files: string[] }>(notProvided('certWatcher')),
    /** Reads, hashes and validates the files (src/certs/read.ts). */
    readCerts: fromPromise<CertReading, { files: string[] }>(notProvided('readCerts')),
  },
  guards: {
    unchanged: ({ context, event }) => doneOutput(event)?.hash === context.current,
    usable: ({ event }) => {
      const r = doneOutput(event);
      return r !== undefined && r.problems.length === 0 && r.missing.length === 0;
    },
    mustWaitForFiles: ({ context, event }) => {
      const r = doneOutput(event);
      return context.settings.waitForFiles && r !== undefined && r.missing.length > 0;
    },
  },
  delays: {
    settle: ({ context }) => context.settings.settleMs,
    tornTimeout: ({ context }) => context.settings.tornTimeoutMs,
    missingFilesTimeout: ({ context }) => context.settings.missingFilesTimeoutMs,
    missingRecheck: ({ context }) => context.settings.missingRecheckMs,
    periodicRecheck: ({ context }) => context.settings.periodicRecheckMs,
  },
  actions: {
    adopt: assign(({ context, event }) => ({
      current: doneOutput(event)?.hash ?? context.current,
      rejected: null,
    })),
    countRotation: assign({ rotations: ({ context }) => context.rotations + 1 }),
    reject: assign({ rejected: ({ event }) => doneOutput(event) ?? null }),
    recordWatchError: assign({
      watchError: ({ event }) => (event.type === 'FS.ERROR' ? event.message : null),
    }),
  },
}).createMachine({
  id: 'certs',
  context: ({ input }) => ({
    settings: input.settings,
    current: null,
    rejected: null,
    rotations: 0,
    watchError: null,
  }),
  invoke: { src: 'certWatcher', input: ({ context }) => ({ files: context.settings.files }) },
  on: { 'FS.ERROR': { actions: 'recordWatchError' } },
  initial: 'initial',
  states: {
    initial: {
      description: 'Establish the baseline set epoch 0 starts with; wait for missing files if required.',
      initial: 'reading',
      after: {
        missingFilesTimeout: {
          target: 'watching',
          actions: [
            assign({ current: null }),
            sendParent({ type: 'CERTS.READY', hash: '' } satisfies CertNotification),
          ],
        },
      },
      states: {
        reading: {
          invoke: {
            src: 'readCerts',
            input: ({ context }) => ({ files: context.settings.files }),
            onDone: [
              { guard: 'mustWaitForFiles', target: 'waitingForFiles', actions: 'reject' },
              {
                target: '#certs.watching',
                actions: [
                  'adopt',
                  sendParent(
                    ({ event }) =>
                      ({ type: 'CERTS.READY', hash: event.output.hash }) satisfies CertNotification,
                  ),
                ],
              },
            ],
            // Unreadable for a reason other than absence: start anyway; rotation keeps trying.
            onError: {
              target: '#certs.watching',
              actions: sendParent({ type: 'CERTS.READY', hash: '' } satisfies CertNotification),
            },
          },
        },
        waitingForFiles: {
          description: 'Some certificate files are missing; Envoy waits for them (bounded).',
          after: { missingRecheck: 'reading' },
          on: { 'FS.CHANGED': 'reading' },
        },
      },
    },

    watching: {
      description: 'Steady state: Envoy runs with the current set.',
      after: { periodicRecheck: 'checking' },
      on: { 'FS.CHANGED': 'settling' },
    },

    settling: {
      description: 'Files moved: wait until they have been quiet for the settle window.',
      after: { settle: 'checking' },
      on: { 'FS.CHANGED': { target: 'settling', reenter: true } },
    },

    checking: {
      invoke: {
        src: 'readCerts',
        input: ({ context }) => ({ files: context.settings.files }),
        onDone: [
          { guard: 'unchanged', target: 'watching', actions: assign({ rejected: null }) },
          {
            guard: 'usable',
            target: 'watching',
            actions: [
              'adopt',
              'countRotation',
              sendParent(
                ({ event }) =>
                  ({ type: 'CERTS.CHANGED', hash: event.output.hash }) satisfies CertNotification,
              ),
            ],
          },
          { target: 'torn', actions: 'reject' },
        ],
        onError: { target: 'watching' },
      },
      on: { 'FS.CHANGED': 'settling' },
    },

    torn: {
      description: 'The new set does not validate yet: wait for the rest of the rotation (bounded).',
      after: { tornTimeout: 'rejected' },
      on: { 'FS.CHANGED': 'settling' },
    },

    rejected: {
      description: 'The rotation never completed: the current epoch keeps serving the current set.',
      after: { periodicRecheck: 'checking' },
      on: { 'FS.CHANGED': 'settling' },
    },
  },
});

function doneOutput(event: unknown): CertReading | undefined {
  const output = (event as { output?: unknown }).output;
  return output && typeof output === 'object' && 'hash' in output ? (output as CertReading) : undefined;
}
