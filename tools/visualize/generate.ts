/**
 * Every file of `visualizations/`, generated in memory from the machine objects. Writing and
 * checking both start from this one function, so `--check` compares exactly what a write would
 * produce. Order and content are deterministic: no timestamps, machines and states in definition
 * order.
 */
import { toDot } from './dot.js';
import type { DiagramSpec } from './machines.js';
import { toMermaid } from './mermaid.js';
import { buildChart, type Chart, overviewChart } from './model.js';
import { indexHtml, type RenderedDiagram, readme } from './pages.js';
import { renderSvg } from './svg.js';

export type GeneratedFiles = Map<string, string>;

async function renderViews(spec: DiagramSpec, chart: Chart, suffix: string, files: GeneratedFiles) {
  const base = `${spec.name}${suffix}`;
  const mermaid = toMermaid(chart);
  const dot = toDot(chart, { rankdir: spec.rankdir });
  const svg = await renderSvg(dot, base);
  files.set(`${base}.mmd`, mermaid);
  files.set(`${base}.dot`, dot);
  files.set(`${base}.svg`, svg);
  return { base, mermaid, svg };
}

/** File name (relative to `visualizations/`) → content. */
export async function generateFiles(specs: readonly DiagramSpec[]): Promise<GeneratedFiles> {
  const files: GeneratedFiles = new Map();
  const rendered: RenderedDiagram[] = [];
  for (const spec of specs) {
    const chart = buildChart(spec.machine);
    const full = await renderViews(spec, chart, '', files);
    const overview = spec.overview
      ? await renderViews(spec, overviewChart(chart), '-overview', files)
      : undefined;
    rendered.push({ spec, chart, full, overview });
  }
  files.set('README.md', readme(rendered));
  files.set('index.html', indexHtml(rendered));
  return files;
}
