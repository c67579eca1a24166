/**
 * One Envoy SDS stream as a test model: what Envoy can send (its first request, the ACK or NACK of
 * the response it received, a changed subscription with its answer or before it, stale), what a
 * reading of the secrets' files can find (per requested name: the content read last time, the
 * content Envoy holds, new content, a secret withheld because its files are missing or torn, or
 * the reader failing), certificate changes from the agent, and the end of the stream.
 *
 * Envoy's side is followed beside the machine as the model's world (`EnvoyView`): its requests
 * come from what it received and subscribes to, not from what the machine believes.
 *
 * Content hashes are opaque to the machine: its guards only compare them, per name, for equality.
 * The abstraction keeps exactly that: for each name, which of the contents known (last read,
 * accepted, rejected, in flight; held by Envoy, received by Envoy) are the same, numbered by first
 * appearance; besides the names, Envoy's subscription, whether a response is in flight (for the
 * machine, and for Envoy), `pushPending` and what is withheld.
 */
import type { AnyEventObject, SnapshotFrom } from 'xstate';
import {
  type SdsRequest,
  type SdsStreamInput,
  type SecretCheck,
  type StreamIoCommand,
  sdsStreamMachine,
} from '../../../machines/sds-stream.js';
import { labelled, Model, worldOf } from '../core/paths.js';
import {
  activeInvocations,
  childInput,
  isDoneActorEvent,
  isErrorActorEvent,
  stepRecord,
} from '../core/timed-model.js';

export type SdsSnap = SnapshotFrom<typeof sdsStreamMachine>;

export const SDS_INPUT: SdsStreamInput = { streamId: 's1' };

/** Envoy's node id, sent on the first request of a stream (Istio's sidecar form). */
export const NODE = 'sidecar~10.0.0.1~app-7d4b9.default~default.svc.cluster.local';

export const NACK_DETAIL = { code: 13, message: 'Failed to load private key from <inline>' } as const;
export const WITHHELD_REASON = '/etc/certs/key.pem does not match the leaf certificate';

/** What a reading can find for a name (see `readingsOf`). */
export type ReadingKind = 'same' | 'held' | 'new' | 'withheld' | 'constant';

export interface SdsModelOptions {
  /** The subscriptions Envoy moves between (one: it never changes). */
  subscriptions: readonly (readonly string[])[];
  readings: (name: string) => readonly ReadingKind[];
}

/** A response as Envoy received it. */
export interface ReceivedResponse {
  nonce: string;
  versionInfo: string;
  secrets: Record<string, string>;
}

/** Envoy's side of the stream. */
export interface EnvoyView {
  /** The names of Envoy's last request (none before the first). */
  subscription: string[];
  /**
   * The content Envoy applied (ACKed), by name. A name Envoy unsubscribes from is dropped: a later
   * subscription to it needs the secret sent again (envoyproxy/go-control-plane#431).
   */
  held: Record<string, string>;
  /** The responses Envoy received and has not answered yet, oldest first (it answers in order). */
  unanswered: ReceivedResponse[];
  /** The nonce of the last response Envoy answered ('' before the first). */
  lastAnswered: string;
}

/**
 * The world of one stream, followed beside the machine (core/paths.ts `world`): Envoy's side, whose
 * requests come from what it received and subscribes to, not from what the machine believes; and
 * the files as far as the readings tell. Part of the abstract state, so that paths reach what the
 * properties (properties.ts) compare with the machine's beliefs.
 */
export interface SdsWorld {
  envoy: EnvoyView;
  /** What the last completed reading found, by name (none before the first). */
  lastRead: Record<string, SecretCheck>;
  /** The last reading failed as a whole (the reader, not a file). */
  readFailed: boolean;
  /** A change (new certificates, a changed subscription) came after the last reading started. */
  unreadChange: boolean;
}

export const WORLD_BEFORE_FIRST_REQUEST: SdsWorld = {
  envoy: { subscription: [], held: {}, unanswered: [], lastAnswered: '' },
  lastRead: {},
  readFailed: false,
  unreadChange: false,
};

export const worldOfStream = (s: SdsSnap): SdsWorld => worldOf<SdsWorld>(s);
export const envoyOf = (s: SdsSnap): EnvoyView => worldOfStream(s).envoy;

export const sameNames = (a: readonly string[], b: readonly string[]) =>
  [...a].sort().join(',') === [...b].sort().join(',');

const isRequest = (e: AnyEventObject): e is { type: 'SDS.REQUEST'; request: SdsRequest } =>
  e.type === 'SDS.REQUEST';

/** The responses the step that produced `snapshot` sent (`sendTo('io', SEND)`), in order. */
export function responsesSent(snapshot: SdsSnap): StreamIoCommand[] {
  return (stepRecord(snapshot)?.actions ?? []).flatMap((a) => {
    const p = a.params as { targetId?: unknown; event?: { type?: string } } | undefined;
    return a.type === 'xstate.sendTo' && p?.targetId === 'io' && p.event?.type === 'SEND'
      ? [p.event as StreamIoCommand]
      : [];
  });
}

/** Whether the step that produced `snapshot` started a reading. */
export const startedReading = (snapshot: SdsSnap): boolean =>
  (stepRecord(snapshot)?.actions ?? []).some(
    (a) =>
      a.type === 'xstate.spawnChild' && (a.params as { src?: unknown } | undefined)?.src === 'resolveSecrets',
  );

/** Envoy after its request: the answer to its oldest response, and its subscription. */
function envoyRequests(envoy: EnvoyView, r: SdsRequest): EnvoyView {
  const held = { ...envoy.held };
  let { unanswered, lastAnswered } = envoy;
  const [oldest, ...rest] = unanswered;
  if (oldest && r.responseNonce === oldest.nonce) {
    if (!r.errorDetail) Object.assign(held, oldest.secrets);
    lastAnswered = oldest.nonce;
    unanswered = rest;
  }
  for (const name of Object.keys(held)) if (!r.resourceNames.includes(name)) delete held[name];
  return { subscription: [...r.resourceNames], held, unanswered, lastAnswered };
}

/** The world after one step: the event (Envoy's request, a change, a reading), then what was sent. */
export function nextWorld(world: SdsWorld, event: AnyEventObject, after: SdsSnap): SdsWorld {
  let { envoy, lastRead, readFailed, unreadChange } = world;
  if (isRequest(event)) {
    if (!sameNames(event.request.resourceNames, envoy.subscription)) unreadChange = true;
    envoy = envoyRequests(envoy, event.request);
  } else if (event.type === 'SECRETS.CHANGED') {
    // Before Envoy's first request there is nothing to read yet: that request starts the reading.
    unreadChange = envoy.subscription.length > 0;
  } else if (isDoneActorEvent(event.type) && Array.isArray(event.output)) {
    lastRead = Object.fromEntries((event.output as SecretCheck[]).map((c) => [c.name, c]));
    readFailed = false;
  } else if (isErrorActorEvent(event.type)) {
    readFailed = true;
  }
  if (startedReading(after)) unreadChange = false;
  const received = responsesSent(after).map((sent) => ({
    nonce: sent.nonce,
    versionInfo: sent.versionInfo,
    secrets: Object.fromEntries(sent.secrets.map((x) => [x.name, x.sha256])),
  }));
  if (received.length > 0) envoy = { ...envoy, unanswered: [...envoy.unanswered, ...received] };
  return { envoy, lastRead, readFailed, unreadChange };
}

const request = (r: SdsRequest): AnyEventObject => ({ type: 'SDS.REQUEST', request: r });

/** The content hashes known for `name`, in a fixed order (the abstraction's). */
function knownContents(s: SdsSnap, name: string): (string | undefined)[] {
  const c = s.context;
  const world = worldOfStream(s);
  const sha = (check: SecretCheck | undefined) => (check && 'sha256' in check ? check.sha256 : undefined);
  return [
    sha(c.checked.find((x) => x.name === name)),
    c.accepted[name],
    c.rejected[name],
    c.inFlight?.secrets[name],
    sha(world.lastRead[name]),
    world.envoy.held[name],
    // Two unanswered responses already break a property: more would only make the space infinite.
    ...world.envoy.unanswered.slice(0, 2).map((r) => r.secrets[name]),
  ];
}

/** A content for `name` that was never seen: `<name>#<n>`, n above every known one. */
export function freshContent(s: SdsSnap, name: string): string {
  const used = knownContents(s, name)
    .filter((h): h is string => h !== undefined)
    .map((h) => Number(h.slice(h.lastIndexOf('#') + 1)))
    .filter((n) => Number.isFinite(n));
  return `${name}#${Math.max(0, ...used) + 1}`;
}

/**
 * What one reading can find for `name`, label → check, deduplicated by content: the content read
 * last time (`same`), the content Envoy holds (`held`: the files went back to it), new content,
 * nothing usable (`withheld`), or a content that never changes (`constant`, a root CA).
 */
function readingsOf(s: SdsSnap, name: string, kinds: readonly ReadingKind[]): [string, SecretCheck][] {
  const [last] = knownContents(s, name);
  const held = envoyOf(s).held[name];
  const out: [string, SecretCheck][] = [];
  if (kinds.includes('constant')) out.push(['constant', { name, sha256: `${name}#1` }]);
  if (kinds.includes('same') && last !== undefined) out.push(['same', { name, sha256: last }]);
  if (kinds.includes('held') && held !== undefined && held !== last)
    out.push(['held', { name, sha256: held }]);
  if (kinds.includes('new')) out.push(['new', { name, sha256: freshContent(s, name) }]);
  if (kinds.includes('withheld')) out.push(['withheld', { name, withheld: WITHHELD_REASON }]);
  return out;
}

function product<T>(lists: T[][]): T[][] {
  return lists.reduce<T[][]>((acc, list) => acc.flatMap((prefix) => list.map((x) => [...prefix, x])), [[]]);
}

export function sdsEvents(s: SdsSnap, options: SdsModelOptions): AnyEventObject[] {
  const out: AnyEventObject[] = [];
  const add = (e: AnyEventObject, label: string) => out.push(labelled(e, label));
  const envoy = envoyOf(s);
  const show = (n: readonly string[]) => `[${n.join(',')}]`;
  const oldest = envoy.unanswered[0];
  // The subscriptions Envoy can move to from its current one.
  const others = options.subscriptions.filter((sub) => !sameNames(sub, envoy.subscription));

  if (envoy.subscription.length === 0) {
    for (const sub of options.subscriptions) {
      add(
        request({ versionInfo: '', resourceNames: [...sub], responseNonce: '', node: NODE }),
        `request ${show(sub)}`,
      );
    }
  } else if (oldest) {
    // Envoy answers the oldest response it received (its request carries that nonce), with its
    // subscription, which may change at the same time.
    const { nonce, versionInfo } = oldest;
    for (const sub of [envoy.subscription, ...others]) {
      const how = sub === envoy.subscription ? '' : ` + resubscribe ${show(sub)}`;
      add(request({ versionInfo, resourceNames: [...sub], responseNonce: nonce }), `ACK${how}`);
      add(
        request({ versionInfo: '', resourceNames: [...sub], responseNonce: nonce, errorDetail: NACK_DETAIL }),
        `NACK${how}`,
      );
    }
    // The subscription changes before the response reaches Envoy: its request carries the nonce
    // of the last one it answered (stale).
    for (const sub of others) {
      add(
        request({ versionInfo: '', resourceNames: [...sub], responseNonce: envoy.lastAnswered }),
        `stale resubscribe ${show(sub)}`,
      );
    }
  } else {
    for (const sub of others) {
      add(
        request({ versionInfo: '', resourceNames: [...sub], responseNonce: envoy.lastAnswered }),
        `resubscribe ${show(sub)}`,
      );
    }
  }
  for (const inv of activeInvocations(s)) {
    if (inv.src !== 'resolveSecrets') continue;
    // The reading is of the names the invocation was started with.
    const asked = childInput<{ names: string[] }>(inv.child).names;
    for (const combo of product(asked.map((name) => readingsOf(s, name, options.readings(name))))) {
      const label = `read ${combo.map(([how], i) => `${asked[i]}=${how}`).join(' ')}`;
      add(
        { type: `xstate.done.actor.${inv.id}`, actorId: inv.id, output: combo.map(([, check]) => check) },
        label,
      );
    }
    add(
      {
        type: `xstate.error.actor.${inv.id}`,
        actorId: inv.id,
        error: new Error('EMFILE: too many open files'),
      },
      'read fails',
    );
  }
  add({ type: 'SECRETS.CHANGED' }, 'SECRETS.CHANGED');
  add({ type: 'SDS.CLOSED', reason: 'Envoy closed the stream' }, 'SDS.CLOSED');
  return out;
}

/** Per name, the equality pattern of the contents known (0, 1, … by first appearance). */
function contentPattern(s: SdsSnap, name: string): (number | null)[] {
  const seen: string[] = [];
  return knownContents(s, name).map((h) => {
    if (h === undefined) return null;
    const i = seen.indexOf(h);
    if (i >= 0) return i;
    seen.push(h);
    return seen.length - 1;
  });
}

export function sdsAbstract(s: SdsSnap): unknown {
  const c = s.context;
  const world = worldOfStream(s);
  const envoy = world.envoy;
  const all = new Set<string>([
    ...c.names,
    ...c.checked.map((x) => x.name),
    ...Object.keys(c.accepted),
    ...Object.keys(c.rejected),
    ...Object.keys(c.withheld),
    ...Object.keys(c.inFlight?.secrets ?? {}),
    ...envoy.subscription,
    ...Object.keys(envoy.held),
    ...envoy.unanswered.slice(0, 2).flatMap((r) => Object.keys(r.secrets)),
    ...Object.keys(world.lastRead),
  ]);
  return {
    names: c.names,
    node: c.node !== null,
    inFlight: c.inFlight !== null,
    pushPending: c.pushPending,
    subscription: envoy.subscription,
    unanswered: Math.min(envoy.unanswered.length, 2),
    // What a failed reading changes is which properties apply at rest: elsewhere it decides nothing.
    readFailed: world.readFailed && s.matches('idle'),
    unreadChange: world.unreadChange,
    secrets: [...all].sort().map((name) => ({
      name,
      contents: contentPattern(s, name),
      withheld: c.withheld[name] ?? null,
      lastRead:
        world.lastRead[name] === undefined ? null : 'sha256' in world.lastRead[name] ? 'read' : 'withheld',
    })),
  };
}

const ALL_READINGS: readonly ReadingKind[] = ['same', 'held', 'new', 'withheld'];

/** Envoy's way: one stream per secret name, every reading possible. */
export const ONE_NAME: SdsModelOptions = { subscriptions: [['default']], readings: () => ALL_READINGS };

/**
 * The protocol's way: the subscription moves between one name and two. The second one, a root CA,
 * never changes, and `default` is read the same or new: withheld secrets and files going back to
 * what Envoy holds are what the one-name model explores (with them, this one has nearly twice the
 * states and paths; on the machine before its fix, both found the same findings).
 */
export const CHANGING_SUBSCRIPTION: SdsModelOptions = {
  subscriptions: [['default'], ['default', 'ROOTCA']],
  readings: (name) => (name === 'default' ? ['same', 'new'] : ['constant']),
};

export function sdsModel(name: string, options: SdsModelOptions) {
  return new Model({
    name,
    machine: sdsStreamMachine,
    input: SDS_INPUT,
    events: (s: SdsSnap) => sdsEvents(s, options),
    abstract: sdsAbstract,
    limit: 100_000,
    world: {
      initial: WORLD_BEFORE_FIRST_REQUEST,
      next: (world: SdsWorld, event: AnyEventObject, _before: SdsSnap, after: SdsSnap) =>
        nextWorld(world, event, after),
    },
  });
}
