/**
 * Dying the way Envoy dies. A crash in Envoy reaches `SignalAction::sigHandler`
 * (`source/common/signal/signal_action.cc`), which logs `Caught <strsignal>, suspect faulting
 * address <addr>` and a backtrace at critical level on the `backtrace` logger, restores the default
 * action and re-raises the signal: the supervisor sees death by that signal (shell status
 * 128+N). `PANIC(...)` logs `panic: ...` and `RELEASE_ASSERT` logs `assert failure: ...` on the
 * `assert` logger, then both `abort()`, which is the same path with SIGABRT.
 *
 * How the simulator re-raises: `process.kill(process.pid, sig)` with no JavaScript listener for
 * the signal. Checked on Node 20.20 / Linux x64 for all five fatal signals: the process dies by
 * the signal every time (Node's SIGSEGV trap handler, installed for WebAssembly, passes a signal
 * sent with kill() on to the default action). `process.abort()` is not used: it also dies by
 * SIGABRT but first prints Node's own native and JavaScript stack traces on stderr. The kernel
 * may write a core file, as it would for Envoy, when `ulimit -c` allows it; the tests run the
 * simulator with a temporary working directory for that reason.
 */
import type { FatalSignal } from './env.js';
import type { Logger } from './logger.js';
import type { Recorder } from './record.js';
import { ENVOY_VERSION } from './version.js';

/** `strsignal()` on glibc. */
const SIGNAL_TEXT: Record<FatalSignal, string> = {
  SIGSEGV: 'Segmentation fault',
  SIGABRT: 'Aborted',
  SIGBUS: 'Bus error',
  SIGFPE: 'Floating point exception',
  SIGILL: 'Illegal instruction',
};

/**
 * `si_addr` as Envoy prints it. For a signal sent with `raise()`/`kill()` (every abort) the kernel
 * fills the union with the sender's pid and uid, which is why real abort logs show values such as
 * `0x53900000001` (uid 1337, pid 1). A segfault from a null dereference shows `0x0`.
 */
function faultAddress(signal: FatalSignal): string {
  if (signal === 'SIGABRT') {
    const uid = BigInt(process.getuid?.() ?? 0);
    return `0x${((uid << 32n) | BigInt(process.pid)).toString(16)}`;
  }
  if (signal === 'SIGSEGV') return '0x0';
  return '0x55d1c0de4a2f';
}

const FRAMES = [
  '__restore_rt [0x7f3a5c9a2520]',
  'Envoy::Server::InstanceBase::run() [0x55d1c0de4a2f]',
  'Envoy::MainCommonBase::run() [0x55d1c0c31b7e]',
  'Envoy::MainCommon::main() [0x55d1c0c32c10]',
  'main [0x55d1c0b2e0c4]',
  '__libc_start_call_main [0x7f3a5c989d90]',
];

export interface Dying {
  logger: Logger;
  recorder: Recorder;
}

/** Blocks the thread (no event loop turn) for up to `ms`. */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Prints the backtrace block and dies by `signal`. Never returns. */
export function dieBySignal(ctx: Dying, signal: FatalSignal): never {
  const { logger } = ctx;
  logger.critical(
    'backtrace',
    'source/server/backtrace.h:104',
    `Caught ${SIGNAL_TEXT[signal]}, suspect faulting address ${faultAddress(signal)}`,
  );
  logger.critical(
    'backtrace',
    'source/server/backtrace.h:91',
    'Backtrace (use tools/stack_decode.py to get line numbers):',
  );
  logger.critical('backtrace', 'source/server/backtrace.h:92', `Envoy version: ${ENVOY_VERSION}`);
  FRAMES.forEach((frame, i) => {
    logger.critical('backtrace', 'source/server/backtrace.h:96', `#${i}: ${frame}`);
  });
  return raiseSignal(ctx, signal);
}

/** Dies by `signal` with no output of its own (the default action of an uncaught signal). */
export function raiseSignal(ctx: Pick<Dying, 'recorder'>, signal: NodeJS.Signals): never {
  ctx.recorder.write({ event: 'exit', signal });
  ctx.recorder.close();
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  // The signal may be delivered to another thread of the process; give it time.
  block(2000);
  process.kill(process.pid, 'SIGKILL');
  block(2000);
  process.exit(128 + 9);
}

/** `PANIC(msg)`: `panic: <msg>` on the assert logger, then abort. */
export function panic(ctx: Dying, message: string): never {
  ctx.logger.critical('assert', 'source/common/common/assert.h:160', `panic: ${message}`);
  return dieBySignal(ctx, 'SIGABRT');
}

/** `RELEASE_ASSERT(condition, details)`. */
export function releaseAssert(ctx: Dying, condition: string, details: string): never {
  const suffix = details === '' ? '' : ` Details: ${details}`;
  ctx.logger.critical(
    'assert',
    'source/common/common/assert.h:120',
    `assert failure: ${condition}.${suffix}`,
  );
  return dieBySignal(ctx, 'SIGABRT');
}
