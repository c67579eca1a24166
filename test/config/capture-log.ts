import { Writable } from 'node:stream';
import { createLogger, type IstioLevel, type Logger } from '../../src/log.js';

/** A JSON logger whose lines are parsed into `lines` (pino tests' `sink()` habit). */
export function captureLogger(level: IstioLevel = 'debug'): {
  log: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ json: true, level, destination }), lines };
}
