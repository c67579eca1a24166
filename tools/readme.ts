/**
 * The README tables that have one home in code: every flag (src/config/flags.ts) and every exit
 * code (src/errors.ts). `npm run docs` rewrites them between their markers; a test fails when the
 * README is stale, so the documentation cannot drift from the CLI.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeFlags } from '../src/config/flags.js';
import { EXIT_CODES } from '../src/errors.js';
import { packageRoot } from '../src/package-root.js';

/** What each exit code means for an operator; keys are the error kinds of src/errors.ts. */
const EXIT_MEANING: Record<keyof typeof EXIT_CODES, string> = {
  ok: 'Clean shutdown (SIGTERM/SIGINT, `/quitquitquit`), or Envoy exited 0 on its own. As Istio.',
  bootstrap:
    'The Envoy bootstrap could not be generated: template unreadable or failing to render, configPath not writable. Also, with `--certDelivery sds`, the SDS socket it names cannot be served: another live process serves it, or the path is not a socket. As Istio (`os.Exit(1)`; a fatal log when its SDS server cannot start).',
  'crash-loop':
    'Envoy kept crashing: the restart budget (`--restartBudget`) is spent. Istio exits 0 here; see Deviations.',
  'envoy-stuck': 'An Envoy process survived SIGTERM and SIGKILL at shutdown or before a fresh start.',
  internal: 'A bug in the agent: every Envoy is killed, then the agent exits.',
  'envoy-not-executable': '`--binaryPath` exists but cannot be executed (EACCES). No retry.',
  'envoy-not-found': '`--binaryPath` does not exist, or its interpreter is missing (ENOENT). No retry.',
  usage:
    'Invalid command line, flag value or environment variable (one line names it); Envoy was not started. Also a failed `wait` or `request`. As Istio (`os.Exit(-1)`).',
};

const esc = (s: string) => s.replace(/\|/g, '\\|');

export function flagsTable(): string {
  const rows = describeFlags().map((f) => {
    const status = f.implemented ? '' : 'accepted, not implemented';
    const origin = f.origin === 'istio' ? '' : 'pilot-agent only';
    const notes = [status, origin, f.note ?? ''].filter(Boolean).join('; ');
    return `| \`${f.command}\` | \`${f.flag}\` | ${f.type} | ${f.default === '' ? '""' : `\`${esc(String(f.default))}\``} | ${esc(f.description)}${notes ? ` _(${esc(notes)})_` : ''} |`;
  });
  return ['| command | flag | type | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

export function exitCodesTable(): string {
  const rows = (Object.entries(EXIT_CODES) as [keyof typeof EXIT_CODES, number][])
    .sort((a, b) => a[1] - b[1])
    .map(([kind, code]) => `| ${code} | \`${kind}\` | ${EXIT_MEANING[kind]} |`);
  return ['| code | kind | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

const REGIONS: Record<string, () => string> = { flags: flagsTable, 'exit-codes': exitCodesTable };

/** The README with every generated region brought up to date. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, make] of Object.entries(REGIONS)) {
    const begin = `<!-- ${name}:begin -->`;
    const end = `<!-- ${name}:end -->`;
    const a = out.indexOf(begin);
    const b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`README.md has no ${begin} … ${end} region`);
    out = `${out.slice(0, a + begin.length)}\n${make()}\n${out.slice(b)}`;
  }
  return out;
}

export function readmePath(): string {
  return join(packageRoot(import.meta.dirname) ?? process.cwd(), 'README.md');
}

if (process.argv[1]?.endsWith('readme.js')) {
  const path = readmePath();
  const before = readFileSync(path, 'utf8');
  const after = renderReadme(before);
  if (process.argv.includes('--check')) {
    if (before !== after) {
      process.stderr.write('README.md tables are stale: run `npm run docs`\n');
      process.exit(1);
    }
  } else if (before !== after) {
    writeFileSync(path, after);
    process.stdout.write('README.md tables updated\n');
  }
}
