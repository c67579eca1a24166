import { describe, expect, it } from 'vitest';
import { isIpv6Proxy, isLoopback, isUnspecified, parseIp } from '../../src/config/ip.js';

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

  // Istio 1.5 pilot/cmd/pilot-agent/main_test.go TestIsIPv6Proxy.
  it.each([
    ['ipv4 only', ['1.1.1.1', '127.0.0.1', '2.2.2.2'], false],
    ['ipv6 only', ['1111:2222::1', '::1', '2222:3333::1'], true],
    ['mixed ipv4 and ipv6', ['1111:2222::1', '::1', '127.0.0.1', '2.2.2.2', '2222:3333::1'], false],
  ])('isIPv6Proxy: %s', (_name, addrs, expected) => {
    expect(isIpv6Proxy(addrs)).toBe(expected);
  });

  it('skips unparseable entries and treats IPv4-mapped addresses as IPv4', () => {
    expect(isIpv6Proxy(['not-an-ip', '::1'])).toBe(true);
    expect(isIpv6Proxy(['::ffff:1.2.3.4', '::1'])).toBe(false);
  });
});
