import { describe, expect, it } from 'vitest';
import { isLoopback, isUnspecified, parseIp, splitHostPort } from '../../src/go/net.js';

describe('IP parsing as Go net.ParseIP + String()', () => {
  it('normalises IPv4, IPv6 and IPv4-mapped IPv6', () => {
    expect(parseIp('10.1.2.3')).toMatchObject({ family: 4, text: '10.1.2.3' });
    expect(parseIp('::ffff:10.1.2.3')).toMatchObject({ family: 4, text: '10.1.2.3' });
    expect(parseIp('::FFFF:0a01:0203')).toMatchObject({ family: 4, text: '10.1.2.3' });
    expect(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')).toMatchObject({
      family: 6,
      text: '2001:db8::1',
    });
    expect(parseIp('2001:db8:0:0:1:0:0:1')?.text).toBe('2001:db8::1:0:0:1');
    expect(parseIp('fe80::1')?.text).toBe('fe80::1');
    expect(parseIp('::')?.text).toBe('::');
    expect(parseIp('::1')?.text).toBe('::1');
    expect(parseIp('1:0:0:0:0:0:0:0')?.text).toBe('1::');
    expect(parseIp('1:2:3:4:5:6:7:8')?.text).toBe('1:2:3:4:5:6:7:8');
    expect(parseIp('::1.2.3.4')?.text).toBe('::102:304');
  });

  it('rejects what Go rejects', () => {
    for (const bad of [
      '',
      'localhost',
      '1.2.3',
      '256.1.1.1',
      'fe80::1%eth0',
      '1::2::3',
      '12345::1',
      '[::1]',
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('classifies loopback and unspecified addresses', () => {
    const ip = (s: string) => parseIp(s) ?? expect.fail(s);
    expect(isLoopback(ip('127.0.0.1'))).toBe(true);
    expect(isLoopback(ip('127.8.9.10'))).toBe(true);
    expect(isLoopback(ip('::1'))).toBe(true);
    expect(isLoopback(ip('10.0.0.1'))).toBe(false);
    expect(isUnspecified(ip('0.0.0.0'))).toBe(true);
    expect(isUnspecified(ip('::'))).toBe(true);
    expect(isUnspecified(ip('::1'))).toBe(false);
  });
});

describe('Go net.SplitHostPort', () => {
  it('splits as Go net.SplitHostPort', () => {
    expect(splitHostPort('istio-pilot:15010')).toEqual({ host: 'istio-pilot', port: '15010' });
    expect(splitHostPort('[::1]:80')).toEqual({ host: '::1', port: '80' });
    expect(splitHostPort(':80')).toEqual({ host: '', port: '80' });
    expect(splitHostPort('istio-pilot')).toEqual({ error: 'missing port in address' });
    expect(splitHostPort('::1:80')).toEqual({ error: 'too many colons in address' });
    expect(splitHostPort('[::1]')).toEqual({ error: 'missing port in address' });
    expect(splitHostPort('[::1:80')).toEqual({ error: "missing ']' in address" });
    expect(splitHostPort('[::1]x:80')).toEqual({ error: 'missing port in address' });
    expect(splitHostPort('a]:80')).toEqual({ error: "unexpected ']' in address" });
  });

  it('splitHostPort follows Go net.SplitHostPort', () => {
    expect(splitHostPort('[::1]:15010')).toEqual({ host: '::1', port: '15010' });
    expect(splitHostPort('[::1]')).toEqual({ error: 'missing port in address' });
    expect(splitHostPort('[::1]x:1')).toEqual({ error: 'missing port in address' });
    expect(splitHostPort('a]:1')).toEqual({ error: "unexpected ']' in address" });
  });
});
