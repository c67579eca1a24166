/**
 * SDS mode's effects, as the machines' actors: the server on its socket (`sdsServer`, for the root
 * agent), each Envoy stream's transport (`streamIo`) and the reading of secrets (`resolveSecrets`,
 * both for the SDS stream machine). Everything SDS-specific (grpc-js, the codec, the secrets)
 * comes from the SDS runtime through `loadSds()`: this module imports only its types, so the main
 * bundle never carries it and hot-restart mode never loads it.
 *
 * The socket is claimed before the root agent starts (`startSdsRuntime`), so that a socket another
 * agent still serves stops this one with one line and exit 1 before anything else happens, and so
 * that Envoy's first connection finds the server listening (a refused one costs Envoy a retry
 * backoff of up to 500 ms). The `sdsServer` actor then hands each stream to the agent and, when it
 * stops, closes the server, which removes the socket.
 *
 * Key material: the stream machine sees names and content hashes only. `resolveSecrets` keeps the
 * encoded secrets it read (`SecretResource`, which prints as its name and hash) in a small cache,
 * keyed by name and hash, from which `streamIo` takes exactly the contents the machine decided to
 * send. The cache is bounded (a few contents per name, a fixed number of names), whatever Envoy or
 * another client on the socket asks for.
 */
import type { Logger } from 'pino';
import { type EventObject, fromCallback, fromPromise } from 'xstate';
import type { SdsRequest, SdsStreamEvent, SecretCheck, StreamIoCommand } from '../../machines/sds-stream.js';
import type { AgentConfig } from '../config/types.js';
import { AgentError, messageOf } from '../errors.js';
import type { DiscoveryRequest, SdsServer, SdsStream, SdsStreamEnd, SecretResource } from '../sds/index.js';
import { loadSds, type SdsRuntime } from '../sds/load.js';

/** Contents kept per secret name: the newest few reads, so a stream that read just before another
 * stream read newer content still finds what it decided to send. */
const CONTENTS_PER_NAME = 4;
/** Secret names kept; Envoy asks for a handful (`default`, `ROOTCA`, a few files). */
const MAX_NAMES = 64;

/** The encoded secrets last read, by name and content hash; bounded. */
export class SecretCache {
  readonly #byName = new Map<string, SecretResource[]>();

  constructor(
    private readonly perName = CONTENTS_PER_NAME,
    private readonly maxNames = MAX_NAMES,
  ) {}

  put(resource: SecretResource): void {
    const kept = (this.#byName.get(resource.name) ?? []).filter((r) => r.sha256 !== resource.sha256);
    kept.push(resource);
    // Re-inserted: the map's order is the names' recency.
    this.#byName.delete(resource.name);
    this.#byName.set(resource.name, kept.slice(-this.perName));
    for (const name of this.#byName.keys()) {
      if (this.#byName.size <= this.maxNames) break;
      this.#byName.delete(name);
    }
  }

  get(name: string, sha256: string): SecretResource | undefined {
    return this.#byName.get(name)?.find((r) => r.sha256 === sha256);
  }

  /** How many contents are held, over all names. */
  get size(): number {
    let n = 0;
    for (const list of this.#byName.values()) n += list.length;
    return n;
  }
}

/** A decoded request as the stream machine takes it: names, versions and nonces, no bytes. */
export function sdsRequest(request: DiscoveryRequest): SdsRequest {
  return {
    versionInfo: request.versionInfo,
    resourceNames: [...request.resourceNames],
    responseNonce: request.responseNonce,
    ...(request.node ? { node: request.node.id } : {}),
    ...(request.errorDetail ? { errorDetail: { ...request.errorDetail } } : {}),
  };
}

/** Why a stream ended, for the log and /debug. */
export function endText(end: SdsStreamEnd): string {
  switch (end.reason) {
    case 'cancelled':
      return 'Envoy closed the stream';
    case 'ended':
      return 'the agent ended the stream';
    case 'shutdown':
      return 'the SDS server stopped';
    case 'malformed':
      return `malformed request: ${end.detail}`;
  }
}

export interface SdsRuntimeActors {
  /** The absolute socket path the server listens on. */
  socketPath: string;
  /** For the root agent: SDS.STREAM_OPENED per stream; closes the server when stopped. */
  sdsServer: ReturnType<typeof fromCallback<EventObject, void>>;
  /** For each stream machine: Envoy's requests in, the decided responses out. */
  streamIo: ReturnType<typeof fromCallback<StreamIoCommand, { streamId: string }>>;
  /** For each stream machine: reads and checks the named secrets. */
  resolveSecrets: ReturnType<typeof fromPromise<SecretCheck[], { names: string[] }>>;
  /** Closes the server (idempotent): every stream ends, the socket is removed. */
  close(): Promise<void>;
}

/** Loads the SDS runtime, or says why SDS mode cannot run. */
async function runtime(): Promise<SdsRuntime> {
  try {
    return await loadSds();
  } catch (err) {
    throw new AgentError('internal', `SDS mode cannot load its code: ${messageOf(err)}`, { cause: err });
  }
}

/**
 * Claims the socket and starts the SDS server; throws an `AgentError('bootstrap')` (exit 1) when
 * the socket cannot be served (another live process serves it, the path is not a socket, the
 * directory cannot be made).
 */
export async function startSdsRuntime(config: AgentConfig, log: Logger): Promise<SdsRuntimeActors> {
  const sds = await runtime();
  const { socketPath, mounted } = config.sds;
  /** Streams accepted and not yet ended, by id. */
  const streams = new Map<string, SdsStream>();
  /** Streams accepted before the `sdsServer` actor listens (none in practice: Envoy starts later). */
  const unannounced: string[] = [];
  let announce: ((streamId: string) => void) | undefined;
  const cache = new SecretCache();

  let server: SdsServer;
  try {
    server = await sds.startSdsServer({
      socketPath,
      onStream: (stream) => {
        const id = String(stream.id);
        streams.set(id, stream);
        void stream.closed.then(() => streams.delete(id));
        if (announce) announce(id);
        else unannounced.push(id);
      },
    });
  } catch (err) {
    const detail =
      err instanceof sds.SdsSocketError ? err.message : `SDS socket ${socketPath}: ${messageOf(err)}`;
    throw new AgentError('bootstrap', `cannot serve SDS: ${detail}`, { cause: err });
  }
  log.info({ socket: server.socketPath }, `SDS server listening on ${server.socketPath}`);
  const close = (): Promise<void> => server.close();

  const sdsServer = fromCallback<EventObject, void>(({ sendBack }) => {
    announce = (streamId) => sendBack({ type: 'SDS.STREAM_OPENED', streamId });
    for (const id of unannounced.splice(0)) announce(id);
    return () => {
      announce = undefined;
      void close();
    };
  });

  const streamIo = fromCallback<StreamIoCommand, { streamId: string }>(({ input, sendBack, receive }) => {
    const stream = streams.get(input.streamId);
    const back = (event: SdsStreamEvent): void => {
      if (!stopped) sendBack(event);
    };
    let stopped = false;
    if (stream === undefined) {
      back({ type: 'SDS.CLOSED', reason: 'the stream ended before it was served' });
      return () => {
        stopped = true;
      };
    }
    void (async () => {
      try {
        for await (const request of stream.requests)
          back({ type: 'SDS.REQUEST', request: sdsRequest(request) });
      } catch (err) {
        log.warn({ stream: input.streamId, err: messageOf(err) }, 'SDS stream failed');
        stream.end();
      }
    })();
    void stream.closed.then((end) => back({ type: 'SDS.CLOSED', reason: endText(end) }));
    receive((command) => {
      const resources: SecretResource[] = [];
      for (const secret of command.secrets) {
        const resource = cache.get(secret.name, secret.sha256);
        if (resource === undefined) {
          // Not expected (the cache keeps several contents per name): Envoy reconnects and is
          // answered from a fresh reading, rather than with content other than decided.
          log.warn(
            { stream: input.streamId, name: secret.name, sha256: secret.sha256 },
            `SDS: the content decided for ${secret.name} is no longer at hand; ending the stream so Envoy asks again`,
          );
          stream.end();
          return;
        }
        resources.push(resource);
      }
      stream.send({
        versionInfo: command.versionInfo,
        resources,
        typeUrl: sds.SECRET_TYPE_URL,
        nonce: command.nonce,
      });
    });
    return () => {
      stopped = true;
      stream.end();
    };
  });

  const resolveSecrets = fromPromise<SecretCheck[], { names: string[] }>(async ({ input }) => {
    const now = new Date();
    return Promise.all(
      input.names.map(async (name): Promise<SecretCheck> => {
        const reading = await sds.readSecret(name, mounted, now);
        if (reading.kind === 'withheld') return { name, withheld: reading.detail };
        cache.put(reading.resource);
        return { name, sha256: reading.resource.sha256 };
      }),
    );
  });

  return { socketPath: server.socketPath, sdsServer, streamIo, resolveSecrets, close };
}
