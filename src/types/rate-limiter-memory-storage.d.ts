// The part of rate-limiter-flexible udpchat's client counts in, by its own path (see
// src/util/rate-limiter.ts): the package declares types for its entry point only.
declare module 'rate-limiter-flexible/lib/component/MemoryStorage/MemoryStorage.js' {
  import type { RateLimiterRes } from 'rate-limiter-flexible';
  /** Counts per key, each count kept for its window (a timer per key deletes it after). */
  export default class MemoryStorage {
    /** Adds `value` to `key`'s count, starting a window of `durationSec` if none runs. */
    incrby(key: string, value: number, durationSec: number): RateLimiterRes;
  }
}
