/**
 * One Envoy SDS stream (`StreamSecrets`, state of the world): which secrets it asks for, what was
 * sent, what Envoy accepted or rejected, and when to send again. Envoy opens one stream per secret
 * name; the chart allows several names per stream, as the protocol does. The root agent spawns one
 * per stream the SDS server accepts. No I/O and no key material here: `streamIo` carries Envoy's
 * requests in and the responses out, `resolveSecrets` reads and checks the files; the chart holds
 * names, content hashes, versions and nonces only.
 *
 * Protocol (the xDS "ACK/NACK" rules, envoyproxy/envoy docs/root/api-docs/xds_protocol.rst):
 * - A **request** that is not the answer to our last response (first request, changed names) is
 *   resolved and answered with every requested secret whose content Envoy does not hold yet.
 * - An **answer** to our last response carries its nonce: without `error_detail` it is an ACK (Envoy
 *   applied the secrets), with one a NACK (Envoy keeps what it had). A NACKed content is not sent
 *   again; new content is. Requests with an older nonce are stale: not answered, but every request
 *   states Envoy's whole subscription, so a change in a stale request or in the answer is taken,
 *   and read once Envoy has answered.
 * - A name Envoy **unsubscribes** from is dropped on its side: what it held for it is forgotten, so a
 *   later subscription to it is answered with the secret again (envoyproxy/go-control-plane#431).
 * - **One response in flight.** New content while a response is unanswered is noted and sent after
 *   the answer, so a client that never answers costs one pending flag, not a queue.
 * - A secret whose files are missing, torn or outside their validity period is **withheld**: never
 *   sent empty or half. It is resolved again on the next content change or request.
 */
import { assign, emit, enqueueActions, fromCallback, fromPromise, setup } from 'xstate';
import { notProvided } from './not-provided.js';

/** What reading one requested secret found: its content hash, or why it must be withheld. */
export type SecretCheck = { name: string; sha256: string } | { name: string; withheld: string };

/** A request as Envoy sent it (the transport decodes it). */
export interface SdsRequest {
  versionInfo: string;
  resourceNames: string[];
  responseNonce: string;
  /** Envoy's node id, on the first request of a stream. */
  node?: string;
  /** Present on a NACK: why Envoy rejected the response. */
  errorDetail?: { code: number; message: string };
}

export type SdsStreamEvent =
  | { type: 'SDS.REQUEST'; request: SdsRequest }
  | { type: 'SDS.CLOSED'; reason: string }
  /** The agent's certificate files changed into a new valid set. */
  | { type: 'SECRETS.CHANGED' };

/** Commands the `streamIo` actor accepts. */
export type StreamIoCommand = {
  type: 'SEND';
  nonce: string;
  versionInfo: string;
  /** The secrets to send, by name and the content hash `resolveSecrets` found. */
  secrets: { name: string; sha256: string }[];
};

export interface SdsStreamInput {
  streamId: string;
}

export interface SentResponse {
  nonce: string;
  versionInfo: string;
  secrets: Record<string, string>;
}

export interface SdsStreamContext {
  streamId: string;
  node: string | null;
  /** The names Envoy subscribes to on this stream. */
  names: string[];
  /** Content Envoy applied (ACKed), by name. */
  accepted: Record<string, string>;
  /** Content Envoy rejected (NACKed), by name: not sent again. */
  rejected: Record<string, string>;
  /** Why each withheld secret was withheld, by name. */
  withheld: Record<string, string>;
  /** The response waiting for Envoy's answer. */
  inFlight: SentResponse | null;
  /** Something to read again once Envoy answers: new content, or a subscription that changed. */
  pushPending: boolean;
  /** The last reading of the requested secrets. */
  checked: SecretCheck[];
  responses: number;
  /** Envoy's last `error_detail` message, for /debug. */
  lastError: string | null;
}

/** What a stream decided, announced with `emit` for observers. Names and hashes, never bytes. */
export type SdsDecision =
  | { type: 'sds.opened'; streamId: string; node: string | null; names: string[] }
  | { type: 'sds.pushed'; streamId: string; names: string[]; versionInfo: string; nonce: string }
  | { type: 'sds.acked'; streamId: string; names: string[]; versionInfo: string }
  | { type: 'sds.nacked'; streamId: string; names: string[]; versionInfo: string; error: string }
  | { type: 'sds.withheld'; streamId: string; name: string; reason: string }
  | { type: 'sds.closed'; streamId: string; reason: string };

const isAvailable = (c: SecretCheck): c is { name: string; sha256: string } => 'sha256' in c;

/** The secrets of the last reading that Envoy neither holds nor rejected: what to send. */
export function secretsToSend(context: Pick<SdsStreamContext, 'checked' | 'accepted' | 'rejected'>) {
  return context.checked
    .filter(isAvailable)
    .filter((c) => context.accepted[c.name] !== c.sha256 && context.rejected[c.name] !== c.sha256);
}

/**
 * The response's `version_info`: derived from the content it carries, so the same secrets always
 * have the same version, across streams and agent restarts.
 */
export function versionOf(secrets: readonly { name: string; sha256: string }[]): string {
  return secrets
    .map((s) => `${s.name}@${s.sha256.slice(0, 12)}`)
    .sort()
    .join(',');
}

const isAnswer = (context: SdsStreamContext, request: SdsRequest): boolean =>
  context.inFlight !== null && request.responseNonce === context.inFlight.nonce;

const sameNames = (a: readonly string[], b: readonly string[]): boolean =>
  [...a].sort().join('\n') === [...b].sort().join('\n');

/** Envoy's subscription, as a request states it: what it held for a name it left is forgotten. */
const subscribe = (context: SdsStreamContext, names: readonly string[]) => ({
  names: [...names],
  accepted: Object.fromEntries(Object.entries(context.accepted).filter(([name]) => names.includes(name))),
});

export const sdsStreamMachine = setup({
  types: {
    context: {} as SdsStreamContext,
    events: {} as SdsStreamEvent,
    input: {} as SdsStreamInput,
    emitted: {} as SdsDecision,
  },
  actors: {
    /** Envoy's side of the stream (src/sds): SDS.REQUEST and SDS.CLOSED in, SEND out. */
    streamIo: fromCallback<StreamIoCommand, { streamId: string }>(notProvided('streamIo')),
    /** Reads and checks the named secrets' files (src/sds/secrets.ts); content hashes out. */
    resolveSecrets: fromPromise<SecretCheck[], { names: string[] }>(notProvided('resolveSecrets')),
  },
  actions: {
    /** A request that opens or changes the subscription: its names (and node) are kept. */
    takeRequest: assign(({ context }, params: { request: SdsRequest }) => ({
      ...subscribe(context, params.request.resourceNames),
      node: params.request.node ?? context.node,
    })),
    /**
     * A request while a response is in flight (its answer, or a stale request) states Envoy's
     * subscription: other names are read again once Envoy answers, and a secret of the response
     * for a name Envoy has left is not held.
     */
    followSubscription: assign(({ context }, params: { request: SdsRequest }) => ({
      ...subscribe(context, params.request.resourceNames),
      pushPending: context.pushPending || !sameNames(context.names, params.request.resourceNames),
    })),
    storeChecks: assign({ checked: (_, params: { checks: SecretCheck[] }) => params.checks }),
    /** The reading's withheld secrets are remembered and announced (once per reason). */
    noteWithheld: enqueueActions(({ context, enqueue }) => {
      const withheld: Record<string, string> = {};
      for (const c of context.checked) {
        if (isAvailable(c)) continue;
        withheld[c.name] = c.withheld;
        if (context.withheld[c.name] !== c.withheld) {
          enqueue.emit({
            type: 'sds.withheld',
            streamId: context.streamId,
            name: c.name,
            reason: c.withheld,
          });
        }
      }
      enqueue.assign({ withheld });
    }),
    /** Sends what Envoy does not hold yet, with a new nonce; it is in flight until answered. */
    respond: enqueueActions(({ context, enqueue }) => {
      const secrets = secretsToSend(context);
      const responses = context.responses + 1;
      const nonce = `${context.streamId}-${responses}`;
      const versionInfo = versionOf(secrets);
      enqueue.sendTo('io', { type: 'SEND', nonce, versionInfo, secrets } satisfies StreamIoCommand);
      enqueue.assign({
        responses,
        pushPending: false,
        inFlight: { nonce, versionInfo, secrets: Object.fromEntries(secrets.map((s) => [s.name, s.sha256])) },
      });
      enqueue.emit({
        type: 'sds.pushed',
        streamId: context.streamId,
        names: secrets.map((s) => s.name),
        versionInfo,
        nonce,
      });
    }),
    /** Envoy applied the response: its secrets are what Envoy holds now. */
    accept: enqueueActions(({ context, enqueue }) => {
      const sent = context.inFlight;
      if (!sent) return;
      enqueue.assign({ accepted: { ...context.accepted, ...sent.secrets }, inFlight: null, lastError: null });
      enqueue.emit({
        type: 'sds.acked',
        streamId: context.streamId,
        names: Object.keys(sent.secrets),
        versionInfo: sent.versionInfo,
      });
    }),
    /** Envoy rejected the response and keeps what it had: that content is not sent again. */
    reject: enqueueActions(({ context, enqueue }, params: { request: SdsRequest }) => {
      const sent = context.inFlight;
      if (!sent) return;
      const error = params.request.errorDetail?.message ?? '';
      enqueue.assign({
        rejected: { ...context.rejected, ...sent.secrets },
        inFlight: null,
        lastError: error,
      });
      enqueue.emit({
        type: 'sds.nacked',
        streamId: context.streamId,
        names: Object.keys(sent.secrets),
        versionInfo: sent.versionInfo,
        error,
      });
    }),
    markPushPending: assign({ pushPending: true }),
    announceOpened: emit(({ context }) => ({
      type: 'sds.opened' as const,
      streamId: context.streamId,
      node: context.node,
      names: context.names,
    })),
    announceClosed: emit(({ context }, params: { reason: string }) => ({
      type: 'sds.closed' as const,
      streamId: context.streamId,
      reason: params.reason,
    })),
  },
  guards: {
    /** The reading that just arrived has secrets Envoy neither holds nor rejected. */
    somethingToSend: ({ context, event }) =>
      secretsToSend({ ...context, checked: (event as { output?: SecretCheck[] }).output ?? [] }).length > 0,
    isAck: ({ context, event }) =>
      event.type === 'SDS.REQUEST' && isAnswer(context, event.request) && !event.request.errorDetail,
    isNack: ({ context, event }) =>
      event.type === 'SDS.REQUEST' &&
      isAnswer(context, event.request) &&
      event.request.errorDetail !== undefined,
    pushPending: ({ context }) => context.pushPending,
  },
}).createMachine({
  id: 'sdsStream',
  context: ({ input }) => ({
    streamId: input.streamId,
    node: null,
    names: [],
    accepted: {},
    rejected: {},
    withheld: {},
    inFlight: null,
    pushPending: false,
    checked: [],
    responses: 0,
    lastError: null,
  }),
  invoke: { id: 'io', src: 'streamIo', input: ({ context }) => ({ streamId: context.streamId }) },
  on: {
    'SDS.CLOSED': {
      target: '.closed',
      actions: { type: 'announceClosed', params: ({ event }) => ({ reason: event.reason }) },
    },
  },
  initial: 'opened',
  states: {
    opened: {
      description: 'Envoy connected; its first request names the secrets it wants.',
      on: {
        'SDS.REQUEST': {
          target: 'resolving',
          actions: [{ type: 'takeRequest', params: ({ event }) => event }, 'announceOpened'],
        },
      },
    },
    resolving: {
      description: 'Read and check the requested secrets; send what Envoy does not hold yet.',
      invoke: {
        src: 'resolveSecrets',
        input: ({ context }) => ({ names: context.names }),
        onDone: [
          {
            guard: 'somethingToSend',
            target: 'awaitingAnswer',
            actions: [
              { type: 'storeChecks', params: ({ event }) => ({ checks: event.output }) },
              'noteWithheld',
              'respond',
            ],
          },
          {
            target: 'idle',
            actions: [
              { type: 'storeChecks', params: ({ event }) => ({ checks: event.output }) },
              'noteWithheld',
            ],
          },
        ],
        // The reader failed as a whole (a bug, not a missing file): nothing is sent, Envoy keeps
        // what it holds; the next change or request tries again.
        onError: 'idle',
      },
      on: {
        // A changed subscription or new content while reading: read again.
        'SDS.REQUEST': {
          target: 'resolving',
          reenter: true,
          actions: { type: 'takeRequest', params: ({ event }) => event },
        },
        'SECRETS.CHANGED': { target: 'resolving', reenter: true },
      },
    },
    awaitingAnswer: {
      description: 'A response is in flight: the next request with its nonce is an ACK or a NACK.',
      on: {
        'SDS.REQUEST': [
          {
            guard: 'isAck',
            target: 'answered',
            actions: ['accept', { type: 'followSubscription', params: ({ event }) => event }],
          },
          {
            guard: 'isNack',
            target: 'answered',
            actions: [
              { type: 'reject', params: ({ event }) => event },
              { type: 'followSubscription', params: ({ event }) => event },
            ],
          },
          // Any other request answers an older response: stale, not answered (xds_protocol.rst).
          // The subscription it states is Envoy's all the same: a name it leaves is dropped on its
          // side even if it asks for it again before it answers.
          { actions: { type: 'followSubscription', params: ({ event }) => event } },
        ],
        'SECRETS.CHANGED': { actions: 'markPushPending' },
      },
    },
    answered: {
      description: 'Envoy answered: read again if content or the subscription changed meanwhile, else wait.',
      always: [{ guard: 'pushPending', target: 'resolving' }, { target: 'idle' }],
    },
    idle: {
      description: 'Envoy holds the current secrets (or they are withheld): wait for a change.',
      on: {
        'SDS.REQUEST': {
          target: 'resolving',
          actions: { type: 'takeRequest', params: ({ event }) => event },
        },
        'SECRETS.CHANGED': 'resolving',
      },
    },
    closed: {
      description: 'The stream ended (Envoy went away, or the agent is stopping).',
      type: 'final',
    },
  },
});
