/**
 * Writes the built-in bootstrap as a Go template (src/bootstrap/v3.ts `builtinBootstrapTemplate`)
 * to test/golden/templates/builtin-v3.json.tmpl: `npm run docs` rewrites it, `--check` (CI) fails
 * when the committed file is stale. The description in v3.ts is the one source; this file is its
 * Istio-style rendering, which template-sync.test.ts checks against the agent's own output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinBootstrapTemplate } from '../src/bootstrap/v3.js';
import { packageRoot } from '../src/package-root.js';

export function builtinTemplatePath(): string {
  return join(
    packageRoot(import.meta.dirname) ?? process.cwd(),
    'test/golden/templates/builtin-v3.json.tmpl',
  );
}

if (process.argv[1]?.endsWith('bootstrap-template.js')) {
  const path = builtinTemplatePath();
  const before = readFileSync(path, 'utf8');
  const after = builtinBootstrapTemplate();
  if (process.argv.includes('--check')) {
    if (before !== after) {
      process.stderr.write(`${path} is stale: run \`npm run docs\`\n`);
      process.exit(1);
    }
  } else if (before !== after) {
    writeFileSync(path, after);
    process.stdout.write(`${path} updated\n`);
  }
}
