/**
 * The statechart page's script and styles, kept as real files in `page/` (a TypeScript browser
 * script, type-checked against the DOM, and a stylesheet, both linted) and built by esbuild: the
 * script into one classic script, both minified, to be inlined in the page under its CSP nonce.
 *
 * The agent bundle carries them already built: tools/bundle.ts replaces this module with their
 * text, so the running agent reads no file and needs no esbuild. Unbundled (tests, `npm start`),
 * they are built here on first use, from the sources beside the package.
 */
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';

export interface PageAssets {
  script: string;
  css: string;
}

let built: Promise<PageAssets> | undefined;

export function pageAssets(): Promise<PageAssets> {
  built ??= import('esbuild').then(({ buildSync }) => buildPageAssets(buildSync));
  return built;
}

/** Builds both files with the given esbuild `buildSync` (the bundler passes its own). */
export function buildPageAssets(buildSync: typeof import('esbuild').buildSync): PageAssets {
  const dir = join(packageRoot(import.meta.dirname) ?? process.cwd(), 'src/debug/page');
  const one = (file: string, options: import('esbuild').BuildOptions): string => {
    const result = buildSync({
      entryPoints: [join(dir, file)],
      bundle: true,
      minify: true,
      write: false,
      legalComments: 'none',
      logLevel: 'silent',
      ...options,
    });
    const text = result.outputFiles?.[0]?.text ?? '';
    // Inline in the page: the text must not close its own element.
    if (/<\/(script|style)/i.test(text)) throw new Error(`${file}: the built text contains a closing tag`);
    return text.trim();
  };
  return {
    script: one('statechart.ts', { format: 'iife', target: 'es2020', platform: 'browser' }),
    css: one('statechart.css', { loader: { '.css': 'css' } }),
  };
}
