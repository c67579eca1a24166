/**
 * `/debug/machines` and `/debug/events` on a real agent (the CLI against the Envoy simulator),
 * seen from outside. The run carries key material on purpose: real certificate files (made by
 * openssl), a PEM in an `ISTIO_META_*` variable, and a bootstrap override with an inline private
 * key — which reaches the lifecycle's context and the Envoy epoch actors' input as Envoy's
 * `--config-yaml` argument. None of it may appear in anything the endpoints send, while the
 * report still says which Envoy runs with which pid and role.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ActorReport, DebugMessage, MachinesReport } from '../../src/debug/source.js';
import type { AgentRun } from '../helpers/agent-process.js';
import { type CertMaterial, makeCerts, writePlain } from '../helpers/certs.js';
import { agent, cleanup, KEY_MATERIAL, openSse } from './helpers.js';

let work: string;
let material: CertMaterial;
let rotated: CertMaterial;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pilot-agent-debug-'));
  material = makeCerts(work, 'debug');
  rotated = makeCerts(work, 'rotated');
});
afterEach(cleanup);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const indent = (text: string, n: number) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

/** An agent whose environment, files and Envoy argv all hold a private key. */
function agentWithSecrets(): Promise<AgentRun> {
  return agent({
    env: { ISTIO_META_SOMETHING: material.key, ISTIO_BOOTSTRAP_OVERRIDE: 'override.yaml' },
    prepare: ({ dir, certDir }) => {
      writePlain(certDir, material);
      writeFileSync(
        join(dir, 'override.yaml'),
        [
          'static_resources:',
          '  secrets:',
          '  - name: inline-credential',
          '    tls_certificate:',
          '      certificate_chain:',
          '        inline_string: |',
          indent(material.chain, 10),
          '      private_key:',
          '        inline_string: |',
          indent(material.key, 10),
          '',
        ].join('\n'),
      );
    },
  });
}

/** Every line of the key's base64 body: none may appear anywhere. */
const keyLines = () => material.key.split('\n').filter((l) => l && !l.startsWith('-----'));

describe('debug endpoints of a running agent', () => {
  it('/debug/machines: every actor, the lifecycle with each Envoy pid and role, and no key material', async () => {
    const run = await agentWithSecrets();
    await run.waitReady();
    const res = await run.get('/debug/machines');
    expect(res.status).toBe(200);
    const report = JSON.parse(res.body) as MachinesReport;
    const byPath = new Map(report.actors.map((a) => [a.path, a]));
    expect(byPath.get('agent')).toMatchObject({
      machine: 'agent',
      state: 'active.running',
      status: 'active',
    });
    expect(byPath.get('agent/certs')).toMatchObject({
      machine: 'certs',
      state: 'watching',
      systemId: 'certs',
    });
    const lifecycle = byPath.get('agent/lifecycle') as ActorReport;
    expect(lifecycle).toMatchObject({
      machine: 'envoy',
      state: 'ready',
      tags: ['ready'],
      systemId: 'lifecycle',
    });
    const pid = run.starts()[0]?.pid;
    expect(lifecycle.envoy).toEqual({
      epoch: 0,
      processes: [{ actor: 'envoy-1', seq: 1, epoch: 0, pid, role: 'current' }],
    });
    const epochActor = byPath.get('agent/lifecycle/envoy-1');
    expect(epochActor).toMatchObject({ kind: 'actor', src: 'envoyEpoch', status: 'active' });
    // The override did reach Envoy's argv, and so the context and the epoch actor's input...
    expect(run.starts()[0]?.argv).toContain('--config-yaml');
    const args = (epochActor?.input as { args?: string[] } | undefined)?.args ?? [];
    expect(args[args.indexOf('--config-yaml') + 1]).toBe('[redacted]');
    // ...but no byte of the key or certificates left the agent.
    expect(res.body).not.toMatch(KEY_MATERIAL);
    for (const line of keyLines()) expect(res.body).not.toContain(line);
  });

  it('/debug/events: a certificate rotation and hot restart stream by without key material', async () => {
    const run = await agentWithSecrets();
    await run.waitReady();
    const stream = await openSse(`http://127.0.0.1:${run.statusPort}/debug/events`);
    await stream.waitFor((m) => m.some((x) => (x as DebugMessage).kind === 'machines'), 'the current state');
    writePlain(run.certDir, rotated);
    const lifecycleAt = (state: string, epoch: number) => (m: unknown[]) =>
      m.some((x) => {
        const msg = x as DebugMessage;
        return (
          msg.kind === 'snapshot' &&
          msg.actor.machine === 'envoy' &&
          msg.actor.state === state &&
          msg.actor.envoy?.epoch === epoch
        );
      });
    await stream.waitFor(lifecycleAt('hotRestarting.handover', 0), 'the hot restart', 20_000);
    await stream.waitFor(lifecycleAt('ready', 1), 'epoch 1 ready', 20_000);
    const snapshots = stream
      .messages()
      .flatMap((x) =>
        (x as DebugMessage).kind === 'snapshot' ? [x as DebugMessage & { kind: 'snapshot' }] : [],
      );
    const certStates = snapshots.filter((m) => m.actor.machine === 'certs').map((m) => m.actor.state);
    expect(certStates).toEqual(expect.arrayContaining(['settling', 'checking', 'watching']));
    expect(snapshots.some((m) => m.event?.type === 'CERTS.CHANGED' || m.event?.type === 'HOT_RESTART')).toBe(
      true,
    );
    expect(stream.raw()).not.toMatch(KEY_MATERIAL);
    for (const line of keyLines()) expect(stream.raw()).not.toContain(line);
  });
});
