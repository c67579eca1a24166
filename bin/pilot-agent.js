#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 MALLOC_ARENA_MAX=1 node --max-semi-space-size=1 --no-short-builtin-calls --expose-gc
// Memory settings, measured in BENCHMARKS.md:
// MALLOC_MMAP_THRESHOLD_: glibc otherwise raises its mmap threshold (up to 32 MB) after large
//   blocks are freed, and later buffers come from a heap it never returns: 4.8 MB of growth over
//   120 hot restarts became 1.3 MB. (Envoy inherits it; its tcmalloc does not read it.)
// MALLOC_ARENA_MAX=1: one malloc arena instead of one per thread that ever allocates (V8's
//   workers, libuv's pool); the agent's allocations are small and mostly on the main thread:
//   −0.4 MB idle.
// --max-semi-space-size=1: a 1 MB young generation instead of up to 16 MB; the agent allocates
//   little once started.
// --no-short-builtin-calls: V8 otherwise copies its built-in functions' code next to generated code
//   (on x64 with ≥ 4 GB): −1.0 MB idle; the metrics merge stays at ~2.4× its 100 MB/s target.
// --expose-gc: one full collection once Envoy is first ready and after each hot restart
//   (src/runtime/memory.ts).
// The one place that exits the process: run the command, let stdout and stderr drain so
// the last log line and the error line are not lost, then exit with the command's code.
import { main } from '../dist/pilot-agent.mjs';

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: process.stdout.isTTY === true,
});
process.exitCode = code;
// A reader that went away (EPIPE) would never call back: exit after a second regardless.
setTimeout(() => process.exit(code), 1000).unref();
process.stdout.on('error', () => process.exit(code));
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
