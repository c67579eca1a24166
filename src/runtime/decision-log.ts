/**
 * One log line per decision the machines announce, worded for an operator reading a crash loop, a
 * hot restart or a rotation from the log alone: epoch, pid, exit code or signal, and the reason.
 * Nothing here knows a state's name; a decision without a sentence below is not logged.
 */
import type { Logger } from 'pino';
import type { SignalAction } from '../../machines/agent.js';
import type { HotRestartDeferral, HotRestartOutcome } from '../../machines/envoy-lifecycle.js';
import { oneLine } from '../errors.js';
import { type DecisionObserver, onDecisions } from './decisions.js';

const exitText = (e: { code: number | null; signal: string | null }): string =>
  e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;

const AFTER_FAILURE: Record<HotRestartOutcome, string> = {
  refused: 'epoch {from} keeps serving',
  retry: 'epoch {from} keeps serving; retrying after the restart backoff',
  'keep-parent': 'no retry',
  'replace-parent': 'restarting Envoy from a fresh epoch 0',
  'give-up': 'the agent stops',
  'fresh-start': 'starting a fresh epoch 0',
  abandon: 'killing it; epoch {from} keeps serving',
};

const DEFERRAL: Record<HotRestartDeferral, string> = {
  'until-ready': 'it starts once Envoy is ready',
  'after-current': 'one more follows the hot restart under way',
  'cold-restart': 'the epoch being started serves nothing yet: starting it again with the new certificates',
  'not-needed': 'nothing to do',
};

const SIGNAL_ACTION: Record<SignalAction, string> = {
  shutdown: 'draining Envoy, then stopping it',
  'hot-restart': 'hot-restarting Envoy',
  exit: 'Envoy was not started: exiting',
};

const names = (list: readonly string[]): string => list.join(', ');

export function decisionLog(log: Logger): DecisionObserver {
  const envoy = log.child({ component: 'envoy' });
  const certs = log.child({ component: 'certs' });
  const sds = log.child({ component: 'sds' });
  return onDecisions({
    'agent.signal': (d) => log.info({ signal: d.signal }, `received ${d.signal}: ${SIGNAL_ACTION[d.action]}`),

    'envoy.spawned': (d) =>
      envoy.info(
        { epoch: d.epoch, pid: d.pid },
        d.role === 'next'
          ? `Envoy epoch ${d.epoch} started beside epoch ${d.epoch - 1} (pid ${d.pid})`
          : `Envoy epoch ${d.epoch} started (pid ${d.pid})`,
      ),
    'envoy.exited': (d) => {
      const fields = { epoch: d.epoch, pid: d.pid ?? undefined, code: d.code, signal: d.signal };
      if (d.signal === 'SIGKILL' && !d.expected) {
        envoy.warn(
          fields,
          'Envoy was killed (SIGKILL): it may have been out of memory, check memory usage and limits',
        );
      } else if (d.expected) {
        // Unexpected exits are told by the decision that follows them (crash, failed hot restart).
        envoy.info(
          fields,
          d.code === 0 ? `Envoy epoch ${d.epoch} exited normally` : `Envoy epoch ${d.epoch} ${exitText(d)}`,
        );
      }
    },
    'envoy.live': (d) =>
      envoy.info(
        { epoch: d.epoch },
        `Envoy epoch ${d.epoch} is LIVE, waiting for its configuration (CDS, LDS)`,
      ),
    'envoy.ready': (d) => envoy.info({ epoch: d.epoch }, `Envoy epoch ${d.epoch} is ready`),
    'envoy.unready': (d) =>
      envoy.warn(
        { epoch: d.epoch, reason: d.reason },
        `Envoy epoch ${d.epoch} is no longer ready: ${d.reason}`,
      ),
    'envoy.crashed': (d) =>
      envoy.warn(
        { epoch: d.epoch, code: d.code, signal: d.signal, restart: d.restart, budget: d.budget },
        `Envoy epoch ${d.epoch} ${exitText(d)}: restarting it in ${d.backoffMs} ms (restart ${d.restart} of ${d.budget})`,
      ),
    'envoy.restarting': (d) => envoy.debug({ restart: d.restart }, 'restarting Envoy from a fresh epoch 0'),
    'envoy.budgetRestored': (d) =>
      envoy.info({ budget: d.budget }, `Envoy stayed ready: the restart budget of ${d.budget} is restored`),
    'envoy.hotRestartBegun': (d) =>
      envoy.info(
        { from: d.fromEpoch, epoch: d.toEpoch },
        `hot restart: starting epoch ${d.toEpoch} beside epoch ${d.fromEpoch}`,
      ),
    'envoy.hotRestartCompleted': (d) =>
      d.ready
        ? envoy.info({ epoch: d.epoch }, `hot restart complete: epoch ${d.epoch} serves`)
        : envoy.warn(
            { epoch: d.epoch },
            `hot restart complete: epoch ${d.epoch} is LIVE but not ready, waiting for its configuration`,
          ),
    'envoy.hotRestartFailed': (d) => {
      const then = AFTER_FAILURE[d.outcome].replace('{from}', String(d.toEpoch - 1));
      const level = d.outcome === 'give-up' ? 'error' : 'warn';
      envoy[level](
        { epoch: d.toEpoch, outcome: d.outcome },
        `hot restart to epoch ${d.toEpoch} failed: ${d.notice}; ${then}`,
      );
    },
    'envoy.hotRestartDeferred': (d) => {
      const level = d.deferral === 'not-needed' ? 'debug' : 'info';
      envoy[level]({ reason: d.reason }, `hot restart requested (${d.reason}): ${DEFERRAL[d.deferral]}`);
    },
    'envoy.draining': (d) =>
      envoy.info(
        { mode: d.mode },
        d.mode === 'hold'
          ? "draining Envoy's listeners on request; the next SIGTERM stops it at once"
          : "draining Envoy's listeners before stopping it",
      ),
    'envoy.stopping': (d) =>
      envoy[d.exitCode === 0 ? 'info' : 'error']({ exitCode: d.exitCode }, `stopping Envoy: ${d.reason}`),
    'envoy.killing': (d) => envoy.warn({ pids: d.pids }, 'Envoy did not stop in time: SIGKILL'),
    'envoy.stuck': (d) => envoy.error({ exitCode: d.exitCode }, d.reason),

    'certs.baseline': (d) => certs.debug({ sha256: d.hash || undefined }, 'certificates read'),
    'certs.waitingForFiles': (d) => certs.info({ missing: d.missing }, 'waiting for certificate files'),
    'certs.waitAbandoned': (d) =>
      certs.warn(
        { missing: d.missing },
        `certificate files still missing after ${Math.round(d.waitedMs / 1000)} s: starting Envoy without them`,
      ),
    'certs.unreadable': (d) => certs.warn({ err: d.error }, 'certificate files could not be read'),
    'certs.unchanged': () => certs.debug('certificates unchanged'),
    'certs.rotated': (d) =>
      certs.info({ sha256: d.hash, rotation: d.rotation }, 'certificates changed: a new valid set'),
    'certs.torn': (d) =>
      certs.warn({ problems: d.problems }, 'certificate rotation incomplete: waiting for the rest of it'),
    'sds.opened': (d) =>
      sds.info(
        { stream: d.streamId, names: d.names, node: d.node ?? undefined },
        `Envoy opened SDS stream ${d.streamId} for ${names(d.names)}`,
      ),
    'sds.pushed': (d) =>
      sds.debug(
        { stream: d.streamId, names: d.names, version: d.versionInfo, nonce: d.nonce },
        `sent ${names(d.names)} to Envoy on SDS stream ${d.streamId}`,
      ),
    'sds.acked': (d) =>
      sds.info(
        { stream: d.streamId, names: d.names, version: d.versionInfo },
        `Envoy applied ${names(d.names)} (version ${d.versionInfo})`,
      ),
    // Envoy's error_detail on one line: the operator's only clue to what Envoy disliked.
    'sds.nacked': (d) =>
      sds.warn(
        { stream: d.streamId, names: d.names, version: d.versionInfo, error: d.error },
        `Envoy rejected ${names(d.names)} (version ${d.versionInfo}): ${oneLine(d.error)}; it keeps what it had, and this content is not sent again`,
      ),
    'sds.withheld': (d) =>
      sds.warn(
        { stream: d.streamId, name: d.name, reason: d.reason },
        `withholding secret ${d.name} from Envoy: ${d.reason}`,
      ),
    'sds.closed': (d) =>
      sds.debug({ stream: d.streamId, reason: d.reason }, `SDS stream ${d.streamId} closed: ${d.reason}`),

    'certs.rejected': (d) =>
      certs.error(
        { problems: d.problems },
        `certificate rotation rejected: ${d.problems.join('; ')}; Envoy keeps serving the previous certificates`,
      ),
  });
}
