/**
 * The findings the SDS-stream model showed, fixed in `machines/sds-stream.ts`, as regression
 * checks. `original` is the path that showed the finding on the machine before its fix (the
 * shortest the generated paths found, with the detectors of properties.ts); machines.model.test.ts
 * replays it on the fixed machine (it reaches `now`, and the detector stays silent) and executes
 * `fixed`, a path through the fixed behaviour, against the machine with fakes (so it also counts
 * for the coverage gate). `check` states the fixed behaviour on the snapshots of `fixed`.
 *
 * All three need a stream with more than one name, or whose names change: Envoy opens one stream
 * per secret and never changes its names, so they did not show with Envoy; the protocol, and the
 * machine's contract, allow both.
 */
import { expect } from 'vitest';
import { stateText } from '../core/paths.js';
import { envoyOf, responsesSent, type SdsSnap } from './model.js';
import { type FindingSpec, SDS_PROPERTIES } from './properties.js';

export interface SdsRegression {
  name: string;
  findings: FindingSpec[];
  original: string[];
  /** The state the original path reaches on the fixed machine, and why. */
  now: { reaches: string; why: string };
  fixed: string[];
  check: (snaps: SdsSnap[]) => void;
}

const BOTH_SENT = ['request [default,ROOTCA]', 'read default=new ROOTCA=constant'];

const last = (snaps: SdsSnap[]): SdsSnap => {
  const s = snaps.at(-1);
  if (!s) throw new Error('empty path');
  return s;
};

export const SDS_REGRESSIONS: SdsRegression[] = [
  {
    name: 'a subscription changed with the answer was lost',
    findings: [SDS_PROPERTIES.restSubscription, SDS_PROPERTIES.restStale],
    original: [...BOTH_SENT, 'ACK + resubscribe [default]'],
    now: {
      reaches: 'resolving',
      why: 'the ACK states the new subscription: taken, and read again once answered',
    },
    fixed: [...BOTH_SENT, 'ACK + resubscribe [default]', 'read default=same'],
    check: (snaps) => {
      const s = last(snaps);
      expect(stateText(s.value)).toBe('idle');
      expect(s.context.names).toEqual(['default']);
      expect(s.context.accepted, 'Envoy dropped ROOTCA').toEqual({ default: 'default#1' });
    },
  },
  {
    name: 'a secret Envoy had dropped was not sent again when it subscribed to it again',
    findings: [SDS_PROPERTIES.restUndelivered],
    original: [
      ...BOTH_SENT,
      'ACK + resubscribe [default]',
      'resubscribe [default,ROOTCA]',
      'read default=same ROOTCA=constant',
    ],
    now: {
      reaches: 'awaitingAnswer',
      why: 'the unsubscription forgot what Envoy held for ROOTCA, so it is sent again',
    },
    fixed: [
      ...BOTH_SENT,
      'ACK + resubscribe [default]',
      'resubscribe [default,ROOTCA]',
      'read default=same ROOTCA=constant',
      'ACK',
    ],
    check: (snaps) => {
      const sent = snaps.flatMap(responsesSent);
      expect(sent.at(-1)?.secrets).toEqual([{ name: 'ROOTCA', sha256: 'ROOTCA#1' }]);
      expect(envoyOf(last(snaps)).held).toEqual({ default: 'default#1', ROOTCA: 'ROOTCA#1' });
    },
  },
  {
    name: 'a name left and asked for again while a response was in flight was not sent again',
    findings: [SDS_PROPERTIES.restUndelivered],
    original: [
      ...BOTH_SENT,
      'ACK',
      'SECRETS.CHANGED',
      'read default=new ROOTCA=constant',
      'stale resubscribe [default]',
      'ACK + resubscribe [default,ROOTCA]',
    ],
    now: {
      reaches: 'resolving',
      why: 'the stale request states a subscription too: ROOTCA is forgotten, and read again after the answer',
    },
    fixed: [
      ...BOTH_SENT,
      'ACK',
      'SECRETS.CHANGED',
      'read default=new ROOTCA=constant',
      'stale resubscribe [default]',
      'ACK + resubscribe [default,ROOTCA]',
      'read default=same ROOTCA=constant',
      'ACK',
    ],
    check: (snaps) => {
      const sent = snaps.flatMap(responsesSent);
      expect(sent.map((r) => r.secrets.map((x) => x.name))).toEqual([
        ['default', 'ROOTCA'],
        ['default'],
        ['ROOTCA'],
      ]);
      expect(stateText(last(snaps).value)).toBe('idle');
    },
  },
];
