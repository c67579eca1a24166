/**
 * The layout's two rules, as `npm run imports` reports them: no cycle between folders of src/,
 * machines/, tools/ and bench/, and machines/ takes only plain data from src/.
 */
import { describe, expect, it } from 'vitest';
import {
  folderCycles,
  importRuleProblems,
  machinesViolations,
  readImportGraph,
} from '../../tools/import-graph.js';

const graph = readImportGraph();

describe('import graph', () => {
  it('reads the sources: every folder of src/ and the edges the composition root needs', () => {
    expect(graph.files.length).toBeGreaterThan(80);
    expect([...(graph.folders.get('src/runtime')?.keys() ?? [])]).toEqual(
      expect.arrayContaining(['machines', 'src/debug', 'src/status']),
    );
  });

  it('has no cycle between folders', () => {
    expect(folderCycles(graph)).toEqual([]);
  });

  it('lets machines/ import only plain data from src/', () => {
    expect(machinesViolations(graph)).toEqual([]);
    expect(importRuleProblems(graph)).toEqual([]);
  });

  it('finds a cycle and a machine importing code when there is one', () => {
    const bad = readImportGraph();
    bad.folders.get('src/go')?.set('src/config', []);
    bad.imports.push({ from: 'machines/x.ts', to: 'src/errors.ts', names: ['AgentError'], typeOnly: false });
    expect(folderCycles(bad)).toEqual([['src/config', 'src/go']]);
    expect(machinesViolations(bad)).toEqual([
      'machines/x.ts imports AgentError from src/errors.ts (not plain data)',
    ]);
  });
});
