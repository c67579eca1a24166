/**
 * Template parameters and node metadata against Istio 1.5's own vectors
 * (`pkg/bootstrap/option/instances_test.go`, `pkg/bootstrap/instance_test.go`,
 * `pkg/bootstrap/config_test.go`), plus the deliberate deviations documented in params.ts and
 * metadata.ts.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNodeMetadata, splitLocality } from '../../src/bootstrap/metadata.js';
import {
  buildTemplateParams,
  keepaliveJson,
  podIpBase64,
  type TemplateParams,
  transportSocketJson,
} from '../../src/bootstrap/params.js';
import type { AgentConfig, TlsSettings } from '../../src/config/types.js';
import { AgentError } from '../../src/errors.js';
import { type AgentConfigOverrides, makeAgentConfig } from '../helpers/agent-config.js';

let scratch: string;
let noLabels: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pilot-agent-params-'));
  noLabels = path.join(scratch, 'no-labels');
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function params(overrides: AgentConfigOverrides = {}): Promise<TemplateParams> {
  return buildTemplateParams(makeAgentConfig(overrides), { podLabelsPath: noLabels });
}

async function metadata(env: Record<string, string>, overrides: AgentConfigOverrides = {}) {
  const meta = await buildNodeMetadata(makeAgentConfig({ ...overrides, env }), { podLabelsPath: noLabels });
  return { ...meta, parsed: JSON.parse(meta.json) as Record<string, unknown> };
}

async function rejection(promise: Promise<unknown>): Promise<AgentError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  expect((err as AgentError).message).not.toContain('\n');
  return err as AgentError;
}

const tls = (mode: TlsSettings['mode'], extra: Partial<TlsSettings> = {}): TlsSettings => ({
  mode,
  clientCertificate: '',
  privateKey: '',
  caCertificates: '',
  subjectAltNames: [],
  sni: '',
  ...extra,
});

describe('address options (instances_test.go)', () => {
  it('renders host:port as the socket-address text', async () => {
    const p = await params({ proxy: { discoveryAddress: '127.0.0.1:80' } });
    expect(p.pilot_grpc_address).toBe('{"address": "127.0.0.1", "port_value": 80}');
    expect(p.discovery_address).toBe('127.0.0.1:80');
  });

  it('strips IPv6 brackets', async () => {
    const p = await params({ proxy: { discoveryAddress: '[2001:db8::100]:80' } });
    expect(p.pilot_grpc_address).toBe('{"address": "2001:db8::100", "port_value": 80}');
  });

  it('pastes an empty port as is ("fake:" gives `"port_value": }`, sic)', async () => {
    const p = await params({ proxy: { statsdUdpAddress: 'fake:' } });
    expect(p.statsd).toBe('{"address": "fake", "port_value": }');
  });

  it('fails on a missing port or an unbracketed IPv6 address, naming the option', async () => {
    const missing = await rejection(params({ proxy: { statsdUdpAddress: '127.0.0.1' } }));
    expect(missing.kind).toBe('bootstrap');
    expect(missing.message).toBe('unable to parse statsd address "127.0.0.1": missing port in address');
    const colons = await rejection(
      params({ proxy: { envoyMetricsService: { address: '2001:db8::100:80' } } }),
    );
    expect(colons.message).toBe(
      'unable to parse envoy_metrics_service_address address "2001:db8::100:80": too many colons in address',
    );
  });

  it('leaves the key out for an empty address', async () => {
    const p = await params();
    expect('statsd' in p).toBe(false);
    expect('zipkin' in p).toBe(false);
    expect('envoy_metrics_service_address' in p).toBe(false);
  });
});

describe('scalar options', () => {
  it('ControlPlaneAuth is "enable" for MUTUAL_TLS and absent otherwise', async () => {
    expect((await params({ proxy: { controlPlaneAuthPolicy: 'MUTUAL_TLS' } })).ControlPlaneAuth).toBe(
      'enable',
    );
    expect('ControlPlaneAuth' in (await params())).toBe(false);
  });

  it('PodIP is base64 of the 16-byte net.IP', async () => {
    expect(podIpBase64('127.0.0.1')).toBe('AAAAAAAAAAAAAP//fwAAAQ==');
    expect(podIpBase64('fd00:10:44::c')).toBe(
      Buffer.from('fd00001000440000000000000000000c', 'hex').toString('base64'),
    );
    expect(podIpBase64('::ffff:10.1.2.3')).toBe(podIpBase64('10.1.2.3'));
    expect((await params({ env: { INSTANCE_IP: '127.0.0.1' } })).PodIP).toBe('AAAAAAAAAAAAAP//fwAAAQ==');
    expect('PodIP' in (await params({ env: { POD_NAME: 'p', POD_NAMESPACE: 'n' } }))).toBe(false);
  });

  it('PodIP reads the address as Go net.ParseIP does, with the one parser of src/go/net.ts', () => {
    // "::" must stand for at least one zero group: Go rejects this (so does Node's isIPv6); the
    // byte parser this option had of its own accepted it as 1:2:3:4:5:6:7:8.
    expect(() => podIpBase64('1:2:3:4:5:6:7::8')).toThrow(AgentError);
    expect(() => podIpBase64('fe80::1%eth0')).toThrow('PodIP: "fe80::1%eth0" is not an IP address');
  });

  it('connect_timeout is Go-formatted; dns_refresh_rate is passed as given', async () => {
    const p = await params({ proxy: { connectTimeoutMs: 60_000 }, dnsRefreshRate: '5m' });
    expect(p.connect_timeout).toBe('1m0s');
    expect(p.dns_refresh_rate).toBe('5m');
  });

  it('localhost, wildcard and lookup family follow the IPv6 mode', async () => {
    const v4 = await params();
    expect([v4.localhost, v4.wildcard, v4.dns_lookup_family]).toEqual(['127.0.0.1', '0.0.0.0', 'V4_ONLY']);
    const v6 = await params({ env: { POD_NAME: 'p', POD_NAMESPACE: 'n', INSTANCE_IP: '::1' } });
    expect([v6.localhost, v6.wildcard, v6.dns_lookup_family]).toEqual(['::1', '::', 'AUTO']);
  });

  it('pilot_SAN defaults to the istio-system pilot service account of the trust domain', async () => {
    expect((await params()).pilot_SAN).toEqual([
      'spiffe://cluster.local/ns/istio-system/sa/istio-pilot-service-account',
    ]);
    expect((await params({ node: { trustDomain: 'mesh.com' } })).pilot_SAN).toEqual([
      'spiffe://mesh.com/ns/istio-system/sa/istio-pilot-service-account',
    ]);
    expect((await params({ pilotSAN: ['spiffe://x/y'] })).pilot_SAN).toEqual(['spiffe://x/y']);
  });

  it('exposes ProxyConfig under its Go field names', async () => {
    const p = await params({ proxy: { controlPlaneAuthPolicy: 'MUTUAL_TLS', concurrency: 2 } });
    const f = p.config.fields;
    expect(f.ProxyAdminPort).toBe(15000);
    expect(f.ControlPlaneAuthPolicy.value).toBe(1);
    expect(f.ControlPlaneAuthPolicy.name).toBe('MUTUAL_TLS');
    expect(f.DrainDuration.text).toBe('45s');
    expect(f.ParentShutdownDuration.text).toBe('1m0s');
    expect(f.Concurrency).toBe(2);
    expect(f.ConfigPath).toBe('/etc/istio/proxy');
  });

  it('SDS mode: sds_uds_path is unix:<socket> and the metadata says SDS, as Istio 1.5 tells user templates', async () => {
    const sds = { socketPath: '/etc/istio/proxy/SDS', mounted: { certChain: 'c', key: 'k', rootCert: 'r' } };
    const p = await params({ certDelivery: 'sds', sds });
    expect([p.sds_uds_path, p.sds_token_path]).toEqual(['unix:/etc/istio/proxy/SDS', '']);
    const meta = JSON.parse(p.meta_json_str) as Record<string, unknown>;
    expect(meta.SDS).toBe('true');
    // No token: TRUSTJWT (Istio 1.5: a JWT sent to a node agent) stays unset.
    expect('TRUSTJWT' in meta).toBe(false);
    expect('SDS' in (JSON.parse((await params({ sds })).meta_json_str) as object)).toBe(false);
  });

  it('sds paths are present and empty; STS only with a port; optional keys are skipped when zero', async () => {
    const p = await params();
    expect([p.sds_uds_path, p.sds_token_path, p.pilot_cert_provider]).toEqual(['', '', 'istiod']);
    for (const key of [
      'sts',
      'sts_port',
      'outlier_log_path',
      'MixerSubjectAltName',
      'DisableReportCalls',
      'region',
    ]) {
      expect(key in p).toBe(false);
    }
    const q = await params({
      stsPort: 15463,
      outlierLogPath: '/dev/stdout',
      disableInternalTelemetry: true,
      mixerSAN: ['m'],
    });
    expect([q.sts, q.sts_port, q.outlier_log_path, q.DisableReportCalls, q.MixerSubjectAltName]).toEqual([
      true,
      15463,
      '/dev/stdout',
      'true',
      'm',
    ]);
  });
});

describe('remote-service TLS and keepalive (instances_test.go "envoy metrics tls")', () => {
  it('ISTIO_MUTUAL with no files: Istio certs, ALPN istio,h2, SNI = cluster name (swap fixed)', () => {
    const json = JSON.parse(
      transportSocketJson(tls('ISTIO_MUTUAL'), 'envoy_metrics_service', {}, '--envoyMetricsService'),
    );
    expect(json).toEqual({
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        common_tls_context: {
          alpn_protocols: ['istio', 'h2'],
          tls_certificates: [
            // Istio 1.5 has these two swapped (root-cert.pem as client cert, cert-chain.pem as CA).
            {
              certificate_chain: { filename: '/etc/certs/cert-chain.pem' },
              private_key: { filename: '/etc/certs/key.pem' },
            },
          ],
          validation_context: { trusted_ca: { filename: '/etc/certs/root-cert.pem' } },
        },
        sni: 'envoy_metrics_service',
      },
    });
  });

  it('ISTIO_META_TLS_CLIENT_* paths win over the files (model.GetOrDefault)', () => {
    const meta = {
      TLS_CLIENT_CERT_CHAIN: '/m/chain.pem',
      TLS_CLIENT_KEY: '/m/key.pem',
      TLS_CLIENT_ROOT_CERT: '/m/root.pem',
    };
    const json = JSON.parse(transportSocketJson(tls('ISTIO_MUTUAL'), 'x', meta, '--envoyMetricsService'));
    const ctx = json.typed_config.common_tls_context;
    expect(ctx.tls_certificates[0].certificate_chain.filename).toBe('/m/chain.pem');
    expect(ctx.tls_certificates[0].private_key.filename).toBe('/m/key.pem');
    expect(ctx.validation_context.trusted_ca.filename).toBe('/m/root.pem');
  });

  it('SIMPLE: h2 ALPN, the configured CA and SANs, no client certificate', () => {
    const json = JSON.parse(
      transportSocketJson(
        tls('SIMPLE', { caCertificates: '/ca.pem', subjectAltNames: ['a'], sni: 's' }),
        'x',
        {},
        'f',
      ),
    );
    expect(json.typed_config.common_tls_context).toEqual({
      alpn_protocols: ['h2'],
      validation_context: { trusted_ca: { filename: '/ca.pem' }, match_subject_alt_names: [{ exact: 'a' }] },
    });
    expect(json.typed_config.sni).toBe('s');
  });

  it('SDS mode: the same files, named as the secrets file-cert:<chain>~<key> and file-root:<ca>', () => {
    const sdsConfig = {
      api_config_source: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }],
        set_node_on_first_message_only: true,
      },
      resource_api_version: 'V3',
    };
    const mutual = JSON.parse(
      transportSocketJson(tls('ISTIO_MUTUAL'), 'x', { TLS_CLIENT_KEY: '/m/key.pem' }, 'f', 'sds'),
    );
    expect(mutual.typed_config.common_tls_context).toEqual({
      alpn_protocols: ['istio', 'h2'],
      tls_certificate_sds_secret_configs: [
        { name: 'file-cert:/etc/certs/cert-chain.pem~/m/key.pem', sds_config: sdsConfig },
      ],
      validation_context_sds_secret_config: {
        name: 'file-root:/etc/certs/root-cert.pem',
        sds_config: sdsConfig,
      },
    });
    const simple = JSON.parse(
      transportSocketJson(
        tls('SIMPLE', { caCertificates: '/ca.pem', subjectAltNames: ['a'] }),
        'x',
        {},
        'f',
        'sds',
      ),
    );
    expect(simple.typed_config.common_tls_context).toEqual({
      alpn_protocols: ['h2'],
      combined_validation_context: {
        default_validation_context: { match_subject_alt_names: [{ exact: 'a' }] },
        validation_context_sds_secret_config: { name: 'file-root:/ca.pem', sds_config: sdsConfig },
      },
    });
  });

  it('DISABLE is an empty (false) value; MUTUAL without files is an error, not plain text', () => {
    expect(transportSocketJson(tls('DISABLE'), 'x', {}, 'f')).toBe('');
    expect(() => transportSocketJson(tls('MUTUAL'), 'x', {}, '--envoyAccessLogService')).toThrow(
      '--envoyAccessLogService: tlsSettings mode MUTUAL needs both clientCertificate and privateKey',
    );
  });

  it('keepalive: whole seconds, only set fields, bare numbers (Istio: {"value": 1})', () => {
    expect(keepaliveJson({ timeMs: 1_000 })).toBe('{"tcp_keepalive":{"keepalive_time":1}}');
    expect(keepaliveJson({ probes: 3, timeMs: 10_500, intervalMs: 400 })).toBe(
      '{"tcp_keepalive":{"keepalive_probes":3,"keepalive_time":10}}',
    );
    expect(keepaliveJson({})).toBe('{"tcp_keepalive":{}}');
  });
});

describe('node metadata (instance_test.go, config_test.go)', () => {
  it('ISTIO_META_foo=baz gives raw key foo; other variables are not metadata', async () => {
    const { parsed } = await metadata({ ISTIO_META_foo: 'baz', NOT_AN_ISTIO_META_foo: 'x' });
    expect(parsed.foo).toBe('baz');
    expect(parsed).not.toHaveProperty('ISTIO_META_foo');
    expect(parsed).not.toHaveProperty('NOT_AN_ISTIO_META_foo');
  });

  it('ISTIO_META_ISTIO_VERSION is typed; ISTIO_METAJSON_LABELS sets LABELS and merges at the top level', async () => {
    const { parsed, typed } = await metadata({
      ISTIO_META_ISTIO_VERSION: '1.0.0',
      ISTIO_METAJSON_LABELS: '{"foo":"bar"}',
    });
    expect(typed.ISTIO_VERSION).toBe('1.0.0');
    expect(parsed.LABELS).toEqual({ foo: 'bar' });
    expect(parsed.foo).toBe('bar');
  });

  it('dedupes INSTANCE_IPS keeping first occurrences, and reads the locality label (running_golden)', async () => {
    const { parsed, locality } = await metadata(
      { ISTIO_METAJSON_LABELS: '{"istio-locality":"regionA/zoneB/sub_zoneC"}' },
      { node: { ipAddresses: ['10.3.3.3', '10.4.4.4', '10.5.5.5', '10.6.6.6', '10.4.4.4'] } },
    );
    expect(parsed.INSTANCE_IPS).toBe('10.3.3.3,10.4.4.4,10.5.5.5,10.6.6.6');
    expect(locality).toEqual({ region: 'regionA', zone: 'zoneB', subZone: 'sub_zoneC' });
  });

  it('typed overrides come from POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT, ISTIO_META_OWNER and ISTIO_META_WORKLOAD_NAME', async () => {
    const { parsed } = await metadata({
      POD_NAME: 'p',
      POD_NAMESPACE: 'ns',
      SERVICE_ACCOUNT: 'sa',
      ISTIO_META_OWNER: 'o',
      ISTIO_META_WORKLOAD_NAME: 'w',
      ISTIO_META_WORKLOAD_OTHER: 'never raw',
      ISTIO_METAJSON_LABELS: '{"istioTelemetryService":"svc.ns"}',
    });
    expect(parsed).toMatchObject({
      NAME: 'p',
      NAMESPACE: 'ns',
      SERVICE_ACCOUNT: 'sa',
      OWNER: 'o',
      WORKLOAD_NAME: 'w',
      CANONICAL_TELEMETRY_SERVICE: 'svc.ns',
      EXCHANGE_KEYS:
        'NAME,NAMESPACE,INSTANCE_IPS,LABELS,OWNER,PLATFORM_METADATA,WORKLOAD_NAME,CANONICAL_TELEMETRY_SERVICE,MESH_ID,SERVICE_ACCOUNT',
    });
    expect(parsed).not.toHaveProperty('WORKLOAD_OTHER');
  });

  it('marshals with sorted keys and Go escaping (what Istio pastes into the template)', async () => {
    const { json } = await metadata({ ISTIO_META_z: 'a<b', ISTIO_META_a: '1' });
    expect(json.indexOf('"a":"1"')).toBeLessThan(json.indexOf('"z":"a\\u003cb"'));
  });

  it('re-serialises POD_PORTS and parses booleans as the typed struct does', async () => {
    const { parsed } = await metadata({
      ISTIO_META_POD_PORTS: '[{"name":"http","containerPort":9080,"protocol":"TCP","extra":1}]',
      ISTIO_META_SDS: '1',
    });
    expect(parsed.POD_PORTS).toBe('[{"name":"http","containerPort":9080,"protocol":"TCP"}]');
    expect(parsed.SDS).toBe('true');
  });

  it('STS_PORT when an STS port is set', async () => {
    expect((await metadata({}, { stsPort: 15463 })).parsed.STS_PORT).toBe('15463');
  });

  it('merges the downward-API labels file into LABELS, file winning (ParseDownwardAPI)', async () => {
    const file = path.join(scratch, 'labels');
    await writeFile(file, 'app="from-file"\na1_-.as1="a1_-.as1"\nempty=""\nbroken=x\n\nno-equals\n');
    const warnings: string[] = [];
    const config: AgentConfig = makeAgentConfig({
      env: { ISTIO_METAJSON_LABELS: '{"app":"from-env","v":"1"}' },
    });
    const meta = await buildNodeMetadata(config, { podLabelsPath: file, warn: (m) => warnings.push(m) });
    expect(JSON.parse(meta.json).LABELS).toEqual({
      app: 'from-file',
      v: '1',
      'a1_-.as1': 'a1_-.as1',
      empty: '',
    });
    expect(warnings).toEqual([`${file}:4: label value is not quoted, line ignored`]);
  });

  it('a missing labels file is only a warning', async () => {
    const warnings: string[] = [];
    await buildNodeMetadata(makeAgentConfig(), { podLabelsPath: noLabels, warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^failed to read pod labels: /);
  });

  it('the default labels file missing is news only in Kubernetes, where the downward API mounts it', async () => {
    // The default path is ./etc/istio/pod/labels against the working directory (the repository
    // here), where no such file exists.
    const outside: string[] = [];
    await buildNodeMetadata(makeAgentConfig(), { warn: (m) => outside.push(m) });
    expect(outside).toEqual([]);
    const inPod: string[] = [];
    await buildNodeMetadata(makeAgentConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } }), {
      warn: (m) => inPod.push(m),
    });
    expect(inPod).toHaveLength(1);
    expect(inPod[0]).toMatch(/^failed to read pod labels: ENOENT/);
  });

  it('splits localities as Istio (dots become slashes unless a slash is present)', () => {
    expect(splitLocality('us-east1.us-east1-b')).toEqual({
      region: 'us-east1',
      zone: 'us-east1-b',
      subZone: '',
    });
    expect(splitLocality('a/b.c/d/e')).toEqual({ region: 'a', zone: 'b.c', subZone: 'd' });
  });
});

describe('malformed metadata is a one-line usage error (Istio only warns)', () => {
  it('invalid JSON in ISTIO_METAJSON_*', async () => {
    const err = await rejection(metadata({ ISTIO_METAJSON_LABELS: '{"app":' }));
    expect(err.kind).toBe('usage');
    expect(err.exitCode).toBe(255);
    expect(err.message).toMatch(/^ISTIO_METAJSON_LABELS: invalid JSON: /);
  });

  it('a JSON value that is not an object', async () => {
    const err = await rejection(metadata({ ISTIO_METAJSON_ANNOTATIONS: '["a"]' }));
    expect(err.message).toBe('ISTIO_METAJSON_ANNOTATIONS: invalid JSON: expected an object, got an array');
  });

  it('a label that is not a string', async () => {
    const err = await rejection(metadata({ ISTIO_METAJSON_LABELS: '{"replicas":3}' }));
    expect(err.message).toBe('ISTIO_METAJSON_LABELS: label "replicas" must be a string, got a number');
  });

  it('a raw value the typed struct cannot hold', async () => {
    const err = await rejection(metadata({ ISTIO_META_LABELS: 'app=x' }));
    expect(err.kind).toBe('usage');
    expect(err.message).toMatch(
      /^ISTIO_META_LABELS: node metadata key "LABELS" must be an object of strings, got a string/,
    );
  });
});
