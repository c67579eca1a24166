/**
 * `ENVOY_SIM_RECORD=<file>`: one JSON object per line for every event a supervisor's test may want
 * to assert (the argv it passed, the admin calls it made, the signals it sent, the hot-restart
 * steps, how the process ended). This is the simulator's only channel that real Envoy lacks, and
 * it writes nowhere but the named file.
 *
 * Several simulator processes (the epochs of one hot restart) append to the same file, so each
 * line is written with a single `write(2)` on an `O_APPEND` descriptor: Linux appends each such
 * write to a regular file as a whole, so lines never interleave.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export type RecordEvent =
  | { event: 'start'; argv: string[] }
  | { event: 'admin'; method: string; path: string }
  | { event: 'signal'; name: string; source?: 'pdeathsig' }
  | { event: 'hot-restart'; step: string; [detail: string]: unknown }
  | { event: 'sds'; step: string; [detail: string]: unknown }
  | { event: 'exit'; code: number }
  | { event: 'exit'; signal: string };

export class Recorder {
  private fd: number | undefined;
  /** Known once argv is parsed; `null` in the lines written before that. */
  epoch: number | null = null;

  constructor(path: string | undefined) {
    if (path !== undefined && path !== '') {
      this.fd = openSync(path, 'a');
    }
  }

  write(event: RecordEvent): void {
    if (this.fd === undefined) return;
    const line = `${JSON.stringify({ t: Date.now(), pid: process.pid, epoch: this.epoch, ...event })}\n`;
    try {
      writeSync(this.fd, Buffer.from(line));
    } catch {
      // A record file that vanished must not change how the simulated Envoy behaves.
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed: nothing to do.
    }
    this.fd = undefined;
  }
}
