/**
 * Coverage of a statechart, counted from the machine definition itself (`machine.root`), never
 * from what the paths happened to visit.
 *
 * - **States**: every state node below the root (atomic, compound, final), each once. The root is
 *   not counted: it is active whenever the machine runs.
 * - **Transitions**: every transition definition of every state node, one per entry of
 *   `node.transitions` (which already holds `on`, `after` as `xstate.after.<delay>.<id>`, invoke
 *   `onDone`/`onError` as `xstate.done.actor.<id>`/`xstate.error.actor.<id>`) plus every entry of
 *   `node.always`. Guarded alternatives of one event are separate transitions (`#0`, `#1`, …).
 *   Targetless transitions (`{ actions }` and `{}`) count like the others: they are covered when the
 *   machine *selects* them for an event, which is what the inspection API reports
 *   (`@xstate.microstep` → `_transitions`), whether or not they change the state value.
 *
 * Transition definitions are identified by `<source id>|<event>#<index>` so that the coverage of a
 * `.provide()`d copy of a machine (which has its own StateNode objects) maps onto the original.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

export interface TransitionInfo {
  key: string;
  source: string;
  event: string;
  index: number;
  targets: string[];
  guard: string;
}

export interface MachineInventory {
  machineId: string;
  states: string[];
  transitions: TransitionInfo[];
  /** TransitionDefinition objects of `machine` (and of any walked copy) → key. */
  keyOf: (t: AnyTransitionDefinition) => string | undefined;
  /** Registers the StateNode tree of a `.provide()`d copy so its transitions map to keys too. */
  adopt: (copy: AnyStateMachine) => void;
}

const eventLabel = (eventType: string): string => (eventType === '' ? 'always' : eventType);

function guardName(t: AnyTransitionDefinition): string {
  const g: unknown = t.guard;
  if (g === undefined) return '';
  if (typeof g === 'string') return g;
  if (typeof g === 'function') return g.name || 'guard';
  if (g && typeof g === 'object' && 'type' in g) return String((g as { type: unknown }).type);
  return 'guard';
}

function walk(node: AnyStateNode, visit: (n: AnyStateNode) => void): void {
  visit(node);
  for (const child of Object.values(node.states) as AnyStateNode[]) walk(child, visit);
}

function transitionsOf(node: AnyStateNode): [string, AnyTransitionDefinition[]][] {
  const out: [string, AnyTransitionDefinition[]][] = [...node.transitions.entries()].map(
    ([eventType, defs]) => [eventType, [...defs]],
  );
  if (node.always && node.always.length > 0) out.push(['', [...node.always]]);
  return out;
}

export function inventory(machine: AnyStateMachine): MachineInventory {
  const states: string[] = [];
  const transitions: TransitionInfo[] = [];
  const keys = new Map<AnyTransitionDefinition, string>();
  const index = (root: AnyStateNode, record: boolean) =>
    walk(root, (node) => {
      if (record && node !== root) states.push(node.id);
      for (const [eventType, defs] of transitionsOf(node)) {
        defs.forEach((t, i) => {
          const key = `${node.id}|${eventLabel(eventType)}#${i}`;
          keys.set(t, key);
          if (record) {
            transitions.push({
              key,
              source: node.id,
              event: eventLabel(eventType),
              index: i,
              targets: (t.target ?? []).map((s: AnyStateNode) => s.id),
              guard: guardName(t),
            });
          }
        });
      }
    });
  index(machine.root, true);
  return {
    machineId: machine.id,
    states,
    transitions,
    keyOf: (t) => keys.get(t),
    adopt: (copy) => index(copy.root, false),
  };
}

/** What a set of runs reached, against the inventory. */
export class CoverageTracker {
  readonly states = new Set<string>();
  readonly transitions = new Set<string>();
  readonly unknown = new Set<string>();

  constructor(readonly inv: MachineInventory) {}

  recordStates(nodeIds: Iterable<string>): void {
    for (const id of nodeIds) if (this.inv.states.includes(id)) this.states.add(id);
  }

  /**
   * Selected transitions, and the states they enter: a state left in the same macrostep (an
   * `always` junction such as `draining.settling`) never shows in a snapshot, but it was entered.
   */
  recordTransitions(defs: Iterable<AnyTransitionDefinition>): void {
    for (const t of defs) {
      const key = this.inv.keyOf(t);
      if (key) this.transitions.add(key);
      else this.unknown.add(String(t.eventType));
      for (const target of (t.target ?? []) as AnyStateNode[]) {
        for (let n: AnyStateNode | undefined = target; n; n = n.parent) this.recordStates([n.id]);
      }
    }
  }

  missingStates(): string[] {
    return this.inv.states.filter((s) => !this.states.has(s));
  }

  missingTransitions(): TransitionInfo[] {
    return this.inv.transitions.filter((t) => !this.transitions.has(t.key));
  }

  row(label = this.inv.machineId): CoverageRow {
    return {
      machine: label,
      statesReached: this.states.size,
      statesTotal: this.inv.states.length,
      transitionsReached: this.transitions.size,
      transitionsTotal: this.inv.transitions.length,
    };
  }
}

export interface CoverageRow {
  machine: string;
  statesReached: number;
  statesTotal: number;
  transitionsReached: number;
  transitionsTotal: number;
  /** Transitions shown unreachable, left out of the gate. */
  excluded?: number;
  paths?: number;
}

const pct = (a: number, b: number) => (b === 0 ? '100.0' : ((100 * a) / b).toFixed(1));

export function formatCoverageTable(rows: CoverageRow[], title: string): string {
  const header = ['machine', 'states', '%', 'transitions', '%', 'unreachable', 'gate', 'paths'];
  const body = rows.map((r) => [
    r.machine,
    `${r.statesReached}/${r.statesTotal}`,
    pct(r.statesReached, r.statesTotal),
    `${r.transitionsReached}/${r.transitionsTotal}`,
    pct(r.transitionsReached, r.transitionsTotal),
    r.excluded === undefined ? '-' : String(r.excluded),
    r.excluded === undefined
      ? '-'
      : `${pct(r.statesReached, r.statesTotal)} % / ${pct(r.transitionsReached, r.transitionsTotal - r.excluded)} %`,
    r.paths === undefined ? '' : String(r.paths),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [title, line(header), rule, ...body.map(line)].join('\n');
}
