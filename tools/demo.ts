/**
 * `npm start`: runs `pilot-agent proxy sidecar` in the foreground so a newcomer sees it work. It
 * uses a real Envoy when one is installed (on PATH or at Istio's /usr/local/bin/envoy) and the
 * bundled Envoy simulator otherwise. It runs the agent as it ships: the bundle that
 * `bin/pilot-agent.js` runs (dist/pilot-agent.mjs, with the build stamp). Everything it writes
 * goes to a temp dir removed at exit.
 * Ctrl-C drains and stops Envoy like a SIGTERM from the kubelet; a second Ctrl-C skips the drain.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { tlsFilesIn } from '../src/config/defaults.js';

const SIMULATOR = resolve(import.meta.dirname, '../../tools/envoy-simulator/envoy');
const BUNDLE = new URL('../pilot-agent.mjs', import.meta.url).href;
const { main } = (await import(BUNDLE)) as typeof import('../src/cli/main.js');

function findEnvoy(): { path: string; simulated: boolean } {
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'envoy')),
    '/usr/local/bin/envoy',
  ];
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return { path, simulated: false };
    } catch {
      // not here
    }
  }
  return { path: SIMULATOR, simulated: true };
}

/** Istio's port when it is free, else any free port: the demo must run on a busy machine too. */
function portOr(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number>((res, rej) => {
      const srv = createServer();
      srv.once('error', rej);
      srv.listen(port, '127.0.0.1', () => {
        const address = srv.address();
        const got = typeof address === 'object' && address ? address.port : port;
        srv.close(() => res(got));
      });
    });
  return tryListen(preferred).catch(() => tryListen(0));
}

const envoy = findEnvoy();
const dir = mkdtempSync(join(tmpdir(), 'pilot-agent-demo-'));
const statusPort = await portOr(15020);
const adminPort = await portOr(15000);

process.stderr.write(
  [
    '',
    `pilot-agent demo — Envoy: ${envoy.simulated ? 'the bundled simulator (no envoy binary installed)' : envoy.path}`,
    `  readiness : curl -i http://localhost:${statusPort}/healthz/ready`,
    `  Envoy admin: curl http://localhost:${adminPort}/server_info`,
    `  hot restart: kill -HUP ${process.pid}`,
    '  stop      : Ctrl-C (drains, then stops Envoy; twice to skip the drain)',
    '',
    '',
  ].join('\n'),
);

const code = await main(
  [
    'proxy',
    'sidecar',
    '--configPath',
    join(dir, 'proxy'),
    '--binaryPath',
    envoy.path,
    '--serviceCluster',
    'demo.default',
    '--discoveryAddress',
    'istiod.istio-system.svc:15012',
    '--proxyAdminPort',
    String(adminPort),
    '--statusPort',
    String(statusPort),
    '--drainDuration',
    '5s',
    '--parentShutdownDuration',
    '10s',
    ...process.argv.slice(2),
  ],
  {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stdout.isTTY === true,
    env: {
      POD_NAME: 'demo-7d4cd8f7c5-x2x9z',
      POD_NAMESPACE: 'default',
      INSTANCE_IP: '127.0.0.1',
      TERMINATION_DRAIN_DURATION_SECONDS: '2',
      // No certificates in the demo: point the watched paths at the (empty) temp dir.
      ...tlsFilesIn(join(dir, 'certs')),
      ...(envoy.simulated ? { ENVOY_SIM_SHM_DIR: dir } : {}),
      ...process.env,
    },
  },
);
rmSync(dir, { recursive: true, force: true });
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
