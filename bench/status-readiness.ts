/**
 * `GET /healthz/ready` as kubelet reaches it: on the agent as it ships (`bin/pilot-agent.js`, its
 * Node flags and environment, the machines running against the Envoy simulator), against a bare
 * `node:http` server answering 200 in a process of its own under the same flags, environment and
 * listen address, same machine, same load, in alternating rounds so drift hits both alike.
 * Target: the agent keeps at least 0.7x the bare server's throughput.
 *
 * Besides throughput, each round reads the server process's CPU time (`/proc/<pid>/stat`, user +
 * system) around the load: CPU per request is what a request costs the server, and it varies far
 * less than throughput when other work shares the machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { AGENT_NODE_FLAGS, AGENT_SHEBANG_ENV, freePort, startAgent } from '../test/helpers/agent-process.js';
import { waitUntil } from '../test/helpers/wait.js';
import { median, round, runIfMain } from './common.js';
import { type LoadResult, load, loadTool } from './status-load.js';
import type { BenchSection } from './types.js';

const CONNECTIONS = 50;
const DURATION_SEC = 5;
const ROUNDS = 5;
/** Where the agent's status server listens (all interfaces, as Istio's): the bare server too. */
const LISTEN_HOST = '::';

/** The server's CPU time so far, in milliseconds (user + system, from /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are the 12th and 13th.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** The comparison point: Node's own HTTP server, in a process like the agent's. */
async function startBare(port: number): Promise<ChildProcess> {
  const code = `require('node:http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'text/plain' }); s.end(''); }).listen(${port}, ${JSON.stringify(LISTEN_HOST)});`;
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, '-e', code], {
    env: { ...process.env, ...AGENT_SHEBANG_ENV },
    stdio: 'ignore',
  });
  await waitUntil(async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/`)).ok;
    } catch {
      return false;
    }
  }, 'the bare server listening');
  return child;
}

interface Round {
  load: LoadResult;
  cpuUsPerRequest: number;
}

async function measure(pid: number, url: string): Promise<Round> {
  const before = cpuMs(pid);
  const result = await load(url, { connections: CONNECTIONS, durationSec: DURATION_SEC });
  const cpu = cpuMs(pid) - before;
  return { load: result, cpuUsPerRequest: (cpu * 1000) / Math.max(1, result.requests) };
}

export async function run(): Promise<BenchSection> {
  const agent = await startAgent({ args: ['--log_output_level', 'default:info'] });
  const barePort = await freePort();
  const bare = await startBare(barePort);
  try {
    await agent.waitReady();
    const agentUrl = `http://127.0.0.1:${agent.statusPort}/healthz/ready`;
    const bareUrl = `http://127.0.0.1:${barePort}/`;
    const agentPid = agent.proc.pid ?? 0;
    const barePid = bare.pid ?? 0;
    // Warm both up (JIT, socket buffers) before measuring.
    await load(bareUrl, { connections: CONNECTIONS, durationSec: 1 });
    await load(agentUrl, { connections: CONNECTIONS, durationSec: 1 });
    const bareRuns: Round[] = [];
    const agentRuns: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bareRuns.push(await measure(barePid, bareUrl));
      agentRuns.push(await measure(agentPid, agentUrl));
    }
    const summary = (server: string, runs: Round[]) => ({
      server,
      'req/s (median)': round(median(runs.map((r) => r.load.requestsPerSec)), 0),
      'CPU µs per request (median)': round(median(runs.map((r) => r.cpuUsPerRequest))),
      'p50 ms (median)': round(median(runs.map((r) => r.load.p50Ms))),
      'p99 ms (median)': round(median(runs.map((r) => r.load.p99Ms))),
      errors: runs.reduce((sum, r) => sum + r.load.errors, 0),
    });
    const bareRow = summary('bare node:http 200', bareRuns);
    const agentRow = summary('bin/pilot-agent.js /healthz/ready', agentRuns);
    // Per round, so the two servers of a round share the machine's conditions.
    const ratios = agentRuns.map((a, i) => a.load.requestsPerSec / (bareRuns[i]?.load.requestsPerSec ?? 1));
    const cpuRatios = agentRuns.map((a, i) => (bareRuns[i]?.cpuUsPerRequest ?? 0) / a.cpuUsPerRequest);
    const ratio = median(ratios);
    return {
      title: 'Status server: /healthz/ready throughput of the shipped agent',
      method:
        `${loadTool()}, ${CONNECTIONS} keep-alive connections, ${DURATION_SEC} s per run, ${ROUNDS} alternating ` +
        'rounds after a 1 s warm-up each. The agent is bin/pilot-agent.js as shipped (its #! Node flags and ' +
        'malloc settings), running its machines against the Envoy simulator, ready; the bare server is a ' +
        'node:http server answering 200 with an empty body in its own process under the same flags and ' +
        `environment, both listening on [${LISTEN_HOST}] and loaded through 127.0.0.1. Ratios are medians of ` +
        "the per-round ratios. CPU per request: the server process's user + system CPU time during a " +
        'round, divided by the requests answered.',
      rows: [
        bareRow,
        agentRow,
        {
          server: 'agent ÷ bare (median of rounds)',
          'req/s (median)': round(ratio),
          'CPU µs per request (median)': `${round(median(cpuRatios))} (bare CPU ÷ agent CPU)`,
          'p50 ms (median)': '',
          'p99 ms (median)': '',
          errors: '',
        },
      ],
      targets: [
        {
          name: '/healthz/ready throughput ÷ bare node:http, shipped agent',
          value: round(ratio),
          target: '≥ 0.7',
          pass: ratio >= 0.7,
        },
        {
          name: 'errors or non-2xx answers',
          value: bareRow.errors + agentRow.errors,
          target: '0',
          pass: bareRow.errors + agentRow.errors === 0,
        },
      ],
    };
  } finally {
    bare.kill('SIGKILL');
    await agent.stop();
  }
}

runIfMain(import.meta.url, run);
