/**
 * A small actor system that carries key material everywhere a real one could: in context (under
 * innocent and secret-like names, as PEM, as an unarmoured PEM body, as a long base64 blob, as
 * bytes), in an invoked actor's input, in an event payload and in an error message. Next to it,
 * what must survive sanitising: a SHA-256 in hex and file paths.
 */
import { randomBytes } from 'node:crypto';
import { type AnyActorRef, assign, createActor, fromCallback, fromPromise, setup } from 'xstate';

export const PEM_KEY = [
  '-----BEGIN PRIVATE KEY-----',
  'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2',
  'OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r',
  '1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G',
  '-----END PRIVATE KEY-----',
  '',
].join('\n');
/** The same body without its armour, as a careless log or error message could carry it. */
export const PEM_BODY = PEM_KEY.split('\n').slice(1, -2).join('\n');
export const BLOB = randomBytes(96).toString('base64');
export const HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const PATH = '/var/run/secrets/workload-spiffe-credentials/cert-chain.pem';

/** Anything in this set found in output is a leak. */
export const LEAK = /PRIVATE KEY|BEGIN|MIGHAgEA|OF\/2NxApJCzGCEDd|1RTwjmYSi9R/;

export interface FixtureContext {
  note: string;
  material: { pem: string; body: string; blob: string; bytes: Uint8Array };
  private_key: string;
  apiToken: string;
  hash: string;
  path: string;
  last: unknown;
  lastError: unknown;
  steps: number;
}

export type FixtureEvent = { type: 'GO'; payload: unknown } | { type: 'NOOP' } | { type: 'STEP' };

export const fixtureMachine = setup({
  types: { context: {} as FixtureContext, events: {} as FixtureEvent },
  actors: {
    holder: fromCallback<{ type: string }, { material: string; file: string }>(() => () => {}),
    failing: fromPromise<void, { why: string }>(async ({ input }) => {
      throw new Error(`could not load key: ${input.why}`);
    }),
  },
}).createMachine({
  id: 'fixture',
  context: {
    note: `configured with ${PEM_KEY}`,
    material: { pem: PEM_KEY, body: PEM_BODY, blob: BLOB, bytes: new TextEncoder().encode(PEM_KEY) },
    private_key: 'plain words',
    apiToken: 'abc',
    hash: HASH,
    path: PATH,
    last: null,
    lastError: null,
    steps: 0,
  },
  invoke: { id: 'holder', systemId: 'holder', src: 'holder', input: { material: PEM_KEY, file: PATH } },
  initial: 'idle',
  states: {
    idle: {
      on: {
        GO: { target: 'loading', actions: assign({ last: ({ event }) => event.payload }) },
        NOOP: {},
        STEP: { actions: assign({ steps: ({ context }) => context.steps + 1 }) },
      },
    },
    loading: {
      invoke: {
        src: 'failing',
        input: { why: PEM_BODY },
        onError: { target: 'idle', actions: assign({ lastError: ({ event }) => event.error }) },
      },
    },
  },
});

export function startFixture(): AnyActorRef {
  return createActor(fixtureMachine).start();
}

/** Counts the inspection observers attached through `system.inspect` that are still subscribed. */
export function countObservers(root: AnyActorRef): () => number {
  let active = 0;
  const system = root.system as { inspect: (o: unknown) => { unsubscribe(): void } };
  const original = system.inspect.bind(system);
  system.inspect = (observer: unknown) => {
    const sub = original(observer);
    active++;
    let done = false;
    return {
      unsubscribe() {
        if (!done) active--;
        done = true;
        sub.unsubscribe();
      },
    };
  };
  return () => active;
}
