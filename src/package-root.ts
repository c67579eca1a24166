/**
 * The directory holding pilot-agent's package.json, found by walking up from the calling module:
 * the same code runs from `src/` (tests), from `dist/src/`, and bundled as `dist/pilot-agent.mjs`.
 * Files that ship beside the code (`visualizations/`, `package.json`) are found from here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function isOurs(dir: string): boolean {
  try {
    return (
      (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name ===
      'pilot-agent'
    );
  } catch {
    return false;
  }
}

/** `undefined` when no enclosing pilot-agent package exists (a stray copy of the code). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && isOurs(dir)) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
