// Whether a signed request reaching this client was taken before a restart: the transport's
// replay cache refuses one this process took, in memory only; a set that outlives the process
// (ChatClientParts.signedTaken, a file the CLI keeps) knows the ones its earlier process took.
import type { Logger } from 'pino';
import { SIGNED_HELD_SECONDS } from '../transport/datagram-auth.js';
import type { SignedTaken } from './options.js';

/**
 * The client's check of signed requests against its `SignedTaken` set (none: every one is new,
 * the replay cache alone decides). It decides at once and has the key written in the same
 * turn, unawaited, so requests are handled in the order they came; a failed write is logged.
 */
export class SignedTakenCheck {
  readonly #set: SignedTaken | undefined;
  readonly #failed: (error: unknown) => void;
  /** Signed requests taken before a restart, dropped unanswered. */
  signedTakenBefore = 0;

  constructor(set: SignedTaken | undefined, log: Pick<Logger, 'warn'>) {
    this.#set = set;
    this.#failed = (error) => log.warn({ err: error }, 'signed-taken write failed');
  }

  open(): Promise<void> {
    return this.#set?.open() ?? Promise.resolve();
  }

  close(): Promise<void> {
    return this.#set?.close() ?? Promise.resolve();
  }

  /** Whether the signed request with replay key `signed` was taken before (counted); else it is taken now. */
  takenBefore(signed: string): boolean {
    if (!this.#set || this.#set.claimNow(signed, SIGNED_HELD_SECONDS, this.#failed)) return false;
    this.signedTakenBefore++;
    return true;
  }
}
