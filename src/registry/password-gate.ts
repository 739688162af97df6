// The registry's slow password work (scrypt, on libuv's few threads) behind one gate: at most
// `concurrent` jobs at once, and at most `perAddressPerMinute` a minute from one source address.
// What does not get in is refused at once, never queued: a flood of account registrations costs
// a bounded amount of CPU and leaves the threads free for the store.
import { RateLimiterMemory } from 'rate-limiter-flexible';

export class PasswordGate {
  readonly #concurrent: number;
  readonly #perAddress: RateLimiterMemory;
  #running = 0;
  /** Most jobs that ran at once (for tests and metrics). */
  peak = 0;
  refused = 0;

  constructor(options: { concurrent: number; perAddressPerMinute: number }) {
    this.#concurrent = options.concurrent;
    this.#perAddress = new RateLimiterMemory({ points: options.perAddressPerMinute, duration: 60 });
  }

  /** Runs `job` for `address`, or says why not: `busy` (too many at once) or `limited` (that address used its share). */
  async run<T>(
    address: string,
    job: () => Promise<T>,
  ): Promise<{ done: T } | { refused: 'busy' | 'limited' }> {
    if (this.#running >= this.#concurrent) return this.#refuse('busy');
    try {
      await this.#perAddress.consume(address);
    } catch {
      return this.#refuse('limited');
    }
    // Counted before anything else can await: the check above and this stay one step.
    if (this.#running >= this.#concurrent) return this.#refuse('busy');
    this.#running++;
    this.peak = Math.max(this.peak, this.#running);
    try {
      return { done: await job() };
    } finally {
      this.#running--;
    }
  }

  #refuse(why: 'busy' | 'limited'): { refused: 'busy' | 'limited' } {
    this.refused++;
    return { refused: why };
  }
}
