/**
 * The simulator as an SDS client, against a tiny test-only server built on the agent's transport
 * (`src/sds/server.ts`) with a naive policy: a new stream's first request is answered with the
 * named secrets, and `push()` sends a new version; ACKs and NACKs are only recorded.
 *
 * What is checked is Envoy's side: one stream per secret, the node on the first request only, ACK
 * and NACK (`version_info`, nonce, `error_detail`), initialization held by static clusters and
 * listeners until their secrets arrive or `initial_fetch_timeout`, secrets kept across a broken
 * stream and a reconnect that re-sends the accepted version, `/certs` and the config dump.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DiscoveryRequest } from '../../src/sds/messages.js';
import { readSecret, type SecretResource } from '../../src/sds/secrets.js';
import { type SdsServer, type SdsStream, startSdsServer } from '../../src/sds/server.js';
import { type CertMaterial, makeCerts, writePlain } from '../../test/helpers/certs.js';
import { adminAddress, bootstrapYaml, Lab, request, type Sim, waitUntil } from './test-harness.js';

const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

let lab: Lab;
let a: CertMaterial;
let b: CertMaterial;
const servers: TestSdsServer[] = [];

beforeEach(() => {
  lab = new Lab();
  a = makeCerts(lab.dir, 'a');
  b = makeCerts(lab.dir, 'b');
  writePlain(lab.path('certs'), a);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await lab.cleanup();
});

interface SeenStream {
  stream: SdsStream;
  names: string[];
  requests: DiscoveryRequest[];
}

/** A test-only SDS server: secrets from `dir`'s cert files; answers first requests and pushes. */
class TestSdsServer {
  readonly streams: SeenStream[] = [];
  private version = 0;
  private server: SdsServer | undefined;

  constructor(
    readonly socketPath: string,
    private readonly dir: string,
  ) {}

  async start(): Promise<this> {
    this.server = await startSdsServer({ socketPath: this.socketPath, onStream: (s) => void this.serve(s) });
    return this;
  }

  private async serve(stream: SdsStream): Promise<void> {
    const seen: SeenStream = { stream, names: [], requests: [] };
    this.streams.push(seen);
    for await (const request of stream.requests) {
      seen.requests.push(request);
      if (request.responseNonce === '') {
        seen.names = request.resourceNames;
        await this.send(seen);
      }
    }
  }

  private async send(seen: SeenStream, override?: SecretResource): Promise<void> {
    const resources: SecretResource[] = [];
    for (const name of seen.names) {
      const reading = await readSecret(name, {
        certChain: join(this.dir, 'cert-chain.pem'),
        key: join(this.dir, 'key.pem'),
        rootCert: join(this.dir, 'root-cert.pem'),
      });
      if (reading.kind === 'ready') resources.push(override ?? reading.resource);
    }
    this.version += 1;
    seen.stream.send({
      versionInfo: `v${this.version}`,
      resources,
      typeUrl: SECRET_TYPE,
      nonce: `nonce-${this.version}`,
    });
  }

  /** Sends every stream watching `name` its current content as a new version. */
  async push(name: string, override?: SecretResource): Promise<void> {
    for (const seen of this.streams) if (seen.names.includes(name)) await this.send(seen, override);
  }

  stream(name: string): SeenStream | undefined {
    return [...this.streams].reverse().find((s) => s.names.includes(name));
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }
}

async function sdsServer(socketPath = lab.path('SDS')): Promise<TestSdsServer> {
  const server = await new TestSdsServer(socketPath, lab.path('certs')).start();
  servers.push(server);
  return server;
}

function secretConfig(name: string, timeout: string): string {
  return `{name: '${name}', sds_config: {initial_fetch_timeout: ${timeout}, resource_api_version: V3, api_config_source: {api_type: GRPC, transport_api_version: V3, set_node_on_first_message_only: true, grpc_services: [{envoy_grpc: {cluster_name: sds-grpc}}]}}}`;
}

function tlsContext(type: 'Upstream' | 'Downstream', timeout: string): string {
  return `{name: envoy.transport_sockets.tls, typed_config: {'@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.${type}TlsContext, common_tls_context: {tls_certificate_sds_secret_configs: [${secretConfig('default', timeout)}], combined_validation_context: {default_validation_context: {}, validation_context_sds_secret_config: ${secretConfig('ROOTCA', timeout)}}}}}`;
}

/** A bootstrap whose static cluster and/or listener take their TLS from SDS on `socket`. */
function sdsBootstrap(
  options: { socket?: string; cluster?: boolean; listener?: boolean; timeout?: string } = {},
): string {
  const socket = options.socket ?? lab.path('SDS');
  const timeout = options.timeout ?? '0s';
  const clusters = [
    `  - {name: sds-grpc, type: STATIC, connect_timeout: 1s, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {'@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {}}}}, load_assignment: {cluster_name: sds-grpc, endpoints: [{lb_endpoints: [{endpoint: {address: {pipe: {path: '${socket}'}}}}]}]}}`,
  ];
  if (options.cluster !== false) {
    clusters.push(
      `  - {name: outbound, type: STATIC, connect_timeout: 1s, load_assignment: {cluster_name: outbound, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 443}}}}]}]}, transport_socket: ${tlsContext('Upstream', timeout)}}`,
    );
  }
  const lines = ['static_resources:', '  clusters:', ...clusters];
  if (options.listener === true) {
    lines.push(
      '  listeners:',
      `  - {name: inbound, address: {socket_address: {address: 0.0.0.0, port_value: 15006}}, filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: inbound, cluster: outbound}}], transport_socket: ${tlsContext('Downstream', timeout)}}]}`,
    );
  }
  return bootstrapYaml({ extra: lines.join('\n') });
}

async function serve(yaml: string, env: Record<string, string> = {}): Promise<{ sim: Sim; admin: string }> {
  const config = lab.write('bootstrap.yaml', yaml);
  const sim = lab.spawn(
    ['-c', config, '--admin-address-path', lab.path('admin.addr'), '--disable-hot-restart'],
    env,
  );
  return { sim, admin: await adminAddress(lab) };
}

async function state(admin: string): Promise<string> {
  return (await request(admin, 'GET', '/ready')).body.trim();
}

function serial(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase();
}

interface CertDetails {
  path: string;
  serial_number: string;
  subject_alt_names: unknown[];
  days_until_expiration: string;
  valid_from: string;
  expiration_time: string;
}

async function certs(admin: string): Promise<{ ca_cert: CertDetails[]; cert_chain: CertDetails[] }[]> {
  return (JSON.parse((await request(admin, 'GET', '/certs')).body) as { certificates: never[] }).certificates;
}

interface DynamicSecret {
  '@type': string;
  name: string;
  version_info: string;
  last_updated: string;
  secret: Record<string, unknown>;
}

async function dumped(admin: string, resource: string): Promise<DynamicSecret[]> {
  const reply = await request(admin, 'GET', `/config_dump?resource=${resource}`);
  expect(reply.status).toBe(200);
  return (JSON.parse(reply.body) as { configs: DynamicSecret[] }).configs;
}

function sdsRecords(): Record<string, unknown>[] {
  return lab.records().filter((r) => r.event === 'sds');
}

describe('the simulated Envoy as an SDS client', () => {
  it('opens one stream per secret, node first, ACKs, and shows what it holds (never the key)', async () => {
    const server = await sdsServer();
    const { admin } = await serve(sdsBootstrap({ listener: true }));
    await waitUntil(async () => ((await state(admin)) === 'LIVE' ? true : undefined), 'LIVE');

    // One stream each for default and ROOTCA, shared by the cluster and the listener.
    expect(server.streams.map((s) => s.names).sort()).toEqual([['ROOTCA'], ['default']]);
    for (const seen of server.streams) {
      await waitUntil(() => (seen.requests.length >= 2 ? true : undefined), 'the ACK');
      const [first, ack] = seen.requests;
      expect(first).toMatchObject({
        versionInfo: '',
        node: { id: 'sidecar~10.0.0.1~app.default~default.svc.cluster.local', cluster: 'app.default' },
        resourceNames: seen.names,
        typeUrl: SECRET_TYPE,
        responseNonce: '',
      });
      expect(ack).toEqual({
        versionInfo: expect.stringMatching(/^v\d$/),
        resourceNames: seen.names,
        typeUrl: SECRET_TYPE,
        responseNonce: expect.stringMatching(/^nonce-\d$/),
      });
      expect(ack?.responseNonce).toBe(`nonce-${ack?.versionInfo.slice(1)}`);
    }

    const held = await certs(admin);
    expect(held).toHaveLength(2); // the cluster's context and the listener's
    expect(held[0]?.cert_chain.map((c) => c.serial_number)).toEqual([serial(a.chain)]);
    expect(held[0]?.ca_cert.map((c) => c.serial_number)).toEqual([serial(a.root)]);
    expect(held[0]?.cert_chain[0]).toMatchObject({
      path: '<inline>',
      days_until_expiration: '0',
      valid_from: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      expiration_time: new Date(new X509Certificate(a.chain).validTo).toISOString().replace('.000Z', 'Z'),
    });

    const active = await dumped(admin, 'dynamic_active_secrets');
    expect(active.map((s) => s.name).sort()).toEqual(['ROOTCA', 'default']);
    const def = active.find((s) => s.name === 'default');
    expect(def).toMatchObject({
      '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump.DynamicSecret',
      version_info: server.stream('default')?.requests[1]?.versionInfo,
      secret: {
        '@type': SECRET_TYPE,
        name: 'default',
        tls_certificate: {
          certificate_chain: { inline_bytes: Buffer.from(a.chain).toString('base64') },
          private_key: { inline_bytes: 'W3JlZGFjdGVkXQ==' },
        },
      },
    });
    expect(await dumped(admin, 'dynamic_warming_secrets')).toEqual([]);
    const keyBody = a.key.split('\n')[1] ?? '';
    for (const path of ['/config_dump', '/config_dump?resource=dynamic_active_secrets', '/certs']) {
      const body = (await request(admin, 'GET', path)).body;
      expect(body).not.toContain(Buffer.from(a.key).toString('base64').slice(0, 40));
      expect(body).not.toContain(keyBody);
    }

    const records = sdsRecords();
    expect(records.filter((r) => r.step === 'request')).toHaveLength(2);
    expect(records.filter((r) => r.step === 'ack').map((r) => r.names)).toEqual(
      expect.arrayContaining([['default'], ['ROOTCA']]),
    );
    expect(JSON.stringify(records)).not.toContain('PRIVATE');
    expect(JSON.stringify(records)).not.toContain(keyBody.slice(0, 20));
  });

  it('takes a pushed version in place: the new serial, an ACK of that version', async () => {
    const server = await sdsServer();
    const { admin } = await serve(sdsBootstrap());
    await waitUntil(async () => ((await state(admin)) === 'LIVE' ? true : undefined), 'LIVE');
    writePlain(lab.path('certs'), b);
    await server.push('default');
    await waitUntil(
      async () =>
        (await certs(admin))[0]?.cert_chain[0]?.serial_number === serial(b.chain) ? true : undefined,
      'the rotated certificate on /certs',
    );
    const seen = server.stream('default');
    await waitUntil(() => (seen?.requests.length === 3 ? true : undefined), 'the second ACK');
    expect(seen?.requests[2]).toEqual({
      versionInfo: seen?.requests[2]?.versionInfo,
      resourceNames: ['default'],
      typeUrl: SECRET_TYPE,
      responseNonce: `nonce-${seen?.requests[2]?.versionInfo.slice(1)}`,
    });
    expect(seen?.requests[2]?.versionInfo).not.toBe(seen?.requests[1]?.versionInfo);
  });

  it('NACKs on the fault switch: previous version, the nonce, an Envoy error; init completes, the secret stays warming', async () => {
    const server = await sdsServer();
    const { admin } = await serve(sdsBootstrap(), { ENVOY_SIM_SDS_NACK: 'default' });
    await waitUntil(async () => ((await state(admin)) === 'LIVE' ? true : undefined), 'LIVE');
    const seen = server.stream('default');
    await waitUntil(() => (seen?.requests.length === 2 ? true : undefined), 'the NACK');
    expect(seen?.requests[1]).toEqual({
      versionInfo: '',
      resourceNames: ['default'],
      typeUrl: SECRET_TYPE,
      responseNonce: expect.stringMatching(/^nonce-\d$/),
      errorDetail: {
        code: 13,
        message:
          'Failed to load private key from <inline>, Cause: error:0900006e:PEM routines:OPENSSL_internal:NO_START_LINE',
      },
    });
    expect((await dumped(admin, 'dynamic_warming_secrets')).map((s) => [s.name, s.version_info])).toEqual([
      ['default', 'uninitialized'],
    ]);
    expect((await dumped(admin, 'dynamic_active_secrets')).map((s) => s.name)).toEqual(['ROOTCA']);
    expect(await certs(admin)).toEqual([]);
    const nack = sdsRecords().find((r) => r.step === 'nack');
    expect(nack).toMatchObject({
      names: ['default'],
      version: '',
      error: expect.stringContaining('Failed to load private key'),
    });
    const stats = (await request(admin, 'GET', '/stats?filter=^sds\\.default\\.update_rejected')).body;
    expect(stats).toBe('sds.default.update_rejected: 1\n');
  });

  it('NACKs a secret whose key does not match its certificate, keeping the previous one', async () => {
    const server = await sdsServer();
    const { admin } = await serve(sdsBootstrap());
    await waitUntil(async () => ((await state(admin)) === 'LIVE' ? true : undefined), 'LIVE');
    const { encodeTlsCertificateSecret } = await import('../../src/sds/messages.js');
    const { SecretResource } = await import('../../src/sds/secrets.js');
    const mismatched = new SecretResource(
      'default',
      encodeTlsCertificateSecret('default', Buffer.from(a.chain), Buffer.from(b.key)),
    );
    await server.push('default', mismatched);
    const seen = server.stream('default');
    await waitUntil(() => (seen?.requests.length === 3 ? true : undefined), 'the NACK');
    expect(seen?.requests[2]?.errorDetail?.message).toBe(
      'Failed to load private key from <inline>, Cause: error:0b000074:X.509 certificate routines:OPENSSL_internal:KEY_VALUES_MISMATCH',
    );
    expect(seen?.requests[2]?.versionInfo).toBe(seen?.requests[1]?.versionInfo);
    expect((await certs(admin))[0]?.cert_chain[0]?.serial_number).toBe(serial(a.chain));
  });
});

describe('secrets Envoy cannot use', () => {
  it('NACKs an RSA leaf under 2048 bits, as Envoy outside FIPS does, keeping the previous one', async () => {
    const server = await sdsServer();
    const { admin } = await serve(sdsBootstrap());
    await waitUntil(async () => ((await state(admin)) === 'LIVE' ? true : undefined), 'LIVE');
    const weak = makeCerts(lab.dir, 'weak', { rsaBits: 1024 });
    const { encodeTlsCertificateSecret } = await import('../../src/sds/messages.js');
    const { SecretResource } = await import('../../src/sds/secrets.js');
    await server.push(
      'default',
      new SecretResource(
        'default',
        encodeTlsCertificateSecret('default', Buffer.from(weak.chain), Buffer.from(weak.key)),
      ),
    );
    const seen = server.stream('default');
    await waitUntil(() => (seen?.requests.length === 3 ? true : undefined), 'the NACK');
    expect(seen?.requests[2]?.errorDetail?.message).toBe(
      'Failed to load certificate chain from <inline>, only RSA certificates with 2048-bit or larger keys are supported',
    );
    expect((await certs(admin))[0]?.cert_chain[0]?.serial_number).toBe(serial(a.chain));
  });
});

describe('initialization waits for secrets as Envoy does', () => {
  it.each([
    ['cluster', {}, 'PRE_INITIALIZING'],
    ['listener', { cluster: false, listener: true }, 'INITIALIZING'],
  ] as const)('a static %s holds %s until its secrets arrive', async (_, shape, held) => {
    const { admin } = await serve(sdsBootstrap(shape));
    await waitUntil(
      () => (sdsRecords().some((r) => r.step === 'closed') ? true : undefined),
      'a refused stream',
    );
    expect(await state(admin)).toBe(held);
    await sdsServer();
    await waitUntil(
      async () => ((await state(admin)) === 'LIVE' ? true : undefined),
      'LIVE once the server answers',
    );
  });

  it('initial_fetch_timeout lets the server go LIVE without the secrets, which stay warming', async () => {
    const { admin } = await serve(sdsBootstrap({ timeout: '0.5s' }));
    await waitUntil(
      async () => ((await state(admin)) === 'LIVE' ? true : undefined),
      'LIVE after the timeout',
    );
    expect(
      (await dumped(admin, 'dynamic_warming_secrets')).map((s) => [s.name, s.version_info]).sort(),
    ).toEqual([
      ['ROOTCA', 'uninitialized'],
      ['default', 'uninitialized'],
    ]);
    expect(await certs(admin)).toEqual([]);
    expect(sdsRecords().filter((r) => r.step === 'init-fetch-timeout')).toHaveLength(2);
  });
});

describe('a broken stream', () => {
  it('keeps the secrets, reconnects, and re-sends the accepted version with the node', async () => {
    let server = await sdsServer();
    const { admin } = await serve(sdsBootstrap());
    await waitUntil(async () => ((await state(admin)) === 'LIVE' ? true : undefined), 'LIVE');
    const accepted = server.stream('default')?.requests[1]?.versionInfo;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await waitUntil(
      () => (sdsRecords().some((r) => r.step === 'closed') ? true : undefined),
      'the stream end seen',
    );
    expect((await certs(admin))[0]?.cert_chain[0]?.serial_number).toBe(serial(a.chain));
    expect(await state(admin)).toBe('LIVE');

    server = await sdsServer();
    const again = await waitUntil(() => server.stream('default'), 'a new stream');
    await waitUntil(() => (again.requests.length >= 1 ? true : undefined), 'its first request');
    expect(again.requests[0]).toMatchObject({
      versionInfo: accepted,
      node: { id: 'sidecar~10.0.0.1~app.default~default.svc.cluster.local' },
      responseNonce: '',
    });
  });
});

describe('/config_dump?resource=', () => {
  it('lists the elements of one repeated field with their own @type; an unknown field is 404', async () => {
    const { admin } = await serve(bootstrapYaml());
    expect(JSON.parse((await request(admin, 'GET', '/config_dump?resource=static_clusters')).body)).toEqual({
      configs: [],
    });
    expect(
      JSON.parse((await request(admin, 'GET', '/config_dump?resource=dynamic_active_secrets')).body),
    ).toEqual({
      configs: [],
    });
    const unknown = await request(admin, 'GET', '/config_dump?resource=dynamic_nothing');
    expect([unknown.status, unknown.body]).toEqual([404, 'dynamic_nothing not found in config dump']);
    // The secrets section is there without SDS too: the secret manager always registers it.
    const dump = JSON.parse((await request(admin, 'GET', '/config_dump')).body) as {
      configs: { '@type': string }[];
    };
    expect(dump.configs.map((c) => c['@type'])).toEqual([
      'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
      'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
    ]);
  });
});

describe('configuration errors', () => {
  it('an sds_config on a cluster that does not exist stops Envoy at start-up', async () => {
    const yaml = sdsBootstrap().replace(
      'envoy_grpc: {cluster_name: sds-grpc}}]}}}], combined',
      'envoy_grpc: {cluster_name: nope}}]}}}], combined',
    );
    const config = lab.write('bootstrap.yaml', yaml);
    const sim = lab.spawn(['-c', config, '--disable-hot-restart']);
    expect((await sim.waitForExit()).code).toBe(1);
    expect(sim.stderr).toContain(
      "envoy.config.core.v3.ApiConfigSource must have a statically defined non-EDS cluster: 'nope' does not exist, was added via api, or is an EDS cluster",
    );
  });

  it('ENVOY_SIM_SDS_NACK must name secrets', async () => {
    const config = lab.write('bootstrap.yaml', bootstrapYaml());
    const sim = lab.spawn(['-c', config], { ENVOY_SIM_SDS_NACK: 'a,,b' });
    expect((await sim.waitForExit()).code).toBe(2);
    expect(sim.stderr).toContain(
      "ENVOY_SIM_SDS_NACK='a,,b' must be 1, all, 0 or a comma-separated list of secret names",
    );
  });
});
