/**
 * SDS mode's runtime ships as its own bundle, dist/pilot-agent-sds.mjs (tools/bundle.ts): it must
 * work on its own (grpc-js bundled, its .proto loader left out), and the main bundle must not
 * carry grpc-js (hot-restart mode's idle RSS).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSds, type SdsRuntime } from '../../src/sds/load.js';
import { ROOT } from '../helpers/agent-process.js';
import {
  DISCOVERY_REQUEST,
  decodeResponse,
  encodeProto,
  nextMessage,
  openStream,
  sdsClient,
} from '../helpers/sds.js';

const dirs: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function roundTrip(sds: SdsRuntime): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-agent-sds-bundle-'));
  dirs.push(dir);
  const server = await sds.startSdsServer({
    socketPath: join(dir, 'SDS'),
    onStream: async (stream) => {
      for await (const request of stream.requests) {
        stream.send({
          versionInfo: 'v1',
          resources: [],
          typeUrl: sds.SECRET_TYPE_URL,
          nonce: request.resourceNames.join(),
        });
      }
    },
  });
  cleanups.push(() => server.close());
  const client: grpc.Client = sdsClient(server.socketPath);
  cleanups.push(() => client.close());
  const call = openStream(client);
  call.write(encodeProto(DISCOVERY_REQUEST, { node: { id: 'n' }, resource_names: ['ROOTCA'] }));
  expect(decodeResponse(await nextMessage(call))).toEqual({
    version_info: 'v1',
    type_url: sds.SECRET_TYPE_URL,
    nonce: 'ROOTCA',
  });
  call.cancel();
}

describe('the SDS runtime', () => {
  it('loads on demand from the compiled modules', async () => {
    await roundTrip(await loadSds());
  });

  it('runs from its own bundle, dist/pilot-agent-sds.mjs', async () => {
    const bundled = (await import(pathToFileURL(join(ROOT, 'dist/pilot-agent-sds.mjs')).href)) as SdsRuntime;
    await roundTrip(bundled);
  });

  it('is not in the main bundle', () => {
    const main = readFileSync(join(ROOT, 'dist/pilot-agent.mjs'), 'utf8');
    // grpc-js's user agent, and its server's method-not-found text.
    expect(main).not.toContain('grpc-node-js/');
    expect(main).not.toContain('The server does not implement the method');
  });
});
