/**
 * The status server as the shipped agent serves it (bin/pilot-agent.js runs the bundle, which
 * leaves some dependency modules out and loads HTTPS and HTTP/2 only when first used): every kind
 * of application probe and the merged metrics, through the real CLI against the simulator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentsStoppedAfterEach } from '../helpers/agents.js';
import { closeAll, startApp, startGrpcHealth, startHttpsApp, startTcp } from '../status/helpers.js';

// Hooks run last-registered first: agents stop before the applications they probe close.
afterEach(closeAll);
const agent = agentsStoppedAfterEach();

describe('status server of the shipped agent', () => {
  it('answers HTTP, HTTPS, TCP and gRPC application probes and serves merged metrics', async () => {
    const http = await startApp();
    const https = await startHttpsApp();
    const tcp = await startTcp();
    const grpc = await startGrpcHealth(new Map([['', 1]]));
    const probers = {
      '/app-health/web/readyz': { httpGet: { path: '/ready', port: http.port } },
      '/app-health/secure/readyz': { httpGet: { path: '/ready', port: https.port, scheme: 'HTTPS' } },
      '/app-health/socket/livez': { tcpSocket: { port: tcp.port } },
      '/app-health/rpc/livez': { grpc: { port: grpc.port } },
    };
    const run = await agent({ env: { ISTIO_KUBE_APP_PROBERS: JSON.stringify(probers) } });
    await run.waitReady();

    for (const path of Object.keys(probers)) {
      expect({ path, status: (await run.get(path)).status }).toEqual({ path, status: 200 });
    }
    expect(http.requests.map((r) => r.url)).toEqual(['/ready']);
    expect(https.requests.map((r) => r.url)).toEqual(['/ready']);
    expect(tcp.accepted()).toBe(1);
    expect(grpc.calls).toEqual(['']);

    const metrics = await run.get('/stats/prometheus');
    expect(metrics.status).toBe(200);
    // The agent's own families and Envoy's, in one exposition.
    expect(metrics.body).toMatch(/^# TYPE pilot_agent_envoy_ready gauge$/m);
    expect(metrics.body).toMatch(/^envoy_\w+/m);
  });
});
