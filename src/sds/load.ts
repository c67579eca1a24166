/**
 * Loads the SDS runtime on demand. Only SDS mode calls this: hot-restart mode never loads
 * grpc-js, and in the bundled agent never even parses it, because tools/bundle.ts builds
 * `./index.js` into a second file, `dist/pilot-agent-sds.mjs`, and points this import at it
 * (keeping the code in the main bundle, even unevaluated, costs about 0.7 MB of idle RSS).
 */
export type SdsRuntime = typeof import('./index.js');

export function loadSds(): Promise<SdsRuntime> {
  return import('./index.js');
}
