/**
 * The simulated `Server::InstanceImpl`: construction (`initialize()`), the main loop (`run()`),
 * initialization states, stats refreshes, draining, the hot-restart parent role and shutdown.
 *
 * Timeline of a serving process (`source/server/server.cc`; docs/envoy-process.md, "Start-up order"):
 * 1. construct: `initializing epoch N ...`, bootstrap load (errors: critical
 *    `error initializing configuration '<path>': <reason>`, `exiting`, reason on stderr, exit 1),
 *    server stats, ShutdownAdmin to a hot-restart parent, the admin listener.
 * 2. run: signal handlers, `starting main dispatch loop`.
 * 3. PRE_INITIALIZING while the cluster manager waits for the first CDS response,
 *    INITIALIZING while the init manager waits for the first LDS response, then
 *    `all dependencies initialized. starting workers`, `listener_manager.workers_started` = 1,
 *    a server stats refresh, DrainListeners to the parent and the parent-shutdown timer.
 *    The simulator never talks to an xDS server: the first responses "arrive" after
 *    `ENVOY_SIM_XDS_DELAY_MS` (CDS at half of it when LDS is also configured).
 *    SDS is real (`sds.ts`): static clusters whose TLS needs SDS secrets hold the cluster
 *    manager's initialization (PRE_INITIALIZING) until each secret's first response or
 *    `initial_fetch_timeout`; static listeners hold the init manager (INITIALIZING) likewise.
 * 4. shutdown (SIGTERM, SIGINT, `/quitquitquit`): `shutting down server instance`, Terminate to a
 *    parent, `main dispatch loop exited`, `exiting`, exit 0.
 */
import { existsSync, writeFileSync } from 'node:fs';
import {
  type AdminContext,
  type AdminServer,
  type DrainRequest,
  type ListenerInfo,
  startAdmin,
} from './admin.js';
import { type LoadedBootstrap, loadBootstrap } from './bootstrap.js';
import type { Faults, SimEnv } from './env.js';
import type { HotRestart, ParentRole, ParentStats, ShutdownAdminReply } from './hot-restart.js';
import type { Logger } from './logger.js';
import type { Options } from './options.js';
import type { Recorder } from './record.js';
import type { SdsManager } from './sds.js';
import { SdsConfigError, type SdsFacts, sdsFacts } from './sds-config.js';
import { type Stat, StatsStore } from './stats.js';
import type { Json, JsonObject } from './validate-bootstrap.js';
import {
  ENVOY_RELEASE,
  ENVOY_SHA,
  ENVOY_VERSION,
  HOT_RESTART_DISABLED,
  HOT_RESTART_VERSION,
  SERVER_VERSION_GAUGE,
} from './version.js';

export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';
const STATE_VALUE: Record<ServerState, number> = {
  LIVE: 0,
  DRAINING: 1,
  PRE_INITIALIZING: 2,
  INITIALIZING: 3,
};

/** A configuration error met while constructing the server (an `EnvoyException`). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface ServerDeps {
  options: Options;
  faults: Faults;
  env: SimEnv;
  logger: Logger;
  recorder: Recorder;
  hotRestart: HotRestart | undefined;
  /** When this process started (ms since the Unix epoch). */
  startTime: number;
  /** Ends the process with an exit status (records it first). */
  exit(code: number): never;
}

/** Connections on the simulated inbound listener, falling linearly to 0 once a drain starts. */
class Connections {
  private drainStart: number | undefined;

  constructor(
    private readonly initial: number,
    private readonly drainMs: number,
  ) {}

  startDrain(): void {
    this.drainStart ??= Date.now();
  }

  current(): number {
    if (this.drainStart === undefined || this.initial === 0) return this.initial;
    if (this.drainMs === 0) return 0;
    const left = 1 - (Date.now() - this.drainStart) / this.drainMs;
    return Math.max(0, Math.ceil(this.initial * left));
  }
}

interface SimListener {
  name: string;
  address: string;
  port: number;
  direction: 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';
  /** Carries the simulated active connections (and an HTTP connection manager). */
  carriesConnections: boolean;
  stopped: boolean;
}

/** Listeners every simulated Envoy reports, unless the bootstrap defines the same address. */
const DEFAULT_LISTENERS: Omit<SimListener, 'stopped'>[] = [
  { name: 'virtualInbound', address: '0.0.0.0', port: 15006, direction: 'INBOUND', carriesConnections: true },
  {
    name: '0.0.0.0_15090',
    address: '0.0.0.0',
    port: 15090,
    direction: 'UNSPECIFIED',
    carriesConnections: false,
  },
];

/** The HTTP connection manager behind the inbound listener (`http.<stat_prefix>.*`). */
const INBOUND_HTTP_PREFIX = 'inbound_0.0.0.0_8080';

function statAddress(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}_${port}`.replace(/:/g, '_');
}

/** Protobuf-JSON `Duration`: `"600s"`, `"0.250s"`. */
export function durationJson(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(3)}s`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SimServer implements ParentRole, AdminContext {
  readonly stats = new StatsStore();
  private initState: 'uninitialized' | 'initializing' | 'initialized' = 'uninitialized';
  private healthCheckFailed = false;
  private workersStarted = false;
  private shuttingDown = false;
  private originalStartTime: number;
  private bootstrap: LoadedBootstrap | undefined;
  private admin: AdminServer | undefined;
  private readonly connections: Connections;
  private listeners: SimListener[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private keepAlive: NodeJS.Timeout | undefined;
  private drainSequenceRunning = false;
  private flushInProgress = false;
  private parentStats: ParentStats = { connections: 0, memoryAllocated: 0 };
  private readonly serverStats: Record<string, Stat> = {};
  private sdsFacts: SdsFacts | undefined;
  /** Loaded only for bootstraps with SDS secrets (it brings protobufjs and grpc-js). */
  private sds: SdsManager | undefined;

  constructor(private readonly deps: ServerDeps) {
    this.originalStartTime = deps.startTime;
    this.connections = new Connections(deps.env.activeConnections, deps.env.connectionsDrainMs);
  }

  private get log(): Logger {
    return this.deps.logger;
  }

  get hotRestartVersion(): string {
    return this.deps.hotRestart === undefined ? HOT_RESTART_DISABLED : HOT_RESTART_VERSION;
  }

  /** `Utility::serverState(initManager().state(), healthCheckFailed())`. */
  state(): ServerState {
    if (this.initState === 'uninitialized') return 'PRE_INITIALIZING';
    if (this.initState === 'initializing') return 'INITIALIZING';
    return this.healthCheckFailed ? 'DRAINING' : 'LIVE';
  }

  // ---- construction -------------------------------------------------------------------------

  /** `InstanceImpl` constructor + `initialize()`. Throws `ConfigError` for the error path. */
  async construct(): Promise<void> {
    const { options, logger, hotRestart } = this.deps;
    if (options.logPath !== '') {
      try {
        logger.openFile(options.logPath);
      } catch (err) {
        throw new ConfigError(err instanceof Error ? err.message : String(err));
      }
    }
    logger.info(
      'main',
      'source/server/server.cc:436',
      `initializing epoch ${options.restartEpoch} (base id=${hotRestart?.baseId ?? 0}, hot restart version=${this.hotRestartVersion})`,
    );
    logger.info('main', 'source/server/server.cc:438', 'statically linked extensions:');
    for (const [category, names] of STATIC_EXTENSIONS) {
      logger.info('main', 'source/server/server.cc:440', `  ${category}: ${names.join(', ')}`);
    }

    const loaded = await loadBootstrap(options);
    if (!loaded.ok) throw new ConfigError(loaded.reason);
    this.bootstrap = loaded.bootstrap;
    for (const description of loaded.bootstrap.unknownFields) {
      logger.warn(
        'misc',
        'source/common/protobuf/message_validator_impl.cc:21',
        `Unknown field: ${description}`,
      );
    }
    this.createServerStats(loaded.bootstrap.unknownFields.length);
    await this.createSds(loaded.bootstrap);

    const flagsPath = loaded.bootstrap.facts.flagsPath;
    if (flagsPath !== undefined) {
      logger.info('main', 'source/server/server.cc:1001', `server flags path: ${flagsPath}`);
      if (existsSync(`${flagsPath}/drain`)) {
        logger.info('main', 'source/server/server.cc:1003', 'starting server in drain mode');
        this.failHealthcheck(true);
      }
    }

    // ENVOY_SIM_START_DELAY_MS: a slow constructor. Signal handlers are not installed yet, so a
    // SIGTERM now takes the default action, as it would in Envoy.
    if (this.deps.faults.startDelayMs > 0) await sleep(this.deps.faults.startDelayMs);

    // Learn original_start_time_ if a parent is still around (`sendParentAdminShutdownRequest`).
    if (hotRestart !== undefined) {
      const reply = await hotRestart.shutdownParentAdmin();
      if (reply !== undefined) {
        this.originalStartTime = reply.originalStartTime;
        this.serverStats.hotRestartGeneration?.add(reply.generation);
      }
    }

    this.createListeners();
    await this.startAdmin();
    this.keepAlive = setInterval(() => {}, 1 << 30);

    // ClusterManagerInitHelper: static clusters are initialized during construction; with CDS
    // the cluster manager waits for the first response.
    // Static clusters waiting for SDS secrets: startClusters() logs once the secrets are in.
    const waitingForSecrets = this.clusterSecrets().length > 0;
    if (!waitingForSecrets && loaded.bootstrap.facts.cds.configured) {
      logger.info(
        'upstream',
        'source/common/upstream/cluster_manager_impl.cc:247',
        'cm init: initializing cds',
      );
    } else if (!waitingForSecrets) {
      logger.info(
        'upstream',
        'source/common/upstream/cluster_manager_impl.cc:241',
        'cm init: all clusters initialized',
      );
    }
    const facts = loaded.bootstrap.facts;
    if (!facts.statsFlushOnAdmin) {
      this.flushTimer = setInterval(() => void this.flushStats(), facts.statsFlushIntervalMs);
    }
  }

  /** The SDS subscriptions the bootstrap's static TLS contexts need (none: nothing is loaded). */
  private async createSds(bootstrap: LoadedBootstrap): Promise<void> {
    let facts: SdsFacts;
    try {
      facts = sdsFacts(bootstrap.doc);
    } catch (err) {
      if (err instanceof SdsConfigError) throw new ConfigError(err.message);
      throw err;
    }
    if (facts.subscriptions.length === 0) return;
    this.sdsFacts = facts;
    const { SdsManager } = await import('./sds.js');
    this.sds = new SdsManager(facts, {
      logger: this.deps.logger,
      recorder: this.deps.recorder,
      stats: this.stats,
      nack: this.deps.faults.sdsNack,
      node: () => this.nodeJson(),
    });
  }

  private clusterSecrets(): string[] {
    return this.sdsFacts?.clusterKeys ?? [];
  }

  private createServerStats(unknownFields: number): void {
    const { options } = this.deps;
    const s = this.stats;
    const g = (name: string): Stat => s.gauge(`server.${name}`);
    this.serverStats.state = g('state');
    this.serverStats.live = g('live');
    this.serverStats.uptime = g('uptime');
    this.serverStats.memoryAllocated = g('memory_allocated');
    this.serverStats.memoryHeapSize = g('memory_heap_size');
    this.serverStats.memoryPhysicalSize = g('memory_physical_size');
    this.serverStats.parentConnections = g('parent_connections');
    this.serverStats.totalConnections = g('total_connections');
    this.serverStats.daysUntilFirstCertExpiring = g('days_until_first_cert_expiring');
    this.serverStats.secondsUntilOcsp = g('seconds_until_first_ocsp_response_expiring');
    this.serverStats.recentLookups = g('stats_recent_lookups');
    g('concurrency').set(options.concurrency);
    g('hot_restart_epoch').set(options.restartEpoch);
    g('version').set(SERVER_VERSION_GAUGE);
    // Accumulates across hot restarts (HotRestartingBase::hotRestartGeneration): each process
    // adds itself, a child also adds what its parent reported.
    this.serverStats.hotRestartGeneration = g('hot_restart_generation');
    this.serverStats.hotRestartGeneration.add(1);
    for (const name of [
      'debug_assertion_failures',
      'envoy_bug_failures',
      'dynamic_unknown_fields',
      'static_unknown_fields',
      'dropped_stat_flushes',
      'main_thread.watchdog_miss',
      'main_thread.watchdog_mega_miss',
      'watchdog_miss',
      'watchdog_mega_miss',
    ]) {
      s.counter(`server.${name}`);
    }
    if (unknownFields > 0) s.counter('server.static_unknown_fields').add(unknownFields);
    s.histogram('server.initialization_time_ms');
    this.failHealthcheck(this.healthCheckFailed);

    const facts = this.bootstrap?.facts;
    s.gauge('cluster_manager.active_clusters').set(facts?.staticClusterCount ?? 0);
    s.gauge('cluster_manager.warming_clusters').set(0);
    const added = s.counter('cluster_manager.cluster_added');
    if ((facts?.staticClusterCount ?? 0) > 0) added.add(facts?.staticClusterCount ?? 0);
    for (const name of [
      'cluster_modified',
      'cluster_removed',
      'cluster_updated',
      'cluster_updated_via_merge',
      'update_merge_cancelled',
      'update_out_of_merge_window',
    ]) {
      s.counter(`cluster_manager.${name}`);
    }
    for (const name of [
      'listener_added',
      'listener_create_failure',
      'listener_create_success',
      'listener_in_place_updated',
      'listener_modified',
      'listener_removed',
      'listener_stopped',
    ]) {
      s.counter(`listener_manager.${name}`);
    }
    for (const name of [
      'total_filter_chains_draining',
      'total_listeners_active',
      'total_listeners_draining',
      'total_listeners_warming',
      'workers_started',
    ]) {
      s.gauge(`listener_manager.${name}`);
    }
    // The xDS counters exist only for configured subscriptions (created with the subscription).
    if (facts?.cds.configured) this.stats.createSubscriptionStats('cluster_manager.cds');
    if (facts?.lds.configured) this.stats.createSubscriptionStats('listener_manager.lds');
  }

  private createListeners(): void {
    const { concurrency } = this.deps.options;
    const fromBootstrap = this.bootstrap?.facts.staticListeners ?? [];
    const listeners: SimListener[] = fromBootstrap.map((l) => ({
      ...l,
      carriesConnections: l.port === 15006,
      stopped: false,
    }));
    for (const l of DEFAULT_LISTENERS) {
      if (!listeners.some((x) => x.port === l.port)) listeners.push({ ...l, stopped: false });
    }
    this.listeners = listeners;
    const active = this.deps.env.activeConnections;
    for (const l of listeners) {
      const base = `listener.${statAddress(l.address, l.port)}`;
      const gauge = this.stats.gauge(`${base}.downstream_cx_active`);
      const total = this.stats.counter(`${base}.downstream_cx_total`);
      for (let w = 0; w < concurrency; w++) {
        const workerGauge = this.stats.gauge(`${base}.worker_${w}.downstream_cx_active`);
        const workerTotal = this.stats.counter(`${base}.worker_${w}.downstream_cx_total`);
        if (l.carriesConnections && w === 0) {
          workerGauge.compute = () => this.connections.current();
          if (active > 0) {
            workerGauge.set(active);
            workerTotal.add(active);
          }
        }
      }
      if (l.carriesConnections) {
        gauge.compute = () => this.connections.current();
        const http = this.stats.gauge(`http.${INBOUND_HTTP_PREFIX}.downstream_cx_active`);
        const httpTotal = this.stats.counter(`http.${INBOUND_HTTP_PREFIX}.downstream_cx_total`);
        http.compute = () => this.connections.current();
        if (active > 0) {
          gauge.set(active);
          total.add(active);
          http.set(active);
          httpTotal.add(active);
        }
      }
    }
    this.stats.counter('listener_manager.listener_added').add(listeners.length);
  }

  private async startAdmin(): Promise<void> {
    const { options, logger } = this.deps;
    const admin = this.bootstrap?.facts.admin;
    if (admin === undefined) {
      logger.warn(
        'main',
        'source/server/server.cc:623',
        'No admin address given, so no admin HTTP server started.',
      );
      return;
    }
    try {
      this.admin = await startAdmin(admin, this, {
        logger,
        recorder: this.deps.recorder,
        faults: this.deps.faults,
        stats: this.stats,
      });
    } catch (err) {
      throw new ConfigError(err instanceof Error ? err.message : String(err));
    }
    logger.info('admin', 'source/server/admin/admin.cc:67', `admin address: ${this.admin.address}`);
    if (options.adminAddressPath !== '') {
      try {
        writeFileSync(options.adminAddressPath, this.admin.address);
      } catch {
        logger.critical(
          'admin',
          'source/server/admin/admin.cc:72',
          `cannot open admin address output file ${options.adminAddressPath} for writing.`,
        );
      }
    }
  }

  // ---- main loop ----------------------------------------------------------------------------

  /** `run()`: from here signals are handled (the caller installs the handlers first). */
  run(): void {
    this.log.info('main', 'source/server/server.cc:964', 'starting main dispatch loop');
    const facts = this.bootstrap?.facts;
    if (facts === undefined) return;
    const secrets = this.clusterSecrets();
    if (this.sds !== undefined && secrets.length > 0) {
      // The static clusters' init managers start their SdsApi targets; the cluster manager's
      // initialization (and CDS) waits for them.
      this.sds.start(secrets);
      this.sds.whenInitialized(secrets, () => {
        if (!this.shuttingDown) this.startClusters(true);
      });
    } else {
      this.startClusters(false);
    }
  }

  /** The cluster manager past its static clusters: CDS if configured, else all initialized. */
  private startClusters(afterSecrets: boolean): void {
    const facts = this.bootstrap?.facts;
    if (facts === undefined) return;
    const { faults } = this.deps;
    const delay = faults.xdsDelayMs;
    if (facts.cds.configured) {
      if (afterSecrets) {
        this.log.info(
          'upstream',
          'source/common/upstream/cluster_manager_impl.cc:247',
          'cm init: initializing cds',
        );
      }
      this.stats.counter('cluster_manager.cds.update_attempt').add();
      this.awaitFirstResponse(
        'cds',
        facts.lds.configured ? Math.floor(delay / 2) : delay,
        facts.cds.initialFetchTimeoutMs,
        () => this.clustersInitialized(),
      );
    } else {
      this.defer(0, () => this.clustersInitialized());
    }
  }

  private defer(ms: number, fn: () => void): void {
    this.timers.push(
      setTimeout(() => {
        if (!this.shuttingDown) fn();
      }, ms),
    );
  }

  /**
   * The first response of a subscription, or its `initial_fetch_timeout`: either lets
   * initialization continue. A rejected response (NACK) completes initialization too, with
   * `update_rejected` counted instead of `update_success`.
   */
  private awaitFirstResponse(
    kind: 'cds' | 'lds',
    delayMs: number,
    timeoutMs: number,
    next: () => void,
  ): void {
    const prefix = kind === 'cds' ? 'cluster_manager.cds' : 'listener_manager.lds';
    const { faults } = this.deps;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      next();
    };
    if (!faults.neverLive) {
      this.defer(delayMs, () => {
        if (done) return;
        this.stats.counter(`${prefix}.update_attempt`).add();
        const typeUrl =
          kind === 'cds'
            ? 'type.googleapis.com/envoy.config.cluster.v3.Cluster'
            : 'type.googleapis.com/envoy.config.listener.v3.Listener';
        if (faults.xdsReject[kind]) {
          this.stats.counter(`${prefix}.update_rejected`).add();
          this.log.warn(
            'config',
            'source/extensions/config_subscription/grpc/grpc_subscription_impl.cc:128',
            `gRPC config for ${typeUrl} rejected: ENVOY_SIM_XDS_REJECT`,
          );
        } else {
          this.stats.counter(`${prefix}.update_success`).add();
          this.stats.gauge(`${prefix}.update_time`).set(Date.now());
          this.stats.gauge(`${prefix}.version`).set(1);
          this.stats.textReadout(`${prefix}.version_text`).setText('2026-01-01T00:00:00Z/1');
          if (kind === 'cds') {
            this.log.info(
              'upstream',
              'source/common/upstream/cds_api_helper.cc:32',
              'cds: add 0 cluster(s), remove 0 cluster(s)',
            );
          } else {
            this.log.info(
              'upstream',
              'source/common/listener_manager/lds_api.cc:109',
              "lds: add/update listener 'virtualInbound'",
            );
          }
        }
        finish();
      });
    }
    if (timeoutMs > 0) {
      this.defer(timeoutMs, () => {
        if (done) return;
        this.stats.counter(`${prefix}.init_fetch_timeout`).add();
        this.log.warn(
          'config',
          'source/extensions/config_subscription/grpc/grpc_subscription_impl.cc:117',
          `gRPC config: initial fetch timed out for ${kind === 'cds' ? 'type.googleapis.com/envoy.config.cluster.v3.Cluster' : 'type.googleapis.com/envoy.config.listener.v3.Listener'}`,
        );
        finish();
      });
    }
  }

  private clustersInitialized(): void {
    const facts = this.bootstrap?.facts;
    if (facts === undefined) return;
    if (facts.cds.configured || this.clusterSecrets().length > 0)
      this.log.info(
        'upstream',
        'source/common/upstream/cluster_manager_impl.cc:241',
        'cm init: all clusters initialized',
      );
    this.log.info(
      'main',
      'source/server/server.cc:1064',
      'all clusters initialized. initializing init manager',
    );
    this.initState = 'initializing';
    // The init manager waits for LDS and for the static listeners' SDS secrets.
    const listenerSecrets = this.sdsFacts?.listenerKeys ?? [];
    let pending = this.sds !== undefined && listenerSecrets.length > 0 ? 2 : 1;
    const partDone = (): void => {
      pending -= 1;
      if (pending === 0) this.initialized();
    };
    if (this.sds !== undefined && listenerSecrets.length > 0) {
      this.sds.start(listenerSecrets);
      this.sds.whenInitialized(listenerSecrets, () => {
        if (!this.shuttingDown) partDone();
      });
    }
    if (facts.lds.configured) {
      this.stats.counter('listener_manager.lds.update_attempt').add();
      const elapsed = facts.cds.configured ? Math.floor(this.deps.faults.xdsDelayMs / 2) : 0;
      this.awaitFirstResponse(
        'lds',
        Math.max(0, this.deps.faults.xdsDelayMs - elapsed),
        facts.lds.initialFetchTimeoutMs,
        partDone,
      );
    } else {
      partDone();
    }
  }

  private initialized(): void {
    this.initState = 'initialized';
    this.log.info(
      'config',
      'source/common/listener_manager/listener_manager_impl.cc:944',
      'all dependencies initialized. starting workers',
    );
    // Workers start on their own threads; the callback runs on the next main-loop turn.
    this.defer(0, () => void this.onWorkersStarted());
  }

  private async onWorkersStarted(): Promise<void> {
    const elapsed = Date.now() - this.deps.startTime;
    this.stats.histogram('server.initialization_time_ms').record(elapsed);
    this.stats.gauge('listener_manager.total_listeners_active').set(this.listeners.length);
    this.stats
      .counter('listener_manager.listener_create_success')
      .add(this.listeners.length * this.deps.options.concurrency);
    this.stats.gauge('listener_manager.workers_started').set(1);
    this.workersStarted = true;
    // "Update server stats as soon as initialization is done."
    this.updateServerStats();
    const hr = this.deps.hotRestart;
    if (hr !== undefined) {
      // drainParentListeners(): DrainListeners to the parent, then the INITIALIZING bit is cleared.
      if (!hr.parentTerminated) await hr.drainParentListeners();
      hr.clearInitializing();
      // startParentShutdownSequence(): Terminate goes to the parent --parent-shutdown-time-s later.
      this.defer(this.deps.options.parentShutdownTimeS * 1000, () => {
        if (hr.parentTerminated) return;
        this.log.info('main', 'source/server/drain_manager_impl.cc:172', 'shutting down parent after drain');
        void hr.terminateParent('parent-shutdown-time');
      });
    }
  }

  // ---- stats --------------------------------------------------------------------------------

  /** `updateServerStats()`: the only place `server.state` is written. */
  updateServerStats(): void {
    const st = this.serverStats;
    const memory = process.memoryUsage();
    st.uptime?.set(Math.floor((Date.now() - this.originalStartTime) / 1000));
    st.memoryAllocated?.set(memory.heapUsed + this.parentStats.memoryAllocated);
    st.memoryHeapSize?.set(memory.heapTotal);
    st.memoryPhysicalSize?.set(memory.rss);
    st.parentConnections?.set(this.parentStats.connections);
    st.totalConnections?.set(this.connections.current() + this.parentStats.connections);
    // `daysUntilFirstCertExpires()`: the maximum of an int32 when no certificate is loaded.
    st.daysUntilFirstCertExpiring?.set(this.sds?.daysUntilFirstCertExpiring() ?? 2147483647);
    st.recentLookups?.set(0);
    st.state?.set(STATE_VALUE[this.state()]);
  }

  /** A stats flush: parent stats first (hot restart), then the server stats refresh. */
  private async flushStats(): Promise<void> {
    if (this.flushInProgress) {
      // InstanceImpl::flushStats: "skipping stats flush as flush is already in progress".
      this.stats.counter('server.dropped_stat_flushes').add();
      return;
    }
    this.flushInProgress = true;
    const hr = this.deps.hotRestart;
    if (hr !== undefined && !hr.parentTerminated && !this.deps.options.skipHotRestartParentStats) {
      const fromParent = await hr.getParentStats();
      if (fromParent !== undefined) this.parentStats = fromParent;
    } else {
      this.parentStats = { connections: 0, memoryAllocated: 0 };
    }
    this.updateServerStats();
    this.flushInProgress = false;
  }

  beforeStatsRequest(): void {
    if (this.bootstrap?.facts.statsFlushOnAdmin) this.updateServerStats();
  }

  // ---- admin actions ------------------------------------------------------------------------

  failHealthcheck(fail: boolean): void {
    this.healthCheckFailed = fail;
    // `server.live` is written at once; `server.state` waits for the next stats refresh.
    this.serverStats.live?.set(fail ? 0 : 1);
  }

  drainListeners(request: DrainRequest): void {
    const targets = this.listeners.filter((l) => !request.inboundOnly || l.direction === 'INBOUND');
    this.connections.startDrain();
    const stop = (): void => {
      let stopped = 0;
      for (const l of targets) {
        if (!l.stopped) {
          l.stopped = true;
          stopped++;
        }
      }
      if (stopped > 0) this.stats.counter('listener_manager.listener_stopped').add(stopped);
    };
    if (!request.graceful) {
      stop();
      return;
    }
    // A second graceful request during a drain sequence is ignored.
    if (this.drainSequenceRunning) return;
    this.drainSequenceRunning = true;
    this.defer(this.deps.options.drainTimeS * 1000, () => {
      if (!request.skipExit) stop();
    });
  }

  listenersInfo(): ListenerInfo[] {
    return this.listeners.map((l) => ({ name: l.name, address: l.address, port: l.port }));
  }

  quit(): void {
    void this.shutdown();
  }

  resetCounters(): void {
    this.stats.resetCounters();
  }

  reopenLogs(): void {
    this.log.reopen();
  }

  serverInfo(): JsonObject {
    const { options } = this.deps;
    const now = Date.now();
    return {
      version: ENVOY_VERSION,
      state: this.state(),
      uptime_current_epoch: `${Math.floor((now - this.deps.startTime) / 1000)}s`,
      uptime_all_epochs: `${Math.floor((now - this.originalStartTime) / 1000)}s`,
      hot_restart_version: this.hotRestartVersion,
      command_line_options: commandLineOptionsJson(options, this.deps.hotRestart?.baseId ?? options.baseId),
      node: this.nodeJson(),
    };
  }

  private nodeJson(): JsonObject {
    const { options } = this.deps;
    const bootstrapNode = this.bootstrap?.doc.node;
    const node: JsonObject =
      typeof bootstrapNode === 'object' && bootstrapNode !== null && !Array.isArray(bootstrapNode)
        ? { ...bootstrapNode }
        : {};
    // LocalInfoImpl: --service-node / --service-cluster / --service-zone override the bootstrap.
    if (options.serviceNode !== '') node.id = options.serviceNode;
    if (options.serviceCluster !== '') node.cluster = options.serviceCluster;
    if (options.serviceZone !== '') {
      const locality =
        typeof node.locality === 'object' && node.locality !== null && !Array.isArray(node.locality)
          ? node.locality
          : {};
      node.locality = { ...locality, zone: options.serviceZone };
    }
    return {
      id: node.id ?? '',
      cluster: node.cluster ?? '',
      metadata: node.metadata ?? {},
      dynamic_parameters: node.dynamic_parameters ?? {},
      locality: node.locality ?? {},
      user_agent_name: 'envoy',
      user_agent_build_version: {
        version: {
          major_number: ENVOY_RELEASE.major,
          minor_number: ENVOY_RELEASE.minor,
          patch: ENVOY_RELEASE.patch,
        },
        metadata: {
          'revision.sha': ENVOY_SHA,
          'revision.status': 'Clean',
          'build.type': 'RELEASE',
          'ssl.version': 'BoringSSL',
        },
      },
      extensions: STATIC_EXTENSIONS.flatMap(([category, names]) =>
        names.map(
          (name): Json => ({
            name,
            category,
            type_urls: [],
            disabled: options.disabledExtensions.includes(`${category}/${name}`),
          }),
        ),
      ),
      client_features: [],
      listening_addresses: [],
    };
  }

  configDump(): JsonObject {
    const bootstrap: JsonObject = { ...(this.bootstrap?.doc ?? {}), node: this.nodeJson() };
    const now = new Date().toISOString();
    return {
      configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap, last_updated: now },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
          version_info: this.bootstrap?.facts.cds.configured ? '2026-01-01T00:00:00Z/1' : '',
          static_clusters: [],
          dynamic_active_clusters: [],
        },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
          version_info: this.bootstrap?.facts.lds.configured ? '2026-01-01T00:00:00Z/1' : '',
          static_listeners: [],
          dynamic_listeners: [],
        },
        // The secret manager's tracker entry exists in every Envoy, with or without SDS.
        this.sds?.configDump() ?? {
          '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
          static_secrets: [],
          dynamic_active_secrets: [],
          dynamic_warming_secrets: [],
        },
      ],
    };
  }

  certs(): JsonObject {
    return this.sds?.certs() ?? { certificates: [] };
  }

  memory(): JsonObject {
    const m = process.memoryUsage();
    return {
      allocated: String(m.heapUsed),
      heap_size: String(m.heapTotal),
      pageheap_unmapped: '0',
      pageheap_free: '0',
      total_thread_cache: '0',
      total_physical_bytes: String(m.rss),
    };
  }

  // ---- hot-restart parent role --------------------------------------------------------------

  async onShutdownAdmin(): Promise<ShutdownAdminReply> {
    this.log.warn('main', 'source/server/server.cc:1125', 'shutting down admin due to child startup');
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    await this.admin?.stopListening();
    // If we still have a parent, it should be terminated now that we have a child.
    this.log.warn('main', 'source/server/server.cc:1131', 'terminating parent process');
    await this.deps.hotRestart?.terminateParent('child-startup');
    return {
      originalStartTime: this.originalStartTime,
      generation: this.serverStats.hotRestartGeneration?.value ?? 1,
    };
  }

  onDrainListeners(): void {
    this.log.info('main', 'source/server/server.cc:213', 'closing and draining listeners');
    this.drainListeners({ graceful: false, inboundOnly: false, skipExit: false });
  }

  onTerminate(): void {
    this.log.info('main', 'source/server/hot_restarting_parent.cc:155', 'shutting down due to child request');
    // kill(getpid(), SIGTERM): handled like any SIGTERM.
    process.kill(process.pid, 'SIGTERM');
  }

  onStats(): ParentStats {
    return { connections: this.connections.current(), memoryAllocated: process.memoryUsage().heapUsed };
  }

  // ---- shutdown -----------------------------------------------------------------------------

  /** `shutdown()` then the end of `run()` and `terminate()`: exit 0. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const { logger, hotRestart } = this.deps;
    logger.info('main', 'source/server/server.cc:1112', 'shutting down server instance');
    await hotRestart?.terminateParent('shutdown');
    logger.info('main', 'source/server/server.cc:968', 'main dispatch loop exited');
    this.terminateServer();
    this.deps.exit(0);
  }

  /** `terminate()`: stop everything, final stats flush, `exiting`. */
  terminateServer(): void {
    for (const t of this.timers) clearTimeout(t);
    if (this.flushTimer !== undefined) {
      clearInterval(this.flushTimer);
      this.updateServerStats();
    }
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    this.sds?.close();
    this.admin?.close();
    this.deps.hotRestart?.close();
    this.deps.logger.info('main', 'source/server/server.cc:1032', 'exiting');
  }

  get isWorkersStarted(): boolean {
    return this.workersStarted;
  }
}

/** `OptionsImpl::toCommandLineOptions()` printed by the protobuf JSON printer. */
export function commandLineOptionsJson(options: Options, baseId: number): JsonObject {
  return {
    base_id: String(baseId),
    use_dynamic_base_id: options.useDynamicBaseId,
    skip_hot_restart_on_no_parent: options.skipHotRestartOnNoParent,
    skip_hot_restart_parent_stats: options.skipHotRestartParentStats,
    base_id_path: options.baseIdPath,
    concurrency: options.concurrency,
    config_path: options.configPath,
    config_yaml: options.configYaml,
    allow_unknown_static_fields: options.allowUnknownStaticFields,
    reject_unknown_dynamic_fields: options.rejectUnknownDynamicFields,
    ignore_unknown_dynamic_fields: options.ignoreUnknownDynamicFields,
    skip_deprecated_logs: options.skipDeprecatedLogs,
    admin_address_path: options.adminAddressPath,
    local_address_ip_version: options.localAddressIpVersion,
    log_level: options.logLevel,
    component_log_level: options.componentLogLevel,
    log_format: options.logFormat,
    log_format_escaped: options.logFormatEscaped,
    log_path: options.logPath,
    service_cluster: options.serviceCluster,
    service_node: options.serviceNode,
    service_zone: options.serviceZone,
    file_flush_interval: durationJson(options.fileFlushIntervalMsec),
    file_flush_min_size: options.fileFlushMinSizeKb * 1024,
    drain_time: durationJson(options.drainTimeS * 1000),
    drain_strategy: options.drainStrategy === 'immediate' ? 'Immediate' : 'Gradual',
    parent_shutdown_time: durationJson(options.parentShutdownTimeS * 1000),
    mode: options.mode === 'serve' ? 'Serve' : options.mode === 'validate' ? 'Validate' : 'InitOnly',
    disable_hot_restart: options.disableHotRestart,
    enable_mutex_tracing: options.enableMutexTracing,
    restart_epoch: options.restartEpoch,
    cpuset_threads: options.cpusetThreads,
    disabled_extensions: options.disabledExtensions,
    enable_fine_grain_logging: options.enableFineGrainLogging,
    socket_path: options.socketPath,
    socket_mode: options.socketMode,
    enable_core_dump: options.enableCoreDump,
    stats_tag: options.statsTags,
  };
}

/** A short stand-in for Envoy's list of statically linked extensions. */
const STATIC_EXTENSIONS: [string, string[]][] = [
  [
    'envoy.access_loggers',
    ['envoy.access_loggers.file', 'envoy.access_loggers.stderr', 'envoy.access_loggers.stdout'],
  ],
  [
    'envoy.clusters',
    [
      'envoy.cluster.eds',
      'envoy.cluster.logical_dns',
      'envoy.cluster.original_dst',
      'envoy.cluster.static',
      'envoy.cluster.strict_dns',
    ],
  ],
  ['envoy.filters.http', ['envoy.filters.http.health_check', 'envoy.filters.http.router']],
  [
    'envoy.filters.listener',
    [
      'envoy.filters.listener.http_inspector',
      'envoy.filters.listener.original_dst',
      'envoy.filters.listener.tls_inspector',
    ],
  ],
  [
    'envoy.filters.network',
    ['envoy.filters.network.http_connection_manager', 'envoy.filters.network.tcp_proxy'],
  ],
  ['envoy.transport_sockets.upstream', ['envoy.transport_sockets.tls']],
];
