/**
 * Properties of one SDS stream that do not come from the machine itself, checked on every state of
 * every executed path (machine level). A property that fails is a *finding* (core/findings.ts).
 *
 * They compare the machine with the model's world (model.ts `SdsWorld`: Envoy's subscription, what
 * it applied, the responses it has not answered; what the last reading found, whether a change came
 * after it started), which is part of the abstract state, so that the traversal reaches what they
 * look at. The checker adds only what no decision depends on: every content Envoy NACKed and every
 * nonce sent. Responses are read from the actions the step declared (`sendTo('io', SEND)`), which
 * the run compares with what the fake transport received.
 *
 * The properties: at most one response in flight; never a secret Envoy holds or rejected, nor one
 * the reading withheld (or other content than it found); a new nonce every time; no lost update —
 * once Envoy has answered, what changed meanwhile is read again —; and at rest (`idle`, after a
 * reading that did not fail) the stream has read every change, follows Envoy's subscription, and
 * Envoy holds, or rejected, what the reading found for each name it subscribes to.
 */
import type { AnyEventObject } from 'xstate';
import type { SdsRequest } from '../../../machines/sds-stream.js';
import type { Findings } from '../core/findings.js';
import { stateText } from '../core/paths.js';
import { stepRecord } from '../core/timed-model.js';
import { responsesSent, type SdsSnap, sameNames, worldOfStream } from './model.js';

export interface FindingSpec {
  id: string;
  what: string;
}

export const SDS_PROPERTIES = {
  oneInFlight: {
    id: 'sds-two-responses-in-flight',
    what: 'a response is sent while Envoy has not answered the previous one (one response in flight)',
  },
  resendHeld: {
    id: 'sds-resend-held',
    what: 'a response carries a secret with the content Envoy already holds (it ACKed it)',
  },
  resendRejected: {
    id: 'sds-resend-rejected',
    what: 'a response carries a secret with a content Envoy rejected (NACKed)',
  },
  sendWithheld: {
    id: 'sds-send-withheld',
    what: 'a response carries a secret that the last reading withheld (files missing or torn)',
  },
  sendNotRead: {
    id: 'sds-send-not-read',
    what: 'a response carries a content other than the one the last reading found',
  },
  nonceReused: {
    id: 'sds-nonce-reused',
    what: 'a response reuses the nonce of an earlier one',
  },
  updateLost: {
    id: 'sds-update-lost',
    what: 'Envoy answered the response in flight, but what changed meanwhile (new certificates, or its subscription) is not read again',
  },
  restStale: {
    id: 'sds-rest-after-unread-change',
    what: 'the stream rests (`idle`) although a change (new certificates, or a changed subscription) came after the reading it rests on',
  },
  restSubscription: {
    id: 'sds-rest-wrong-subscription',
    what: 'the stream rests (`idle`) with other names than Envoy subscribes to: a changed subscription carried by an ACK or NACK is lost',
  },
  restUndelivered: {
    id: 'sds-rest-undelivered',
    what: 'the stream rests (`idle`) while Envoy holds neither the content the last reading found for a name it subscribes to nor rejected it',
  },
} as const satisfies Record<string, FindingSpec>;

/** Follows one path; `check` is called with every snapshot of it, in order. */
export class SdsProperties {
  /** Every content Envoy rejected, by name. */
  private readonly nacked: Record<string, Set<string>> = {};
  private readonly nonces = new Set<string>();
  private previous: SdsSnap | undefined;

  constructor(private readonly findings: Findings) {}

  check(model: SdsSnap, labels: readonly string[]): void {
    const previous = this.previous;
    this.previous = model;
    const event: AnyEventObject | undefined = stepRecord(model)?.event;
    const where = stateText(model.value);
    const record = (f: FindingSpec, detail = '') =>
      this.findings.record(f.id, `${f.what}${detail}`, labels, where);
    const before = previous ? worldOfStream(previous) : undefined;
    const world = worldOfStream(model);
    const envoy = world.envoy;

    // Envoy's answer in this step, if any (it answers its oldest response).
    const oldest = before?.envoy.unanswered[0];
    const answer =
      event?.type === 'SDS.REQUEST' && oldest && (event.request as SdsRequest).responseNonce === oldest.nonce
        ? (event.request as SdsRequest)
        : undefined;
    if (answer?.errorDetail && oldest) {
      for (const [name, sha] of Object.entries(oldest.secrets)) {
        const set = this.nacked[name] ?? new Set<string>();
        set.add(sha);
        this.nacked[name] = set;
      }
    }

    // Responses.
    const sent = responsesSent(model);
    if (sent.length > 0 && envoy.unanswered.length > 1) {
      record(SDS_PROPERTIES.oneInFlight, ` (${envoy.unanswered.map((r) => r.nonce).join(', ')} unanswered)`);
    }
    for (const response of sent) {
      const detail = ` (${response.nonce}: ${response.secrets.map((s) => `${s.name}=${s.sha256}`).join(', ')})`;
      if (this.nonces.has(response.nonce)) record(SDS_PROPERTIES.nonceReused, detail);
      for (const s of response.secrets) {
        if (envoy.held[s.name] === s.sha256) record(SDS_PROPERTIES.resendHeld, detail);
        if (this.nacked[s.name]?.has(s.sha256)) record(SDS_PROPERTIES.resendRejected, detail);
        const read = world.lastRead[s.name];
        if (read && 'withheld' in read) record(SDS_PROPERTIES.sendWithheld, detail);
        else if (read?.sha256 !== s.sha256) record(SDS_PROPERTIES.sendNotRead, detail);
      }
      this.nonces.add(response.nonce);
    }

    // No lost update: once Envoy has answered everything, what changed meanwhile is read again
    // (and sent: the checks at rest and on the next response cover that).
    if (answer && envoy.unanswered.length === 0 && world.unreadChange) record(SDS_PROPERTIES.updateLost);

    // At rest after a reading (a failed reader is retried on the next change, by design).
    if (model.status === 'active' && model.matches('idle') && !world.readFailed) {
      if (world.unreadChange) record(SDS_PROPERTIES.restStale);
      if (!sameNames(model.context.names, envoy.subscription)) record(SDS_PROPERTIES.restSubscription);
      for (const name of envoy.subscription) {
        const read = world.lastRead[name];
        if (!read || 'withheld' in read) continue;
        if (envoy.held[name] !== read.sha256 && !this.nacked[name]?.has(read.sha256))
          record(SDS_PROPERTIES.restUndelivered, ` (${name}=${read.sha256})`);
      }
    }
  }
}
