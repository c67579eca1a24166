/**
 * Bundles the agent (compiled by tsc into dist/) into one minified module, `dist/pilot-agent.mjs`,
 * the file `bin/pilot-agent.js` runs. One module instead of ~250 makes the path from exec to
 * Envoy's spawn shorter, and V8 keeps less source and code in memory (measured in BENCHMARKS.md).
 * Modules the agent never runs are left out (LEFT_OUT below).
 *
 * SDS mode's runtime (src/sds/index.ts: the transport, grpc-js, the secrets) is a second module,
 * `dist/pilot-agent-sds.mjs`, which `src/sds/load.ts` imports on demand: left inside the main
 * bundle, unevaluated, its ~290 KB of source would still cost hot-restart mode ~0.7 MB of idle RSS.
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build, buildSync, type Plugin } from 'esbuild';
import { buildPageAssets } from '../src/debug/page-assets.js';
import { packageRoot } from '../src/package-root.js';
import { buildStamp } from './build-stamp.js';

const root = packageRoot(import.meta.dirname) ?? process.cwd();

/**
 * Dependencies' modules the agent never runs, named as a package path (`package/file`, without
 * `.js`). Each is replaced by a function that throws when it is called or constructed (its
 * importer may still require it at load): the daemon carries neither their source nor their
 * start-up work, and fails loudly if one is ever used.
 */
const LEFT_OUT: Record<string, string> = {
  // pino needs it only for transports (log shipping in a worker thread); ~3.5 MB resident.
  'thread-stream': 'pino transports are not available in pilot-agent',
  // fastify's default schema compilers (ajv, fast-json-stringify); the status server gives its
  // own builders, which refuse schemas (src/status/server.ts).
  '@fastify/ajv-compiler': 'the status server declares no route schemas',
  '@fastify/fast-json-stringify-compiler': 'the status server declares no route schemas',
  // fastify.inject(): tests use it against the compiled modules, never through the bundle.
  'light-my-request': 'inject() is not available in the pilot-agent bundle',
  // Pushing to a Prometheus pushgateway (it loads https and zlib); the agent is scraped.
  'prom-client/lib/pushgateway': 'the Prometheus pushgateway client is not available in pilot-agent',
  // grpc-js requires it (with protobufjs) only to load .proto files, for channelz and
  // loadPackageDefinition; the SDS server has hand-written messages and channelz off. ~140 KB.
  '@grpc/proto-loader': 'grpc-js cannot load .proto files in pilot-agent',
};

/** `./lib/x` imported from `node_modules/pkg/index.js` → `pkg/lib/x`; bare specifiers as they are. */
function packagePath(specifier: string, importer: string): string {
  if (!specifier.startsWith('.')) return specifier;
  const full = join(dirname(importer), specifier).replace(/\.js$/, '');
  const at = full.lastIndexOf('node_modules/');
  return at < 0 ? full : full.slice(at + 'node_modules/'.length);
}

const leaveOut: Plugin = {
  name: 'leave-out',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const id = packagePath(args.path, args.importer);
      return id in LEFT_OUT ? { path: id, namespace: 'left-out' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({
      contents: `module.exports = function leftOut() { throw new Error(${JSON.stringify(LEFT_OUT[args.path])}); };`,
      loader: 'js',
    }));
  },
};

/**
 * The statechart page's script and styles (src/debug/page/), built now and carried in the bundle
 * as text in place of `page-assets.js`, which would otherwise build them at run time.
 */
const pageAssetsBuilt: Plugin = {
  name: 'page-assets-built',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/]debug[\\/]page-assets\.js$/ }, () => ({
      contents: `export const pageAssets = () => Promise.resolve(${JSON.stringify(buildPageAssets(buildSync))});`,
      loader: 'js',
    }));
  },
};

/**
 * Built-ins that bundled dependencies require at load but use only for features the agent leaves
 * off (fastify's HTTPS and HTTP/2 servers): `require()` hands out a stand-in that loads the real
 * module on first use. With our own probe clients' lazy loads: −0.8 MB idle (BENCHMARKS.md).
 */
const LAZY_BUILTINS = ['node:https', 'node:http2'];

/**
 * Every built-in reaches the bundle through `require()`, ours included: an ESM import of a
 * built-in makes Node read all its exports, and on Node ≥ 22 that runs `node:http`'s lazy
 * `WebSocket` getters, which load undici with crypto, TLS, HTTP/2, zlib and workers (+12 MB).
 */
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(b) {
    // Only ESM imports: require() calls (dependencies', and the one below) stay as they are.
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

// require() for bundled CommonJS dependencies and for built-ins (above), made without an ESM
// import of node:module for the same reason.
const REQUIRE_SHIM = `const require = ((load, lazy) => (id) => {
  if (!lazy.includes(id)) return load(id);
  let real;
  const get = () => (real ??= load(id));
  return new Proxy({}, {
    get: (_, key) => get()[key],
    has: (_, key) => key in get(),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_, key) => {
      const found = Reflect.getOwnPropertyDescriptor(get(), key);
      return found && { ...found, configurable: true };
    },
  });
})(process.getBuiltinModule('node:module').createRequire(import.meta.url), ${JSON.stringify(LAZY_BUILTINS)});`;

const SDS_BUNDLE = 'pilot-agent-sds.mjs';

/** src/sds/load.ts's `import('./index.js')` becomes an import of the SDS bundle next to the agent's. */
const sdsApart: Plugin = {
  name: 'sds-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/index\.js$/ }, (args) =>
      args.kind === 'dynamic-import' && args.importer.endsWith(join('sds', 'load.js'))
        ? { path: `./${SDS_BUNDLE}`, external: true }
        : undefined,
    );
  },
};

/** Builds one module; fails when it is not pure ASCII. */
async function bundle(entry: string, output: string, plugins: Plugin[]): Promise<void> {
  const result = await build({
    entryPoints: [join(root, entry)],
    outfile: join(root, output),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    banner: { js: REQUIRE_SHIM },
    // `pilot-agent version`: the git revision, tree status and tag (src/cli/commands/build-info.ts).
    define: { PILOT_AGENT_BUILD_STAMP: JSON.stringify(buildStamp(process.env, root)) },
    plugins,
    logLevel: 'warning',
    metafile: true,
  });
  // V8 keeps the module's source for its lifetime: one byte per character when it is all Latin-1,
  // two for every character when it is not. esbuild escapes strings but not regex literals.
  const bundled = readFileSync(join(root, output));
  const wide = bundled.findIndex((byte) => byte > 0x7f);
  if (wide >= 0) {
    const around = bundled.subarray(Math.max(0, wide - 40), wide + 10).toString('utf8');
    process.stderr.write(
      `bundle: non-ASCII character in ${output} at byte ${wide} (…${around}…); escape it in the source\n`,
    );
    process.exit(1);
  }
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  process.stdout.write(`bundled ${output} (${Math.round(bytes / 1024)} KiB with map)\n`);
}

await bundle('dist/src/cli/main.js', 'dist/pilot-agent.mjs', [
  leaveOut,
  pageAssetsBuilt,
  builtinsThroughRequire,
  sdsApart,
]);
await bundle('dist/src/sds/index.js', `dist/${SDS_BUNDLE}`, [leaveOut, builtinsThroughRequire]);
