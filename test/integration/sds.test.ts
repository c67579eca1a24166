/**
 * SDS mode through the real CLI against the Envoy simulator, with real certificates made by
 * openssl: rotations pushed in place, NACKs, torn and missing files, Envoy restarted and
 * hot-restarted, the agent killed and restarted, and clients on the socket that never answer or
 * come and go. Observed from outside: what the simulated Envoy holds (`/certs`), its SDS requests,
 * ACKs and NACKs (record file), readiness sampled every 25 ms, the agent's log, metrics and
 * `/debug`, its open file descriptors, and raw gRPC clients of the socket.
 *
 * Every run uses `--controlPlaneAuthPolicy MUTUAL_TLS`: the bootstrap's xds-grpc cluster then takes
 * `default` and `ROOTCA` from the agent, so Envoy opens its two SDS streams at start (the secrets of
 * the mesh's own listeners and clusters would come the same way, named by the control plane).
 */
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGetStream } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AgentRun, alive, httpGet, ROOT, sampleReadiness } from '../helpers/agent-process.js';
import { agentsStoppedAfterEach } from '../helpers/agents.js';
import { certFixture } from '../helpers/cert-fixture.js';
import {
  CERT_FILES,
  type CertMaterial,
  heldSerial,
  makeCerts,
  serial,
  writePlain,
  writeSecretVolume,
} from '../helpers/certs.js';
import {
  DISCOVERY_REQUEST,
  decodeProto,
  decodeResponse,
  encodeProto,
  openStream,
  SECRET,
  SECRET_TYPE,
  sdsClient,
} from '../helpers/sds.js';
import { waitUntil } from '../helpers/wait.js';

const { cert, dir } = certFixture('pilot-agent-sds-');
/** A pair the agent accepts (PEM, matching key, valid dates) and Envoy refuses (RSA under 2048 bits). */
let weak: CertMaterial;
beforeAll(() => {
  weak = makeCerts(dir(), 'weak', { rsaBits: 1024 });
});

const agent = agentsStoppedAfterEach();

const SDS_ARGS = ['--certDelivery', 'sds', '--controlPlaneAuthPolicy', 'MUTUAL_TLS'];
/** The default socket, `./etc/istio/proxy/SDS` under the agent's working directory. */
const socketOf = (run: AgentRun): string => join(run.dir, 'etc/istio/proxy/SDS');
const waitHeld = (run: AgentRun, m: CertMaterial, timeoutMs = 10_000) =>
  waitUntil(async () => (await heldSerial(run)) === serial(m), `Envoy holds ${serial(m)}`, { timeoutMs });

const sdsRecords = (run: AgentRun, step?: string) =>
  run.records().filter((r) => r.event === 'sds' && (step === undefined || r.step === step));

/** Lines of the agent's log matching `pattern`. */
const logLines = (run: AgentRun, pattern: RegExp) => run.lines.filter((l) => pattern.test(l));

/** The base64 lines of a PEM private key: any of them showing up anywhere is a leak. */
const keyLines = (m: CertMaterial): string[] =>
  m.key.split('\n').filter((l) => l.length >= 32 && !l.startsWith('-----'));

function expectNoKeyMaterial(text: string, ...materials: CertMaterial[]): void {
  expect(text).not.toContain('PRIVATE KEY');
  for (const m of materials) for (const line of keyLines(m)) expect(text).not.toContain(line);
}

/** Collects a server-sent event stream until stopped. */
function collectEvents(port: number, path: string) {
  let text = '';
  const req = httpGetStream({ host: '127.0.0.1', port, path, agent: false }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
    });
  });
  req.on('error', () => {});
  return {
    text: () => text,
    stop: () => req.destroy(),
  };
}

async function metric(run: AgentRun, name: string): Promise<number | undefined> {
  const body = (await run.get('/stats/prometheus')).body;
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('SDS mode: rotations reach Envoy in place', () => {
  it('a secret-volume swap: the new serial in Envoy, readiness 200 throughout, one Envoy process, nothing secret shown', async () => {
    const run = await agent({
      args: SDS_ARGS,
      prepare: ({ certDir }) => writeSecretVolume(certDir, cert(0)),
    });
    await run.waitReady();
    await waitHeld(run, cert(0));
    const socket = lstatSync(socketOf(run));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    const feed = collectEvents(run.statusPort, '/debug/events');

    const sampler = sampleReadiness(run, 25);
    writeSecretVolume(run.certDir, cert(1));
    await waitHeld(run, cert(1));
    const samples = await sampler.stop();

    expect(samples.length).toBeGreaterThan(5);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    // In place: one serving Envoy process all along, no hot restart, no validation run.
    expect(run.starts()).toHaveLength(1);
    expect(run.envoyPids()).toHaveLength(1);
    expect(run.validations()).toEqual([]);
    // Envoy asked for each secret once, on its own stream, and ACKed each push.
    expect(sdsRecords(run, 'request').map((r) => r.names)).toEqual(
      expect.arrayContaining([['default'], ['ROOTCA']]),
    );
    expect(sdsRecords(run, 'request')).toHaveLength(2);
    await waitUntil(() => sdsRecords(run, 'ack').length === 4, 'four ACKs');
    // Envoy records an ACK as it sends it; the agent logs it once received.
    await waitUntil(() => logLines(run, /Envoy applied default/).length >= 2, 'the agent logging both ACKs');
    expect(logLines(run, /Envoy applied default/)).toHaveLength(2);
    expect(await metric(run, 'pilot_agent_sds_streams')).toBe(2);
    expect(await metric(run, 'pilot_agent_sds_acks_total')).toBe(4);
    expect(await metric(run, 'pilot_agent_sds_nacks_total')).toBe(0);

    // /debug/machines shows the stream actors with names, versions and hashes, never bytes.
    const machines = (await run.get('/debug/machines')).body;
    const report = JSON.parse(machines) as {
      actors: { id: string; machine?: string; state?: string; context?: Record<string, unknown> }[];
    };
    const streams = report.actors.filter((a) => a.machine === 'sdsStream');
    expect(streams.map((a) => a.id).sort()).toEqual(['sds-1', 'sds-2']);
    const defaultStream = streams.find((a) =>
      (a.context?.names as string[] | undefined)?.includes('default'),
    );
    expect(defaultStream?.state).toBe('idle');
    expect(Object.keys(defaultStream?.context?.accepted as object)).toEqual(['default']);
    await waitUntil(() => feed.text().includes('sds-1'), 'the debug feed shows the stream actors');
    feed.stop();
    for (const text of [machines, feed.text(), run.lines.join('\n')])
      expectNoKeyMaterial(text, cert(0), cert(1));
  });

  it('a NACK keeps the previous certificate in Envoy, is logged once with its error, and that content is never resent', async () => {
    const run = await agent({
      args: SDS_ARGS,
      prepare: ({ certDir }) => writeSecretVolume(certDir, cert(0)),
    });
    await run.waitReady();
    await waitHeld(run, cert(0));

    writeSecretVolume(run.certDir, weak);
    await run.waitLog(/Envoy rejected default/);
    expect(await heldSerial(run)).toBe(serial(cert(0)));
    expect(logLines(run, /Envoy rejected default/)).toEqual([
      expect.stringContaining(
        'Failed to load certificate chain from <inline>, only RSA certificates with 2048-bit or larger keys are supported',
      ),
    ]);
    expect((await run.get('/healthz/ready')).status).toBe(200);

    // New content for ROOTCA only: the default stream reads again and finds the rejected content.
    writeSecretVolume(run.certDir, { ...weak, root: cert(2).root });
    await waitUntil(
      () => sdsRecords(run, 'ack').filter((r) => (r.names as string[])[0] === 'ROOTCA').length === 2,
      'the new ROOTCA applied',
    );
    // New content for default: sent (one response in flight, so a resend of the rejected
    // content would have been answered before this one).
    writeSecretVolume(run.certDir, cert(3));
    await waitHeld(run, cert(3));
    expect(sdsRecords(run, 'nack')).toHaveLength(1);
    expect(logLines(run, /Envoy rejected/)).toHaveLength(1);
    expect(await metric(run, 'pilot_agent_sds_nacks_total')).toBe(1);
    expectNoKeyMaterial(run.lines.join('\n'), cert(0), weak, cert(3));
  });

  it('files missing at start: Envoy is started at once and waits, the secrets withheld until the files appear', async () => {
    const run = await agent({ args: SDS_ARGS });
    await run.waitLog(/withholding secret default from Envoy: missing /);
    await run.waitLog(/withholding secret ROOTCA from Envoy: missing /);
    expect(run.starts()).toHaveLength(1);
    const answer = await run.get('/healthz/ready');
    expect(answer.status).toBe(503);
    expect(logLines(run, /waiting for certificate files/)).toEqual([]);

    writePlain(run.certDir, cert(0));
    await waitHeld(run, cert(0));
    await run.waitReady();
    expect(run.starts()).toHaveLength(1);
  });
});

describe('SDS mode: Envoy and the agent come and go', () => {
  it('a crashed Envoy and a hot-restarted one get every secret on their new streams; a torn pair is withheld from them until completed', async () => {
    const run = await agent({ args: SDS_ARGS, prepare: ({ certDir }) => writePlain(certDir, cert(0)) });
    await run.waitReady();
    await waitHeld(run, cert(0));
    const pidOf = (r: { pid: number }) => r.pid;
    const acked = (pid: number) =>
      sdsRecords(run, 'ack')
        .filter((r) => r.pid === pid)
        .map((r) => (r.names as string[])[0])
        .sort();

    // Crash: a fresh epoch 0 asks for both secrets again and holds them.
    const first = run.starts()[0]?.pid ?? 0;
    process.kill(first, 'SIGKILL');
    await waitUntil(() => run.starts().length === 2, 'Envoy restarted');
    const second = pidOf(run.starts()[1] ?? { pid: 0 });
    await waitUntil(() => acked(second).length === 2, 'the restarted Envoy applied both secrets');
    expect(acked(second)).toEqual(['ROOTCA', 'default']);
    await run.waitReady();
    await waitHeld(run, cert(0));

    // SIGHUP: epoch 1 opens its own streams and gets both secrets before it takes over.
    run.signal('SIGHUP');
    await run.waitStart(1);
    const third = pidOf(run.starts().find((s) => s.epoch === 1) ?? { pid: 0 });
    await waitUntil(() => acked(third).length === 2, 'epoch 1 applied both secrets');
    await run.waitLog(/hot restart complete: epoch 1 serves/, 15_000);

    // A torn rotation is not pushed: Envoy keeps the whole pair it has.
    writeFileSync(join(run.certDir, CERT_FILES.chain), cert(1).chain);
    await run.waitLog(/certificate rotation incomplete/);
    expect(await heldSerial(run)).toBe(serial(cert(0)));
    // An Envoy started now gets nothing for the torn pair, and waits.
    process.kill(third, 'SIGKILL');
    await run.waitLog(/withholding secret default from Envoy: .*does not match the leaf certificate/);
    expect((await run.get('/healthz/ready')).status).toBe(503);
    // The rest of the rotation arrives: the whole new pair is pushed.
    writeFileSync(join(run.certDir, CERT_FILES.key), cert(1).key);
    await waitHeld(run, cert(1));
    await run.waitReady();
    expect(logLines(run, /withholding secret ROOTCA/)).toEqual([]);
  });

  it('a live socket is never taken over (exit 1, one line); the agent killed and restarted replaces its stale socket', async () => {
    const first = await agent({ args: SDS_ARGS, prepare: ({ certDir }) => writePlain(certDir, cert(0)) });
    await first.waitReady();

    const intruder = await agent({ args: SDS_ARGS, dir: first.dir });
    expect((await intruder.exited).code).toBe(1);
    const line = `cannot serve SDS: SDS socket ${socketOf(first)} is served by another process`;
    expect(intruder.lines.filter((l) => l === line)).toHaveLength(1);
    await waitHeld(first, cert(0));

    const envoy = first.starts()[0]?.pid ?? 0;
    first.proc.kill('SIGKILL');
    await first.exited;
    // Envoy goes with its agent (parent-death signal); the socket file stays behind.
    await waitUntil(() => !alive(envoy), 'Envoy gone with its agent');
    expect(lstatSync(socketOf(first)).isSocket()).toBe(true);

    const again = await agent({ args: SDS_ARGS, dir: first.dir });
    await again.waitReady();
    await waitHeld(again, cert(0));
    expect(again.lines.some((l) => l.includes(`SDS server listening on ${socketOf(first)}`))).toBe(true);
    again.signal('SIGTERM');
    expect((await again.exited).code).toBe(0);
    expect(existsSync(socketOf(first))).toBe(false);
  });
});

describe('SDS mode: other clients on the socket', () => {
  it('a client that never ACKs gets one response in flight, however many rotations; its answer releases the newest', async () => {
    const run = await agent({
      args: SDS_ARGS,
      prepare: ({ certDir }) => writeSecretVolume(certDir, cert(0)),
    });
    await run.waitReady();
    const client = sdsClient(socketOf(run));
    try {
      const call = openStream(client);
      const received: Buffer[] = [];
      call.on('data', (b: Buffer) => received.push(b));
      const request = (fields: Record<string, unknown>) =>
        call.write(
          encodeProto(DISCOVERY_REQUEST, { resource_names: ['default'], type_url: SECRET_TYPE, ...fields }),
        );
      request({ node: { id: 'sidecar~127.0.0.1~raw.default~default.svc.cluster.local' } });
      await waitUntil(() => received.length === 1, 'the first response');

      for (const i of [1, 2, 3]) {
        writeSecretVolume(run.certDir, cert(i));
        await waitHeld(run, cert(i));
      }
      expect(received).toHaveLength(1);

      const first = decodeResponse(received[0] as Buffer);
      request({ version_info: first.version_info, response_nonce: first.nonce });
      await waitUntil(() => received.length === 2, 'the pending push');
      const second = decodeResponse(received[1] as Buffer);
      const secret = decodeProto(SECRET, second.resources?.[0]?.value ?? Buffer.alloc(0)) as {
        tls_certificate?: { certificate_chain?: { inline_bytes?: Buffer } };
      };
      expect(secret.tls_certificate?.certificate_chain?.inline_bytes?.toString()).toBe(cert(3).chain);
      // Envoy holds the same content, under the same version.
      const envoyAck = sdsRecords(run, 'ack')
        .filter((r) => (r.names as string[])[0] === 'default')
        .at(-1);
      expect(second.version_info).toBe(envoyAck?.version);
      call.cancel();
    } finally {
      client.close();
    }
  });

  it('100 clients opening and closing streams leave no file descriptor and no stream behind', async () => {
    const run = await agent({ args: SDS_ARGS, prepare: ({ certDir }) => writePlain(certDir, cert(0)) });
    await run.waitReady();
    await waitHeld(run, cert(0));
    const pid = run.proc.pid ?? 0;
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const before = fds();

    const one = async (): Promise<void> => {
      const client = sdsClient(socketOf(run));
      try {
        const call = openStream(client);
        const answered = new Promise<void>((resolve) => call.once('data', () => resolve()));
        call.write(
          encodeProto(DISCOVERY_REQUEST, {
            node: { id: 'n' },
            resource_names: ['ROOTCA'],
            type_url: SECRET_TYPE,
          }),
        );
        await answered;
        call.cancel();
      } finally {
        client.close();
      }
    };
    for (let batch = 0; batch < 5; batch++) await Promise.all(Array.from({ length: 20 }, one));

    await waitUntil(() => fds() <= before, `the agent's descriptors back to ${before}`, {
      timeoutMs: 10_000,
    });
    await waitUntil(
      async () => (await metric(run, 'pilot_agent_sds_streams')) === 2,
      "only Envoy's two streams left",
    );
    expect(await metric(run, 'pilot_agent_sds_pushes_total')).toBe(102);
    const machines = JSON.parse((await run.get('/debug/machines')).body) as {
      actors: { machine?: string }[];
    };
    expect(machines.actors.filter((a) => a.machine === 'sdsStream')).toHaveLength(2);
  });
});

describe('SDS code is loaded only in SDS mode', () => {
  it('an install without dist/pilot-agent-sds.mjs runs hot-restart mode; SDS mode then says what is missing', async () => {
    const install = mkdtempSync(join(tmpdir(), 'pilot-agent-nosds-'));
    try {
      for (const file of ['package.json', 'bin/pilot-agent.js', 'dist/pilot-agent.mjs']) {
        mkdirSync(join(install, file, '..'), { recursive: true });
        copyFileSync(join(ROOT, file), join(install, file));
      }
      const bin = join(install, 'bin/pilot-agent.js');
      const hotRestart = await agent({
        bin,
        args: ['--controlPlaneAuthPolicy', 'MUTUAL_TLS'],
        prepare: ({ certDir }) => writePlain(certDir, cert(0)),
      });
      await hotRestart.waitReady();
      expect(existsSync(socketOf(hotRestart))).toBe(false);
      expect((await httpGet(hotRestart.adminPort, '/certs')).status).toBe(200);

      const sds = await agent({ bin, args: SDS_ARGS });
      expect((await sds.exited).code).toBe(70);
      expect(
        sds.lines.some(
          (l) => l.startsWith('SDS mode cannot load its code:') && l.includes('pilot-agent-sds.mjs'),
        ),
      ).toBe(true);
      expect(sds.starts()).toEqual([]);
    } finally {
      rmSync(install, { recursive: true, force: true });
    }
  });
});
