/**
 * What the agent shows about its own actors, for `/debug/machines`, `/debug/events` (SSE) and the
 * Stately inspector relay (inspect.ts). The routes never touch an actor: they get snapshots and a
 * feed from here, already stripped of anything secret-like.
 *
 * - `machines()` walks the actor tree from the root through each machine snapshot's `children`
 *   (public API; no inspection observer needed), so it is always complete and costs nothing
 *   between requests.
 * - `subscribe()` attaches ONE `root.system.inspect` observer while at least one listener exists
 *   and detaches it with the last one: with nobody watching, transitions pay nothing for this.
 *   Only machine snapshots that changed something visible (state, status, tags, context) become
 *   messages — the once-a-second admin poll that changes nothing is dropped — and the last
 *   `replay` of them are kept for late joiners.
 *
 * Sanitising is done here, once, for every consumer. No machine keeps key material today (the
 * certificate machine keeps hashes), but contexts, invoke inputs/outputs and event payloads can
 * carry Envoy's argv, file contents in error messages or whatever a later change adds, so every
 * value leaving the process goes through `sanitize()`.
 */
import type {
  AnyActorRef,
  AnyEventObject,
  AnyMachineSnapshot,
  AnyStateNode,
  InspectionEvent,
  StateValue,
} from 'xstate';
import { isMachineSnapshot } from 'xstate';
import { type EnvoyProc, envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';

// ---------------------------------------------------------------------------------------------
// Sanitising

/** What replaces a value that must not leave the process. */
export const REDACTED = '[redacted]';

/** PEM armour (any label), or the words a private key is written with: the whole string goes. */
const PEM_LIKE = /-----(BEGIN|END) [A-Z0-9 ]*-----|PRIVATE KEY/;
/** A PEM body without its armour: two or more lines of base64. */
const BASE64_LINES = /(?:[A-Za-z0-9+/=]{40,}\r?\n){2,}/;
/** A long unbroken run of base64/base64url characters: a DER key, a bearer token, an inline secret. */
const LONG_RUN = /[A-Za-z0-9+/_-]{64,}={0,2}/g;
const HEX_ONLY = /^[0-9a-fA-F]+$/;
/** Property names whose values are never shown, whatever they look like. */
const SECRET_NAME = /secret|passw(or)?d|passphrase|token|credential|authori[sz]ation|cookie|key$/i;

/**
 * Whether a long run is an opaque blob. Kept: hex (the certificate hashes, by design) and
 * absolute paths made of ordinary segments; base64 of random bytes has a `/` only every 64
 * characters or so, so its segments are long.
 */
function isBlob(run: string): boolean {
  if (HEX_ONLY.test(run)) return false;
  if (run.startsWith('/') && run.split('/').every((segment) => segment.length <= 48)) return false;
  return true;
}

export interface SanitizeLimits {
  depth: number;
  arrayItems: number;
  objectKeys: number;
  stringChars: number;
}

const LIMITS: SanitizeLimits = { depth: 8, arrayItems: 100, objectKeys: 100, stringChars: 2048 };

export function redactString(text: string, maxChars = LIMITS.stringChars): string {
  if (PEM_LIKE.test(text) || BASE64_LINES.test(text)) return REDACTED;
  const cut = text.replace(LONG_RUN, (run) => (isBlob(run) ? REDACTED : run));
  return cut.length > maxChars
    ? `${cut.slice(0, maxChars)}… (${cut.length - maxChars} more characters)`
    : cut;
}

const isActorRef = (v: object): v is AnyActorRef =>
  typeof (v as { sessionId?: unknown }).sessionId === 'string' &&
  typeof (v as { send?: unknown }).send === 'function' &&
  typeof (v as { getSnapshot?: unknown }).getSnapshot === 'function';

/** A JSON-safe copy of `value` with secret-like content removed and every size bounded. */
export function sanitize(value: unknown, limits: SanitizeLimits = LIMITS): unknown {
  const ancestors = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    // As JSON.stringify: an undefined property disappears, an undefined array item becomes null.
    if (v === null || v === undefined) return v;
    switch (typeof v) {
      case 'string':
        return redactString(v, limits.stringChars);
      case 'number':
        return Number.isFinite(v) ? v : String(v);
      case 'boolean':
        return v;
      case 'bigint':
        return v.toString();
      case 'function':
      case 'symbol':
        return undefined;
    }
    const obj = v as object;
    if (depth >= limits.depth) return '[…]';
    if (ancestors.has(obj)) return '[circular]';
    // Raw bytes could be anything, a key included: never shown.
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer)
      return `[${(obj as ArrayBuffer).byteLength} bytes]`;
    if (isActorRef(obj)) return { actor: obj.id };
    if (obj instanceof Error)
      return { name: obj.name, message: redactString(obj.message, limits.stringChars) };
    ancestors.add(obj);
    try {
      if (Array.isArray(obj) || obj instanceof Set) {
        const items = [...obj];
        const out = items.slice(0, limits.arrayItems).map((x) => walk(x, depth + 1) ?? null);
        if (items.length > limits.arrayItems) out.push(`… ${items.length - limits.arrayItems} more`);
        return out;
      }
      const toJSON = (obj as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        let json: unknown;
        try {
          json = toJSON.call(obj);
        } catch {
          return '[unserializable]';
        }
        return walk(json, depth);
      }
      const entries =
        obj instanceof Map
          ? [...obj.entries()].map(([k, x]) => [String(k), x] as const)
          : Object.entries(obj);
      const out: Record<string, unknown> = {};
      for (const [key, x] of entries.slice(0, limits.objectKeys)) {
        const safeKey = redactString(key, 200);
        const keep = x === null || x === undefined || typeof x === 'boolean' || typeof x === 'number';
        const shown = SECRET_NAME.test(key) && !keep ? REDACTED : walk(x, depth + 1);
        if (shown !== undefined) out[safeKey] = shown;
      }
      if (entries.length > limits.objectKeys) out['…'] = `${entries.length - limits.objectKeys} more keys`;
      return out;
    } finally {
      ancestors.delete(obj);
    }
  };
  return walk(value, 0);
}

// ---------------------------------------------------------------------------------------------
// Actor reports

export interface EnvoyProcessReport {
  /** The epoch actor's id in the lifecycle (`envoy-<seq>`). */
  actor: string;
  seq: number;
  epoch: number;
  pid: number | null;
  role: EnvoyProc['role'];
}

export interface ActorReport {
  /** Ids from the root down, e.g. `agent/lifecycle/envoy-2`. */
  path: string;
  /** The actor's own id (`lifecycle`, `envoy-2`; the root's is its machine id). */
  id: string;
  sessionId: string;
  systemId?: string;
  parent?: string;
  /** The implementation name it was invoked or spawned as (`envoyEpoch`, `adminPoller`). */
  src?: string;
  kind: 'machine' | 'actor';
  status: string;
  /** Machine actors: the id of the machine definition (`agent`, `envoy`, `certs`). */
  machine?: string;
  value?: StateValue;
  /** Machine actors: `hotRestarting.handover`. */
  state?: string;
  /** Machine actors: ids of every active state node, outermost first (`envoy.hotRestarting`, …). */
  stateIds?: string[];
  tags?: string[];
  context?: unknown;
  /** Non-machine actors (callbacks, promises): what they were started with. */
  input?: unknown;
  output?: unknown;
  error?: unknown;
  /** The Envoy lifecycle only: the serving epoch and every Envoy process with its role. */
  envoy?: { epoch: number; processes: EnvoyProcessReport[] };
}

export interface MachinesReport {
  at: string;
  rootId: string;
  actors: ActorReport[];
}

export function stateText(value: StateValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([k, v]) => (v && (typeof v === 'string' || Object.keys(v).length > 0) ? `${k}.${stateText(v)}` : k))
    .join(',');
}

function activeStateIds(node: AnyStateNode, value: StateValue): string[] {
  if (typeof value === 'string') {
    const child = node.states[value];
    return child ? [child.id] : [];
  }
  return Object.entries(value).flatMap(([key, sub]) => {
    const child = node.states[key];
    if (!child) return [];
    return [child.id, ...(sub ? activeStateIds(child, sub) : [])];
  });
}

/** The display id: the root's id is a session id (`x:0`), so its machine id is shown instead. */
function nameOf(ref: AnyActorRef, snapshot: unknown): string {
  if (ref.id !== ref.sessionId) return ref.id;
  return isMachineSnapshot(snapshot) ? snapshot.machine.id : ref.id;
}

function pathOf(ref: AnyActorRef): string {
  const names: string[] = [];
  for (let at: AnyActorRef | undefined = ref; at; at = at._parent)
    names.unshift(nameOf(at, at.getSnapshot()));
  return names.join('/');
}

function envoyReport(snapshot: AnyMachineSnapshot): ActorReport['envoy'] {
  if (snapshot.machine.id !== envoyLifecycleMachine.id) return undefined;
  const context = snapshot.context as { epoch?: unknown; procs?: unknown };
  if (typeof context.epoch !== 'number' || !Array.isArray(context.procs)) return undefined;
  return {
    epoch: context.epoch,
    processes: (context.procs as EnvoyProc[]).map((p) => ({
      actor: `envoy-${p.seq}`,
      seq: p.seq,
      epoch: p.epoch,
      pid: p.pid,
      role: p.role,
    })),
  };
}

/** One actor as the debug endpoints show it; `snapshot` defaults to the actor's current one. */
export function reportActor(ref: AnyActorRef, snapshot: unknown = ref.getSnapshot()): ActorReport {
  const snap = (snapshot ?? {}) as { status?: unknown; input?: unknown; output?: unknown; error?: unknown };
  const report: ActorReport = {
    path: pathOf(ref),
    id: nameOf(ref, snapshot),
    sessionId: ref.sessionId,
    kind: isMachineSnapshot(snapshot) ? 'machine' : 'actor',
    status: typeof snap.status === 'string' ? snap.status : 'unknown',
  };
  // Set on the actor object for actors invoked or spawned with one; not in the ActorRef interface.
  const systemId = (ref as { systemId?: unknown }).systemId;
  if (typeof systemId === 'string') report.systemId = systemId;
  if (ref._parent) report.parent = ref._parent.sessionId;
  if (typeof ref.src === 'string') report.src = ref.src;
  if (isMachineSnapshot(snapshot)) {
    report.machine = snapshot.machine.id;
    report.value = sanitize(snapshot.value) as StateValue;
    report.state = stateText(snapshot.value);
    report.stateIds = activeStateIds(snapshot.machine.root, snapshot.value);
    report.tags = [...snapshot.tags].sort();
    report.context = sanitize(snapshot.context);
    const envoy = envoyReport(snapshot);
    if (envoy) report.envoy = envoy;
  } else if (snap.input !== undefined) {
    report.input = sanitize(snap.input);
  }
  if (snap.output !== undefined) report.output = sanitize(snap.output);
  if (snap.error !== undefined) report.error = sanitize(snap.error);
  return report;
}

/** Every actor reachable from `root`, parents before children. */
export function actorTree(root: AnyActorRef): AnyActorRef[] {
  const out: AnyActorRef[] = [];
  const seen = new Set<string>();
  const visit = (ref: AnyActorRef) => {
    if (seen.has(ref.sessionId)) return;
    seen.add(ref.sessionId);
    out.push(ref);
    const snapshot = ref.getSnapshot() as unknown;
    if (!isMachineSnapshot(snapshot)) return;
    for (const child of Object.values(snapshot.children as Record<string, AnyActorRef | undefined>)) {
      if (child) visit(child);
    }
  };
  visit(root);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The feed

/** The event that caused a snapshot: its type, and its payload sanitised. */
export type EventSummary = { type: string } & Record<string, unknown>;

export type DebugMessage =
  | { kind: 'machines'; seq: number; at: string; report: MachinesReport }
  | { kind: 'snapshot'; seq: number; at: string; actor: ActorReport; event: EventSummary | null }
  /** The observer was (re)attached: replayed messages before this one may have gaps. */
  | { kind: 'attached'; seq: number; at: string };

export type DebugListener = (message: DebugMessage) => void;

export interface DebugSource {
  machines(): MachinesReport;
  /**
   * Calls `listener` at once with the replay buffer and then a `machines` message (the current
   * state), then with every change until the returned function is called.
   */
  subscribe(listener: DebugListener): () => void;
  /** How many listeners are attached (the observer is attached while this is above zero). */
  listeners(): number;
}

export interface DebugSourceOptions {
  /** Messages kept for late joiners (default 100). */
  replay?: number;
  now?: () => Date;
}

export const DEFAULT_REPLAY = 100;

function summarizeEvent(event: AnyEventObject | undefined): EventSummary | null {
  if (!event || typeof event.type !== 'string') return null;
  const payload = sanitize(event, { ...LIMITS, depth: 4, stringChars: 512 });
  return { ...(payload as Record<string, unknown>), type: redactString(event.type, 200) };
}

export function createDebugSource(root: AnyActorRef, options: DebugSourceOptions = {}): DebugSource {
  const replaySize = Math.max(0, options.replay ?? DEFAULT_REPLAY);
  const now = options.now ?? (() => new Date());
  const listeners = new Set<DebugListener>();
  const replay: DebugMessage[] = [];
  /** Last published signature per machine actor, to drop snapshots that change nothing shown. */
  const lastShown = new Map<string, string>();
  let seq = 0;
  let subscription: { unsubscribe(): void } | undefined;

  const machines = (): MachinesReport => ({
    at: now().toISOString(),
    rootId: root.sessionId,
    actors: actorTree(root).map((ref) => reportActor(ref)),
  });

  const publish = (message: DebugMessage) => {
    if (replaySize > 0) {
      replay.push(message);
      if (replay.length > replaySize) replay.shift();
    }
    for (const listener of [...listeners]) {
      try {
        listener(message);
      } catch {
        // A listener's failure (a broken socket) is its own business, never the actor's.
      }
    }
  };

  const observe = (ev: InspectionEvent) => {
    // Runs inside the actors' transitions: it must never throw into them.
    try {
      if (ev.type !== '@xstate.snapshot' || !isMachineSnapshot(ev.snapshot)) return;
      const ref = ev.actorRef as AnyActorRef;
      const actor = reportActor(ref, ev.snapshot);
      const signature = JSON.stringify(actor);
      if (lastShown.get(ref.sessionId) === signature) return;
      if (actor.status === 'active') {
        // Machine actors are few (root, certs, lifecycle); the bound only guards a future design.
        if (lastShown.size >= 64) lastShown.clear();
        lastShown.set(ref.sessionId, signature);
      } else {
        lastShown.delete(ref.sessionId);
      }
      publish({
        kind: 'snapshot',
        seq: ++seq,
        at: now().toISOString(),
        actor,
        event: summarizeEvent(ev.event),
      });
    } catch {
      // Diagnostics must never take the agent down.
    }
  };

  return {
    machines,
    subscribe(listener) {
      const report = machines();
      if (!subscription) {
        subscription = root.system.inspect(observe);
        // What the listener is about to get in `machines` is not news: only changes from it are.
        lastShown.clear();
        for (const actor of report.actors) {
          if (actor.kind === 'machine' && actor.status === 'active')
            lastShown.set(actor.sessionId, JSON.stringify(actor));
        }
        publish({ kind: 'attached', seq: ++seq, at: now().toISOString() });
      }
      for (const message of replay) listener(message);
      listener({ kind: 'machines', seq: ++seq, at: now().toISOString(), report });
      listeners.add(listener);
      return () => {
        if (!listeners.delete(listener)) return;
        if (listeners.size === 0) {
          subscription?.unsubscribe();
          subscription = undefined;
        }
      };
    },
    listeners: () => listeners.size,
  };
}
