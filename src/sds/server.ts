/**
 * The SDS transport: gRPC `envoy.service.secret.v3.SecretDiscoveryService` on a Unix socket, as
 * Istio's agent serves it (`security/pkg/nodeagent/sds/server.go`, `sdsservice.go`). It has no
 * policy: each `StreamSecrets` call is handed to the caller as an `SdsStream` (decoded requests in,
 * `send(response)` and `end()` out, a close notification), and the caller decides what to send.
 * `DeltaSecrets` and `FetchSecrets` answer UNIMPLEMENTED, as Istio's server does.
 *
 * The socket:
 * - default `./etc/istio/proxy/SDS` under the working directory (Istio's `LocalSDS` from 1.6 on;
 *   1.5.0 had `/etc/istio/proxy/SDS`, the same file in the proxy image, whose working directory is
 *   `/`); its directory is created (0700) if missing;
 * - mode 0600: bound under a 0177 umask, so no other user can connect even for a moment, then
 *   chmod-ed to exactly 0600;
 * - a socket file left by a killed agent is replaced; one that a live process still serves (a
 *   connection to it succeeds) is not, and neither is a path that is not a socket;
 * - removed on close (only if it is still the socket this server bound).
 *
 * The agent owns the listening socket (`node:net`) and hands each connection to grpc-js through
 * its connection injector, which is what makes the umask and ownership checks possible.
 *
 * Messages are encoded by hand (`messages.ts`); grpc-js only frames them. Requests are decoded
 * here rather than in grpc-js's deserializer so that a malformed request ends its stream with
 * INTERNAL and the caller is told why.
 */
import { chmodSync } from 'node:fs';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import {
  createServer as createNetServer,
  type Server as NetServer,
  connect as netConnect,
  type Socket,
} from 'node:net';
import { dirname, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { messageOf } from '../errors.js';
import { DEFAULT_SDS_SOCKET_PATH } from './bootstrap.js';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  decodeDiscoveryRequest,
  encodeDiscoveryResponse,
} from './messages.js';

export { DEFAULT_SDS_SOCKET_PATH };

const SERVICE = 'envoy.service.secret.v3.SecretDiscoveryService';

/** Why a stream ended. */
export type SdsStreamEnd =
  /** Envoy cancelled the stream or its connection went away. */
  | { reason: 'cancelled' }
  /** The caller ended it with `end()` (status OK). */
  | { reason: 'ended' }
  /** The server was closed. */
  | { reason: 'shutdown' }
  /** A request could not be decoded; the stream was ended with INTERNAL. */
  | { reason: 'malformed'; detail: string };

/** One `StreamSecrets` call, as the caller sees it. */
export interface SdsStream {
  /** Unique within this server, in arrival order from 1. */
  readonly id: number;
  /**
   * The decoded requests, in order; the iteration ends when Envoy half-closes the stream or the
   * stream ends. One consumer only. Requests not yet read are buffered (up to 16, Node's
   * object-mode high-water mark; then grpc-js stops reading and HTTP/2 flow control holds Envoy back); leaving the loop early does not end the stream.
   */
  readonly requests: AsyncIterable<DiscoveryRequest>;
  /**
   * Sends a response. Returns false when the stream is closed, or when the response had to be
   * queued behind unsent ones (Envoy is not reading): the caller should then hold further
   * responses until it has a reason to believe they will be read (bounded memory).
   */
  send(response: DiscoveryResponse): boolean;
  /** Ends the stream with status OK (idempotent). */
  end(): void;
  /** Settles once, when the stream is over. */
  readonly closed: Promise<SdsStreamEnd>;
}

export interface SdsServerOptions {
  /** Socket path; relative to the working directory. Default `DEFAULT_SDS_SOCKET_PATH`. */
  socketPath?: string;
  /** Called for every new `StreamSecrets` call. */
  onStream(stream: SdsStream): void;
}

export interface SdsServer {
  /** The absolute socket path. */
  readonly socketPath: string;
  /** Ends every stream, stops listening, removes the socket file. */
  close(): Promise<void>;
}

/** The socket cannot be served: another process serves it, or the path is not a socket. */
export class SdsSocketError extends Error {
  override readonly name = 'SdsSocketError';
}

function passThrough(value: Buffer): Buffer {
  return value;
}

function method(name: string, stream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/${SERVICE}/${name}`,
    requestStream: stream,
    responseStream: stream,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  };
}

const SERVICE_DEFINITION: grpc.ServiceDefinition = {
  StreamSecrets: method('StreamSecrets', true),
  DeltaSecrets: method('DeltaSecrets', true),
  FetchSecrets: method('FetchSecrets', false),
};

/** Whether a process accepts connections on the socket at `path`. */
function isServed(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = netConnect({ path });
    const finish = (served: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      done(served);
    };
    // A full backlog (EAGAIN), a permission error or silence: someone else's socket, keep it.
    const timer = setTimeout(() => finish(true), 1000);
    socket.once('connect', () => finish(true));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'),
    );
  });
}

/** Makes `path` free to bind: creates its directory, removes a stale socket, refuses the rest. */
async function claimSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let stat: Awaited<ReturnType<typeof lstat>>;
  try {
    stat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) {
    throw new SdsSocketError(`SDS socket ${path} exists and is not a socket; not replacing it`);
  }
  if (await isServed(path)) {
    throw new SdsSocketError(`SDS socket ${path} is served by another process`);
  }
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Listens on `path` with mode 0600 from the moment the socket file exists. */
function listenPrivately(server: NetServer, path: string): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (err: Error): void => fail(err);
    server.once('error', onError);
    // Node binds a pipe synchronously inside listen() (errors are emitted later), so the umask
    // covers exactly the socket's creation.
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', onError);
        try {
          chmodSync(path, 0o600);
          done();
        } catch (err) {
          fail(err);
        }
      });
    } finally {
      process.umask(previous);
    }
  });
}

type Call = grpc.ServerDuplexStream<Buffer, Buffer>;

class Stream implements SdsStream {
  readonly closed: Promise<SdsStreamEnd>;
  private settle!: (end: SdsStreamEnd) => void;
  private over = false;
  private iterating = false;
  /** Wakes a pending `readable()` wait. */
  private wake: (() => void) | undefined;

  constructor(
    readonly id: number,
    private readonly call: Call,
  ) {
    this.closed = new Promise((resolve) => {
      this.settle = resolve;
    });
    call.once('cancelled', () => this.finish({ reason: 'cancelled' }));
    call.once('finish', () => this.finish({ reason: 'ended' }));
    call.once('close', () => this.finish({ reason: 'cancelled' }));
    // A write after the peer went away, or a status that could not be sent: the call is over.
    call.on('error', () => this.finish({ reason: 'cancelled' }));
  }

  /** Records how the stream ended (first cause wins); returns whether it was still open. */
  finish(end: SdsStreamEnd): boolean {
    if (this.over) return false;
    this.over = true;
    this.settle(end);
    this.wake?.();
    return true;
  }

  get requests(): AsyncIterable<DiscoveryRequest> {
    return { [Symbol.asyncIterator]: () => this.iterate() };
  }

  private async *iterate(): AsyncGenerator<DiscoveryRequest> {
    if (this.iterating) throw new Error(`SDS stream ${this.id}: requests has one consumer only`);
    this.iterating = true;
    const call = this.call;
    while (!this.over && !call.readableEnded && !call.destroyed) {
      const raw = call.read() as Buffer | null;
      if (raw === null) {
        await this.readable();
        continue;
      }
      let request: DiscoveryRequest;
      try {
        request = decodeDiscoveryRequest(raw);
      } catch (err) {
        const detail = `malformed DiscoveryRequest: ${messageOf(err)}`;
        if (this.finish({ reason: 'malformed', detail })) {
          call.emit('error', { code: grpc.status.INTERNAL, details: detail });
        }
        return;
      }
      yield request;
    }
  }

  /** Resolves when the call has data, ended, or closed, or the stream is over. */
  private readable(): Promise<void> {
    const call = this.call;
    return new Promise((resolve) => {
      const done = (): void => {
        call.off('readable', done);
        call.off('end', done);
        call.off('close', done);
        this.wake = undefined;
        resolve();
      };
      call.on('readable', done);
      call.on('end', done);
      call.on('close', done);
      this.wake = done;
    });
  }

  send(response: DiscoveryResponse): boolean {
    if (this.over || this.call.writableEnded || this.call.destroyed) return false;
    return this.call.write(encodeDiscoveryResponse(response));
  }

  end(): void {
    if (this.over || this.call.writableEnded) return;
    this.call.end();
  }
}

/** Starts serving SDS on the socket; rejects with `SdsSocketError` when the path cannot be taken. */
export async function startSdsServer(options: SdsServerOptions): Promise<SdsServer> {
  const socketPath = resolve(options.socketPath ?? DEFAULT_SDS_SOCKET_PATH);
  await claimSocketPath(socketPath);

  const streams = new Set<Stream>();
  let nextId = 1;
  // Channelz would keep a record per call and connection; nothing here reads it.
  const grpcServer = new grpc.Server({ 'grpc.enable_channelz': 0 });
  grpcServer.addService(SERVICE_DEFINITION, {
    StreamSecrets: (call: Call) => {
      const stream = new Stream(nextId++, call);
      streams.add(stream);
      void stream.closed.then(() => streams.delete(stream));
      options.onStream(stream);
    },
    DeltaSecrets: (call: Call) => {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'DeltaSecrets not implemented' });
    },
    FetchSecrets: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'FetchSecrets not implemented' });
    },
  });
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const netServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  await listenPrivately(netServer, socketPath);
  const bound = await lstat(socketPath);
  // Accept errors after listening (e.g. EMFILE) leave the server listening; nothing to report.
  netServer.on('error', () => {});

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    close(): Promise<void> {
      closing ??= (async () => {
        for (const stream of streams) stream.finish({ reason: 'shutdown' });
        // net's close callback waits for every accepted connection. grpc-js's shutdown only
        // half-closes them (GOAWAY, then FIN), so they are destroyed here, whatever the peer does.
        const stopped = new Promise<void>((done) => netServer.close(() => done()));
        grpcServer.forceShutdown();
        injector.destroy();
        for (const socket of sockets) socket.destroy();
        await stopped;
        try {
          const now = await lstat(socketPath);
          if (now.ino === bound.ino && now.dev === bound.dev) await unlink(socketPath);
        } catch {
          // Already gone.
        }
      })();
      return closing;
    },
  };
}
