/**
 * The script of `GET /debug/statechart` (page.ts), run in the browser: it finds each state of the
 * inlined Graphviz SVGs by its `<title>`, follows `/debug/events` (server-sent events), and
 * highlights the current state of each machine, the transition last taken, and a card of facts.
 * Pause holds the view while transitions queue up; Step applies them one at a time.
 *
 * Built by esbuild into one classic script inlined in the page (src/debug/page-assets.ts); it is
 * type-checked against the DOM (tsconfig.json here) and against the messages the agent sends.
 */
import type { ActorReport, DebugMessage, EventSummary } from '../source.js';

/** What the page drew, as read back from the DOM: for tests and the curious (`window.pilotDebug`). */
interface PageDebug {
  history: { machine: string; state: string | undefined; status: string; highlighted: string[] }[];
  applied: number;
  queued: number;
}

declare global {
  interface Window {
    pilotDebug: PageDebug;
  }
}

interface Edge {
  from: string;
  to: string;
  el: SVGGElement;
}

interface View {
  machine: string;
  section: HTMLElement;
  nodes: Record<string, SVGGElement>;
  clusters: Record<string, SVGGElement>;
  edges: Edge[];
  current: string[];
  /** `null` until the machine is first seen. */
  state: string | null | undefined;
  card: HTMLElement | null;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const MAX_LOG = 60;
const MAX_QUEUE = 1000;
const MAX_HISTORY = 500;

/** An element the page's HTML always has (page.ts writes it). */
function element<T extends Element>(parent: ParentNode, selector: string): T {
  const found = parent.querySelector<T>(selector);
  if (found === null) throw new Error(`statechart page: ${selector} is missing`);
  return found;
}

const views: Record<string, View> = {};
let paused = false;
const queue: DebugMessage[] = [];
const conn = element<HTMLElement>(document, '#conn');
const queuedEl = element<HTMLElement>(document, '#queued');
const pauseButton = element<HTMLButtonElement>(document, '#pause');
const stepButton = element<HTMLButtonElement>(document, '#step');
const logEl = element<HTMLOListElement>(document, '#transitions');
const debug: PageDebug = { history: [], applied: 0, queued: 0 };
window.pilotDebug = debug;

function titleOf(g: Element): string {
  return g.querySelector('title')?.textContent ?? '';
}

for (const section of document.querySelectorAll<HTMLElement>('section.diagram')) {
  const machine = section.getAttribute('data-machine') ?? '';
  const view: View = {
    machine,
    section,
    nodes: {},
    clusters: {},
    edges: [],
    current: [],
    state: null,
    card: document.querySelector<HTMLElement>(`.card[data-machine="${machine}"]`),
  };
  for (const g of section.querySelectorAll<SVGGElement>('g.node')) view.nodes[titleOf(g)] = g;
  for (const g of section.querySelectorAll<SVGGElement>('g.cluster')) {
    const t = titleOf(g);
    if (t.startsWith('cluster_')) view.clusters[t.slice(8)] = g;
  }
  for (const g of section.querySelectorAll<SVGGElement>('g.edge')) {
    const parts = titleOf(g).split('->');
    if (parts.length === 2) view.edges.push({ from: parts[0] ?? '', to: parts[1] ?? '', el: g });
  }
  element<HTMLButtonElement>(section, 'button.zoom').addEventListener('click', (e) => {
    const zoomed = section.classList.toggle('zoomed');
    (e.target as HTMLElement).textContent = zoomed ? 'Fit width' : 'Actual size';
    const node = view.nodes[view.current[view.current.length - 1] ?? ''];
    if (zoomed && node) node.scrollIntoView({ block: 'nearest', inline: 'center' });
  });
  views[machine] = view;
}

function setConn(text: string, cls: string): void {
  conn.textContent = text;
  conn.className = `pill ${cls}`;
}

function clock(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(d.getMilliseconds(), 3)}`;
}

function tone(actor: ActorReport): string {
  if (actor.status !== 'active') return actor.status === 'done' ? 'idle' : 'bad';
  const tags = actor.tags ?? [];
  const state = actor.state ?? '';
  if (tags.includes('ready')) return 'ok';
  if (state.startsWith('crashed') || tags.includes('stopping')) return 'bad';
  if (tags.includes('draining') || state === 'live' || state === 'rejected' || state === 'torn')
    return 'warn';
  return 'busy';
}

/** The context fields the cards show; the context is the machines' own, sanitised, so each is checked. */
type Context = Record<string, unknown> & {
  restarts?: unknown;
  hotRestarts?: unknown;
  settings?: { restartBudget?: unknown };
  lastExit?: { epoch?: unknown; signal?: unknown; code?: unknown };
  notice?: unknown;
  current?: unknown;
  rotations?: unknown;
  watchError?: unknown;
  signals?: unknown[];
  reason?: unknown;
  exitCode?: unknown;
};

function facts(actor: ActorReport): string {
  const c = (actor.context ?? {}) as Context;
  const lines: string[] = [];
  if (actor.envoy) {
    lines.push(
      `epoch ${actor.envoy.epoch} · restarts ${c.restarts}${c.settings ? `/${c.settings.restartBudget}` : ''} · hot restarts ${c.hotRestarts}`,
    );
    for (const p of actor.envoy.processes) {
      lines.push(`${p.actor}  pid ${p.pid === null ? '?' : p.pid}  epoch ${p.epoch}  ${p.role}`);
    }
    if (!actor.envoy.processes.length) lines.push('no Envoy process');
    if (c.lastExit) {
      lines.push(
        `last exit: epoch ${c.lastExit.epoch} ${c.lastExit.signal ? `killed by ${c.lastExit.signal}` : `code ${c.lastExit.code}`}`,
      );
    }
    if (c.notice) lines.push(String(c.notice));
  } else if (actor.machine === 'certs') {
    lines.push(`current set ${c.current ? `sha256 ${String(c.current).slice(0, 12)}` : 'none'}`);
    lines.push(`rotations ${c.rotations}`);
    if (c.watchError) lines.push(`watch error: ${c.watchError}`);
  } else {
    if (c.signals?.length) lines.push(`signals ${c.signals.join(', ')}`);
    if (c.reason) lines.push(String(c.reason));
    if (actor.status !== 'active') lines.push(`exit code ${c.exitCode}`);
  }
  if (actor.status !== 'active') lines.push(`status: ${actor.status}`);
  return lines.join('\n');
}

function eventText(e: EventSummary | null): string {
  if (!e) return '';
  const bits: string[] = [];
  for (const k of ['signal', 'code', 'pid', 'epoch', 'reason', 'failure', 'hash']) {
    if (e[k] !== undefined && e[k] !== null) bits.push(`${k}=${String(e[k]).slice(0, 24)}`);
  }
  return e.type + (bits.length ? ` (${bits.join(' ')})` : '');
}

function addLog(
  at: string,
  machine: string,
  from: string | null,
  to: string,
  event: EventSummary | null,
): void {
  const li = document.createElement('li');
  const span = (cls: string, text: string) => {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    li.appendChild(s);
  };
  span('t', `${clock(at)} `);
  span('m', `${machine} `);
  span('f', from ? `${from} → ` : '');
  span('to', to);
  if (event) span('e', `← ${eventText(event)}`);
  li.title = li.textContent ?? '';
  const empty = logEl.querySelector('li.empty');
  if (empty) logEl.removeChild(empty);
  logEl.insertBefore(li, logEl.firstChild);
  while (logEl.childNodes.length > MAX_LOG && logEl.lastChild) logEl.removeChild(logEl.lastChild);
}

function clearMarks(view: View): void {
  for (const el of view.section.querySelectorAll('.current, .taken')) {
    el.classList.remove('current');
    el.classList.remove('taken');
  }
  for (const el of view.section.querySelectorAll('g.now-marker')) el.parentNode?.removeChild(el);
}

function placeMarker(g: SVGGElement): void {
  const box = g.getBBox();
  const marker = document.createElementNS(SVG_NS, 'g');
  marker.setAttribute('class', 'now-marker');
  const rect = document.createElementNS(SVG_NS, 'rect');
  const text = document.createElementNS(SVG_NS, 'text');
  text.textContent = 'current state';
  text.setAttribute('text-anchor', 'middle');
  text.setAttribute('x', String(box.x + box.width / 2));
  text.setAttribute('y', String(box.y - 9));
  marker.appendChild(rect);
  marker.appendChild(text);
  g.parentNode?.appendChild(marker);
  const t = text.getBBox();
  rect.setAttribute('x', String(t.x - 6));
  rect.setAttribute('y', String(t.y - 2));
  rect.setAttribute('width', String(t.width + 12));
  rect.setAttribute('height', String(t.height + 4));
  rect.setAttribute('rx', '4');
}

function takenEdges(view: View, before: string[], after: string[]): Edge[] {
  const from = new Set<string>([`${view.machine}::any`]);
  const to = new Set<string>();
  const stay = new Set<string>();
  for (const id of before) for (const s of [id, `${id}::initial`, `${id}::any`]) from.add(s);
  for (const id of after) for (const s of [id, `${id}::initial`]) to.add(s);
  for (const id of before) {
    if (after.includes(id)) {
      stay.add(id);
      stay.add(`${id}::initial`);
    }
  }
  return view.edges.filter((e) => from.has(e.from) && to.has(e.to) && !(stay.has(e.from) && stay.has(e.to)));
}

function show(view: View, actor: ActorReport, event: EventSummary | null, at: string, log: boolean): void {
  const ids = actor.stateIds ?? [];
  const previous = view.current;
  const previousState = view.state;
  clearMarks(view);
  view.section.classList.remove('absent', 'running', 'finished');
  view.section.classList.add(actor.status === 'active' ? 'running' : 'finished');
  for (const id of ids) {
    view.clusters[id]?.classList.add('current');
    view.nodes[id]?.classList.add('current');
  }
  if (log && previousState !== null && previousState !== actor.state) {
    for (const e of takenEdges(view, previous, ids)) e.el.classList.add('taken');
  }
  for (const id of ids) {
    const node = view.nodes[id];
    if (!node) continue;
    placeMarker(node);
    if (view.section.classList.contains('zoomed'))
      node.scrollIntoView({ block: 'nearest', inline: 'center' });
  }
  view.current = ids;
  view.state = actor.state;
  const label = `${actor.state}${actor.status === 'active' ? '' : ` (${actor.status})`}`;
  view.section.setAttribute('data-current', ids.join(' '));
  element<HTMLElement>(view.section, 'h2 .now').textContent = `now: ${label}`;
  if (view.card) {
    const now = element<HTMLElement>(view.card, '.now');
    now.textContent = label;
    now.className = `now ${tone(actor)}`;
    element<HTMLElement>(view.card, '.facts').textContent = facts(actor);
  }
  if (log && previousState !== actor.state) {
    addLog(at, actor.id, previousState ?? null, actor.state ?? '', event);
  }
  const drawn = [...view.section.querySelectorAll('g.current')]
    .map(titleOf)
    .map((t) => (t.startsWith('cluster_') ? t.slice(8) : t));
  debug.history.push({ machine: view.machine, state: actor.state, status: actor.status, highlighted: drawn });
  if (debug.history.length > MAX_HISTORY) debug.history.shift();
}

function absent(view: View): void {
  clearMarks(view);
  view.section.classList.remove('running', 'finished');
  view.section.classList.add('absent');
  view.section.setAttribute('data-current', '');
  element<HTMLElement>(view.section, 'h2 .now').textContent = 'not running';
  if (view.card) {
    const now = element<HTMLElement>(view.card, '.now');
    now.textContent = 'not running';
    now.className = 'now idle';
    element<HTMLElement>(view.card, '.facts').textContent = '';
  }
  view.current = [];
  view.state = null;
}

function apply(message: DebugMessage): void {
  debug.applied++;
  if (message.kind === 'machines') {
    for (const [machine, view] of Object.entries(views)) {
      let found: ActorReport | null = null;
      for (const a of message.report.actors) {
        if (a.machine === machine && (!found || a.status === 'active')) found = a;
      }
      if (found) show(view, found, null, message.report.at, view.state !== null);
      else absent(view);
    }
  } else if (message.kind === 'snapshot') {
    const view = views[message.actor.machine ?? ''];
    if (view) show(view, message.actor, message.event, message.at, true);
  }
}

function updateQueue(): void {
  debug.queued = queue.length;
  queuedEl.textContent = paused ? `${queue.length} queued` : '';
  stepButton.disabled = !paused || queue.length === 0;
  pauseButton.textContent = paused ? 'Resume' : 'Pause';
  if (paused) setConn('paused', 'paused');
}

function receive(message: DebugMessage): void {
  if (paused) {
    queue.push(message);
    if (queue.length > MAX_QUEUE) queue.shift();
    updateQueue();
    return;
  }
  apply(message);
}

const source = new EventSource('events');

pauseButton.addEventListener('click', () => {
  paused = !paused;
  if (!paused) {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) apply(next);
    const open = source.readyState === EventSource.OPEN;
    setConn(open ? 'live' : 'reconnecting…', open ? 'live' : 'down');
  }
  updateQueue();
});
stepButton.addEventListener('click', () => {
  const next = queue.shift();
  if (next !== undefined) apply(next);
  updateQueue();
});

source.onopen = () => {
  if (!paused) setConn('live', 'live');
};
source.onerror = () => {
  if (!paused) setConn('reconnecting…', 'down');
};
source.onmessage = (e: MessageEvent<string>) => {
  let message: DebugMessage;
  try {
    message = JSON.parse(e.data) as DebugMessage;
  } catch {
    return;
  }
  receive(message);
};
