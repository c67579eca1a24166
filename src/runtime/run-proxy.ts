/**
 * The composition root of `pilot-agent proxy`: provides the machines with their real actors,
 * starts the root agent, serves its state on the status port, and returns the exit code the root
 * ends with. The only place where machines, effects and configuration meet.
 */
import type { Logger } from 'pino';
import { createActor, fromPromise, type InspectionEvent, type SnapshotFrom, toPromise } from 'xstate';
import { agentMachine, INTERNAL_ERROR_EXIT, SYSTEM_IDS } from '../../machines/agent.js';
import {
  type CertReading,
  type CertRotationSettings,
  certRotationMachine,
} from '../../machines/cert-rotation.js';
import {
  envoyLifecycleMachine,
  type LaunchPlan,
  type LifecycleSettings,
} from '../../machines/envoy-lifecycle.js';
import { agentReadiness, type LifecycleSnapshot, type Readiness } from '../../machines/readiness.js';
import { sdsStreamMachine } from '../../machines/sds-stream.js';
import { readBootstrapOverride, writeBootstrap } from '../bootstrap/generate.js';
import { buildNodeMetadata } from '../bootstrap/metadata.js';
import { readCertificates } from '../certs/read.js';
import { certWatcherActor } from '../certs/watcher.js';
import { AGENT_LIMITS } from '../config/defaults.js';
import { shutdownPlan } from '../config/shutdown-plan.js';
import type { AgentConfig } from '../config/types.js';
import type { InspectorRelay } from '../debug/inspect.js';
import { createDebugSource, type DebugSource } from '../debug/source.js';
import { adminHost, createAdminClient, drainListenersPath } from '../envoy/admin.js';
import { buildEnvoyArgs } from '../envoy/argv.js';
import { adminPollerActor, connectionPollerActor } from '../envoy/pollers.js';
import { envoyEpochActor, envoyProcesses, validateEpochActor } from '../envoy/process.js';
import { messageOf, type RunOutcome } from '../errors.js';
import { createAgentRegistry } from '../status/metrics.js';
import { type StatusOptions, statusOptionsFromConfig } from '../status/options.js';
import { buildStatusServer, listenStatusServer, type StatusServer } from '../status/server.js';
import { lifecycleMetrics, sdsMetrics } from './agent-metrics.js';
import { decisionLog } from './decision-log.js';
import { type DecisionObserver, decisionFeed } from './decisions.js';
import { collectWhenSettled } from './memory.js';
import { type SdsRuntimeActors, startSdsRuntime } from './sds-actors.js';
import { osSignalsActor } from './signals.js';
import { transitionLogger } from './transition-log.js';

export function lifecycleSettings(config: AgentConfig): LifecycleSettings {
  const l = config.lifecycle;
  // Shutdown timings as planned to end before kubelet's SIGKILL (the loader warned if shortened).
  const shutdown = shutdownPlan(l).timings;
  return {
    restartBudget: l.restartBudget,
    restartBackoffInitialMs: l.restartBackoffInitialMs,
    restartBackoffMaxMs: l.restartBackoffMaxMs,
    budgetResetMs: l.budgetResetMs,
    killGraceMs: shutdown.killGraceMs,
    stuckTimeoutMs: shutdown.stuckTimeoutMs,
    terminationDrainMs: shutdown.terminationDrainMs,
    exitOnZeroActiveConnections: l.exitOnZeroActiveConnections,
    minimumDrainMs: shutdown.minimumDrainMs,
    maximumDrainMs: shutdown.maximumDrainMs,
    handoverTimeoutMs: AGENT_LIMITS.handoverTimeoutMs,
    pollStartingMs: l.pollStartingMs,
    pollReadyMs: l.pollReadyMs,
    adminLostThreshold: AGENT_LIMITS.adminLostThreshold,
  };
}

export function certSettings(config: AgentConfig): CertRotationSettings {
  return {
    files: config.certs.files,
    waitForFiles: config.certs.waitForFiles,
    settleMs: AGENT_LIMITS.certSettleMs,
    tornTimeoutMs: AGENT_LIMITS.certTornTimeoutMs,
    missingFilesTimeoutMs: AGENT_LIMITS.certMissingTimeoutMs,
    missingRecheckMs: AGENT_LIMITS.certMissingRecheckMs,
    periodicRecheckMs: AGENT_LIMITS.certPeriodicRecheckMs,
  };
}

/** The certificate rotation machine with its watcher and reader. */
export function provideCertRotation(config: AgentConfig) {
  return certRotationMachine.provide({
    actors: {
      certWatcher: certWatcherActor,
      readCerts: fromPromise<CertReading, { files: string[] }>(({ input }) =>
        readCertificates({ files: input.files, pairs: config.certs.pairs }),
      ),
    },
  });
}

/** The lifecycle machine with every effect provided for this configuration. */
export function provideLifecycle(config: AgentConfig, log: Logger) {
  const admin = createAdminClient({
    host: adminHost(config),
    port: config.proxy.proxyAdminPort,
    timeoutMs: config.lifecycle.adminTimeoutMs,
  });
  const processDeps = { binaryPath: config.proxy.binaryPath, log: log.child({ component: 'envoy' }) };
  const { drainRequestMs } = shutdownPlan(config.lifecycle).timings;
  // The same warning at every epoch (e.g. no pod-labels file outside Kubernetes) is said once.
  const warned = new Set<string>();
  const warnOnce = (message: string) => {
    if (warned.has(message)) return;
    warned.add(message);
    log.warn(message);
  };
  return envoyLifecycleMachine.provide({
    actors: {
      envoyEpoch: envoyEpochActor(processDeps),
      prepareEpoch: fromPromise<LaunchPlan, { epoch: number }>(async ({ input }) => {
        const configFile = await writeBootstrap(config, input.epoch, { warn: warnOnce });
        const override = await readBootstrapOverride(config);
        if (override.warning) warnOnce(override.warning);
        const args = buildEnvoyArgs(config, { epoch: input.epoch, configFile, configYaml: override.yaml });
        return { epoch: input.epoch, args, configFile: config.proxy.customConfigFile ? null : configFile };
      }),
      validateEpoch: validateEpochActor({ ...processDeps, timeoutMs: AGENT_LIMITS.validateTimeoutMs }),
      adminPoller: adminPollerActor(admin),
      connectionPoller: connectionPollerActor(admin),
      drainListeners: fromPromise<void, { skipExit: boolean }>(async ({ input, signal }) => {
        const path = drainListenersPath(config.node.type, input.skipExit);
        // During a hot restart the admin port passes from parent to child and is closed for an
        // instant (the child asks its parent to close it before opening its own, Envoy
        // `HotRestartingChild::sendParentAdminShutdownRequest`): a refused request is retried.
        // Attempts and retries end within the planned bound, which the shutdown deadline counts on.
        const deadline = Date.now() + drainRequestMs;
        for (;;) {
          try {
            const left = Math.max(1, deadline - Date.now());
            const res = await admin.post(path, Math.min(config.lifecycle.adminTimeoutMs, left));
            log.info({ path, status: res.status }, 'asked Envoy to drain its listeners');
            return;
          } catch (err) {
            if (Date.now() >= deadline || signal.aborted) {
              // Istio logs and carries on: the drain wait still protects in-flight requests.
              log.warn({ path, err: messageOf(err) }, 'Error in invoking drain listeners endpoint');
              return;
            }
            await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
          }
        }
      }),
    },
  });
}

type RootSnapshot = SnapshotFrom<typeof agentMachine>;

/**
 * Everything that can be wrong with the input but is only found by reading it in full (node
 * metadata from ISTIO_META_*, ISTIO_KUBE_APP_PROBERS, ISTIO_PROMETHEUS_ANNOTATIONS): checked
 * before anything starts, so a bad value is a usage error (exit 255) with one line, and Envoy is
 * never started.
 */
async function preflight(config: AgentConfig): Promise<StatusOptions> {
  await buildNodeMetadata(config);
  return statusOptionsFromConfig(config);
}

/** One inspection stream, several observers. */
function fanOut(...observers: ((ev: InspectionEvent) => void)[]) {
  return (ev: InspectionEvent) => {
    for (const observe of observers) observe(ev);
  };
}

/** SDS mode's actors: the server for the root, the transport and the secrets for each stream. */
function provideSds(sds: SdsRuntimeActors) {
  return {
    sdsServer: sds.sdsServer,
    sdsStream: sdsStreamMachine.provide({
      actors: { streamIo: sds.streamIo, resolveSecrets: sds.resolveSecrets },
    }),
  };
}

export async function runProxy(config: AgentConfig, log: Logger): Promise<RunOutcome> {
  const statusOptions = await preflight(config);
  // SDS mode: the socket is claimed before anything starts (a live agent on it is exit 1).
  const sds =
    config.certDelivery === 'sds'
      ? await startSdsRuntime(config, log.child({ component: 'sds' }))
      : undefined;
  try {
    return await runAgent(config, log, statusOptions, sds);
  } finally {
    await sds?.close().catch(() => {});
  }
}

async function runAgent(
  config: AgentConfig,
  log: Logger,
  statusOptions: StatusOptions,
  sds: SdsRuntimeActors | undefined,
): Promise<RunOutcome> {
  const registry = createAgentRegistry();
  let lifecycleSnapshot = (): LifecycleSnapshot | undefined => undefined;
  const machine = agentMachine.provide({
    actors: {
      envoyLifecycle: provideLifecycle(config, log),
      certRotation: provideCertRotation(config),
      osSignals: osSignalsActor,
      ...(sds ? provideSds(sds) : {}),
    },
  });
  let openStreams = (): number => 0;
  const observers: DecisionObserver[] = [
    decisionLog(log),
    lifecycleMetrics(registry, () => lifecycleSnapshot()),
    ...(sds ? [sdsMetrics(registry, () => openStreams())] : []),
    collectWhenSettled(),
    (decision, source) => debug?.decision(decision, source),
  ];
  const root = createActor(machine, {
    input: {
      lifecycle: { settings: lifecycleSettings(config) },
      certs: { settings: certSettings(config) },
      delivery: config.certDelivery,
    },
    inspect: fanOut(transitionLogger(log), decisionFeed(...observers)),
  });
  // /debug/*: observes the actors only while a client watches (src/debug/source.ts).
  const debug: DebugSource | undefined = config.statusPort > 0 ? createDebugSource(root) : undefined;
  lifecycleSnapshot = () =>
    root.system.get(SYSTEM_IDS.lifecycle)?.getSnapshot() as LifecycleSnapshot | undefined;
  openStreams = () => root.getSnapshot().context.streams.length;

  // Whatever happens to the agent, no Envoy outlives it.
  const onExit = () => {
    const killed = envoyProcesses.killAll('SIGKILL');
    if (killed.length > 0) log.error({ pids: killed }, 'killed Envoy processes left at agent exit');
  };
  process.on('exit', onExit);
  let failInternally: (err: unknown) => void = () => {};
  const internalFailure = new Promise<RunOutcome>((resolve) => {
    let failed = false;
    failInternally = (err) => {
      // Once: a failure while reporting a failure (a broken log stream) must not loop.
      if (failed) return;
      failed = true;
      envoyProcesses.killAll('SIGKILL');
      try {
        log.fatal({ err: messageOf(err) }, 'internal error: stopping Envoy and exiting');
      } catch {
        // nowhere left to report it
      }
      resolve({ exitCode: INTERNAL_ERROR_EXIT, reason: `internal error: ${messageOf(err)}` });
    };
  });
  process.on('uncaughtException', failInternally);
  process.on('unhandledRejection', failInternally);

  const readiness = (): Readiness => agentReadiness(root.getSnapshot(), lifecycleSnapshot());
  let status: StatusServer | undefined;
  let inspector: InspectorRelay | undefined;
  try {
    root.start();
    const outcome = toPromise(root).then(
      (output): RunOutcome => {
        if (output.exitCode === 0) log.info({ exitCode: 0, reason: output.reason }, 'agent finished');
        else log.error({ exitCode: output.exitCode, reason: output.reason }, 'agent failed');
        return output;
      },
      (err: unknown) => {
        failInternally(err);
        return internalFailure;
      },
    );
    // After Envoy's spawn is under way: the status server is not on the start-up critical path.
    if (config.statusPort > 0 && root.getSnapshot().status === 'active') {
      status = buildStatusServer({
        readiness,
        log: log.child({ component: 'status' }),
        registry,
        ...statusOptions,
        quit: () => root.send({ type: 'QUIT' }),
        drain: () => root.send({ type: 'DRAIN' }),
        ...(debug ? { debug } : {}),
      });
      try {
        const address = await listenStatusServer(status, config.statusPort);
        log.info({ address }, 'status server listening');
      } catch (err) {
        // Istio runs on without its status server; kubelet's probes will then fail visibly.
        log.error({ port: config.statusPort, err: messageOf(err) }, 'status server could not listen');
      }
    }
    // --inspect: the Stately inspector relay on loopback, loaded only when asked for (inspect.ts).
    if (config.inspect && root.getSnapshot().status === 'active') {
      inspector = await (await import('../debug/inspect.js')).startInspectorFor(
        root,
        config.env,
        log.child({ component: 'inspect' }),
      );
    }
    return await Promise.race([outcome, internalFailure]);
  } finally {
    await inspector?.close().catch(() => {});
    await status?.close().catch(() => {});
    if ((root.getSnapshot() as RootSnapshot).status === 'active') root.stop();
    process.off('uncaughtException', failInternally);
    process.off('unhandledRejection', failInternally);
    process.off('exit', onExit);
    onExit();
  }
}
