/**
 * Mermaid `stateDiagram-v2` for one chart, for Markdown that GitHub renders. Mermaid cannot draw a
 * transition between inner states of different composite states, so every edge is lifted to the
 * nearest scope that holds both ends: each end is replaced by the state of that scope containing
 * it, and the label says where the edge really starts or ends (`(from preparing)`).
 */
import type { AnyStateNode } from 'xstate';
import { tagStyles } from './dot.js';
import { type Chart, displayName, type Edge, mergeEdges, type StateBox, tagOrder } from './model.js';

/** A visual end of an edge: a state, or the "any substate" marker inside a composite. */
interface End {
  node: AnyStateNode;
  any: boolean;
}

/**
 * The composite whose block an end is drawn in. Mermaid draws a parallel state's regions as
 * dividers that no edge may touch, so the "any" marker of a parallel state sits beside it.
 */
function scopeOf(end: End): AnyStateNode | undefined {
  if (!end.any) return end.node.parent;
  return end.node.type === 'parallel' ? end.node.parent : end.node;
}

function lift(end: End): End {
  return end.any ? { node: end.node, any: false } : { node: end.node.parent ?? end.node, any: false };
}

function depth(n: AnyStateNode | undefined): number {
  let d = 0;
  for (let p = n?.parent; p; p = p.parent) d++;
  return d;
}

/** The nearest scope holding both ends; never a parallel state, whose regions cannot be linked. */
function commonScope(a: AnyStateNode | undefined, b: AnyStateNode | undefined): AnyStateNode | undefined {
  let x = a;
  let y = b;
  while (x && y && x !== y) {
    if (depth(x) >= depth(y)) x = x.parent;
    else y = y.parent;
  }
  let scope = x === y ? x : undefined;
  while (scope?.type === 'parallel') scope = scope.parent;
  return scope;
}

/** Mermaid ids allow letters, digits and `_`: state ids map onto that, and clashes are refused. */
function idMaker(): (n: AnyStateNode, suffix?: string) => string {
  const owner = new Map<string, string>();
  return (n, suffix = '') => {
    const id = n.id.replace(/[^A-Za-z0-9_]/g, '_') + suffix;
    const key = n.id + suffix;
    const seen = owner.get(id);
    if (seen !== undefined && seen !== key)
      throw new Error(`Mermaid id clash: ${seen} and ${key} both map to ${id}`);
    owner.set(id, key);
    return id;
  };
}

/** Mermaid reads `:` and `;` as syntax and `#` as an entity start in labels. */
const text = (s: string): string => s.replace(/[;#]/g, ' ').replace(/:/g, '∶').replace(/"/g, "'");

interface Lifted {
  from: string;
  to: string;
  scope: AnyStateNode | undefined;
  label: string;
  kind: Edge['kind'];
}

export function toMermaid(chart: Chart): string {
  const mid = idMaker();
  const styles = tagStyles(chart);
  const tagClass = new Map(tagOrder(chart.root).map((tag, i) => [tag, `tag${i}`]));

  const endId = (e: End): string => (e.any ? mid(e.node, '__any') : mid(e.node));
  const initialOf = (n: AnyStateNode): AnyStateNode =>
    n.initial?.target[0] ?? Object.values(n.states)[0] ?? n;

  const lifted: Lifted[] = chart.edges.map((edge) => {
    let from: End = { node: edge.source, any: edge.fromAny };
    let to: End = edge.toInitial
      ? { node: initialOf(edge.target), any: false }
      : { node: edge.target, any: false };
    const scope = commonScope(scopeOf(from), scopeOf(to));
    const notes: string[] = [];
    if (scopeOf(from) !== scope) {
      notes.push(`from ${edge.fromAny ? `any ${edge.source.key} state` : edge.source.key}`);
      while (scopeOf(from) !== scope) from = lift(from);
    }
    if (scopeOf(to) !== scope) {
      const real = to.node;
      while (scopeOf(to) !== scope) to = lift(to);
      // Lifted back onto the transition's own target (a re-entered parallel state): nothing to add.
      if (to.node !== edge.target) notes.push(`to ${real.key}`);
    }
    const label = notes.length ? `${edge.label} (${notes.join(', ')})` : edge.label;
    return { from: endId(from), to: endId(to), scope, label, kind: edge.kind };
  });
  const byScope = new Map<AnyStateNode | undefined, Lifted[]>();
  for (const e of lifted) byScope.set(e.scope, [...(byScope.get(e.scope) ?? []), e]);

  const lines = ['stateDiagram-v2'];
  const classLines: string[] = [];

  const details = (b: StateBox): string[] => [...b.notes, ...b.invokes, ...b.actions, ...b.internal];
  const isComposite = (b: StateBox): boolean => b.kind === 'compound' || b.kind === 'parallel';
  /**
   * Mermaid refuses description lines on composite states, so what a composite does while any of
   * its substates is active (invokes, entry/exit, targetless transitions) is listed on its "any
   * state" marker — the same marker its transitions into its own substates start from.
   */
  const needsAny = (b: StateBox): boolean => b.hasAny || details(b).length > 0;
  const emitAny = (b: StateBox, indent: string): void => {
    const id = mid(b.node, '__any');
    lines.push(`${indent}state "any ${text(b.node.key)} state" as ${id}`);
    for (const d of details(b)) lines.push(`${indent}${id} : ${text(d)}`);
    classLines.push(`class ${id} anyState`);
  };

  const emitChildren = (b: StateBox, indent: string): void => {
    b.children.forEach((child, i) => {
      if (b.kind === 'parallel' && i > 0) lines.push(`${indent}--`);
      emitState(child, indent);
    });
    if (needsAny(b) && b.kind !== 'parallel') emitAny(b, indent);
    if (b.kind !== 'parallel') {
      for (const init of b.initial) lines.push(`${indent}[*] --> ${mid(init)}`);
    }
    for (const e of mergeEdges(byScope.get(b.node) ?? [], (x) => `${x.from}\u0000${x.to}`)) {
      lines.push(`${indent}${e.from} --> ${e.to} : ${e.labels.map(text).join('<br/>')}`);
    }
  };

  const emitState = (b: StateBox, indent: string): void => {
    const id = mid(b.node);
    const tag = b.tags[0];
    if (tag) classLines.push(`class ${id} ${tagClass.get(tag)}`);
    if (isComposite(b)) {
      const label = [displayName(b), ...b.tags.map((t) => `«${t}»`)].join(' ');
      lines.push(`${indent}state "${text(label)}" as ${id}`);
      lines.push(`${indent}state ${id} {`);
      emitChildren(b, `${indent}  `);
      lines.push(`${indent}}`);
      if (b.kind === 'parallel' && needsAny(b)) emitAny(b, indent);
      return;
    }
    lines.push(`${indent}state "${text(displayName(b))}" as ${id}`);
    for (const d of [...b.tags.map((t) => `«${t}»`), ...details(b)])
      lines.push(`${indent}${id} : ${text(d)}`);
    if (b.kind === 'final') lines.push(`${indent}${id} --> [*]`);
  };

  // The root is the diagram itself: its children are drawn at the top level.
  emitChildren(chart.root, '  ');

  const defs = [
    '  classDef anyState fill:#ffffff,stroke:#57606a,stroke-dasharray:4 3,color:#57606a',
    ...[...tagClass].map(([tag, cls]) => {
      const s = styles.get(tag);
      return `  classDef ${cls} fill:${s?.fill ?? '#ffffff'},stroke:${s?.line ?? '#000000'}`;
    }),
  ];
  return `${[...lines, ...defs, ...classLines.map((l) => `  ${l}`)].join('\n')}\n`;
}
