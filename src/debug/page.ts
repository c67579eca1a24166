/**
 * `GET /debug/statechart`: one self-contained page (inline CSS and JS, no CDN, no font or image
 * fetched) that draws the three machines from the Graphviz SVGs `npm run visualize` writes to
 * `visualizations/` and highlights the current state of each, live, from `/debug/events` (SSE).
 * The script and styles are `page/statechart.ts` and `page/statechart.css` (page-assets.ts).
 *
 * The SVGs are read from disk at request time rather than embedded at build time: the files are
 * committed next to the sources (the Docker image copies `visualizations/`), and
 * `test/visualizations` keeps them in step with the machines, so the page always draws what the
 * running code is. A missing file makes that diagram a notice; the rest of the page works.
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
import { sdsStreamMachine } from '../../machines/sds-stream.js';
import { packageRoot } from '../package-root.js';
import { pageAssets } from './page-assets.js';

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
  { machine: sdsStreamMachine.id, title: 'SDS stream (the latest, SDS mode)', file: 'sds-stream' },
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
  const [diagrams, assets] = await Promise.all([loadDiagrams(dir), pageAssets()]);
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
${assets.css}
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
  <div class="label">Recent transitions and decisions <small>(newest first)</small></div>
  <ol id="transitions"><li class="empty">none since this page opened</li></ol>
</div>
</div>
${sections}
<p class="legend">The current state has an orange border and a <b>current state</b> flag; the composite states that contain it are outlined in orange, and the transition last taken is drawn in orange. Data: <a href="machines">/debug/machines</a>, feed: <a href="events">/debug/events</a>.</p>
</main>
<script nonce="${nonce}">
${assets.script}
</script>
</body>
</html>
`;
  return { html, nonce };
}
