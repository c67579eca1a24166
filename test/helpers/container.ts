/**
 * The real `Dockerfile`, built and run with podman on a machine that reaches no container registry:
 *
 * - the base image the Dockerfile names (`FROM node:<major>-<suite>-slim`) is stood in for by a
 *   Debian root filesystem (`mmdebstrap --variant=minbase <suite>`) plus Node `<major>` (the npm
 *   package `node@<major>` ships the binary; `npm` is itself an npm package), tagged with that exact
 *   name. An image of that name that this harness did not make is used as it is;
 * - the Envoy image is stood in for by an image holding the Envoy simulator, bundled into one file
 *   that the image's own Node runs, at `/usr/local/bin/envoy`;
 * - both targets of the Dockerfile are built with `--pull=never`: `sidecar` (agent + Envoy) and
 *   `agent` (no Envoy).
 *
 * The expensive part, the base root filesystem, is cached as a tarball in `.cache/container/`
 * (delete it to rebuild), beside the last build logs. Everything else is labelled with this run's id and removed by
 * `removeImages()`: images (intermediate build layers included) and containers.
 *
 * Podman runs as root with the flags this kind of machine needs (PODMAN_FLAGS). One run at a time:
 * a lock file in the cache directory refuses a second one.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { alive, freePort, httpGet, ROOT, type SimRecord } from './agent-process.js';
import { waitUntil } from './wait.js';

/** The label every image and container of one run carries; its value is the run id. */
export const RUN_LABEL = 'pilot-agent.test.run';

/**
 * For `podman run` and `podman build` here: crun fails on this kind of host ("cgroups in hybrid
 * mode not supported"), the default bridge network fails (netavark), and podman's default ulimits
 * exceed the host's hard limits (setrlimit EPERM). No core files from crashing test processes.
 */
export const PODMAN_FLAGS = [
  '--runtime',
  'runc',
  '--network',
  'host',
  '--ulimit',
  'nofile=20000:20000',
  '--ulimit',
  'nproc=32768:32768',
  '--ulimit',
  'core=0:0',
];

export const CACHE_DIR = join(ROOT, '.cache/container');

/** Debian packages the harness runs on the host (podman's runtime and the base image builder). */
const HOST_TOOLS: Record<string, string> = {
  podman: 'podman',
  runc: 'runc',
  mmdebstrap: 'mmdebstrap',
  newuidmap: 'uidmap',
  openssl: 'openssl',
};

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws for a non-zero exit (the caller decides). */
export function run(cmd: string, args: string[], timeoutMs = 600_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? err.message : '') });
    });
  });
}

export function podman(args: string[], timeoutMs?: number): Promise<CommandResult> {
  return run('podman', args, timeoutMs);
}

/** Runs a command, failing with its last output lines; long outputs go to `logFile`. */
async function must(cmd: string, args: string[], logFile?: string): Promise<string> {
  if (logFile === undefined) {
    const r = await run(cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }
  const code = await new Promise<number>((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', () => resolve(127));
    child.on('close', (c) => {
      writeFileSync(logFile, Buffer.concat(chunks));
      resolve(c ?? 1);
    });
  });
  if (code !== 0) {
    const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited ${code} (log: ${logFile}):\n${tail}`);
  }
  return '';
}

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

/** Installs the host tools that are missing (apt-get); the harness needs root for podman. */
export async function ensureHostTools(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('the container suite runs rootful podman: run it as root');
  }
  const missing = [...new Set(Object.entries(HOST_TOOLS).flatMap(([cmd, pkg]) => (has(cmd) ? [] : [pkg])))];
  if (missing.length === 0) return;
  if (!has('apt-get')) throw new Error(`missing ${missing.join(', ')} and no apt-get to install them`);
  await must('apt-get', ['update', '-qq']);
  await must('env', [
    'DEBIAN_FRONTEND=noninteractive',
    'apt-get',
    'install',
    '-y',
    '-qq',
    '--no-install-recommends',
    ...missing,
  ]);
}

/** The one base image the Dockerfile names, `node:<major>-<suite>-slim`, and its parts. */
export function dockerfileBase(dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')) {
  const names = new Set(
    [...dockerfile.matchAll(/^FROM\s+(?:--\S+\s+)*(\S+)/gm)]
      .map((m) => m[1] ?? '')
      .filter((n) => !n.startsWith('$') && !/^(build|agent|sidecar|envoy)$/.test(n)),
  );
  const [name, ...others] = [...names];
  const parts = /^node:(\d+)-([a-z]+)-slim$/.exec(name ?? '');
  if (!name || others.length > 0 || !parts) {
    throw new Error(`Dockerfile: expected one base image node:<major>-<suite>-slim, found ${[...names]}`);
  }
  return { name, qualified: `docker.io/library/${name}`, major: parts[1] ?? '', suite: parts[2] ?? '' };
}

/** The Node binary of the stand-in base (also what the benchmark runs the host agent with). */
export const nodeBinaryIn = (cacheDir: string, major: string) =>
  join(cacheDir, `node-${major}`, 'node_modules/node/bin/node');

/** npm's major version that ships with each Node major the Dockerfile may name. */
const NPM_FOR_NODE: Record<string, string> = { '20': '10', '22': '10', '24': '11' };

/** The host's CA bundle, trusted by Node in the stand-in image so `npm ci` works behind a TLS proxy. */
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
const STAND_IN_CA = '/usr/local/share/pilot-agent-test/host-ca.pem';

/** `.cache/container/node-<major>-<suite>-slim.tar`, made once (about 40 s) and kept. */
async function standInRootfs(cacheDir: string, base: ReturnType<typeof dockerfileBase>, work: string) {
  const tarball = join(cacheDir, `node-${base.major}-${base.suite}-slim.tar`);
  const node = nodeBinaryIn(cacheDir, base.major);
  if (!existsSync(node)) {
    const npmMajor = NPM_FOR_NODE[base.major];
    if (!npmMajor) throw new Error(`no npm version known for Node ${base.major} (NPM_FOR_NODE)`);
    await must('npm', [
      'install',
      '--prefix',
      join(cacheDir, `node-${base.major}`),
      '--no-audit',
      '--no-fund',
      '--no-save',
      `node@${base.major}`,
      `npm@${npmMajor}`,
    ]);
  }
  if (existsSync(tarball)) return tarball;
  // /usr/local as the official image lays it out: node, npm's package, the npm/npx links.
  const stage = join(work, 'stage');
  const modules = join(cacheDir, `node-${base.major}`, 'node_modules');
  mkdirSync(join(stage, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(stage, 'usr/local/lib/node_modules'), { recursive: true });
  copyFileSync(node, join(stage, 'usr/local/bin/node'));
  chmodSync(join(stage, 'usr/local/bin/node'), 0o755);
  cpSync(join(modules, 'npm'), join(stage, 'usr/local/lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(stage, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(stage, 'usr/local/bin/npx'));
  if (existsSync(HOST_CA)) {
    mkdirSync(join(stage, STAND_IN_CA, '..'), { recursive: true });
    copyFileSync(HOST_CA, join(stage, STAND_IN_CA));
  }
  const partial = join(work, 'rootfs.tar');
  await must(
    'mmdebstrap',
    ['--variant=minbase', `--customize-hook=cp -a '${stage}/.' "$1/"`, base.suite, partial],
    join(cacheDir, 'mmdebstrap.log'),
  );
  renameSync(partial, tarball);
  return tarball;
}

/** The simulator as one file with a `#!/usr/bin/env node` line: Envoy for the image's Node. */
export async function bundleSimulator(outfile: string): Promise<void> {
  await build({
    stdin: {
      contents: `import { main } from './dist/tools/envoy-simulator/main.js';
await main(process.argv.slice(2), process.argv[1] ?? 'envoy');`,
      resolveDir: ROOT,
      loader: 'js',
    },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
}

export interface BuiltImages {
  runId: string;
  /** The Dockerfile's default target: agent + (simulated) Envoy. */
  sidecar: string;
  /** `--target agent`: no Envoy. */
  agent: string;
  base: string;
  /** False when an image of the base's name existed already and was used as it is. */
  baseIsStandIn: boolean;
  /** The host path of the bundled simulator the Envoy image holds. */
  simulator: string;
  /** The stand-in base's Node binary on the host (undefined when the real base was used). */
  node: string | undefined;
  /** Seconds per step. */
  timings: Record<string, number>;
  /** Bytes: the base image and the two built images. */
  sizes: { base: number; sidecar: number; agent: number };
  /** Temp dir with the build logs and the simulator bundle; removed with the images. */
  work: string;
}

async function labelled(kind: 'images' | 'ps', runId: string): Promise<string[]> {
  const filter = `label=${RUN_LABEL}${runId === '' ? '' : `=${runId}`}`;
  const args =
    kind === 'images' ? ['images', '-a', '-q', '--filter', filter] : ['ps', '-a', '-q', '--filter', filter];
  const r = await podman(args);
  return [...new Set(r.stdout.split('\n').filter((l) => l.trim() !== ''))];
}

/** Removes every container and image of one run (its id) — intermediate build images included. */
export async function removeRun(runId: string): Promise<void> {
  const containers = await labelled('ps', runId);
  if (containers.length > 0) await podman(['rm', '-f', '-t', '0', ...containers]);
  const images = await labelled('images', runId);
  if (images.length > 0) await podman(['rmi', '-f', ...images]);
}

/** Runs of this harness that died without cleaning up: their pid (in the run id) is gone. */
async function removeAbandonedRuns(): Promise<void> {
  const ids = new Set<string>();
  for (const kind of ['images', 'ps'] as const) {
    for (const id of await labelled(kind, '')) {
      const r = await podman([
        kind === 'images' ? 'image' : 'container',
        'inspect',
        '--format',
        `{{index .Labels "${RUN_LABEL}"}}`,
        id,
      ]);
      if (r.code === 0 && r.stdout.trim() !== '') ids.add(r.stdout.trim());
    }
  }
  for (const id of ids) {
    const pid = Number(/^r(\d+)-/.exec(id)?.[1]);
    if (!alive(pid)) await removeRun(id);
  }
}

const LOCK = 'run.lock';

function takeLock(cacheDir: string): void {
  const lock = join(cacheDir, LOCK);
  if (existsSync(lock)) {
    const holder = Number(readFileSync(lock, 'utf8').trim());
    if (holder !== process.pid && alive(holder)) {
      throw new Error(`another container run (pid ${holder}) is using ${cacheDir}; wait for it to end`);
    }
  }
  writeFileSync(lock, String(process.pid));
}

function releaseLock(cacheDir: string): void {
  const lock = join(cacheDir, LOCK);
  if (existsSync(lock) && readFileSync(lock, 'utf8').trim() === String(process.pid)) rmSync(lock);
}

async function imageSize(name: string): Promise<number> {
  return Number((await must('podman', ['image', 'inspect', '--format', '{{.Size}}', name])).trim());
}

/**
 * Builds the stand-in base (or finds the real one), the stand-in Envoy image and both targets of
 * the Dockerfile. On failure everything made so far is removed before the error is thrown.
 */
export async function buildImages(
  options: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<BuiltImages> {
  const cacheDir = options.cacheDir ?? CACHE_DIR;
  const log = options.log ?? (() => {});
  mkdirSync(cacheDir, { recursive: true });
  takeLock(cacheDir);
  const runId = `r${process.pid}-${Date.now()}`;
  const label = `${RUN_LABEL}=${runId}`;
  const work = mkdtempSync(join(tmpdir(), 'pilot-agent-container-'));
  const timings: Record<string, number> = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    log(`${name}…`);
    const result = await fn();
    timings[name] = Number(((performance.now() - t0) / 1000).toFixed(1));
    log(`${name}: ${timings[name]} s`);
    return result;
  };
  try {
    await step('host tools', ensureHostTools);
    await removeAbandonedRuns();
    const base = dockerfileBase();

    // The base: an image of that name we did not make is the real one; ours from a dead run is not.
    const existing = await podman([
      'image',
      'inspect',
      '--format',
      `{{index .Labels "${RUN_LABEL}"}}`,
      base.qualified,
    ]);
    const baseIsStandIn = existing.code !== 0 || existing.stdout.trim() !== '';
    if (baseIsStandIn) {
      if (existing.code === 0) await podman(['rmi', '-f', base.qualified]);
      const tarball = await step('base rootfs', () => standInRootfs(cacheDir, base, work));
      await step('base import', () =>
        must('podman', [
          'import',
          '--change',
          'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          ...(existsSync(HOST_CA) ? ['--change', `ENV NODE_EXTRA_CA_CERTS=${STAND_IN_CA}`] : []),
          '--change',
          'CMD ["node"]',
          '--change',
          `LABEL ${label}`,
          tarball,
          base.qualified,
        ]),
      );
    }

    const simulator = join(work, 'envoy-image', 'envoy');
    const envoy = `localhost/pilot-agent-test-envoy:${runId}`;
    await step('envoy image', async () => {
      mkdirSync(join(work, 'envoy-image'));
      await bundleSimulator(simulator);
      writeFileSync(
        join(work, 'envoy-image', 'Containerfile'),
        'FROM scratch\nCOPY envoy /usr/local/bin/envoy\n',
      );
      await must('podman', [
        'build',
        '-q',
        ...PODMAN_FLAGS,
        '--label',
        label,
        '-t',
        envoy,
        join(work, 'envoy-image'),
      ]);
    });

    const image = (target: string) => `localhost/pilot-agent-test:${runId}-${target}`;
    for (const target of ['sidecar', 'agent']) {
      await step(`build ${target}`, () =>
        must(
          'podman',
          [
            'build',
            '--pull=never',
            '--force-rm',
            ...PODMAN_FLAGS,
            '--label',
            label,
            '--build-arg',
            `ENVOY_IMAGE=${envoy}`,
            '--target',
            target,
            '-t',
            image(target),
            '-f',
            join(ROOT, 'Dockerfile'),
            ROOT,
          ],
          join(cacheDir, `build-${target}.log`),
        ),
      );
    }
    return {
      runId,
      sidecar: image('sidecar'),
      agent: image('agent'),
      base: base.qualified,
      baseIsStandIn,
      simulator,
      node: baseIsStandIn ? nodeBinaryIn(cacheDir, base.major) : undefined,
      timings,
      sizes: {
        base: await imageSize(base.qualified),
        sidecar: await imageSize(image('sidecar')),
        agent: await imageSize(image('agent')),
      },
      work,
    };
  } catch (err) {
    await removeRun(runId);
    rmSync(work, { recursive: true, force: true });
    releaseLock(cacheDir);
    throw err;
  }
}

/** Removes every image and container of the run, and its temp dir; the cached tarball stays. */
export async function removeImages(images: BuiltImages, cacheDir = CACHE_DIR): Promise<void> {
  await removeRun(images.runId);
  rmSync(images.work, { recursive: true, force: true });
  releaseLock(cacheDir);
}

/** One process of a container, as its /proc shows it from inside. */
export interface ContainerProcess {
  pid: number;
  ppid: number;
  /** `R`, `S`, `Z` (zombie)… */
  state: string;
  comm: string;
  cmdline: string[];
  uid: number;
  /** Effective capabilities, hex. */
  capEff: string;
  /** The process's `MALLOC_*` variables (readable by the same uid). */
  malloc: Record<string, string>;
}

/** Lists /proc inside the container with the image's Node (run by `podman exec`, as its user). */
const PS_SCRIPT = `
const fs = require('node:fs');
const out = [];
for (const d of fs.readdirSync('/proc')) {
  if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
  try {
    const stat = /^([0-9]+) [(](.*)[)] (\\S) ([0-9]+)/.exec(fs.readFileSync('/proc/' + d + '/stat', 'utf8'));
    const status = fs.readFileSync('/proc/' + d + '/status', 'utf8');
    const cmdline = fs.readFileSync('/proc/' + d + '/cmdline', 'utf8').split('\\0').filter(Boolean);
    let malloc = {};
    try {
      for (const kv of fs.readFileSync('/proc/' + d + '/environ', 'utf8').split('\\0')) {
        if (kv.startsWith('MALLOC_')) malloc[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      }
    } catch {}
    out.push({ pid: Number(stat[1]), comm: stat[2], state: stat[3], ppid: Number(stat[4]), cmdline,
      uid: Number(/Uid:\\s+([0-9]+)/.exec(status)[1]), capEff: /CapEff:\\s+(\\S+)/.exec(status)[1], malloc });
  } catch {}
}
process.stdout.write(JSON.stringify(out));
`;

export interface ContainerSpec {
  image: string;
  /** The run's id: the container carries it as a label, so `removeRun()` finds it. */
  runId: string;
  /** After the image name: the command (the image's CMD when empty). */
  args?: string[];
  env?: Record<string, string>;
  /** `host:container[:options]`. */
  volumes?: string[];
  /** More `podman run` flags. */
  flags?: string[];
}

let containerCount = 0;

/** A detached container (`podman run -d`), observed and ended through podman. */
export class Container {
  constructor(readonly name: string) {}

  static async start(spec: ContainerSpec): Promise<Container> {
    const name = `pilot-agent-test-${spec.runId}-${++containerCount}`;
    const r = await podman(['run', '-d', ...Container.flags(name, spec), spec.image, ...(spec.args ?? [])]);
    if (r.code !== 0) {
      await podman(['rm', '-f', '-t', '0', name]);
      throw new Error(`podman run ${spec.image} exited ${r.code}: ${r.stderr.trim()}`);
    }
    return new Container(name);
  }

  /** `podman run --rm` to its end: the exit code and output of a one-off command. */
  static async once(spec: ContainerSpec): Promise<CommandResult> {
    const name = `pilot-agent-test-${spec.runId}-${++containerCount}`;
    try {
      return await podman(
        ['run', '--rm', ...Container.flags(name, spec), spec.image, ...(spec.args ?? [])],
        60_000,
      );
    } finally {
      await podman(['rm', '-f', '-t', '0', '--ignore', name]);
    }
  }

  static flags(name: string, spec: ContainerSpec): string[] {
    return [
      '--name',
      name,
      '--label',
      `${RUN_LABEL}=${spec.runId}`,
      ...PODMAN_FLAGS,
      ...Object.entries(spec.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      ...(spec.volumes ?? []).flatMap((v) => ['--volume', v]),
      ...(spec.flags ?? []),
    ];
  }

  async inspect(format: string): Promise<string> {
    return (await podman(['container', 'inspect', '--format', format, this.name])).stdout.trim();
  }

  async running(): Promise<boolean> {
    return (await this.inspect('{{.State.Running}}')) === 'true';
  }

  exec(command: string[]): Promise<CommandResult> {
    return podman(['exec', this.name, ...command], 30_000);
  }

  async processes(): Promise<ContainerProcess[]> {
    const r = await this.exec(['node', '-e', PS_SCRIPT]);
    if (r.code !== 0) throw new Error(`listing processes in ${this.name}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as ContainerProcess[];
  }

  async logs(): Promise<string> {
    const r = await podman(['logs', this.name]);
    return r.stdout + r.stderr;
  }

  /** `podman stop -t <s>`: the image's STOPSIGNAL to PID 1, SIGKILL after `s` seconds. */
  stop(timeoutS: number): Promise<CommandResult> {
    return podman(['stop', '-t', String(timeoutS), this.name], (timeoutS + 30) * 1000);
  }

  /** Waits for the container to exit; its exit code. */
  async wait(): Promise<number> {
    const r = await podman(['wait', this.name]);
    return Number(r.stdout.trim());
  }

  async remove(): Promise<void> {
    await podman(['rm', '-f', '-t', '0', '--ignore', this.name]);
  }
}

/** What a pod spec with Istio's injected securityContext gives the proxy container. */
export const SECURED = ['--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];

/** TERMINATION_DRAIN_DURATION_SECONDS of the sidecars started here. */
export const SIDECAR_DRAIN_S = 2;

/** Istio's proxy user (the image's USER). */
export const ISTIO_PROXY_UID = 1337;

/** A directory under `work` the container's user owns, as a Kubernetes emptyDir gives it. */
export function ownedDir(work: string, name: string): string {
  const dir = mkdtempSync(join(work, `${name}-`));
  chownSync(dir, ISTIO_PROXY_UID, ISTIO_PROXY_UID);
  return dir;
}

/** Base ids above the host-side tests' range: hot-restart sockets are per network namespace. */
let baseIds = 400_000 + (process.pid % 1000) * 100;

export interface SidecarOptions {
  image: string;
  runId: string;
  /** Where the volumes' host directories are made. */
  work: string;
  env?: Record<string, string>;
  /** Flags after the defaults (later flags win). */
  args?: string[];
  volumes?: string[];
}

/**
 * `proxy sidecar` in a container, secured as a pod would run it (SECURED), with `/etc/istio/proxy`
 * and the simulator's record file on host directories owned by 1337, on free host ports.
 */
export async function startSidecar(options: SidecarOptions) {
  const configPath = ownedDir(options.work, 'proxy');
  const simDir = ownedDir(options.work, 'sim');
  const statusPort = await freePort();
  const adminPort = await freePort();
  const baseId = baseIds++;
  const t0 = performance.now();
  const container = await Container.start({
    image: options.image,
    runId: options.runId,
    flags: SECURED,
    volumes: [`${configPath}:/etc/istio/proxy`, `${simDir}:/sim`, ...(options.volumes ?? [])],
    env: {
      POD_NAME: 'productpage-v1-7d4cd8f7c5-abcde',
      POD_NAMESPACE: 'default',
      INSTANCE_IP: '127.0.0.1',
      TERMINATION_DRAIN_DURATION_SECONDS: String(SIDECAR_DRAIN_S),
      ENVOY_SIM_XDS_DELAY_MS: '50',
      ENVOY_SIM_RECORD: '/sim/record.jsonl',
      ...options.env,
    },
    args: [
      'proxy',
      'sidecar',
      '--statusPort',
      String(statusPort),
      '--proxyAdminPort',
      String(adminPort),
      '--baseId',
      String(baseId),
      '--drainDuration',
      '2s',
      '--parentShutdownDuration',
      '3s',
      '--discoveryAddress',
      'istiod.istio-system.svc:15012',
      ...(options.args ?? []),
    ],
  });
  const records = (): SimRecord[] => {
    try {
      return readFileSync(join(simDir, 'record.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as SimRecord);
    } catch {
      return [];
    }
  };
  const ready = async (): Promise<number> => {
    try {
      return (await httpGet(statusPort, '/healthz/ready')).status;
    } catch {
      return 0;
    }
  };
  return {
    container,
    /** `performance.now()` just before `podman run`. */
    t0,
    configPath,
    statusPort,
    adminPort,
    baseId,
    records,
    /** Serving Envoy processes (not `--mode validate` runs), by their start records. */
    serving: () => records().filter((r) => r.event === 'start' && !(r.argv ?? []).includes('validate')),
    ready,
    waitReady: (intervalMs = 10) =>
      waitUntil(async () => (await ready()) === 200, 'readiness 200', { timeoutMs: 30_000, intervalMs }),
  };
}

export type Sidecar = Awaited<ReturnType<typeof startSidecar>>;
