import type { Address } from '../../src/transport/address.js';
import type { RetryBudget } from '../../src/transport/retry.js';

/** A request a module under test sent to `nick`, held until the test answers it. */
export interface Held<B> {
  nick: string;
  to: Address;
  body: B;
  retry: RetryBudget;
  ack(): void;
  miss(): void;
}

/**
 * A fake of the request function a registry module's context takes (mailbox, groups): each
 * request waits until the test ACKs or misses it (rejecting as a timeout would).
 */
export function heldRequests<B>() {
  const requests: Held<B>[] = [];
  const request = (nick: string, to: Address, body: B, retry: RetryBudget): Promise<unknown> =>
    new Promise((resolve, reject) => {
      requests.push({
        nick,
        to,
        body,
        retry,
        ack: () => resolve(undefined),
        miss: () => reject(new Error('ERR_TIMEOUT')),
      });
    });
  /** Waits until `count` requests were sent in all (the module awaits a fake store first), and gives them. */
  const sent = async (count: number): Promise<Held<B>[]> => {
    for (let turn = 0; requests.length < count && turn < 100; turn++)
      await new Promise((resolve) => setImmediate(resolve));
    if (requests.length < count)
      throw new Error(`only ${requests.length} requests sent, not ${count}`);
    return requests.slice(0, count);
  };
  return { requests, request, sent };
}
