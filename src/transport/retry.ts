// Spreads one waiting budget over several tries, so a lost datagram is resent within the
// time a user was promised (e.g. "no ACK within 500 ms") instead of after it.
import type { RequestOptions } from './endpoint.js';

export function spreadTries(totalMs: number, tries: number): RequestOptions {
  const count = Math.max(1, Math.floor(tries));
  return { timeoutMs: Math.max(1, Math.floor(totalMs / count)), tries: count };
}
