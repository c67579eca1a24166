/**
 * The committed diagrams must be what the machines produce now (so CI fails on a stale diagram),
 * must name every state, delay, guard and invoked actor of their machine, and must change when a
 * machine changes. Graphviz (WASM) is instantiated once for the file; each generation of all the
 * diagrams takes well under a second after that.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyStateMachine,
  type AnyStateNode,
  and,
  assign,
  createMachine,
  not,
  or,
  sendParent,
  setup,
  stateIn,
} from 'xstate';
import { envoyLifecycleMachine } from '../../machines/envoy-lifecycle.js';
import { checkDiagrams, compareFiles } from '../../tools/visualize/check.js';
import { guardText } from '../../tools/visualize/describe.js';
import { type GeneratedFiles, generateFiles } from '../../tools/visualize/generate.js';
import { DIAGRAMS, type DiagramSpec } from '../../tools/visualize/machines.js';
import { DEFAULT_OUT, run } from '../../tools/visualize/main.js';

const OUT = DEFAULT_OUT();
let generated: GeneratedFiles;

beforeAll(async () => {
  generated = await generateFiles(DIAGRAMS);
});

function file(name: string): string {
  const content = generated.get(name);
  if (content === undefined) throw new Error(`${name} was not generated`);
  return content;
}

function nodes(machine: AnyStateMachine): AnyStateNode[] {
  const walk = (n: AnyStateNode): AnyStateNode[] => [n, ...Object.values(n.states).flatMap(walk)];
  return walk(machine.root);
}

/**
 * Guard names as the machine holds them, read independently of the generator: strings,
 * `{ type }` objects, and the operands of `and`/`or`/`not` (predicates carrying `guards`).
 */
function guardNames(guard: unknown): string[] {
  if (typeof guard === 'string') return [guard];
  if (guard && typeof guard === 'object' && 'type' in guard) return [String(guard.type)];
  if (typeof guard === 'function' && 'guards' in guard && Array.isArray(guard.guards)) {
    return guard.guards.flatMap(guardNames);
  }
  return [];
}

function inventory(machine: AnyStateMachine) {
  const all = nodes(machine);
  const transitions = all.flatMap((n) => [...[...n.transitions.values()].flat(), ...(n.always ?? [])]);
  return {
    states: all.filter((n) => n.parent !== undefined),
    delays: [
      ...new Set(all.flatMap((n) => n.after.map((a) => a.delay)).filter((d) => typeof d === 'string')),
    ],
    guards: [...new Set(transitions.flatMap((t) => guardNames(t.guard)))],
    actors: [...new Set(all.flatMap((n) => n.invoke.map((i) => i.src)).filter((s) => typeof s === 'string'))],
  };
}

describe('committed diagrams', () => {
  it('equal a fresh generation (run `npm run visualize` when this fails)', async () => {
    const result = await compareFiles(OUT, generated);
    expect(result.message).toBe('');
    expect(result.stale).toEqual([]);
  });

  it('include one Mermaid, DOT and SVG file per machine, the README and the index page', () => {
    for (const spec of DIAGRAMS) {
      for (const ext of ['mmd', 'dot', 'svg']) expect(generated.has(`${spec.name}.${ext}`)).toBe(true);
      expect(file('README.md')).toContain(`## ${spec.title}`);
      expect(file('README.md')).toContain(file(`${spec.name}.mmd`).trimEnd());
      const svg = file(`${spec.name}.svg`);
      expect(file('index.html')).toContain(svg.slice(svg.indexOf('<svg')).trimEnd());
    }
    expect(file('README.md').match(/^```mermaid$/gm)?.length).toBeGreaterThanOrEqual(DIAGRAMS.length);
  });
});

describe.each(DIAGRAMS.map((spec) => [spec.name, spec] as const))('%s diagram', (_name, spec) => {
  const { states, delays, guards, actors } = inventory(spec.machine);
  const mermaid = () => file(`${spec.name}.mmd`);
  const dot = () => file(`${spec.name}.dot`);
  const svg = () => file(`${spec.name}.svg`);

  it('has every state, by its id', () => {
    expect(states.length).toBeGreaterThan(1);
    for (const state of states) {
      // A composite is a cluster in DOT.
      expect(dot()).toContain(state.type === 'compound' ? `"cluster_${state.id}"` : `"${state.id}"`);
      expect(mermaid()).toContain(` as ${state.id.replace(/[^A-Za-z0-9_]/g, '_')}`);
      expect(svg()).toContain(`>${state.key}</text>`);
    }
  });

  it('names every delay, guard and invoked actor', () => {
    for (const delay of delays) {
      for (const text of [dot(), mermaid()]) expect(text).toContain(`after ${delay}`);
    }
    for (const guard of guards) {
      for (const text of [dot(), mermaid()])
        expect(text).toMatch(new RegExp(`\\[[^\\]]*\\b${guard}\\b[^\\]]*\\]`));
    }
    for (const actor of actors) {
      for (const text of [dot(), mermaid(), svg()]) expect(text).toContain(`invoke ${actor}`);
    }
  });

  it('marks tags, initial and final states, and hides XState-internal event ids', () => {
    for (const state of states) {
      for (const tag of state.tags) expect(mermaid()).toContain(`«${tag}»`);
      const mid = state.id.replace(/[^A-Za-z0-9_]/g, '_');
      if (state.type === 'final') {
        expect(mermaid()).toContain(`${mid} --> [*]`);
        expect(dot()).toMatch(new RegExp(`"${state.id}" \\[[^\\n]*peripheries=2`));
      }
      if (state.parent?.initial?.target[0] === state) expect(mermaid()).toContain(`[*] --> ${mid}`);
    }
    for (const text of [dot(), mermaid()]) expect(text).not.toMatch(/xstate\.(after|done|error)\./);
  });
});

describe('labels', () => {
  it('spell guard combinators and name delays and actors as in the code', () => {
    const text = `${file('envoy-lifecycle.dot')}\n${file('envoy-lifecycle.mmd')}`;
    expect(text).toContain('EPOCH.EXITED [isCurrent ∧ exitedCleanly]');
    expect(text).toContain('EPOCH.EXITED [isCurrent ∧ exitedCleanly ∧ hasNext]');
    expect(text).toContain('EPOCH.EXITED [isNext ∧ parentUnusable ∧ budgetLeft]');
    expect(text).toContain('ADMIN.STATUS [¬statusIsReady]');
    expect(text).toContain('after restartBackoff');
    expect(text).toContain('error prepareEpoch');
    expect(text).toContain('done validateEpoch');
    expect(text).toContain('HOT_RESTART (re-enter)');
    // A targetless transition stays inside its state, with its actions.
    expect(text).toContain('ADMIN.UNREACHABLE [else] / recordAdminFailure');
    expect(file('cert-rotation.mmd')).toContain('FS.CHANGED (re-enter)');
    expect(file('agent.dot')).toContain('invoke envoyLifecycle as lifecycle');
    expect(file('agent.dot')).toContain('SIGNAL [isStopSignal] / recordSignal, sendTo(lifecycle, SHUTDOWN)');
  });

  it('parenthesise nested guard combinators only where precedence needs it', () => {
    expect(guardText(and(['a', or(['b', not('c')])]))).toBe('a ∧ (b ∨ ¬c)');
    expect(guardText(not(and(['a', 'b'])))).toBe('¬(a ∧ b)');
    expect(guardText(and(['a', and(['b', { type: 'c', params: { n: 1 } }])]))).toBe('a ∧ b ∧ c');
  });

  it('lift Mermaid edges between substates of different composites to their common scope', () => {
    // hotRestarting.handover → #envoy.ready is drawn from hotRestarting, naming its real source.
    expect(file('envoy-lifecycle.mmd')).toMatch(
      /envoy_hotRestarting --> envoy_ready : .*ADMIN\.STATUS \[nextIsReady\] \(from handover\)/,
    );
    // In DOT the same edge keeps its real ends.
    expect(file('envoy-lifecycle.dot')).toMatch(
      /"envoy\.hotRestarting\.handover" -> "envoy\.ready" \[label=/,
    );
  });
});

/** The lifecycle machine with its states edited, built from a copy of its config. */
function editedLifecycle(edit: (states: Record<string, unknown>) => void): AnyStateMachine {
  const config = envoyLifecycleMachine.config as AnyStateMachine['config'];
  const states: Record<string, unknown> = { ...config.states };
  edit(states);
  return createMachine(
    { ...config, states } as AnyStateMachine['config'],
    envoyLifecycleMachine.implementations as AnyStateMachine['implementations'],
  );
}

function withLifecycle(machine: AnyStateMachine): DiagramSpec[] {
  return DIAGRAMS.map((spec) => (spec.name === 'envoy-lifecycle' ? { ...spec, machine } : spec));
}

describe('a changed machine', () => {
  it('with an extra state makes --check report the lifecycle diagrams stale', async () => {
    const machine = editedLifecycle((states) => {
      states.quarantined = { description: 'not a real state', on: { SHUTDOWN: 'stopping' } };
    });
    const result = await checkDiagrams(OUT, withLifecycle(machine));
    expect(result.stale).toEqual(
      expect.arrayContaining(['envoy-lifecycle.mmd', 'envoy-lifecycle.dot', 'envoy-lifecycle.svg']),
    );
    expect(result.stale).toEqual(expect.arrayContaining(['README.md', 'index.html']));
    expect(result.stale.some((f) => f.startsWith('agent.') || f.startsWith('cert-rotation.'))).toBe(false);
    expect(result.message).toContain('npm run visualize');
    const files = await generateFiles(withLifecycle(machine));
    expect(files.get('envoy-lifecycle.mmd')).toContain('as envoy_quarantined');
    expect(files.get('envoy-lifecycle.dot')).toContain(
      '"envoy.quarantined" -> "envoy.stopping" [label="SHUTDOWN"',
    );
  });

  it('with a retargeted transition makes --check report the lifecycle diagrams stale', async () => {
    const machine = editedLifecycle((states) => {
      const backoff = states.crashedBackoff as Record<string, unknown>;
      states.crashedBackoff = { ...backoff, after: { restartBackoff: 'stopping' } };
    });
    const files = await generateFiles(withLifecycle(machine));
    expect(files.get('envoy-lifecycle.dot')).toContain(
      '"envoy.crashedBackoff" -> "envoy.stopping" [label="SHUTDOWN\\nafter restartBackoff"',
    );
    const result = await compareFiles(OUT, files);
    expect(result.stale).toEqual(expect.arrayContaining(['envoy-lifecycle.dot', 'envoy-lifecycle.mmd']));
  });
});

describe('features the project machines do not use yet', () => {
  // Parallel regions, history, numeric delays, `or`, inline guards, stateIn, onDone and built-in
  // actions must neither break Graphviz (warnings fail the render) nor produce Mermaid that links
  // parallel regions, which Mermaid rejects.
  const machine = setup({ guards: { a: () => true, b: () => true, c: () => true } }).createMachine({
    id: 'synth',
    initial: 'p',
    states: {
      p: {
        type: 'parallel',
        onDone: 'done',
        on: {
          RESET: { target: '#synth.p.right.hist' },
          BACK: { target: 'p', reenter: true },
          IN: { guard: stateIn('#synth.p.left.l2'), actions: assign({}) },
        },
        states: {
          left: {
            initial: 'l1',
            states: {
              l1: {
                after: { 500: 'l2' },
                on: { GO: { guard: or(['a', not(and(['b', 'c']))]), target: 'l2' } },
              },
              l2: { type: 'final' },
            },
          },
          right: {
            initial: 'r1',
            states: {
              r1: { on: { GO: { guard: () => true, target: 'r2' } } },
              r2: { type: 'final' },
              hist: { type: 'history', history: 'deep' },
            },
          },
        },
      },
      done: { type: 'final', entry: sendParent({ type: 'DONE' }) },
    },
  });
  const spec: DiagramSpec = {
    name: 'synth',
    title: 'Synthetic',
    source: 'test',
    exportName: 'synth',
    machine,
    rankdir: 'TB',
    overview: true,
  };

  it('renders them', async () => {
    const files = await generateFiles([spec]);
    const mermaid = files.get('synth.mmd') ?? '';
    const dot = files.get('synth.dot') ?? '';
    expect(mermaid).toContain('state "p (parallel)" as synth_p');
    expect(mermaid).toContain('state "hist (history, deep)" as synth_p_right_hist');
    expect(mermaid).toContain('synth_p__any --> synth_p : RESET (to hist)<br/>BACK (re-enter)');
    expect(mermaid).not.toMatch(/--> synth_p_(left|right)\b|synth_p_(left|right) -->/);
    for (const text of [mermaid, dot]) {
      expect(text).toContain('GO [a ∨ ¬(b ∧ c)]');
      expect(text).toContain('after 500 ms');
      expect(text).toContain('GO [inline guard]');
      expect(text).toContain('IN [in synth.p.left.l2] / assign');
      expect(text).toContain('entry / sendParent(DONE)');
      expect(text).toContain('onDone');
    }
    // Re-entering the parallel state enters every region: its initial marker points at both.
    expect(dot).toContain('"synth.p::initial" -> "synth.p.left::initial" [lhead="cluster_synth.p.left"]');
    expect(dot).toContain('"synth.p::initial" -> "synth.p.right::initial" [lhead="cluster_synth.p.right"]');
    expect(files.get('synth-overview.svg')).toContain('<svg');
  });
});

describe('the command line', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'visualize-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the files, then --check passes, and fails listing each stale file after an edit', async () => {
    const messages: string[] = [];
    const output = { log: (m: string) => messages.push(m), error: (m: string) => messages.push(m) };
    expect(await run(['--out', dir], DIAGRAMS, output)).toBe(0);
    expect(await readFile(join(dir, 'agent.mmd'), 'utf8')).toBe(file('agent.mmd'));
    expect(await run(['--check', '--out', dir], DIAGRAMS, output)).toBe(0);

    await writeFile(join(dir, 'agent.dot'), 'digraph {}\n');
    await rm(join(dir, 'README.md'));
    messages.length = 0;
    expect(await run(['--check', '--out', dir], DIAGRAMS, output)).toBe(1);
    expect(messages.join('\n')).toMatch(/README\.md \(missing\)\n {2}agent\.dot\n.*npm run visualize/);
  });
});
