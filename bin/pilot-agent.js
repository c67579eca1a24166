#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=1 --expose-gc
// Memory settings, measured in BENCHMARKS.md:
// MALLOC_MMAP_THRESHOLD_: glibc otherwise raises its mmap threshold (up to 32 MB) after large
//   blocks are freed, and later buffers come from a heap it never returns: 4.8 MB of growth over
//   120 hot restarts became 1.3 MB. (Envoy inherits it; its tcmalloc does not read it.)
// --max-semi-space-size=1: a 1 MB young generation instead of up to 16 MB; the agent allocates
//   little once started.
// --expose-gc: one full collection after each hot restart (src/runtime/memory.ts).
// The one place that exits the process (habit 8): run the command, let stdout and stderr drain so
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
