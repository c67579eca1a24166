/**
 * The per-source line filter of the merged metrics, fed chunk by chunk as a socket would: whole
 * lines only, the byte cap, and families an earlier source already exposed.
 */
import { describe, expect, it } from 'vitest';
import { ExpositionFilter } from '../../src/status/exposition-filter.js';

/** Feeds `text` in chunks of `size` bytes and returns what the filter lets through. */
function run(filter: ExpositionFilter, text: string, size = 7): string {
  const input = Buffer.from(text);
  const out: Buffer[] = [];
  for (let at = 0; at < input.length; at += size) {
    const { pieces, capped } = filter.push(input.subarray(at, at + size));
    out.push(...pieces);
    if (capped) return Buffer.concat(out).toString();
  }
  out.push(...filter.end());
  return Buffer.concat(out).toString();
}

const A = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 1\na_total{x="2"} 2\n';
const H =
  '# HELP lat_seconds L.\n# TYPE lat_seconds histogram\nlat_seconds_bucket{le="+Inf"} 1\nlat_seconds_sum 2\nlat_seconds_count 1\n';

describe('ExpositionFilter', () => {
  it('passes a source through unchanged whatever the chunk size, and records its names', () => {
    for (const size of [1, 3, 7, 64, 10_000]) {
      const filter = new ExpositionFilter(new Set(), 1 << 20);
      expect(run(filter, A + H, size)).toBe(A + H);
      expect([...filter.names].sort()).toEqual(
        ['a_total', 'lat_seconds', 'lat_seconds_bucket', 'lat_seconds_count', 'lat_seconds_sum'].sort(),
      );
    }
  });

  it('completes a last line that has no newline', () => {
    expect(run(new ExpositionFilter(new Set(), 1 << 20), 'b 1\nc 2')).toBe('b 1\nc 2\n');
  });

  it('cuts at the last complete line before the cap, and says so', () => {
    const text = 'l1 1\nl2 2\nl3 3\nl4 4\n';
    const cases: Array<[number, string, boolean]> = [
      [text.length, text, false],
      [text.length - 1, 'l1 1\nl2 2\nl3 3\n', true],
      [10, 'l1 1\nl2 2\n', true],
      [9, 'l1 1\n', true],
      [4, '', true],
    ];
    for (const [cap, expected, truncated] of cases) {
      for (const size of [1, 4, 100]) {
        const filter = new ExpositionFilter(new Set(), cap);
        expect([cap, size, run(filter, text, size)]).toEqual([cap, size, expected]);
        expect(filter.truncated).toBe(truncated);
        expect(filter.consumed).toBeLessThanOrEqual(cap);
      }
    }
  });

  it('stops at once on a line longer than the cap instead of buffering it', () => {
    const filter = new ExpositionFilter(new Set(), 100);
    expect(filter.push(Buffer.from('ok 1\n')).capped).toBe(false);
    const { pieces, capped } = filter.push(Buffer.from(`huge{x="${'y'.repeat(200)}`));
    expect([Buffer.concat(pieces).toString(), capped]).toEqual(['', true]);
    expect(filter.push(Buffer.from('"} 1\n')).pieces).toEqual([]);
  });

  it('drops a family an earlier source exposed: HELP, TYPE and samples, and keeps the rest', () => {
    const filter = new ExpositionFilter(new Set(['a_total']), 1 << 20);
    const later = '# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n';
    expect(run(filter, A + later)).toBe(later);
    expect([...filter.droppedFamilies]).toEqual(['a_total']);
  });

  it('drops a histogram whose sample names an earlier source used, and samples of a dropped histogram', () => {
    const earlier = new Set(['lat_seconds_count']);
    const filter = new ExpositionFilter(earlier, 1 << 20);
    // HELP comes before TYPE tells it is a histogram; the HELP line of the base name is harmless.
    expect(run(filter, H + A)).toBe('# HELP lat_seconds L.\n' + A);
    expect(filter.droppedFamilies.has('lat_seconds')).toBe(true);
  });

  it('drops an untyped sample whose name belongs to an earlier histogram', () => {
    const first = new ExpositionFilter(new Set(), 1 << 20);
    run(first, H);
    const second = new ExpositionFilter(first.names, 1 << 20);
    expect(run(second, 'lat_seconds_sum 9\nother 1\n')).toBe('other 1\n');
  });

  it('leaves other comments and blank lines alone', () => {
    const text = '# some comment\n\n# TYPE\n#HELP x\nx 1\n';
    expect(run(new ExpositionFilter(new Set(['zzz']), 1 << 20), text)).toBe(text);
  });
});
