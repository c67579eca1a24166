/**
 * A renderer-neutral picture of one machine: its state tree with what each state shows inside its
 * box (tags, invocations, entry/exit actions, targetless transitions), and its targeted
 * transitions as edges between visual endpoints. Both emitters (DOT, Mermaid) draw this model, so
 * they cannot disagree about what the machine contains.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { actionsText, type EdgeKind, guardText, invokeTexts, triggerOf } from './describe.js';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface StateBox {
  node: AnyStateNode;
  kind: StateKind;
  tags: string[];
  /** `invoke adminPoller` lines. */
  invokes: string[];
  /** `entry / discardAll` and `exit / …` lines (XState's own timer bookkeeping left out). */
  actions: string[];
  /** Targetless transitions, shown inside the box: `ADMIN.STATUS [else] / recordStatus`. */
  internal: string[];
  children: StateBox[];
  /** Where the initial marker points (every region, for a parallel state). */
  initial: AnyStateNode[];
  /** Transitions of this composite into itself or its own substates start at an "any" marker. */
  hasAny: boolean;
  /** Extra lines for a collapsed composite in an overview (its substates). */
  notes: string[];
}

export interface Edge {
  source: AnyStateNode;
  target: AnyStateNode;
  /** The edge leaves the "any substate" marker inside the source composite. */
  fromAny: boolean;
  /** The edge re-enters the target composite from inside: it ends at the initial marker. */
  toInitial: boolean;
  label: string;
  kind: EdgeKind;
}

export interface Chart {
  machine: AnyStateMachine;
  root: StateBox;
  edges: Edge[];
}

const isComposite = (n: AnyStateNode): boolean => n.type === 'compound' || n.type === 'parallel';

/** Whether `inner` is `outer` or lies inside it. */
export function within(inner: AnyStateNode, outer: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = inner; n; n = n.parent) if (n === outer) return true;
  return false;
}

/**
 * Every transition list of a node, keyed by what triggers it, in definition order. Several
 * candidates for one trigger are tried in order; an unguarded one after guarded ones is the
 * fallback and reads `[else]`.
 */
function candidateLists(node: AnyStateNode): AnyTransitionDefinition[][] {
  const lists = [...node.transitions.values()].map((list) => [...list]);
  if (node.always?.length) lists.push([...node.always]);
  return lists;
}

function guardLabel(list: readonly AnyTransitionDefinition[], index: number): string {
  const t = list[index];
  if (!t) return '';
  if (t.guard !== undefined) return ` [${guardText(t.guard)}]`;
  return index > 0 && list.slice(0, index).some((p) => p.guard !== undefined) ? ' [else]' : '';
}

export function buildChart(machine: AnyStateMachine): Chart {
  const edges: Edge[] = [];

  const box = (node: AnyStateNode): StateBox => {
    const internal: string[] = [];
    let hasAny = false;
    for (const list of candidateLists(node)) {
      list.forEach((t, index) => {
        const trigger = triggerOf(t);
        const head = trigger.text + guardLabel(list, index);
        if (!t.target || t.target.length === 0) {
          const actions = actionsText(t.actions);
          // A targetless transition without actions swallows the event (so no ancestor handles it).
          internal.push(actions.length ? `${head} / ${actions.join(', ')}` : `${head} / (ignored)`);
          return;
        }
        for (const target of t.target) {
          const fromAny = isComposite(node) && within(target, node);
          const toInitial = isComposite(target) && within(node, target);
          if (fromAny) hasAny = true;
          const reentry = t.reenter && (target === node || toInitial) ? ' (re-enter)' : '';
          edges.push({ source: node, target, fromAny, toInitial, label: head + reentry, kind: trigger.kind });
        }
      });
    }
    const entry = actionsText(node.entry);
    const exit = actionsText(node.exit);
    return {
      node,
      kind: node.type as StateKind,
      tags: [...node.tags],
      invokes: invokeTexts(node),
      actions: [
        ...(entry.length ? [`entry / ${entry.join(', ')}`] : []),
        ...(exit.length ? [`exit / ${exit.join(', ')}`] : []),
      ],
      internal,
      children: Object.values(node.states).map(box),
      initial: node.type === 'parallel' ? Object.values(node.states) : [...(node.initial?.target ?? [])],
      hasAny,
      notes: [],
    };
  };

  return { machine, root: box(machine.root), edges };
}

/** A state's name as drawn: its key, with the kinds that change how it behaves spelled out. */
export function displayName(b: StateBox): string {
  if (b.kind === 'parallel') return `${b.node.key} (parallel)`;
  if (b.kind === 'history') return `${b.node.key} (history${b.node.history === 'deep' ? ', deep' : ''})`;
  return b.node.key;
}

/** Every state box in document order (root first). */
export function allBoxes(root: StateBox): StateBox[] {
  return [root, ...root.children.flatMap(allBoxes)];
}

/** Tags in order of first appearance, so colours stay stable when unrelated states change. */
export function tagOrder(root: StateBox): string[] {
  return [...new Set(allBoxes(root).flatMap((b) => b.tags))];
}

/**
 * Edges with the same endpoints drawn once, their labels stacked: fewer parallel curves and no
 * labels stacked on top of each other.
 */
export function mergeEdges<E extends { label: string; kind: EdgeKind }>(
  edges: readonly E[],
  key: (e: E) => string,
): Array<E & { labels: string[]; kinds: EdgeKind[] }> {
  const merged = new Map<string, E & { labels: string[]; kinds: EdgeKind[] }>();
  for (const e of edges) {
    const k = key(e);
    const existing = merged.get(k);
    if (existing) {
      existing.labels.push(e.label);
      existing.kinds.push(e.kind);
    } else {
      merged.set(k, { ...e, labels: [e.label], kinds: [e.kind] });
    }
  }
  return [...merged.values()];
}

/** The child of the root that contains `n` (the root itself for the root). */
function topLevel(n: AnyStateNode): AnyStateNode {
  let top = n;
  while (top.parent?.parent) top = top.parent;
  return top;
}

/** Joins names into lines of at most `width` characters, so a collapsed box stays narrow. */
function wrapList(prefix: string, names: readonly string[], width = 44): string[] {
  const lines: string[] = [];
  let line = prefix;
  names.forEach((name, i) => {
    const piece = i < names.length - 1 ? `${name},` : name;
    if (line === prefix) line += piece;
    else if (line.length + 1 + piece.length > width) {
      lines.push(line);
      line = `  ${piece}`;
    } else line += ` ${piece}`;
  });
  lines.push(line);
  return lines;
}

/**
 * The same chart with every top-level composite collapsed into one box: edges are lifted to the
 * top-level states that contain their ends, edges inside one top-level state disappear (except a
 * top-level state's own self-transition), and each collapsed box lists its substates.
 */
export function overviewChart(chart: Chart): Chart {
  const collapse = (b: StateBox): StateBox => ({
    ...b,
    kind: b.kind === 'compound' || b.kind === 'parallel' ? 'atomic' : b.kind,
    actions: [],
    internal: [],
    children: [],
    initial: [],
    hasAny: false,
    notes: b.children.length
      ? wrapList(
          'substates: ',
          b.children.map((c) => c.node.key),
        )
      : [],
  });
  const root = chart.root;
  const edges: Edge[] = [];
  for (const e of chart.edges) {
    const fromRoot = e.source === root.node;
    const source = fromRoot ? root.node : topLevel(e.source);
    const target = topLevel(e.target);
    const selfTransition = e.source === e.target && e.source.parent === root.node;
    if (!fromRoot && source === target && !selfTransition) continue;
    edges.push({ ...e, source, target, fromAny: fromRoot, toInitial: false });
  }
  // Several inner transitions often lift onto the same pair with the same text: say it once.
  const seen = new Set<string>();
  const unique = edges.filter((e) => {
    const key = `${e.source.id}\u0000${e.target.id}\u0000${e.fromAny}\u0000${e.label}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return {
    machine: chart.machine,
    root: { ...root, internal: [], actions: [], children: root.children.map(collapse) },
    edges: unique,
  };
}
