// A signed request is taken once by the registry, whichever of its processes it reaches: each
// process's transport refuses a signed datagram it took before (the replay cache, in memory);
// the store remembers the ones taken, for as long as they are fresh, for every node on it and
// across a restart.
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { SIGNED_HELD_SECONDS } from '../transport/datagram-auth.js';

export interface SignedOnceContext {
  readonly store: Pick<Store, 'claim'>;
  readonly log: Logger;
}

/**
 * Whether a signed request (by its replay key: its signer and signature) is taken here for the
 * first time, as the store knows: a copy of one another node took (sent on by someone on the
 * path), or one this node took before it restarted, is not. Without this, a signed request
 * captured could be taken once more by each other node and after each restart while fresh.
 * A request under a session key needs none of this: only the process that set the session up
 * holds its key. A store without `claim` leaves it to the replay cache; one that fails to
 * answer is logged, and the request taken: the replay cache still refuses it here.
 */
export class SignedOnce {
  readonly #context: SignedOnceContext;
  /** Signed requests the store said were taken already, dropped unanswered. */
  signedTakenBefore = 0;

  constructor(context: SignedOnceContext) {
    this.#context = context;
  }

  async first(signed: string): Promise<boolean> {
    const { store, log } = this.#context;
    if (!store.claim) return true;
    try {
      if (await store.claim(signed, SIGNED_HELD_SECONDS)) return true;
    } catch (error) {
      log.warn({ err: error }, 'a signed request could not be recorded in the store');
      return true;
    }
    this.signedTakenBefore++;
    return false;
  }
}
