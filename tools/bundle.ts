/**
 * Bundles the agent (compiled by tsc into dist/) into one minified module, `dist/pilot-agent.mjs`,
 * the file `bin/pilot-agent.js` runs. One module instead of ~250 makes the path from exec to
 * Envoy's spawn shorter, and V8 keeps less source and code in memory (measured in BENCHMARKS.md).
 *
 * `thread-stream` is replaced by a stub: pino needs it only for transports (log shipping in a
 * worker thread), which pilot-agent never uses, and loading it alone costs ~3.5 MB of resident
 * memory. The stub fails loudly if a transport is ever configured.
 */

import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { packageRoot } from '../src/package-root.js';

const root = packageRoot(import.meta.dirname) ?? process.cwd();

const noPinoTransports: Plugin = {
  name: 'no-pino-transports',
  setup(b) {
    b.onResolve({ filter: /^thread-stream$/ }, () => ({ path: 'thread-stream', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not available in pilot-agent'); } };",
      loader: 'js',
    }));
  },
};

const result = await build({
  entryPoints: [join(root, 'dist/src/cli/main.js')],
  outfile: join(root, 'dist/pilot-agent.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  // Bundled CommonJS dependencies call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __agentRequire } from 'node:module'; const require = __agentRequire(import.meta.url);",
  },
  plugins: [noPinoTransports],
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stdout.write(`bundled dist/pilot-agent.mjs (${Math.round(bytes / 1024)} KiB with map)\n`);
