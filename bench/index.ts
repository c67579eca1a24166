/**
 * `npm run bench [-- <name>…]`: runs the benchmarks one after the other (never in parallel: they
 * measure time and memory on a 2-core machine) and writes BENCHMARKS.md. Naming some runs only
 * those and keeps the other sections of BENCHMARKS.md as they were.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/package-root.js';
import { AGENT_NODE_FLAGS, AGENT_SHEBANG_ENV } from '../test/helpers/agent-process.js';
import type { BenchSection } from './types.js';

const BENCHES: Record<string, () => Promise<{ run: () => Promise<BenchSection> }>> = {
  lifecycle: () => import('./lifecycle.js'),
  rotation: () => import('./rotation.js'),
  sds: () => import('./sds.js'),
  'status-readiness': () => import('./status-readiness.js'),
  'status-probe': () => import('./status-probe.js'),
  'status-metrics': () => import('./status-metrics.js'),
  // Builds the image with podman as `npm run test:container` does (root, a few minutes).
  container: () => import('./container.js'),
};

const file = join(packageRoot(import.meta.dirname) ?? process.cwd(), 'BENCHMARKS.md');
const START = (name: string) => `<!-- bench:${name} -->`;
const END = (name: string) => `<!-- /bench:${name} -->`;

function cell(value: string | number): string {
  return String(value).replace(/\|/g, '\\|');
}

function render(name: string, s: BenchSection, when: string): string {
  const columns = [...new Set(s.rows.flatMap((r) => Object.keys(r)))];
  const lines = [
    START(name),
    `## ${s.title}`,
    '',
    `\`npm run bench -- ${name}\` · ${when}`,
    '',
    `**Method.** ${s.method}`,
    '',
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...s.rows.map((r) => `| ${columns.map((c) => cell(r[c] ?? '')).join(' | ')} |`),
    '',
    '| target | measured | wanted | |',
    '| --- | --- | --- | --- |',
    ...s.targets.map(
      (t) => `| ${cell(t.name)} | ${t.value} | ${cell(t.target)} | ${t.pass ? 'met' : '**missed**'} |`,
    ),
    END(name),
  ];
  return lines.join('\n');
}

const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
for (const n of names) {
  if (!BENCHES[n]) {
    process.stderr.write(`unknown benchmark ${n}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
}

// Each benchmark runs in a process of its own, under bin/pilot-agent.js's Node flags and
// environment: the status-server benchmarks run the server in that process, as the agent runs it
// (the flags trade a little speed for memory), and no benchmark inherits another's heap or peak RSS.
const AS_AGENT = 'PILOT_AGENT_BENCH_AS_AGENT';
if (process.env[AS_AGENT] !== '1') {
  let status = 0;
  for (const n of names) {
    const child = spawnSync(process.execPath, [...AGENT_NODE_FLAGS, process.argv[1] ?? '', n], {
      stdio: 'inherit',
      env: { ...process.env, ...AGENT_SHEBANG_ENV, [AS_AGENT]: '1' },
    });
    status ||= child.status ?? 1;
  }
  process.exit(status);
}

let doc: string;
try {
  doc = readFileSync(file, 'utf8');
} catch {
  doc = '';
}
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const header = [
  '# Benchmarks',
  '',
  'Measured by `npm run bench` (sources in `bench/`) on the machine named in each section. Every',
  'target is a ratio against a baseline measured in the same run, or an absolute bound the project sets.',
  'Numbers are from one run; rerun to compare. Each benchmark runs in a Node process of its own,',
  "under the agent's Node flags and environment (the `#!` line of bin/pilot-agent.js).",
  '',
  '',
].join('\n');
// The preamble is rewritten every time; sections not run now are kept.
const firstSection = doc.indexOf('<!-- bench:');
doc = firstSection >= 0 ? header + doc.slice(firstSection) : header;

let failed = 0;
for (const name of names) {
  const load = BENCHES[name];
  if (!load) continue;
  process.stderr.write(`bench ${name}…\n`);
  const started = Date.now();
  const section = await (await load()).run();
  const when = `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${Math.round((Date.now() - started) / 1000)} s`;
  const block = render(name, section, when);
  const at = doc.indexOf(START(name));
  const end = doc.indexOf(END(name));
  doc =
    at >= 0 && end > at
      ? doc.slice(0, at) + block + doc.slice(end + END(name).length)
      : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, doc);
  failed += section.targets.filter((t) => !t.pass).length;
  process.stderr.write(
    `bench ${name}: ${section.targets.map((t) => `${t.name} ${t.value} (${t.pass ? 'met' : 'MISSED'})`).join('; ')}\n`,
  );
}
process.stderr.write(`wrote ${file}${failed ? `; ${failed} target(s) missed` : ''}\n`);
