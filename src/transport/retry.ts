// Spreads one waiting budget over several tries, so a lost datagram is resent within the
// time a user was promised (e.g. "no ACK within 500 ms") instead of after it.
import type { RequestOptions } from './endpoint.js';

/** How long to wait for each try of a request, and how many tries in all (as RequestOptions has them). */
export type RetryBudget = Pick<RequestOptions, 'timeoutMs' | 'tries' | 'backoff' | 'totalMs'>;

export function spreadTries(totalMs: number, tries: number): RetryBudget {
  const count = Math.max(1, Math.floor(tries));
  return { timeoutMs: Math.max(1, Math.floor(totalMs / count)), tries: count };
}

/** The shortest first wait `fitTries` gives, whatever the path's round trip: room for a busy event loop at either end. */
export const MIN_RETRY_MS = 30;
/** The most tries `fitTries` gives, however long the budget: what a peer gone silent is sent. */
export const MAX_FITTED_TRIES = 8;

/**
 * The tries of one budget fitted to a path's retransmission timeout (`rtoMs`, see
 * round-trips.ts): the first resend after max(`rtoMs`, MIN_RETRY_MS), each wait twice the one
 * before (at most 8 times the first), as many tries as start within `totalMs` (at most
 * MAX_FITTED_TRIES), the last waiting out the rest of it, so the request still fails at
 * `totalMs`, as promised, and not before.
 * Without a timeout, or one no shorter than `spreadTries`' even share, that even share.
 */
export function fitTries(totalMs: number, tries: number, rtoMs: number | undefined): RetryBudget {
  const even = spreadTries(totalMs, tries);
  if (rtoMs === undefined) return even;
  const first = Math.max(MIN_RETRY_MS, Math.ceil(rtoMs));
  if (first >= even.timeoutMs) return even;
  let count = 1;
  let sentAt = 0;
  let wait = first;
  while (count < MAX_FITTED_TRIES && sentAt + wait < totalMs) {
    sentAt += wait;
    count++;
    wait = Math.min(2 * wait, 8 * first);
  }
  return { timeoutMs: first, tries: count, backoff: 2, totalMs };
}
