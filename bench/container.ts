/**
 * The container image (built from the real Dockerfile as `npm run test:container` builds it), run
 * as a pod runs it, against the same run's bare agent on the host:
 * - start → first `/healthz/ready` 200: `podman run` against spawning `bin/pilot-agent.js`;
 * - stop → exit: `podman stop -t 30` (SIGTERM to tini, the agent drains, stops Envoy, exits)
 *   against SIGTERM to the bare agent; target ≤ the termination drain + 1 s.
 * Both run the image's Node and the same bundled simulator, with the same flags and environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startAgent } from '../test/helpers/agent-process.js';
import {
  type BuiltImages,
  buildImages,
  removeImages,
  SIDECAR_DRAIN_S,
  type Sidecar,
  startSidecar,
} from '../test/helpers/container.js';
import { waitUntil } from '../test/helpers/wait.js';
import { median, percentile, round, runIfMain } from './common.js';
import type { BenchSection } from './types.js';

const RUNS = 10;

interface Sample {
  /** From `podman run` (host: from spawning the agent) to readiness 200. */
  startToReady: number;
  /** From the container's process start (podman's StartedAt) to readiness 200; host: as above. */
  processToReady: number;
  /** From `podman stop` (host: SIGTERM) to the container's exit (podman's FinishedAt). */
  stopToExit: number;
  /** From `podman stop` to its return (the container exited and was cleaned up). */
  stopReturned: number;
}

/** A container's State time (StartedAt, FinishedAt) in ms since the epoch. */
async function stateTime(s: Sidecar, field: 'StartedAt' | 'FinishedAt'): Promise<number> {
  return Number(BigInt(await s.container.inspect(`{{.State.${field}.UnixNano}}`)) / 1000n) / 1000;
}

async function inContainer(images: BuiltImages, work: string): Promise<Sample> {
  const s = await startSidecar({ image: images.sidecar, runId: images.runId, work });
  try {
    await s.waitReady(2);
    const startToReady = performance.now() - s.t0;
    const readyAt = Date.now();
    const processToReady = readyAt - (await stateTime(s, 'StartedAt'));
    const t1 = performance.now();
    const wall1 = Date.now();
    const stop = await s.container.stop(30);
    const stopReturned = performance.now() - t1;
    const code = await s.container.inspect('{{.State.ExitCode}}');
    if (stop.code !== 0 || code !== '0') throw new Error(`podman stop: ${stop.code}, container exit ${code}`);
    const stopToExit = (await stateTime(s, 'FinishedAt')) - wall1;
    return { startToReady, processToReady, stopToExit, stopReturned };
  } finally {
    await s.container.remove();
  }
}

async function onHost(images: BuiltImages): Promise<Sample> {
  const node = images.node ?? process.execPath;
  const t0 = performance.now();
  const run = await startAgent({
    node,
    binaryPath: images.simulator,
    // The simulator's #! line finds `node` on PATH: the image's Node, as in the container.
    env: {
      PATH: `${dirname(node)}:${process.env.PATH ?? ''}`,
      TERMINATION_DRAIN_DURATION_SECONDS: String(SIDECAR_DRAIN_S),
    },
  });
  try {
    await waitUntil(async () => (await run.ready()) === 200, 'readiness 200', {
      timeoutMs: 30_000,
      intervalMs: 2,
    });
    const startToReady = performance.now() - t0;
    const t1 = performance.now();
    run.signal('SIGTERM');
    const exit = await run.exited;
    const stopToExit = performance.now() - t1;
    if (exit.code !== 0) throw new Error(`bare agent exited ${exit.code ?? exit.signal}`);
    return { startToReady, processToReady: startToReady, stopToExit, stopReturned: stopToExit };
  } finally {
    await run.stop();
  }
}

export async function run(): Promise<BenchSection> {
  const images = await buildImages({ log: (line) => process.stderr.write(`[container images] ${line}\n`) });
  const work = mkdtempSync(join(tmpdir(), 'pilot-agent-bench-container-'));
  const container: Sample[] = [];
  const host: Sample[] = [];
  try {
    // Alternated, so a busy moment of the machine falls on both.
    for (let i = 0; i < RUNS; i++) {
      container.push(await inContainer(images, work));
      host.push(await onHost(images));
    }
  } finally {
    await removeImages(images);
    rmSync(work, { recursive: true, force: true });
  }
  const p50 = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]));
  const p90 = (xs: Sample[], k: keyof Sample) =>
    percentile(
      xs.map((x) => x[k]),
      90,
    );
  const drainMs = SIDECAR_DRAIN_S * 1000;
  const stopWorst = Math.max(...container.map((x) => x.stopToExit));
  const row = (measure: string, k: keyof Sample) => ({
    measure,
    p50: round(p50(container, k)),
    p90: round(p90(container, k)),
    baseline: `bare agent ${round(p50(host, k))} ms`,
    ratio: round(p50(container, k) / p50(host, k), 2),
  });
  const added = (images.sizes.agent - images.sizes.base) / 1e6;
  return {
    title: 'Container: start → ready and stop → exit, against the bare agent',
    method:
      `${RUNS} runs each, alternated, of \`proxy sidecar\` in the image built from the Dockerfile (default target, ` +
      'the bundled simulator as Envoy; stand-in base built from Debian packages and Node ' +
      `${images.node ? 'from npm' : 'of the real base image'}) with podman \`--read-only --cap-drop ALL --network host\` ` +
      '(runc), and of the bare agent on the host run by the same Node with the same simulator, flags and ' +
      'environment. Start: from `podman run -d` (host: spawning bin/pilot-agent.js), and from the ' +
      "container's process start (podman's `State.StartedAt`), to the first 200 of `/healthz/ready`, polled " +
      "every 2 ms from the host. Stop: from `podman stop -t 30` to the container's exit (`State.FinishedAt`, " +
      'exit code 0) and to the command returning (host: SIGTERM → exit 0); ' +
      `TERMINATION_DRAIN_DURATION_SECONDS=${SIDECAR_DRAIN_S}. ` +
      `Image: the agent target adds ${round(added)} MB to its ${round(images.sizes.base / 1e6, 1)} MB base.`,
    rows: [
      row('`podman run` → readiness 200 (ms)', 'startToReady'),
      row('container process started → readiness 200 (ms)', 'processToReady'),
      row(`\`podman stop\` → container exited (ms), drain ${SIDECAR_DRAIN_S} s`, 'stopToExit'),
      row('`podman stop` → command returned (ms)', 'stopReturned'),
    ],
    targets: [
      {
        name: 'podman stop → container exited, worst (ms)',
        value: round(stopWorst),
        target: `≤ drain + 1 s = ${drainMs + 1000} ms`,
        pass: stopWorst <= drainMs + 1000,
      },
      { name: 'image added to its base (MB)', value: round(added), target: '≤ 20 MB', pass: added <= 20 },
    ],
  };
}

runIfMain(import.meta.url, run);
