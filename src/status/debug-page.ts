/**
 * `GET /debug/statechart`: one self-contained page (inline CSS and JS, no CDN, no font or image
 * fetched) that draws the three machines from the Graphviz SVGs `npm run visualize` writes to
 * `visualizations/` and highlights the current state of each, live, from `/debug/events` (SSE).
 *
 * The SVGs are read from disk at request time rather than embedded at build time: the build is a
 * plain `tsc`, the files are committed next to the sources (the Docker image copies the repo),
 * and `test/visualizations` keeps them in step with the machines, so the page always draws what
 * the running code is. A missing file makes that diagram a notice; the rest of the page works.
 *
 * Graphviz writes each state node's id into its `<title>` (`envoy.ready`; composites as
 * `cluster_envoy.starting`, edges as `a->b`), so the page finds states by those titles.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentMachine } from '../../machines/agent.js';
import { certRotationMachine } from '../../machines/cert-rotation.js';
import { envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';
import { packageRoot } from '../package-root.js';

export interface DiagramFile {
  /** The machine definition id the diagram draws (`envoy`). */
  machine: string;
  title: string;
  /** Base name in `visualizations/`. */
  file: string;
}

/** In page order: the lifecycle first, it is what an operator looks at. */
export const DIAGRAM_FILES: readonly DiagramFile[] = [
  { machine: envoyLifecycleMachine.id, title: 'Envoy lifecycle', file: 'envoy-lifecycle' },
  { machine: agentMachine.id, title: 'Root agent', file: 'agent' },
  { machine: certRotationMachine.id, title: 'Certificate rotation', file: 'cert-rotation' },
];

export const defaultDiagramsDir = (): string => join(packageRoot() ?? process.cwd(), 'visualizations');

interface PreparedDiagram extends DiagramFile {
  svg: string | null;
  /** Natural width in CSS pixels (Graphviz writes points). */
  widthPx: number;
  problem?: string;
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Makes a Graphviz SVG fit for inlining: no prolog or comments, every `id` prefixed (each file
 * numbers its elements `node1`, `clust1`… from one), and the fixed size in points replaced by CSS.
 */
export function prepareSvg(text: string, prefix: string): { svg: string; widthPx: number } {
  let svg = text
    .replace(/<\?xml[\s\S]*?\?>/g, '')
    .replace(/<!DOCTYPE[\s\S]*?>/g, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .trim();
  let widthPx = 0;
  svg = svg.replace(/<svg\b([^>]*)>/, (_m, attrs: string) => {
    const width = /\swidth="([\d.]+)pt"/.exec(attrs);
    widthPx = width ? Math.round(Number(width[1]) * (4 / 3)) : 0;
    const kept = attrs.replace(/\s(width|height)="[^"]*"/g, '');
    return `<svg${kept} class="chart" role="img">`;
  });
  svg = svg.replace(/\sid="([^"]*)"/g, (_m, id: string) => ` id="${prefix}-${id}"`);
  return { svg, widthPx };
}

async function loadDiagrams(dir: string): Promise<PreparedDiagram[]> {
  return Promise.all(
    DIAGRAM_FILES.map(async (d) => {
      try {
        const text = await readFile(join(dir, `${d.file}.svg`), 'utf8');
        return { ...d, ...prepareSvg(text, d.machine) };
      } catch {
        return {
          ...d,
          svg: null,
          widthPx: 0,
          problem: `visualizations/${d.file}.svg is missing (npm run visualize)`,
        };
      }
    }),
  );
}

export interface StatechartPage {
  html: string;
  /** For the Content-Security-Policy header: the only inline script and style allowed. */
  nonce: string;
}

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function renderStatechartPage(dir: string = defaultDiagramsDir()): Promise<StatechartPage> {
  const nonce = randomBytes(16).toString('base64');
  const diagrams = await loadDiagrams(dir);
  const sizes = diagrams
    .filter((d) => d.widthPx > 0)
    .map(
      (d) =>
        `#diagram-${d.machine} svg.chart { max-width: ${d.widthPx}px; }\n` +
        `#diagram-${d.machine}.zoomed svg.chart { width: ${d.widthPx}px; max-width: none; }`,
    )
    .join('\n');
  const cards = diagrams
    .map(
      (d) => `<div class="card" data-machine="${escapeHtml(d.machine)}">
  <div class="label">${escapeHtml(d.title)}</div>
  <div class="now idle">—</div>
  <div class="facts"></div>
</div>`,
    )
    .join('\n');
  const sections = diagrams
    .map(
      (
        d,
      ) => `<section class="diagram absent" id="diagram-${escapeHtml(d.machine)}" data-machine="${escapeHtml(d.machine)}" data-current="">
  <h2>${escapeHtml(d.title)} <code>${escapeHtml(d.machine)}</code> <span class="now"></span>
    <button class="zoom" type="button" title="Draw the diagram at its natural size (scrolls)">Actual size</button></h2>
  <div class="svg-wrap">${d.svg ?? `<p class="problem">${escapeHtml(d.problem ?? '')}</p>`}</div>
</section>`,
    )
    .join('\n');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pilot-agent · live statecharts</title>
<style nonce="${nonce}">
${PAGE_CSS}
${sizes}
</style>
</head>
<body>
<header>
  <h1>pilot-agent <span>live statecharts</span></h1>
  <span id="conn" class="pill connecting">connecting…</span>
  <div class="controls">
    <span id="queued"></span>
    <button id="pause" type="button" title="Hold the view; transitions queue up">Pause</button>
    <button id="step" type="button" disabled title="Apply the next queued transition">Step</button>
  </div>
</header>
<main>
<div class="top">
${cards}
<div class="card log">
  <div class="label">Recent transitions <small>(newest first)</small></div>
  <ol id="transitions"><li class="empty">none since this page opened</li></ol>
</div>
</div>
${sections}
<p class="legend">The current state has an orange border and a <b>current state</b> flag; the composite states that contain it are outlined in orange, and the transition last taken is drawn in orange. Data: <a href="machines">/debug/machines</a>, feed: <a href="events">/debug/events</a>.</p>
</main>
<script nonce="${nonce}">
${PAGE_JS}
</script>
</body>
</html>
`;
  return { html, nonce };
}

const PAGE_CSS = `
:root { --hl: #e8590c; --hl-fill: #fff0e0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 "Liberation Sans", Helvetica, Arial, sans-serif; color: #1f2328; background: #f6f8fa; }
header { display: flex; align-items: center; gap: 14px; padding: 10px 20px; background: #24292f; color: #fff;
  position: sticky; top: 0; z-index: 2; }
header h1 { font-size: 17px; margin: 0; font-weight: 700; }
header h1 span { font-weight: 400; opacity: .75; }
.pill { padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 700; }
.pill.live { background: #1a7f37; } .pill.connecting { background: #6e7781; }
.pill.down { background: #cf222e; } .pill.paused { background: #9a6700; }
.controls { margin-left: auto; display: flex; gap: 8px; align-items: center; font-size: 13px; }
button { font: inherit; font-size: 13px; padding: 3px 14px; border-radius: 6px; border: 1px solid #d0d7de;
  background: #f6f8fa; color: #24292f; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
main { padding: 14px 20px; display: grid; gap: 14px; }
.top { display: grid; grid-template-columns: minmax(0, 1.25fr) minmax(0, 1fr) minmax(0, 1fr) minmax(0, 1.6fr);
  gap: 12px; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px; min-width: 0; }
.card .label { font-size: 12px; color: #57606a; text-transform: uppercase; letter-spacing: .04em; }
.card .now { font-size: 26px; font-weight: 700; margin: 2px 0 4px; overflow-wrap: anywhere; }
.ok { color: #1a7f37; } .bad { color: #cf222e; } .warn { color: #9a6700; } .busy { color: #0969da; }
.idle { color: #6e7781; }
.card .facts { font: 12px/1.45 "DejaVu Sans Mono", ui-monospace, monospace; color: #424a53; white-space: pre-wrap; }
.log ol { margin: 4px 0 0; padding: 0; list-style: none; max-height: 160px; overflow: auto;
  font: 12px/1.4 "DejaVu Sans Mono", ui-monospace, monospace; }
.log li { border-bottom: 1px solid #eaeef2; padding: 1px 0; overflow-wrap: anywhere; }
.log li.empty { color: #6e7781; border: 0; }
.log li .t { color: #6e7781; } .log li .m { color: #0550ae; } .log li .to { font-weight: 700; color: var(--hl); }
.log li .e { display: block; padding-left: 2ch; color: #57606a; }
section.diagram { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px; }
section.diagram h2 { font-size: 15px; margin: 0 0 6px; display: flex; gap: 10px; align-items: baseline; }
section.diagram h2 code { font-size: 12px; color: #57606a; font-weight: 400; }
section.diagram h2 .now { margin-left: auto; color: var(--hl); font-size: 16px; }
section.diagram h2 .zoom { font-size: 12px; padding: 1px 10px; }
.svg-wrap { overflow: auto; }
.svg-wrap svg.chart { display: block; width: 100%; height: auto; margin: 0 auto; }
.problem { color: #cf222e; }
.diagram.running g.node, .diagram.running g.cluster { opacity: .35; }
.diagram.running g.edge { opacity: .2; }
.diagram g.current, .diagram g.edge.taken, .diagram g.now-marker { opacity: 1 !important; }
/* The outline of a state is a path (rounded box); its separator lines are polygons, left alone. */
.diagram g.node.current path { stroke: var(--hl); stroke-width: 5px; fill: var(--hl-fill); }
.diagram g.node.current { filter: drop-shadow(0 0 7px rgba(232, 89, 12, .9)); }
.diagram g.cluster.current path { stroke: var(--hl); stroke-width: 3px; }
.diagram g.edge.taken path { stroke: var(--hl); stroke-width: 3px; }
.diagram g.edge.taken polygon { stroke: var(--hl); fill: var(--hl); }
.diagram g.edge.taken text { fill: var(--hl); font-weight: 700; }
.now-marker rect { fill: var(--hl); }
.now-marker text { fill: #fff; font: 700 13px "Liberation Sans", Helvetica, Arial, sans-serif; }
.diagram.absent .svg-wrap, .diagram.finished .svg-wrap { opacity: .45; }
.legend { color: #57606a; font-size: 12.5px; margin: 0; }
`;

/** The page's script: plain ES5-style JS in a template literal, so no backticks or `${` inside. */
const PAGE_JS = `
(function () {
  'use strict';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var MAX_LOG = 60, MAX_QUEUE = 1000, MAX_HISTORY = 500;
  var views = {};
  var paused = false, queue = [];
  var conn = document.getElementById('conn');
  var queuedEl = document.getElementById('queued');
  var pauseButton = document.getElementById('pause');
  var stepButton = document.getElementById('step');
  var logEl = document.getElementById('transitions');
  // For tests and the curious: every highlight the page drew, as read back from the DOM.
  var debug = window.pilotDebug = { history: [], applied: 0, queued: 0 };

  function titleOf(g) {
    var t = g.querySelector('title');
    return t ? t.textContent : '';
  }

  Array.prototype.forEach.call(document.querySelectorAll('section.diagram'), function (section) {
    var machine = section.getAttribute('data-machine');
    var view = { machine: machine, section: section, nodes: {}, clusters: {}, edges: [], current: [],
      state: null, card: document.querySelector('.card[data-machine="' + machine + '"]') };
    Array.prototype.forEach.call(section.querySelectorAll('g.node'), function (g) { view.nodes[titleOf(g)] = g; });
    Array.prototype.forEach.call(section.querySelectorAll('g.cluster'), function (g) {
      var t = titleOf(g);
      if (t.indexOf('cluster_') === 0) view.clusters[t.slice(8)] = g;
    });
    Array.prototype.forEach.call(section.querySelectorAll('g.edge'), function (g) {
      var parts = titleOf(g).split('->');
      if (parts.length === 2) view.edges.push({ from: parts[0], to: parts[1], el: g });
    });
    section.querySelector('button.zoom').addEventListener('click', function (e) {
      var zoomed = section.classList.toggle('zoomed');
      e.target.textContent = zoomed ? 'Fit width' : 'Actual size';
      var node = view.nodes[view.current[view.current.length - 1]];
      if (zoomed && node) node.scrollIntoView({ block: 'nearest', inline: 'center' });
    });
    views[machine] = view;
  });

  function setConn(text, cls) {
    conn.textContent = text;
    conn.className = 'pill ' + cls;
  }

  function clock(iso) {
    var d = new Date(iso);
    function pad(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' +
      pad(d.getMilliseconds(), 3);
  }

  function tone(actor) {
    if (actor.status !== 'active') return actor.status === 'done' ? 'idle' : 'bad';
    var tags = actor.tags || [];
    var state = actor.state || '';
    if (tags.indexOf('ready') >= 0) return 'ok';
    if (state.indexOf('crashed') === 0 || tags.indexOf('stopping') >= 0) return 'bad';
    if (tags.indexOf('draining') >= 0 || state === 'live' || state === 'rejected' || state === 'torn') return 'warn';
    return 'busy';
  }

  function facts(actor) {
    var c = actor.context || {};
    var lines = [];
    if (actor.envoy) {
      lines.push('epoch ' + actor.envoy.epoch + ' · restarts ' + c.restarts +
        (c.settings ? '/' + c.settings.restartBudget : '') + ' · hot restarts ' + c.hotRestarts);
      actor.envoy.processes.forEach(function (p) {
        lines.push(p.actor + '  pid ' + (p.pid === null ? '?' : p.pid) + '  epoch ' + p.epoch + '  ' + p.role);
      });
      if (!actor.envoy.processes.length) lines.push('no Envoy process');
      if (c.lastExit) {
        lines.push('last exit: epoch ' + c.lastExit.epoch + ' ' +
          (c.lastExit.signal ? 'killed by ' + c.lastExit.signal : 'code ' + c.lastExit.code));
      }
      if (c.notice) lines.push(c.notice);
    } else if (actor.machine === 'certs') {
      lines.push('current set ' + (c.current ? 'sha256 ' + String(c.current).slice(0, 12) : 'none'));
      lines.push('rotations ' + c.rotations);
      if (c.watchError) lines.push('watch error: ' + c.watchError);
    } else {
      if (c.signals && c.signals.length) lines.push('signals ' + c.signals.join(', '));
      if (c.reason) lines.push(c.reason);
      if (actor.status !== 'active') lines.push('exit code ' + c.exitCode);
    }
    if (actor.status !== 'active') lines.push('status: ' + actor.status);
    return lines.join('\\n');
  }

  function eventText(e) {
    if (!e) return '';
    var bits = [];
    ['signal', 'code', 'pid', 'epoch', 'reason', 'failure', 'hash'].forEach(function (k) {
      if (e[k] !== undefined && e[k] !== null) bits.push(k + '=' + String(e[k]).slice(0, 24));
    });
    return e.type + (bits.length ? ' (' + bits.join(' ') + ')' : '');
  }

  function addLog(at, machine, from, to, event) {
    var li = document.createElement('li');
    function span(cls, text) { var s = document.createElement('span'); s.className = cls; s.textContent = text; li.appendChild(s); }
    span('t', clock(at) + ' ');
    span('m', machine + ' ');
    span('f', (from ? from + ' → ' : ''));
    span('to', to);
    if (event) span('e', '← ' + eventText(event));
    li.title = li.textContent;
    var empty = logEl.querySelector('li.empty');
    if (empty) logEl.removeChild(empty);
    logEl.insertBefore(li, logEl.firstChild);
    while (logEl.childNodes.length > MAX_LOG) logEl.removeChild(logEl.lastChild);
  }

  function clearMarks(view) {
    Array.prototype.forEach.call(view.section.querySelectorAll('.current, .taken'), function (el) {
      el.classList.remove('current');
      el.classList.remove('taken');
    });
    Array.prototype.forEach.call(view.section.querySelectorAll('g.now-marker'), function (el) {
      el.parentNode.removeChild(el);
    });
  }

  function placeMarker(g) {
    var box = g.getBBox();
    var marker = document.createElementNS(SVG_NS, 'g');
    marker.setAttribute('class', 'now-marker');
    var rect = document.createElementNS(SVG_NS, 'rect');
    var text = document.createElementNS(SVG_NS, 'text');
    text.textContent = 'current state';
    text.setAttribute('text-anchor', 'middle');
    text.setAttribute('x', String(box.x + box.width / 2));
    text.setAttribute('y', String(box.y - 9));
    marker.appendChild(rect);
    marker.appendChild(text);
    g.parentNode.appendChild(marker);
    var t = text.getBBox();
    rect.setAttribute('x', String(t.x - 6));
    rect.setAttribute('y', String(t.y - 2));
    rect.setAttribute('width', String(t.width + 12));
    rect.setAttribute('height', String(t.height + 4));
    rect.setAttribute('rx', '4');
  }

  function takenEdges(view, before, after) {
    var from = {}, to = {}, stay = {};
    before.forEach(function (id) { from[id] = 1; from[id + '::initial'] = 1; from[id + '::any'] = 1; });
    from[view.machine + '::any'] = 1;
    after.forEach(function (id) { to[id] = 1; to[id + '::initial'] = 1; });
    before.forEach(function (id) { if (after.indexOf(id) >= 0) { stay[id] = 1; stay[id + '::initial'] = 1; } });
    return view.edges.filter(function (e) { return from[e.from] && to[e.to] && !(stay[e.from] && stay[e.to]); });
  }

  function show(view, actor, event, at, log) {
    var ids = actor.stateIds || [];
    var previous = view.current;
    var previousState = view.state;
    clearMarks(view);
    view.section.classList.remove('absent', 'running', 'finished');
    view.section.classList.add(actor.status === 'active' ? 'running' : 'finished');
    ids.forEach(function (id) {
      if (view.clusters[id]) view.clusters[id].classList.add('current');
      if (view.nodes[id]) view.nodes[id].classList.add('current');
    });
    if (log && previousState !== null && previousState !== actor.state) {
      takenEdges(view, previous, ids).forEach(function (e) { e.el.classList.add('taken'); });
    }
    ids.forEach(function (id) {
      var node = view.nodes[id];
      if (!node) return;
      placeMarker(node);
      if (view.section.classList.contains('zoomed')) node.scrollIntoView({ block: 'nearest', inline: 'center' });
    });
    view.current = ids;
    view.state = actor.state;
    var label = actor.state + (actor.status === 'active' ? '' : ' (' + actor.status + ')');
    view.section.setAttribute('data-current', ids.join(' '));
    view.section.querySelector('h2 .now').textContent = 'now: ' + label;
    if (view.card) {
      var now = view.card.querySelector('.now');
      now.textContent = label;
      now.className = 'now ' + tone(actor);
      view.card.querySelector('.facts').textContent = facts(actor);
    }
    if (log && previousState !== actor.state) {
      addLog(at, actor.id, previousState, actor.state, event);
    }
    var drawn = Array.prototype.map.call(view.section.querySelectorAll('g.current'), titleOf)
      .map(function (t) { return t.indexOf('cluster_') === 0 ? t.slice(8) : t; });
    debug.history.push({ machine: view.machine, state: actor.state, status: actor.status, highlighted: drawn });
    if (debug.history.length > MAX_HISTORY) debug.history.shift();
  }

  function absent(view) {
    clearMarks(view);
    view.section.classList.remove('running', 'finished');
    view.section.classList.add('absent');
    view.section.setAttribute('data-current', '');
    view.section.querySelector('h2 .now').textContent = 'not running';
    if (view.card) {
      var now = view.card.querySelector('.now');
      now.textContent = 'not running';
      now.className = 'now idle';
      view.card.querySelector('.facts').textContent = '';
    }
    view.current = [];
    view.state = null;
  }

  function apply(message) {
    debug.applied++;
    if (message.kind === 'machines') {
      Object.keys(views).forEach(function (machine) {
        var found = null;
        message.report.actors.forEach(function (a) {
          if (a.machine === machine && (!found || a.status === 'active')) found = a;
        });
        if (found) show(views[machine], found, null, message.report.at, views[machine].state !== null);
        else absent(views[machine]);
      });
    } else if (message.kind === 'snapshot') {
      var view = views[message.actor.machine];
      if (view) show(view, message.actor, message.event, message.at, true);
    }
  }

  function updateQueue() {
    debug.queued = queue.length;
    queuedEl.textContent = paused ? queue.length + ' queued' : '';
    stepButton.disabled = !paused || queue.length === 0;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    if (paused) setConn('paused', 'paused');
  }

  function receive(message) {
    if (paused) {
      queue.push(message);
      if (queue.length > MAX_QUEUE) queue.shift();
      updateQueue();
      return;
    }
    apply(message);
  }

  pauseButton.addEventListener('click', function () {
    paused = !paused;
    if (!paused) {
      while (queue.length) apply(queue.shift());
      setConn(source.readyState === 1 ? 'live' : 'reconnecting…', source.readyState === 1 ? 'live' : 'down');
    }
    updateQueue();
  });
  stepButton.addEventListener('click', function () {
    if (queue.length) apply(queue.shift());
    updateQueue();
  });

  var source = new EventSource('events');
  source.onopen = function () { if (!paused) setConn('live', 'live'); };
  source.onerror = function () { if (!paused) setConn('reconnecting…', 'down'); };
  source.onmessage = function (e) {
    var message;
    try { message = JSON.parse(e.data); } catch (err) { return; }
    receive(message);
  };
})();
`;
