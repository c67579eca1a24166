/**
 * Hot restart, as `HotRestartImpl` and `HotRestarting{Base,Child,Parent}` behave from outside
 * (`source/server/hot_restart*.cc`; docs/envoy-process.md, "Hot restart").
 *
 * Names. The base id is scaled by 10. Each process holds two unix sockets in its epoch's slot:
 * `<socket_path>_child_<10B + epoch%3>` and `<socket_path>_parent_<10B + epoch%3>` (at most three
 * processes coexist: epochs equal mod 3 collide). A leading `@` puts them in the abstract
 * namespace, where they vanish with the process; otherwise stale files are unlinked before bind
 * and the mode is applied. Envoy uses datagram sockets; the simulator holds the same names with
 * stream sockets (`net.Server.listen`), which gives the same bind collisions (EADDRINUSE, errno 98)
 * and the same ECONNREFUSED for a slot nobody holds.
 *
 * Shared memory. `shm_open("/envoy_shared_memory_<10B>")` is modelled as a 104-byte file of that
 * name in `ENVOY_SIM_SHM_DIR` (default `/dev/shm`, where Linux keeps POSIX shm objects): size and
 * version words, room for the two robust mutexes, and the flags word whose INITIALIZING bit is set
 * at start and cleared when the workers start. Nothing removes it at exit, so the bit stays set if
 * a process dies before it is live (envoy#33446).
 *
 * Messages. One JSON object per line on a fresh connection to the parent's slot: the child opens
 * every exchange, as in Envoy, and waits for the reply when one is expected (ShutdownAdmin,
 * Stats). A refused connection is Envoy's refused `sendmsg()`: logged and retried every second,
 * ten times, then a RELEASE_ASSERT abort.
 */
import { chmodSync, closeSync, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Dying, panic, releaseAssert } from './crash.js';
import type { Logger } from './logger.js';
import type { Recorder } from './record.js';

/** `MaxConcurrentProcesses` in `hot_restarting_base.cc`. */
const MAX_CONCURRENT_PROCESSES = 3;
/** `sizeof(SharedMemory)` on x86-64 glibc and `HOT_RESTART_VERSION`. */
const SHM_SIZE = 104;
const SHM_VERSION = 11;
const SHM_FLAGS_OFFSET = 96;
const SHMEM_FLAGS_INITIALIZING = 0x1n;

export class DomainSocketInUse extends Error {
  override readonly name = 'DomainSocketInUse';
}

/** Errors thrown as `EnvoyException` from the hot-restart constructor: printed, exit 1. */
export class HotRestartError extends Error {
  override readonly name = 'HotRestartError';
}

export interface ShutdownAdminReply {
  /** The first epoch's start time (ms since the Unix epoch), so `uptime_all_epochs` continues. */
  originalStartTime: number;
  /** `server.hot_restart_generation` of the parent; the child adds itself. */
  generation: number;
}

export interface ParentStats {
  connections: number;
  memoryAllocated: number;
}

/** What the parent side does when its child asks (implemented by the server). */
export interface ParentRole {
  onShutdownAdmin(): Promise<ShutdownAdminReply>;
  onDrainListeners(): void;
  onTerminate(): void;
  onStats(): ParentStats;
}

type Message =
  | { type: 'ShutdownAdmin' }
  | { type: 'DrainListeners' }
  | { type: 'Terminate' }
  | { type: 'Stats' }
  | { type: 'TestConnection' };

export interface HotRestartConfig {
  socketPath: string;
  socketMode: number;
  /** The unscaled `--base-id`. */
  baseId: number;
  epoch: number;
  shmDir: string;
  sendmsgRetries: number;
  sendmsgRetryMs: number;
  logger: Logger;
  recorder: Recorder;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps the process alive with nothing else to do: the main thread is blocked in `recvmsg()`. */
function blockForever(): void {
  setInterval(() => {}, 1 << 30);
}

function errnoOf(err: unknown): { code: string; errno: number } {
  const e = err as { code?: unknown; errno?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : 'EIO',
    errno: typeof e.errno === 'number' ? Math.abs(e.errno) : 5,
  };
}

export class HotRestart {
  private readonly servers: Server[] = [];
  private parentRole: ParentRole | undefined;
  private readonly pending: { message: Message; socket: Socket }[] = [];
  /** Set once Terminate was sent (or there is no parent): no more messages go to the parent. */
  parentTerminated: boolean;
  readonly scaledBaseId: number;

  private constructor(
    private readonly cfg: HotRestartConfig,
    private readonly dying: Dying,
  ) {
    this.scaledBaseId = cfg.baseId * 10;
    this.parentTerminated = cfg.epoch === 0;
  }

  get baseId(): number {
    return this.cfg.baseId;
  }

  private address(role: 'parent' | 'child', id: number): string {
    const name = `${this.cfg.socketPath}_${role}_${this.scaledBaseId + (id % MAX_CONCURRENT_PROCESSES)}`;
    return name.startsWith('@') ? `\0${name.slice(1)}` : name;
  }

  /**
   * `HotRestartingChild` then `HotRestartingParent` bind their sockets in the epoch's slot. A slot
   * in use is `HotRestartDomainSocketInUseException`.
   */
  static async bind(cfg: HotRestartConfig, dying: Dying): Promise<HotRestart> {
    const hr = new HotRestart(cfg, dying);
    for (const role of ['child', 'parent'] as const) {
      const server = createServer((socket) => hr.accept(role, socket));
      const address = hr.address(role, cfg.epoch);
      const abstract = address.startsWith('\0');
      if (!abstract) {
        try {
          unlinkSync(address);
        } catch {
          // Nothing stale to remove.
        }
      }
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(address, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        hr.close();
        const { code, errno } = errnoOf(err);
        const msg = `unable to bind domain socket with base_id=${hr.scaledBaseId}, id=${cfg.epoch}, errno=${errno} (see --base-id option)`;
        if (code === 'EADDRINUSE') throw new DomainSocketInUse(msg);
        throw new HotRestartError(msg);
      }
      server.unref();
      if (!abstract) {
        try {
          chmodSync(address, cfg.socketMode);
        } catch {
          // fchmod failures are ignored by Envoy too.
        }
      }
      hr.servers.push(server);
    }
    cfg.recorder.write({
      event: 'hot-restart',
      step: 'bind',
      slot: hr.scaledBaseId + (cfg.epoch % MAX_CONCURRENT_PROCESSES),
    });
    return hr;
  }

  private shmPath(): string {
    return join(this.cfg.shmDir, `envoy_shared_memory_${this.scaledBaseId}`);
  }

  /**
   * `attachSharedMemory`: epoch 0 unlinks and recreates the object; later epochs must find it
   * (PANIC otherwise) with the right size and version (RELEASE_ASSERT otherwise). Then the
   * INITIALIZING bit is set; finding it already set is the "still initializing" error.
   */
  attachSharedMemory(): void {
    const path = this.shmPath();
    const shmName = `/envoy_shared_memory_${this.scaledBaseId}`;
    let fd: number;
    if (this.cfg.epoch === 0) {
      try {
        unlinkSync(path);
      } catch {
        // No previous object.
      }
      try {
        fd = openSync(path, 'wx+', 0o600);
      } catch (err) {
        panic(
          this.dying,
          `cannot open shared memory region ${shmName} check user permissions. Error: ${strerror(err)}`,
        );
      }
      const header = Buffer.alloc(SHM_SIZE);
      header.writeBigUInt64LE(BigInt(SHM_SIZE), 0);
      header.writeBigUInt64LE(BigInt(SHM_VERSION), 8);
      writeSync(fd, header, 0, SHM_SIZE, 0);
    } else {
      try {
        fd = openSync(path, 'r+');
      } catch (err) {
        panic(
          this.dying,
          `cannot open shared memory region ${shmName} check user permissions. Error: ${strerror(err)}`,
        );
      }
      const header = Buffer.alloc(16);
      readSync(fd, header, 0, 16, 0);
      if (fstatSync(fd).size !== SHM_SIZE || header.readBigUInt64LE(0) !== BigInt(SHM_SIZE)) {
        releaseAssert(
          this.dying,
          'shmem->size_ == sizeof(SharedMemory)',
          'Hot restart SharedMemory size mismatch! You must have hot restarted into a not-hot-restart-compatible new version of Envoy.',
        );
      }
      if (header.readBigUInt64LE(8) !== BigInt(SHM_VERSION)) {
        releaseAssert(
          this.dying,
          'shmem->version_ == HOT_RESTART_VERSION',
          'Hot restart version mismatch! You must have hot restarted into a not-hot-restart-compatible new version of Envoy.',
        );
      }
    }
    try {
      const flags = Buffer.alloc(8);
      readSync(fd, flags, 0, 8, SHM_FLAGS_OFFSET);
      const old = flags.readBigUInt64LE(0);
      flags.writeBigUInt64LE(old | SHMEM_FLAGS_INITIALIZING, 0);
      writeSync(fd, flags, 0, 8, SHM_FLAGS_OFFSET);
      this.cfg.recorder.write({
        event: 'hot-restart',
        step: 'shm-attach',
        initializingWasSet: (old & SHMEM_FLAGS_INITIALIZING) !== 0n,
      });
      if ((old & SHMEM_FLAGS_INITIALIZING) !== 0n) {
        throw new HotRestartError('previous envoy process is still initializing');
      }
    } finally {
      closeSync(fd);
    }
  }

  /** `drainParentListeners()` clears the bit: a new epoch may start from now on. */
  clearInitializing(): void {
    try {
      const fd = openSync(this.shmPath(), 'r+');
      try {
        const flags = Buffer.alloc(8);
        readSync(fd, flags, 0, 8, SHM_FLAGS_OFFSET);
        flags.writeBigUInt64LE(flags.readBigUInt64LE(0) & ~SHMEM_FLAGS_INITIALIZING, 0);
        writeSync(fd, flags, 0, 8, SHM_FLAGS_OFFSET);
      } finally {
        closeSync(fd);
      }
    } catch {
      // The object was replaced by a new epoch 0: nothing of ours to clear.
    }
  }

  /** Starts answering the child's requests (Envoy's parent side runs on the main dispatcher). */
  serveAsParent(role: ParentRole): void {
    this.parentRole = role;
    for (const { message, socket } of this.pending.splice(0)) void this.handle(message, socket);
  }

  private accept(role: 'parent' | 'child', socket: Socket): void {
    if (role === 'child') {
      // Replies travel on the request's own connection; nothing is sent to a child slot.
      socket.destroy();
      return;
    }
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      const line = buffer.slice(0, newline);
      buffer = '';
      let message: Message;
      try {
        message = JSON.parse(line) as Message;
      } catch {
        socket.destroy();
        return;
      }
      if (this.parentRole === undefined) this.pending.push({ message, socket });
      else void this.handle(message, socket);
    });
  }

  private async handle(message: Message, socket: Socket): Promise<void> {
    const role = this.parentRole;
    if (role === undefined) return;
    switch (message.type) {
      case 'ShutdownAdmin': {
        this.cfg.recorder.write({ event: 'hot-restart', step: 'shutdown-admin-received' });
        const reply = await role.onShutdownAdmin();
        socket.end(`${JSON.stringify(reply)}\n`);
        return;
      }
      case 'Stats':
        socket.end(`${JSON.stringify(role.onStats())}\n`);
        return;
      case 'DrainListeners':
        socket.end();
        this.cfg.recorder.write({ event: 'hot-restart', step: 'drain-listeners-received' });
        role.onDrainListeners();
        return;
      case 'Terminate':
        socket.end();
        this.cfg.recorder.write({ event: 'hot-restart', step: 'terminate-received' });
        role.onTerminate();
        return;
      case 'TestConnection':
        socket.end();
        return;
    }
  }

  private connectOnce(
    message: Message,
    expectReply: boolean,
  ): Promise<{ refused: true } | { reply: string | undefined }> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.address('parent', this.cfg.epoch - 1));
      let connected = false;
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('error', (err) => {
        if (connected) return;
        if (errnoOf(err).code === 'ECONNREFUSED') resolve({ refused: true });
        else reject(err);
      });
      socket.on('connect', () => {
        connected = true;
        socket.write(`${JSON.stringify(message)}\n`);
        if (!expectReply) {
          socket.end();
          resolve({ reply: undefined });
        }
      });
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        const newline = buffer.indexOf('\n');
        if (newline >= 0) {
          socket.destroy();
          resolve({ reply: buffer.slice(0, newline) });
        }
      });
      // A parent that takes the request and dies before answering leaves Envoy's child blocked in
      // recvmsg() for good: the promise stays pending.
      socket.on('close', () => {
        if (connected && expectReply && !buffer.includes('\n')) blockForever();
      });
    });
  }

  /** `sendHotRestartMessage` (+ the blocking receive when a reply is expected). */
  private async send(message: Message, expectReply: boolean): Promise<string | undefined> {
    for (let attempt = 0; attempt < this.cfg.sendmsgRetries; attempt++) {
      let outcome: { refused: true } | { reply: string | undefined };
      try {
        outcome = await this.connectOnce(message, expectReply);
      } catch (err) {
        releaseAssert(
          this.dying,
          'false',
          `hot restart sendmsg() failed: returned -1, errno ${errnoOf(err).errno}`,
        );
      }
      if ('reply' in outcome) return outcome.reply;
      this.cfg.logger.error(
        'main',
        'source/server/hot_restarting_base.cc:143',
        'hot restart sendmsg() connection refused, retrying',
      );
      this.cfg.recorder.write({
        event: 'hot-restart',
        step: 'sendmsg-refused',
        message: message.type,
        attempt: attempt + 1,
      });
      await sleep(this.cfg.sendmsgRetryMs);
    }
    return releaseAssert(this.dying, 'false', 'hot restart sendmsg() failed: returned -1, errno 111');
  }

  /**
   * `--skip-hot-restart-on-no-parent`: one test message, allowed to fail. A refused one means the
   * parent is gone: start as a fresh server (keeping the epoch number).
   */
  async probeParent(): Promise<boolean> {
    if (this.cfg.epoch === 0) return false;
    let outcome: { refused: true } | { reply: string | undefined };
    try {
      outcome = await this.connectOnce({ type: 'TestConnection' }, false);
    } catch {
      outcome = { refused: true };
    }
    if ('reply' in outcome) return true;
    this.cfg.logger.warn(
      'main',
      'source/server/hot_restarting_child.cc:48',
      'hot restart sendmsg() connection refused, falling back to regular restart',
    );
    this.cfg.recorder.write({ event: 'hot-restart', step: 'no-parent-fallback' });
    this.parentTerminated = true;
    return false;
  }

  async shutdownParentAdmin(): Promise<ShutdownAdminReply | undefined> {
    if (this.parentTerminated) return undefined;
    this.cfg.recorder.write({ event: 'hot-restart', step: 'shutdown-admin-sent' });
    const reply = await this.send({ type: 'ShutdownAdmin' }, true);
    const parsed = JSON.parse(reply ?? '{}') as Partial<ShutdownAdminReply>;
    const result = {
      originalStartTime: typeof parsed.originalStartTime === 'number' ? parsed.originalStartTime : Date.now(),
      generation: typeof parsed.generation === 'number' ? parsed.generation : 0,
    };
    this.cfg.recorder.write({ event: 'hot-restart', step: 'shutdown-admin-reply', ...result });
    return result;
  }

  async drainParentListeners(): Promise<void> {
    if (this.parentTerminated) return;
    this.cfg.recorder.write({ event: 'hot-restart', step: 'drain-listeners-sent' });
    await this.send({ type: 'DrainListeners' }, false);
  }

  async getParentStats(): Promise<ParentStats | undefined> {
    if (this.parentTerminated) return undefined;
    const reply = await this.send({ type: 'Stats' }, true);
    const parsed = JSON.parse(reply ?? '{}') as Partial<ParentStats>;
    return { connections: parsed.connections ?? 0, memoryAllocated: parsed.memoryAllocated ?? 0 };
  }

  async terminateParent(reason: string): Promise<void> {
    if (this.parentTerminated) return;
    // Marked before sending so a second caller (timer and shutdown racing) sends nothing.
    this.parentTerminated = true;
    this.cfg.recorder.write({ event: 'hot-restart', step: 'terminate-sent', reason });
    await this.send({ type: 'Terminate' }, false);
  }

  /** `HotRestartImpl::shutdown()`: the sockets go away with the process. */
  close(): void {
    for (const server of this.servers) server.close();
    this.servers.length = 0;
  }
}

function strerror(err: unknown): string {
  switch (errnoOf(err).code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'EEXIST':
      return 'File exists';
    default:
      return errnoOf(err).code;
  }
}
