import { describe, expect, it } from 'vitest';
import { isValidFqdn, proxyAddressProblem } from '../../src/config/address.js';

describe('host:port validation (Istio ValidateProxyAddress)', () => {
  it('accepts DNS names and IP addresses with a port in 1..65535', () => {
    for (const ok of [
      'istio-pilot:15010',
      'istio-pilot.istio-system:15010',
      'istiod.istio-system.svc.cluster.local:15012',
      '10.0.0.1:9125',
      '[2001:db8::1]:9411',
      'zipkin:1',
      'zipkin:65535',
      'zipkin:+80',
    ]) {
      expect(proxyAddressProblem(ok), ok).toBeUndefined();
    }
  });

  it('names the reason for each invalid address', () => {
    expect(proxyAddressProblem('istio-pilot')).toBe('missing port in address');
    expect(proxyAddressProblem('istio-pilot:0')).toBe('port 0 must be in the range 1..65535');
    expect(proxyAddressProblem('istio-pilot:65536')).toBe('port 65536 must be in the range 1..65535');
    expect(proxyAddressProblem('istio-pilot:http')).toBe('port "http" is not a number');
    expect(proxyAddressProblem('bad_host:15010')).toBe('"bad_host" is not a valid hostname or an IP address');
    expect(proxyAddressProblem('Upper.Case:80')).toBe(
      '"Upper.Case" is not a valid hostname or an IP address',
    );
    expect(proxyAddressProblem(':80')).toBe('"" is not a valid hostname or an IP address');
  });

  it('checks FQDNs label by label (RFC 1123)', () => {
    expect(isValidFqdn('a.b-c.d1')).toBe(true);
    expect(isValidFqdn('-a.b')).toBe(false);
    expect(isValidFqdn('a..b')).toBe(false);
    expect(isValidFqdn('x'.repeat(64))).toBe(false);
    expect(isValidFqdn('')).toBe(false);
  });
});
