import { describe, expect, it } from 'vitest';
import { parseRemoteService } from '../../src/config/remote-service.js';
import { AgentError } from '../../src/errors.js';

describe('RemoteService JSON (--envoyMetricsService / --envoyAccessLogService)', () => {
  // Istio 1.5 main_test.go Test_fromJSON.
  it('parses the upstream vector: DISABLE TLS and a keepalive with Go durations', () => {
    const val = `
{"address":"oap.istio-system:11800",
"tlsSettings":{"mode": "DISABLE", "subjectAltNames": [], "caCertificates": null},
"tcpKeepalive":{"interval":"10s","probes":3,"time":"10s"}
}
`;
    expect(parseRemoteService('envoyMetricsService', val)).toEqual({
      service: {
        address: 'oap.istio-system:11800',
        tlsSettings: {
          mode: 'DISABLE',
          clientCertificate: '',
          privateKey: '',
          caCertificates: '',
          subjectAltNames: [],
          sni: '',
        },
        tcpKeepalive: { probes: 3, timeMs: 10_000, intervalMs: 10_000 },
      },
      tlsEnabled: false,
      tlsFiles: [],
    });
  });

  it('accepts proto field names, enum numbers and Go durations such as 1m30s', () => {
    const parsed = parseRemoteService(
      'envoyAccessLogService',
      JSON.stringify({
        address: 'als:9000',
        tls_settings: {
          mode: 2,
          client_certificate: '/c.pem',
          private_key: '/k.pem',
          ca_certificates: '/ca.pem',
        },
        tcp_keepalive: { time: '1m30s', probes: '5' },
      }),
    );
    expect(parsed.service.tlsSettings?.mode).toBe('MUTUAL');
    expect(parsed.service.tcpKeepalive).toEqual({ probes: 5, timeMs: 90_000 });
    expect(parsed.tlsEnabled).toBe(true);
    // Istio appendTLSCerts order: CA, client certificate, private key.
    expect(parsed.tlsFiles).toEqual(['/ca.pem', '/c.pem', '/k.pem']);
  });

  it('treats ISTIO_MUTUAL with empty paths as TLS with the files Envoy is given: Istio’s, unswapped', () => {
    const parsed = parseRemoteService(
      'envoyMetricsService',
      '{"address":"m:1","tlsSettings":{"mode":"ISTIO_MUTUAL"}}',
    );
    expect(parsed.tlsEnabled).toBe(true);
    expect(parsed.tlsFiles).toEqual([
      '/etc/certs/root-cert.pem',
      '/etc/certs/cert-chain.pem',
      '/etc/certs/key.pem',
    ]);
    expect(parsed.tlsPair).toEqual({ cert: '/etc/certs/cert-chain.pem', key: '/etc/certs/key.pem' });
  });

  it.each([
    ['{bad', 'is not valid RemoteService JSON: '],
    ['[]', 'must be a JSON object'],
    ['null', 'must be a JSON object'],
    ['{"adress":"x:1"}', 'unknown field "adress"'],
    ['{"address":7}', 'address must be a string'],
    [
      '{"address":"x:1","tlsSettings":{"mode":"BOGUS"}}',
      'tlsSettings.mode "BOGUS" must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL',
    ],
    [
      '{"address":"x:1","tlsSettings":{"mode":"SIMPLE","credentialName":"c"}}',
      'unknown field "tlsSettings.credentialName"',
    ],
    ['{"address":"x:1","tcpKeepalive":{"time":"10"}}', 'tcpKeepalive.time must be a duration string'],
    [
      '{"address":"x:1","tcpKeepalive":{"probes":-1}}',
      'tcpKeepalive.probes must be an unsigned 32-bit integer',
    ],
  ])('rejects %s with one line naming the flag and the field', (json, reason) => {
    let error: unknown;
    try {
      parseRemoteService('envoyMetricsService', json);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AgentError);
    const message = (error as AgentError).message;
    expect(message.startsWith('--envoyMetricsService ')).toBe(true);
    expect(message).toContain(reason);
    expect(message).not.toContain('\n');
    expect((error as AgentError).exitCode).toBe(255);
  });
});
