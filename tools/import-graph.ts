/**
 * The import graph between folders, and the two rules the layout keeps:
 *
 * 1. no cycle between folders of `src/`, `machines/`, `tools/` and `bench/` (a folder is a
 *    directory; `src` itself holds the few modules every folder may use, such as `errors.ts`);
 * 2. `machines/` imports nothing from `src/` but plain data: the names in `MACHINES_MAY_IMPORT`.
 *    The machines stay pure; effects reach them through `.provide()` from `src/runtime/`.
 *
 * Imports are read from the TypeScript sources (static and dynamic, type-only included: a cycle
 * through types is still a cycle for the reader). Tests (`*.test.ts`) are left out.
 *
 *   npm run imports                      the folder graph as text (with the files behind each edge: --files)
 *   node dist/tools/import-graph.js --mermaid   the same graph as a Mermaid flowchart
 *   node dist/tools/import-graph.js --check     exit 1 when a rule is broken (CI)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { packageRoot } from '../src/package-root.js';

/** The folders the rules cover, relative to the package root. */
export const SCANNED = ['src', 'machines', 'tools', 'bench'] as const;

/**
 * What `machines/` may import from `src/`: module → names. Each is plain data (a constant table or
 * a type), so the machines stay free of I/O and of the agent's runtime code.
 */
export const MACHINES_MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  // The exit code table (`{ ok: 0, bootstrap: 1, … } as const`) and the type of a run's end
  // (`{ exitCode, reason }`), which the lifecycle machine ends with.
  'src/errors.ts': ['EXIT_CODES', 'RunOutcome'],
};

export interface Import {
  from: string;
  /** A file relative to the root, or a package name. */
  to: string;
  names: string[];
  typeOnly: boolean;
}

export interface ImportGraph {
  files: string[];
  imports: Import[];
  /** `from folder` → `to folder` → the imports behind the edge. */
  folders: Map<string, Map<string, Import[]>>;
}

function sourceFiles(root: string, dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(root, path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

// `import … from '…'`, `export … from '…'`, `import '…'`, `import('…')`.
const STATIC = /^\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*'([^']+)'/gm;
const BARE = /^\s*import\s+'([^']+)'/gm;
const DYNAMIC = /\bimport\(\s*'([^']+)'\s*\)/g;

function importedNames(clause: string): string[] {
  const braces = /\{([^}]*)\}/.exec(clause);
  const names = braces
    ? (braces[1] ?? '')
        .split(',')
        .map((n) =>
          n
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0]
            ?.trim(),
        )
        .filter((n): n is string => !!n)
    : [];
  const head = clause
    .replace(/\{[^}]*\}/, '')
    .replace(/,/g, ' ')
    .trim();
  if (head.startsWith('* as')) names.push('*');
  else if (head !== '' && head !== 'type') names.push('default');
  return names;
}

function resolveSpecifier(root: string, from: string, specifier: string): string {
  if (!specifier.startsWith('.')) {
    const parts = specifier.split('/');
    return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
  }
  const target = relative(root, resolve(root, dirname(from), specifier));
  return target.replace(/\.js$/, '.ts');
}

/** Reads every import of the scanned folders. */
export function readImportGraph(
  root: string = packageRoot(import.meta.dirname) ?? process.cwd(),
): ImportGraph {
  const files = SCANNED.flatMap((dir) => sourceFiles(root, dir)).sort();
  const imports: Import[] = [];
  for (const file of files) {
    // Comments hold example imports; strip them first (line comments only at a line's start).
    const text = readFileSync(join(root, file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const m of text.matchAll(STATIC)) {
      imports.push({
        from: file,
        to: resolveSpecifier(root, file, m[4] ?? ''),
        names: importedNames(m[3] ?? ''),
        typeOnly: m[2] !== undefined,
      });
    }
    for (const m of text.matchAll(BARE))
      imports.push({ from: file, to: resolveSpecifier(root, file, m[1] ?? ''), names: [], typeOnly: false });
    for (const m of text.matchAll(DYNAMIC))
      imports.push({
        from: file,
        to: resolveSpecifier(root, file, m[1] ?? ''),
        names: ['*'],
        typeOnly: false,
      });
  }
  const folders = new Map<string, Map<string, Import[]>>();
  for (const file of files) folders.set(dirname(file), folders.get(dirname(file)) ?? new Map());
  for (const i of imports) {
    if (!i.to.endsWith('.ts')) continue;
    const a = dirname(i.from);
    const b = dirname(i.to);
    if (a === b || !folders.has(b)) continue;
    const edges = folders.get(a) ?? new Map<string, Import[]>();
    folders.set(a, edges);
    edges.set(b, [...(edges.get(b) ?? []), i]);
  }
  return { files, imports, folders };
}

/** Strongly connected groups of more than one folder (Tarjan): each is a cycle. */
export function folderCycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.folders.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      for (;;) {
        const w = stack.pop() as string;
        onStack.delete(w);
        group.push(w);
        if (w === v) break;
      }
      if (group.length > 1) cycles.push(group.sort());
    }
  };
  for (const v of [...graph.folders.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Imports from `machines/` into `src/` other than the allowed plain data. */
export function machinesViolations(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const i of graph.imports) {
    if (!i.from.startsWith('machines/') || !i.to.startsWith('src/')) continue;
    const allowed = MACHINES_MAY_IMPORT[i.to] ?? [];
    const extra = i.names.filter((n) => !allowed.includes(n));
    if (extra.length > 0 || i.names.length === 0) {
      out.push(`${i.from} imports ${extra.join(', ') || 'the module'} from ${i.to} (not plain data)`);
    }
  }
  return out;
}

/** Every problem, one line each; empty when the rules hold. */
export function importRuleProblems(graph: ImportGraph): string[] {
  const problems = folderCycles(graph).map((group) => {
    const edges = group.flatMap((a) =>
      group.flatMap((b) =>
        (graph.folders.get(a)?.get(b) ?? []).slice(0, 1).map((i) => `${i.from} → ${i.to}`),
      ),
    );
    return `cycle between folders ${group.join(', ')}: ${edges.join('; ')}`;
  });
  return [...problems, ...machinesViolations(graph)];
}

export function describeGraph(graph: ImportGraph, withFiles = false): string {
  const lines: string[] = [];
  const names = [...graph.folders.keys()].sort();
  const edgeCount = names.reduce((n, f) => n + (graph.folders.get(f)?.size ?? 0), 0);
  lines.push(`${names.length} folders, ${edgeCount} edges between them (${graph.files.length} modules)`);
  for (const folder of names) {
    const edges = graph.folders.get(folder) ?? new Map<string, Import[]>();
    const targets = [...edges.keys()].sort();
    const packages = [
      ...new Set(
        graph.imports
          .filter((i) => dirname(i.from) === folder && !i.to.endsWith('.ts') && !i.to.startsWith('node:'))
          .map((i) => i.to),
      ),
    ].sort();
    lines.push(`${folder} → ${targets.length > 0 ? targets.join(', ') : '(no other folder)'}`);
    if (packages.length > 0) lines.push(`    packages: ${packages.join(', ')}`);
    if (withFiles) {
      for (const target of targets) {
        for (const i of edges.get(target) ?? []) {
          lines.push(`    ${i.from} → ${i.to}${i.names.length > 0 ? ` {${i.names.join(', ')}}` : ''}`);
        }
      }
    }
  }
  const machineImports = graph.imports.filter(
    (i) => i.from.startsWith('machines/') && i.to.startsWith('src/'),
  );
  lines.push(
    `machines → src: ${
      machineImports.map((i) => `${i.from} {${i.names.join(', ')}} from ${i.to}`).join('; ') || 'nothing'
    }`,
  );
  return lines.join('\n');
}

export function mermaidGraph(graph: ImportGraph): string {
  const id = (folder: string) => folder.replace(/[^A-Za-z0-9]/g, '_');
  const lines = ['flowchart LR'];
  for (const folder of [...graph.folders.keys()].sort()) {
    lines.push(`  ${id(folder)}["${folder}"]`);
    for (const target of [...(graph.folders.get(folder)?.keys() ?? [])].sort()) {
      lines.push(`  ${id(folder)} --> ${id(target)}`);
    }
  }
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('import-graph.js')) {
  const graph = readImportGraph();
  const args = process.argv.slice(2);
  process.stdout.write(
    `${args.includes('--mermaid') ? mermaidGraph(graph) : describeGraph(graph, args.includes('--files'))}\n`,
  );
  const problems = importRuleProblems(graph);
  process.stdout.write(
    problems.length === 0
      ? 'rules hold: no cycle between folders; machines/ imports only plain data from src/\n'
      : `${problems.map((p) => `problem: ${p}`).join('\n')}\n`,
  );
  if (args.includes('--check') && problems.length > 0) process.exit(1);
}
