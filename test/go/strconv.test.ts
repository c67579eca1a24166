import { describe, expect, it } from 'vitest';
import { goQuote, parseGoAtoi, parseGoBool, parseGoInteger } from '../../src/go/strconv.js';

describe('Go value syntax', () => {
  it('parses booleans as strconv.ParseBool', () => {
    for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) expect(parseGoBool(t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False']) expect(parseGoBool(f)).toBe(false);
    for (const bad of ['', 'yes', 'on', 'maybe', 'tRUE', ' true']) expect(parseGoBool(bad)).toBeUndefined();
  });

  it('parses integers as strconv.ParseInt with base 0 (what pflag IntVar uses)', () => {
    expect(parseGoInteger('15000')).toBe(15000);
    expect(parseGoInteger('-1')).toBe(-1);
    expect(parseGoInteger('+5')).toBe(5);
    expect(parseGoInteger('0x10')).toBe(16);
    expect(parseGoInteger('0X1f')).toBe(31);
    expect(parseGoInteger('010')).toBe(8);
    expect(parseGoInteger('0o17')).toBe(15);
    expect(parseGoInteger('0b101')).toBe(5);
    expect(parseGoInteger('1_000')).toBe(1000);
    expect(parseGoInteger('0x_1F')).toBe(31);
    expect(parseGoInteger('0')).toBe(0);
    for (const bad of ['', '-', 'two', '1.5', '08', '1__0', '_1', '1_', '0x', '1e3', ' 1']) {
      expect(parseGoInteger(bad), bad).toBeUndefined();
    }
  });

  it('parses environment integers as strconv.Atoi (decimal only)', () => {
    expect(parseGoAtoi('5')).toBe(5);
    expect(parseGoAtoi('-5')).toBe(-5);
    expect(parseGoAtoi('007')).toBe(7);
    for (const bad of ['abc', '5s', '0x10', '', '1.0']) expect(parseGoAtoi(bad)).toBeUndefined();
  });

  it('quotes like %q for printable strings', () => {
    expect(goQuote('/etc/istio/proxy')).toBe('"/etc/istio/proxy"');
    expect(goQuote('a"b\nc')).toBe('"a\\"b\\nc"');
  });
});
