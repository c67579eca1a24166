/**
 * Start-up validation of ISTIO_KUBE_APP_PROBERS and ISTIO_PROMETHEUS_ANNOTATIONS: what is accepted
 * and how it is read, and for every bad value a one-line usage error (exit 255) naming the
 * variable and the entry at fault. Vectors from Istio's TestNewServer
 * (`pilot/cmd/pilot-agent/status/server_test.go`, 1.5 and later releases).
 */
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { parseAppProbers } from '../../src/status/app-probes.js';
import { parsePrometheusAnnotations } from '../../src/status/metrics.js';

function usageError(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentError);
    const e = err as AgentError;
    expect(e.kind).toBe('usage');
    expect(e.exitCode).toBe(255);
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error('expected a usage error');
}

describe('ISTIO_KUBE_APP_PROBERS', () => {
  it('empty or unset means no probers', () => {
    expect(parseAppProbers('').size).toBe(0);
    expect(parseAppProbers('{}').size).toBe(0);
    expect(parseAppProbers('null').size).toBe(0);
  });

  it('reads httpGet, tcpSocket and grpc probes with kubelet defaults', () => {
    const probers = parseAppProbers(
      JSON.stringify({
        '/app-health/hello-world/readyz': { httpGet: { path: '/hello/sunnyvale', port: 8080 } },
        '/app-health/hello-world/livez': { httpGet: { port: 8080 } },
        '/app-health/db/startupz': { tcpSocket: { port: 5432 }, timeoutSeconds: 3 },
        '/app-health/rpc/readyz': { grpc: { port: 9000, service: 'foo' } },
        '/app-health/rpc/livez': { grpc: { port: 9000, service: null } },
      }),
    );
    expect(probers.get('/app-health/hello-world/readyz')).toEqual({
      key: '/app-health/hello-world/readyz',
      container: 'hello-world',
      probe: 'readyz',
      action: { type: 'httpGet', scheme: 'http', port: 8080, path: '/hello/sunnyvale', headers: [] },
      timeoutMs: 1000,
    });
    expect(probers.get('/app-health/hello-world/livez')?.action).toMatchObject({ path: '/' });
    expect(probers.get('/app-health/db/startupz')).toMatchObject({
      action: { type: 'tcpSocket', port: 5432 },
      timeoutMs: 3000,
    });
    expect(probers.get('/app-health/rpc/readyz')?.action).toEqual({
      type: 'grpc',
      port: 9000,
      service: 'foo',
    });
    expect(probers.get('/app-health/rpc/livez')?.action).toEqual({ type: 'grpc', port: 9000, service: '' });
  });

  it('ignores unknown fields such as initialDelaySeconds and periodSeconds (Istio TestNewServer)', () => {
    const probers = parseAppProbers(
      '{"/app-health/a/livez":{"httpGet":{"port":80},"initialDelaySeconds":5,"periodSeconds":10,"timeoutSeconds":2,"failureThreshold":3}}',
    );
    expect(probers.get('/app-health/a/livez')?.timeoutMs).toBe(2000);
  });

  it('matches field names case-insensitively, as Go encoding/json does', () => {
    const probers = parseAppProbers(
      '{"/app-health/a/readyz":{"gRPC":{"PORT":9000,"Service":"x"},"TimeoutSeconds":4},' +
        '"/app-health/b/readyz":{"HTTPGET":{"Path":"/p","port":81,"SCHEME":"https","HTTPHeaders":[{"NAME":"X-A","Value":"1"}]}}}',
    );
    expect(probers.get('/app-health/a/readyz')).toMatchObject({
      action: { type: 'grpc', port: 9000, service: 'x' },
      timeoutMs: 4000,
    });
    expect(probers.get('/app-health/b/readyz')?.action).toEqual({
      type: 'httpGet',
      scheme: 'https',
      port: 81,
      path: '/p',
      headers: [{ name: 'X-A', value: '1' }],
    });
  });

  it('gives a path without a leading slash one (Istio ≥ 1.24, kubelet) and drops a fragment', () => {
    const probers = parseAppProbers(
      '{"/app-health/a/livez":{"httpGet":{"port":80,"path":"health?full=1"}},"/app-health/b/livez":{"httpGet":{"port":80,"path":"/x#frag"}}}',
    );
    expect(probers.get('/app-health/a/livez')?.action).toMatchObject({ path: '/health?full=1' });
    expect(probers.get('/app-health/b/livez')?.action).toMatchObject({ path: '/x' });
  });

  it('keeps httpGet.host out of the target (it is ignored)', () => {
    const probers = parseAppProbers('{"/app-health/a/livez":{"httpGet":{"port":80,"host":"evil.example"}}}');
    expect(probers.get('/app-health/a/livez')?.action).not.toHaveProperty('host');
  });

  const bad: Array<[string, string, RegExp]> = [
    [
      'not JSON (Istio "failed to decode")',
      'invalid-prober-json-encoding',
      /ISTIO_KUBE_APP_PROBERS: not valid JSON/,
    ],
    ['a JSON list', '[1]', /ISTIO_KUBE_APP_PROBERS: must be a JSON object/],
    [
      'a key outside the pattern (Istio "invalid key")',
      '{"abc":{"httpGet":{"port":80}}}',
      /invalid key "abc": must match/,
    ],
    [
      'an unknown probe kind',
      '{"/app-health/a/healthz":{"httpGet":{"port":80}}}',
      /invalid key "\/app-health\/a\/healthz"/,
    ],
    ['a nested container path', '{"/app-health/a/b/livez":{"httpGet":{"port":80}}}', /invalid key/],
    ['a null probe', '{"/app-health/a/livez":null}', /"\/app-health\/a\/livez": must be a probe object/],
    [
      'no probe type',
      '{"/app-health/a/livez":{}}',
      /"\/app-health\/a\/livez": must have exactly one of httpGet, tcpSocket or grpc, found 0/,
    ],
    [
      'an exec probe',
      '{"/app-health/a/livez":{"exec":{"command":["true"]}}}',
      /found 0 \(exec probes cannot be forwarded\)/,
    ],
    ['two probe types', '{"/app-health/a/livez":{"httpGet":{"port":80},"tcpSocket":{"port":80}}}', /found 2/],
    ['grpc and httpGet', '{"/app-health/a/livez":{"httpGet":{"port":80},"grpc":{"port":80}}}', /found 2/],
    [
      'a named port (Istio "must be int type")',
      '{"/app-health/a/livez":{"httpGet":{"port":"container-port-dontknow"}}}',
      /httpGet.port must be an integer port, got the string "container-port-dontknow"/,
    ],
    [
      'a numeric string port',
      '{"/app-health/a/livez":{"httpGet":{"port":"8080"}}}',
      /httpGet.port must be an integer port, got the string "8080"/,
    ],
    [
      'a tcp string port',
      '{"/app-health/a/livez":{"tcpSocket":{"port":"http"}}}',
      /tcpSocket.port must be an integer port/,
    ],
    [
      'port 0',
      '{"/app-health/a/livez":{"httpGet":{"port":0}}}',
      /httpGet.port must be an integer from 1 to 65535, got 0/,
    ],
    [
      'port 65536',
      '{"/app-health/a/livez":{"tcpSocket":{"port":65536}}}',
      /tcpSocket.port must be an integer from 1 to 65535/,
    ],
    [
      'a fractional port',
      '{"/app-health/a/livez":{"grpc":{"port":80.5}}}',
      /grpc.port must be an integer from 1 to 65535, got 80.5/,
    ],
    [
      'a missing port',
      '{"/app-health/a/livez":{"httpGet":{"path":"/"}}}',
      /httpGet.port must be an integer from 1 to 65535, got nothing/,
    ],
    [
      'an unknown scheme',
      '{"/app-health/a/livez":{"httpGet":{"port":80,"scheme":"FTP"}}}',
      /httpGet.scheme must be HTTP or HTTPS, got "FTP"/,
    ],
    [
      'a path with a space',
      '{"/app-health/a/livez":{"httpGet":{"port":80,"path":"/a b"}}}',
      /httpGet.path "\/a b" has characters/,
    ],
    [
      'a path with CR LF',
      '{"/app-health/a/livez":{"httpGet":{"port":80,"path":"/a\\r\\nX: y"}}}',
      /httpGet.path .* has characters/,
    ],
    [
      'a header name with a colon',
      '{"/app-health/a/livez":{"httpGet":{"port":80,"httpHeaders":[{"name":"X:Y","value":"1"}]}}}',
      /httpGet.httpHeaders\[0\].name must be an HTTP header name/,
    ],
    [
      'a header value with CR LF',
      '{"/app-health/a/livez":{"httpGet":{"port":80,"httpHeaders":[{"name":"X","value":"1\\r\\nInjected: yes"}]}}}',
      /httpGet.httpHeaders\[0\].value must be a string without CR, LF/,
    ],
    [
      'headers not a list',
      '{"/app-health/a/livez":{"httpGet":{"port":80,"httpHeaders":{"X":"1"}}}}',
      /httpGet.httpHeaders must be a list/,
    ],
    [
      'a negative timeout',
      '{"/app-health/a/livez":{"httpGet":{"port":80},"timeoutSeconds":-1}}',
      /timeoutSeconds must be a whole number of seconds/,
    ],
    [
      'a fractional timeout',
      '{"/app-health/a/livez":{"httpGet":{"port":80},"timeoutSeconds":1.5}}',
      /timeoutSeconds must be a whole number/,
    ],
    [
      'a grpc service that is not a string',
      '{"/app-health/a/livez":{"grpc":{"port":80,"service":5}}}',
      /grpc.service must be a string, got 5/,
    ],
  ];
  it.each(bad)('refuses %s', (_what, json, message) => {
    const err = usageError(() => parseAppProbers(json));
    expect(err.message).toMatch(/^ISTIO_KUBE_APP_PROBERS: /);
    expect(err.message).toMatch(message);
  });
});

describe('ISTIO_PROMETHEUS_ANNOTATIONS', () => {
  const parse = (json: string) => parsePrometheusAnnotations(json, { statusPort: 15020 });

  it('empty means no application metrics; scrape "false" turns them off', () => {
    expect(parse('')).toBeNull();
    expect(parse('{"scrape":"false","port":"8080"}')).toBeNull();
    expect(parse('{"scrape":"False"}')).toBeNull();
  });

  it('defaults to port 80 and /metrics as Istio ≥ 1.6', () => {
    expect(parse('{"scrape":"true"}')).toEqual({ port: 80, path: '/metrics' });
    expect(parse('{}')).toEqual({ port: 80, path: '/metrics' });
  });

  it('reads the injector’s strings, a JSON number port, and keys in any case', () => {
    expect(parse('{"scrape":"true","path":"/stats","port":"8080"}')).toEqual({ port: 8080, path: '/stats' });
    expect(parse('{"Scrape":"TRUE","PATH":"m","Port":9090}')).toEqual({ port: 9090, path: '/m' });
  });

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{scrape:true}', /ISTIO_PROMETHEUS_ANNOTATIONS: not valid JSON/],
    ['a string', '"true"', /must be a JSON object/],
    ['scrape not true/false', '{"scrape":"yes"}', /scrape must be "true" or "false", got "yes"/],
    ['scrape as a JSON boolean', '{"scrape":true}', /scrape must be "true" or "false", got true/],
    ['a named port', '{"port":"http"}', /port must be a port number from 1 to 65535, got "http"/],
    ['port 0', '{"port":"0"}', /port must be a port number/],
    ['port 70000', '{"port":70000}', /port must be a port number/],
    ['the status port itself (Istio ≥ 1.24)', '{"port":"15020"}', /port 15020 is the status port itself/],
    ['a path with a space', '{"path":"/a b"}', /path "\/a b" has characters/],
    ['a path that is not a string', '{"path":5}', /path must be a string/],
  ];
  it.each(bad)('refuses %s', (_what, json, message) => {
    const err = usageError(() => parse(json));
    expect(err.message).toMatch(/^ISTIO_PROMETHEUS_ANNOTATIONS: /);
    expect(err.message).toMatch(message);
  });
});
