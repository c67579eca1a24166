/**
 * One source of the merged `/stats/prometheus` answer, passed through line by line as it streams
 * in: complete lines only, at most `maxBytes` of them, minus the metric families an earlier source
 * already exposed. Pure and synchronous (no I/O), so it is tested and benchmarked on its own.
 *
 * Why families are dropped: the Prometheus text format (0.0.4) allows one `# HELP` and one `# TYPE`
 * per metric name in the whole exposition, and Prometheus's parser rejects the entire scrape on a
 * second one ("second HELP line for metric name"). Istio concatenates its sources and accepts that
 * a family present in both Envoy's and the application's metrics breaks the scrape (its TestStats
 * documents it). Here the first source to expose a family keeps it; the later source's lines for
 * that family (HELP, TYPE and samples) are dropped and counted, so the other metrics survive.
 *
 * A family is known by every name it puts on the wire: its own name, and for a histogram or summary
 * the `_bucket`/`_sum`/`_count` sample names, since the parser attaches such samples to a histogram
 * or summary family of the base name.
 *
 * Limits, by design: a source is trusted to be valid on its own (its repeated HELP lines are not
 * repaired), and lines are recognised by their first bytes only; labels and values are never parsed.
 */

const NL = 0x0a;
const HASH = 0x23;
const SPACE = 0x20;
const TAB = 0x09;
const BRACE = 0x7b;
const CR = 0x0d;

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;
const SUMMARY_SUFFIXES = ['_sum', '_count'] as const;

export interface FilterResult {
  /** Slices of the input to write, in order (no copy when nothing is dropped). */
  pieces: Buffer[];
  /** The byte cap was reached: the source must not be read further. */
  capped: boolean;
}

export class ExpositionFilter {
  /** Every name this source has put on the wire, for the sources after it. */
  readonly names = new Set<string>();
  /** Families of this source dropped because an earlier source had them. */
  readonly droppedFamilies = new Set<string>();
  /** Bytes of complete lines consumed (kept or dropped), counted against `maxBytes`. */
  consumed = 0;
  truncated = false;

  private carry: Buffer | null = null;
  /** Families this source declared as histogram or summary, with the suffixes that belong to them. */
  private readonly suffixed = new Map<string, readonly string[]>();
  private lastName = '';
  private lastKeep = true;

  constructor(
    private readonly earlier: ReadonlySet<string>,
    private readonly maxBytes: number,
  ) {}

  /** Feeds the next chunk of the source. After `capped`, further input is ignored. */
  push(chunk: Buffer): FilterResult {
    const pieces: Buffer[] = [];
    if (this.truncated) return { pieces, capped: true };
    let rest = chunk;
    if (this.carry) {
      // Finish the line that straddles two chunks on its own, so chunks themselves are never copied.
      const nl = chunk.indexOf(NL);
      const head = nl === -1 ? chunk : chunk.subarray(0, nl + 1);
      const line = Buffer.concat([this.carry, head]);
      this.carry = null;
      this.take(line, pieces);
      if (nl === -1 || this.truncated) return { pieces, capped: this.truncated };
      rest = chunk.subarray(nl + 1);
    }
    this.take(rest, pieces);
    return { pieces, capped: this.truncated };
  }

  /** Passes the complete lines of `buf` that fit under the cap; keeps a trailing partial line. */
  private take(buf: Buffer, pieces: Buffer[]): void {
    let end = buf.lastIndexOf(NL) + 1;
    const room = this.maxBytes - this.consumed;
    if (end > room) {
      // Cut at the last complete line that fits.
      end = room > 0 ? buf.lastIndexOf(NL, room - 1) + 1 : 0;
      this.truncated = true;
    } else if (end < buf.length) {
      // A line still arriving; once it cannot fit (with its newline) there is no point buffering it.
      if (buf.length + 1 > room) this.truncated = true;
      else this.carry = buf.subarray(end);
    }
    this.consumed += end;
    if (end > 0) this.scan(buf.subarray(0, end), pieces);
  }

  /** The source ended: a last line without its newline is completed, if it fits. */
  end(): Buffer[] {
    const rest = this.carry;
    this.carry = null;
    if (!rest || this.truncated) return [];
    if (this.consumed + rest.length + 1 > this.maxBytes) {
      this.truncated = true;
      return [];
    }
    this.consumed += rest.length + 1;
    const pieces: Buffer[] = [];
    this.scan(Buffer.concat([rest, Buffer.from('\n')]), pieces);
    return pieces;
  }

  /** `region` ends with a newline. Appends the kept lines to `pieces` as slices. */
  private scan(region: Buffer, pieces: Buffer[]): void {
    let keptFrom = 0;
    let start = 0;
    while (start < region.length) {
      const nl = region.indexOf(NL, start);
      const next = nl + 1;
      if (!this.keepLine(region, start, nl)) {
        if (start > keptFrom) pieces.push(region.subarray(keptFrom, start));
        keptFrom = next;
      }
      start = next;
    }
    if (keptFrom < region.length) pieces.push(region.subarray(keptFrom));
  }

  private keepLine(buf: Buffer, start: number, end: number): boolean {
    const first = buf[start];
    if (first === HASH) return this.keepComment(buf, start, end);
    if (first === NL || first === SPACE || first === TAB || first === CR) return true;
    // A sample: the name runs to `{`, a space or a tab.
    let i = start;
    for (; i < end; i++) {
      const c = buf[i];
      if (c === BRACE || c === SPACE || c === TAB) break;
    }
    const name = buf.toString('latin1', start, i);
    // Samples of one family come together: decide once per run of the same name.
    if (name === this.lastName) return this.lastKeep;
    this.lastName = name;
    this.lastKeep = this.keepSample(name);
    return this.lastKeep;
  }

  /** `# HELP name …` and `# TYPE name type` declare a family; other comments pass. */
  private keepComment(buf: Buffer, start: number, end: number): boolean {
    if (end - start < 8 || buf[start + 1] !== SPACE || buf[start + 6] !== SPACE) return true;
    const word = buf.toString('latin1', start + 2, start + 6);
    if (word !== 'HELP' && word !== 'TYPE') return true;
    let i = start + 7;
    while (i < end && buf[i] !== SPACE && buf[i] !== TAB && buf[i] !== CR) i++;
    const name = buf.toString('latin1', start + 7, i);
    this.lastName = '';
    if (word === 'HELP') return this.keepFamily(name, []);
    const type = buf.toString('latin1', i, end).trim().toLowerCase();
    const suffixes = type === 'histogram' ? HISTOGRAM_SUFFIXES : type === 'summary' ? SUMMARY_SUFFIXES : [];
    if (suffixes.length > 0) this.suffixed.set(name, suffixes);
    return this.keepFamily(name, suffixes);
  }

  private keepSample(name: string): boolean {
    // A `_bucket`/`_sum`/`_count` sample belongs to this source's histogram or summary family.
    const underscore = name.lastIndexOf('_');
    if (underscore > 0) {
      const suffixes = this.suffixed.get(name.slice(0, underscore));
      if (suffixes?.includes(name.slice(underscore))) {
        return !this.droppedFamilies.has(name.slice(0, underscore));
      }
    }
    if (this.droppedFamilies.has(name)) return false;
    if (this.earlier.has(name)) {
      this.droppedFamilies.add(name);
      return false;
    }
    this.names.add(name);
    return true;
  }

  private keepFamily(family: string, suffixes: readonly string[]): boolean {
    if (this.droppedFamilies.has(family)) return false;
    const names = [family, ...suffixes.map((s) => family + s)];
    if (names.some((n) => this.earlier.has(n))) {
      this.droppedFamilies.add(family);
      return false;
    }
    for (const n of names) this.names.add(n);
    return true;
  }
}
