// Spreads one waiting budget over several tries, so a lost datagram is resent within the
// time a user was promised (e.g. "no ACK within 500 ms") instead of after it.
import type { RequestOptions } from './endpoint.js';

/** How long to wait for each try of a request, and how many tries in all (as RequestOptions has them). */
export type RetryBudget = Pick<RequestOptions, 'timeoutMs' | 'tries'>;

export function spreadTries(totalMs: number, tries: number): RetryBudget {
  const count = Math.max(1, Math.floor(tries));
  return { timeoutMs: Math.max(1, Math.floor(totalMs / count)), tries: count };
}
