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
import {
  assign,
  type EventObject,
  emit,
  enqueueActions,
  fromCallback,
  fromPromise,
  sendParent,
  setup,
} from 'xstate';
import { errorText } from './lifecycle/texts.js';
import { notProvided } from './not-provided.js';

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

/**
 * What the rotation decided, announced with `emit` for observers (log lines, metrics, the debug
 * feed); the reading's hashes and file names only, never file contents.
 */
export type CertDecision =
  /** The set Envoy is started with (`hash` empty when there was none to read). */
  | { type: 'certs.baseline'; hash: string }
  /** Required files are missing at start: Envoy waits (announced again when the missing set changes). */
  | { type: 'certs.waitingForFiles'; missing: string[] }
  /** The bounded wait is over: Envoy starts without the missing files, as Istio does. */
  | { type: 'certs.waitAbandoned'; missing: string[]; waitedMs: number }
  /** The files could not be read (for a reason other than absence). */
  | { type: 'certs.unreadable'; error: string }
  | { type: 'certs.unchanged'; hash: string }
  | { type: 'certs.rotated'; hash: string; rotation: number }
  /** The new set does not validate yet: its rest is waited for. */
  | { type: 'certs.torn'; problems: string[] }
  /** The rotation never completed: Envoy keeps serving the current set. */
  | { type: 'certs.rejected'; problems: string[] };

export interface CertContext {
  settings: CertRotationSettings;
  /** Hash of the set the running Envoy was started with. */
  current: string | null;
  /** The last reading that could not be used, and why. */
  rejected: CertReading | null;
  rotations: number;
  watchError: string | null;
}

export const certRotationMachine = setup({
  types: {
    context: {} as CertContext,
    events: {} as CertEvent,
    input: {} as { settings: CertRotationSettings },
    emitted: {} as CertDecision,
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
    /** Envoy starts without a baseline: the bounded wait is over, or the files could not be read. */
    startWithoutBaseline: assign({ current: null }),
    forgetRejection: assign({ rejected: null }),
    countRotation: assign({ rotations: ({ context }) => context.rotations + 1 }),
    reject: assign({ rejected: ({ event }) => doneOutput(event) ?? null }),
    recordWatchError: assign({
      watchError: ({ event }) => (event.type === 'FS.ERROR' ? event.message : null),
    }),
    /** Still waiting for missing files: said when the missing set is new or has changed. */
    announceWaiting: enqueueActions(({ context, event, enqueue }) => {
      const missing = doneOutput(event)?.missing ?? [];
      const before = context.rejected?.missing ?? [];
      if (missing.join('\n') !== before.join('\n')) enqueue.emit({ type: 'certs.waitingForFiles', missing });
    }),
    announceWaitAbandoned: emit(({ context }) => ({
      type: 'certs.waitAbandoned' as const,
      missing: context.rejected?.missing ?? [],
      waitedMs: context.settings.missingFilesTimeoutMs,
    })),
    announceBaseline: emit(({ context }) => ({
      type: 'certs.baseline' as const,
      hash: context.current ?? '',
    })),
    announceUnreadable: emit(({ event }) => ({
      type: 'certs.unreadable' as const,
      error: errorText((event as { error?: unknown }).error),
    })),
    announceUnchanged: emit(({ context }) => ({
      type: 'certs.unchanged' as const,
      hash: context.current ?? '',
    })),
    announceRotation: emit(({ context }) => ({
      type: 'certs.rotated' as const,
      hash: context.current ?? '',
      rotation: context.rotations,
    })),
    announceTorn: emit(({ context }) => ({
      type: 'certs.torn' as const,
      problems: problemsOf(context.rejected),
    })),
    announceRejected: emit(({ context }) => ({
      type: 'certs.rejected' as const,
      problems: problemsOf(context.rejected),
    })),
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
            'startWithoutBaseline',
            'announceWaitAbandoned',
            sendParent({ type: 'CERTS.READY', hash: '' } satisfies CertNotification),
          ],
        },
      },
      states: {
        reading: {
          description: 'Read, hash and validate the certificate files.',
          invoke: {
            src: 'readCerts',
            input: ({ context }) => ({ files: context.settings.files }),
            onDone: [
              {
                guard: 'mustWaitForFiles',
                target: 'waitingForFiles',
                actions: ['announceWaiting', 'reject'],
              },
              {
                target: '#certs.watching',
                actions: [
                  'adopt',
                  'announceBaseline',
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
              actions: [
                'announceUnreadable',
                sendParent({ type: 'CERTS.READY', hash: '' } satisfies CertNotification),
              ],
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
      description: 'The files have been quiet: read them; same set, new valid set, or not valid yet.',
      invoke: {
        src: 'readCerts',
        input: ({ context }) => ({ files: context.settings.files }),
        onDone: [
          { guard: 'unchanged', target: 'watching', actions: ['forgetRejection', 'announceUnchanged'] },
          {
            guard: 'usable',
            target: 'watching',
            actions: [
              'adopt',
              'countRotation',
              'announceRotation',
              sendParent(
                ({ event }) =>
                  ({ type: 'CERTS.CHANGED', hash: event.output.hash }) satisfies CertNotification,
              ),
            ],
          },
          { target: 'torn', actions: ['reject', 'announceTorn'] },
        ],
        onError: { target: 'watching', actions: 'announceUnreadable' },
      },
      on: { 'FS.CHANGED': 'settling' },
    },

    torn: {
      description: 'The new set does not validate yet: wait for the rest of the rotation (bounded).',
      after: { tornTimeout: { target: 'rejected', actions: 'announceRejected' } },
      on: { 'FS.CHANGED': 'settling' },
    },

    rejected: {
      description: 'The rotation never completed: the current epoch keeps serving the current set.',
      after: { periodicRecheck: 'checking' },
      on: { 'FS.CHANGED': 'settling' },
    },
  },
});

/** A rejected reading as one line per problem, each naming its file. */
function problemsOf(reading: CertReading | null): string[] {
  return reading ? [...reading.missing.map((f) => `${f}: missing`), ...reading.problems] : [];
}

function doneOutput(event: unknown): CertReading | undefined {
  const output = (event as { output?: unknown }).output;
  return output && typeof output === 'object' && 'hash' in output ? (output as CertReading) : undefined;
}
