// Budgets of so many uses per key in a fixed window, spent synchronously: what
// rate-limiter-flexible's RateLimiterMemory counts, in the same storage (its MemoryStorage
// component), without the rest of `consume` (a promise, a result object filled through setters,
// its handlers). On a chat's path that was 25–50 µs of a receiver's CPU a message right after
// start, measured through the binary; an `await` alone in its place measured nothing. Loaded by
// its own path: the package's entry point loads every limiter it has (Redis, Mongo, SQL, etcd…),
// and a client's start does not pay for them.
import MemoryStorage from 'rate-limiter-flexible/lib/component/MemoryStorage/MemoryStorage.js';

/** A window of `windowMs`, in the whole seconds rate-limiter-flexible counts in (at least one). */
export const windowSeconds = (windowMs: number): number => Math.max(1, Math.round(windowMs / 1000));

/**
 * `points` uses per key in each window of `windowMs` (see `windowSeconds`), a window starting
 * at a key's first use once the one before has ended; the count of a key goes with its window.
 */
export class WindowBudget {
  readonly #storage = new MemoryStorage();
  readonly #points: number;
  readonly #seconds: number;

  constructor({ points, windowMs }: { points: number; windowMs: number }) {
    this.#points = points;
    this.#seconds = windowSeconds(windowMs);
  }

  /** Spends one use of `key`'s budget: false when its window's uses were spent already. */
  spend(key: string): boolean {
    return this.#storage.incrby(key, 1, this.#seconds).consumedPoints <= this.#points;
  }
}
