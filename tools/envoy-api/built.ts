/**
 * Where `npm run build` keeps Envoy's API as the validator reads it (`dist/envoy-api.json`, written
 * by descriptor.ts), and reading it back. A module of its own so that a one-file bundle of the
 * simulator (the container suite's stand-in Envoy) can replace it with the text inlined: such a
 * bundle has no package root to find the file in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';

export const builtApiPath = (): string =>
  join(packageRoot(import.meta.dirname) ?? process.cwd(), 'dist/envoy-api.json');

/** The built API's JSON text, or undefined before the first build. */
export function builtApiText(): string | undefined {
  try {
    return readFileSync(builtApiPath(), 'utf8');
  } catch {
    return undefined;
  }
}
