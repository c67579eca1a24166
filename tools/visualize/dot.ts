/**
 * Graphviz DOT for one chart. Composite states are clusters (`compound=true`), so an edge can
 * start or end on a composite's border (`ltail`/`lhead`) while Graphviz lays it out between real
 * nodes inside: each composite's initial marker doubles as that anchor. Transitions from a
 * composite into its own substates leave an "any" marker inside it, because an edge cannot be
 * clipped to the border of a cluster that also contains its other end.
 */
import type { AnyStateNode } from 'xstate';
import type { EdgeKind } from './describe.js';
import {
  allBoxes,
  type Chart,
  displayName,
  type Edge,
  mergeEdges,
  type StateBox,
  tagOrder,
} from './model.js';

export interface DotOptions {
  rankdir: 'LR' | 'TB';
}

export interface TagStyle {
  /** Border and text colour. */
  line: string;
  fill: string;
}

/** Tag colours by order of first appearance in a machine (GitHub's Primer palette). */
const PALETTE: readonly TagStyle[] = [
  { line: '#1a7f37', fill: '#dafbe1' },
  { line: '#9a6700', fill: '#fff8c5' },
  { line: '#cf222e', fill: '#ffebe9' },
  { line: '#0969da', fill: '#ddf4ff' },
  { line: '#8250df', fill: '#fbefff' },
];

export function tagStyles(chart: Chart): Map<string, TagStyle> {
  return new Map(
    tagOrder(chart.root).map((tag, i) => [
      tag,
      PALETTE[i % PALETTE.length] ?? { line: '#000', fill: '#fff' },
    ]),
  );
}

const FONT = 'Helvetica';
const dotEscape = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const q = (s: string): string => `"${dotEscape(s)}"`;
/** A multi-line label: DOT's `\n` escape, one centred line per transition. */
const qLines = (lines: readonly string[]): string => `"${lines.map(dotEscape).join('\\n')}"`;
const html = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const initId = (n: AnyStateNode): string => `${n.id}::initial`;
const anyId = (n: AnyStateNode): string => `${n.id}::any`;
const clusterId = (n: AnyStateNode): string => `cluster_${n.id}`;
const isCluster = (b: StateBox): boolean => b.kind === 'compound' || b.kind === 'parallel';

/** Eventless transitions are dashed; the label says the rest (`after …`, `done …`, `error …`). */
const EDGE_STYLE: Partial<Record<EdgeKind, string>> = { always: 'style=dashed' };

/**
 * Edges take turns through these colours, and each label is written in its edge's colour: in a
 * dense chart a label sits mid-way along a long curve, and the colour is what ties the two together.
 */
const EDGE_COLORS: readonly string[] = [
  '#0969da',
  '#8250df',
  '#bf3989',
  '#1a7f37',
  '#953800',
  '#0a7b83',
  '#cf222e',
  '#6e7781',
  '#9a6700',
  '#3e1f79',
];

/** The HTML label of a state: name, tags, then a compartment of invokes, actions, internal rows. */
function stateLabel(b: StateBox, styles: Map<string, TagStyle>, title?: string): string {
  const rows = [
    title === undefined
      ? `<TR><TD ALIGN="LEFT"><B>${html(displayName(b))}</B></TD></TR>`
      : `<TR><TD ALIGN="LEFT"><FONT COLOR="#57606a">${html(title)}</FONT></TD></TR>`,
  ];
  for (const tag of b.tags) {
    const color = styles.get(tag)?.line ?? '#000000';
    rows.push(`<TR><TD ALIGN="LEFT"><FONT COLOR="${color}" POINT-SIZE="10">«${html(tag)}»</FONT></TD></TR>`);
  }
  const details = [
    ...b.notes.map((t) => ({ text: t, color: '#57606a' })),
    ...b.invokes.map((t) => ({ text: t, color: '#0550ae' })),
    ...b.actions.map((t) => ({ text: t, color: '#57606a' })),
    ...b.internal.map((t) => ({ text: t, color: '#24292f' })),
  ];
  if (details.length) {
    rows.push('<HR/>');
    for (const d of details) {
      rows.push(
        `<TR><TD ALIGN="LEFT"><FONT COLOR="${d.color}" POINT-SIZE="9">${html(d.text)}</FONT></TD></TR>`,
      );
    }
  }
  return `<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">${rows.join('')}</TABLE>>`;
}

function tooltip(b: StateBox): string {
  return b.node.description ? ` tooltip=${q(b.node.description)}` : '';
}

export function toDot(chart: Chart, options: DotOptions): string {
  const styles = tagStyles(chart);
  // Drawn as a cluster or not is the box's decision (an overview collapses composites), not the node type's.
  const clusters = new Set(
    allBoxes(chart.root)
      .filter(isCluster)
      .map((b) => b.node),
  );
  const composite = (n: AnyStateNode): boolean => clusters.has(n);
  const lines: string[] = [
    `digraph ${q(chart.machine.id)} {`,
    `  graph [compound=true rankdir=${options.rankdir} fontname=${q(FONT)} fontsize=11 nodesep=0.35 ranksep=0.45 mclimit=4 remincross=true];`,
    `  node [shape=box style="rounded,filled" fillcolor="#ffffff" color="#57606a" fontname=${q(FONT)} fontsize=11 margin="0.1,0.04"];`,
    `  edge [fontname=${q(FONT)} fontsize=9 color="#57606a" arrowsize=0.7];`,
  ];
  const edgeLines: string[] = [];

  /** Initial marker, "any" marker and children of a composite (or of the root). */
  const emitContents = (b: StateBox, indent: string, anyLabel: string): void => {
    lines.push(`${indent}${q(initId(b.node))} [shape=point width=0.12 color="#24292f" fillcolor="#24292f"];`);
    for (const target of b.initial) {
      edgeLines.push(
        composite(target)
          ? `  ${q(initId(b.node))} -> ${q(initId(target))} [lhead=${q(clusterId(target))}];`
          : `  ${q(initId(b.node))} -> ${q(target.id)};`,
      );
    }
    if (anyLabel) {
      lines.push(
        `${indent}${q(anyId(b.node))} [label=${anyLabel} style="dashed,rounded" fontsize=9 fontcolor="#57606a"];`,
      );
    }
    for (const child of b.children) emit(child, indent);
  };

  const emit = (b: StateBox, indent: string): void => {
    const tag = b.tags[0];
    const style = tag ? styles.get(tag) : undefined;
    if (isCluster(b)) {
      lines.push(`${indent}subgraph ${q(clusterId(b.node))} {`);
      const inner = `${indent}  `;
      lines.push(
        `${inner}label=${stateLabel(b, styles)} labeljust=l style="rounded${style ? ',filled' : ''}"` +
          ` color=${q(style?.line ?? '#57606a')}${style ? ` fillcolor=${q(style.fill)}` : ''}${tooltip(b)};`,
      );
      emitContents(b, inner, b.hasAny ? q(`any ${b.node.key} state`) : '');
      lines.push(`${indent}}`);
      return;
    }
    const attrs = [`label=${stateLabel(b, styles)}`];
    if (style) attrs.push(`color=${q(style.line)} fillcolor=${q(style.fill)}`);
    if (b.kind === 'final') attrs.push('peripheries=2');
    if (b.kind === 'history') attrs.push('shape=circle');
    lines.push(`${indent}${q(b.node.id)} [${attrs.join(' ')}${tooltip(b)}];`);
  };

  // The root is the graph itself, not a cluster (a root cluster only adds a border that long
  // labels cross). What it does in every state (invokes, targetless transitions) is listed on its
  // "any state" marker, as in the Mermaid chart.
  const root = chart.root;
  const rootInfo = root.invokes.length + root.actions.length + root.internal.length > 0;
  lines.splice(1, 0, `  label=<<B>${html(chart.machine.id)}</B>> labelloc=t labeljust=l fontsize=14;`);
  emitContents(
    root,
    '  ',
    root.hasAny || rootInfo ? stateLabel(root, styles, `any ${root.node.key} state`) : '',
  );

  const tail = (e: Edge): { id: string; attr?: string } =>
    e.fromAny
      ? { id: anyId(e.source) }
      : composite(e.source)
        ? { id: initId(e.source), attr: `ltail=${q(clusterId(e.source))}` }
        : { id: e.source.id };
  const head = (e: Edge): { id: string; attr?: string } =>
    e.toInitial
      ? { id: initId(e.target) }
      : composite(e.target)
        ? { id: initId(e.target), attr: `lhead=${q(clusterId(e.target))}` }
        : { id: e.target.id };

  mergeEdges(chart.edges, (x) => `${tail(x).id}\u0000${head(x).id}`).forEach((e, index) => {
    const from = tail(e);
    const to = head(e);
    const color = EDGE_COLORS[index % EDGE_COLORS.length] ?? '#57606a';
    const attrs = [`label=${qLines(e.labels)} color=${q(color)} fontcolor=${q(color)}`];
    if (from.attr) attrs.push(from.attr);
    if (to.attr) attrs.push(to.attr);
    const kinds = new Set(e.kinds);
    const [only] = kinds;
    const style = kinds.size === 1 && only ? EDGE_STYLE[only] : undefined;
    if (style) attrs.push(style);
    edgeLines.push(`  ${q(from.id)} -> ${q(to.id)} [${attrs.join(' ')}];`);
  });
  return `${[...lines, ...edgeLines, '}'].join('\n')}\n`;
}
