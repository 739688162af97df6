// The replay check of requests under a session key: each sender numbers what it sends under a
// session, and the receiver keeps, per sender and session, the highest number taken and which of
// the WINDOW before it were taken (the sliding window of RFC 4303 §3.4.3 and RFC 6347 §4.1.2.6).
// A few hundred bytes per session, where a cache of every datagram taken grows with the rate.
// Below the window's floor (the highest `low` its sender named: see `Signature.low`), a number
// not taken is refused too: its sender is done with the request it went with.
import { AgeQueue } from '../util/age-queue.js';

/** Numbers before the highest one taken that are still told apart; older ones are refused. */
export const REPLAY_WINDOW = 1024;
/** A window's place among the oldest moves at most this often (it is taken as used since then). */
const REFRESH_MS = 10_000;

interface Window {
  /** The highest number taken (-1: none yet). */
  top: number;
  /** Bit `n % REPLAY_WINDOW` set: number n (within the window below `top`) was taken. */
  readonly bits: Uint32Array;
  /** Numbers below it are refused, taken or not (see `raise`); never above `top`. */
  floor: number;
  /** When its place among the oldest was last set (the clock's milliseconds). */
  placedAt: number;
}

export interface ReplayWindowsOptions {
  /** How long a window unused is kept: long enough that all it took is stale by then. */
  ttlMs: number;
  /** Windows kept at most; a new one past it is refused (`full`), none forgotten early. */
  maxWindows: number;
  now?: () => number;
}

const bitOf = (n: number): number => 1 << (n % 32);
const wordOf = (n: number): number => Math.floor(n / 32) % (REPLAY_WINDOW / 32);

/**
 * The windows of every sender and session that sent requests lately. A window unused for its
 * time (plus REFRESH_MS) is forgotten: what it took is stale by then (see `ttlMs`), so nothing
 * it refused gets in after. None is forgotten earlier: a full set refuses new windows.
 */
export class ReplayWindows {
  readonly #windows = new Map<string, Window>();
  readonly #order = new AgeQueue<number>((key, at) => this.#windows.get(key)?.placedAt === at);
  readonly #keepMs: number;
  readonly #maxWindows: number;
  readonly #now: () => number;

  constructor(options: ReplayWindowsOptions) {
    this.#keepMs = options.ttlMs + REFRESH_MS;
    this.#maxWindows = options.maxWindows;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#windows.size;
  }

  /** Places held in the order of use, current or stale: a few per window, however long they are used. */
  get places(): number {
    return this.#order.places;
  }

  /**
   * Takes number `n` (a safe integer, 0 or more) of the window `key` (its sender and session):
   * `added` the first time; `seen` when taken before, or too old to tell (more than
   * REPLAY_WINDOW below the highest taken, or below the floor); `full` when it needs a new
   * window and none is free.
   */
  admit(key: string, n: number): 'added' | 'seen' | 'full' {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (window === undefined) {
      this.#expire(now);
      if (this.#windows.size >= this.#maxWindows) return 'full';
      window = { top: -1, bits: new Uint32Array(REPLAY_WINDOW / 32), floor: 0, placedAt: now };
      this.#windows.set(key, window);
      this.#order.push(key, now);
    } else if (now - window.placedAt >= REFRESH_MS) {
      window.placedAt = now;
      this.#order.push(key, now);
      // Past the places this left stale (and any window gone unused): without a new window for
      // a long while, they would pile up, one per window in use every REFRESH_MS.
      this.#expire(now);
    }
    if (n > window.top) {
      // The numbers skipped on the way to n were not taken: their bits are cleared.
      const clear = Math.min(n - window.top - 1, REPLAY_WINDOW);
      for (let k = 1; k <= clear; k++) window.bits[wordOf(n - k)] &= ~bitOf(n - k);
      window.bits[wordOf(n)] |= bitOf(n);
      window.top = n;
      return 'added';
    }
    if (window.top - n >= REPLAY_WINDOW || n < window.floor) return 'seen';
    const word = wordOf(n);
    if ((window.bits[word] & bitOf(n)) !== 0) return 'seen';
    window.bits[word] |= bitOf(n);
    return 'added';
  }

  /**
   * The sender of window `key` says every number below `low` went with a request it is done
   * with (or a reply): from now on such a number is refused, taken or not. Only from a datagram
   * taken in that window (authenticated, fresh), so `low` is at most its highest number.
   */
  raise(key: string, low: number): void {
    const window = this.#windows.get(key);
    if (window !== undefined && low > window.floor) window.floor = Math.min(low, window.top);
  }

  /** Forgets the windows unused for their time. */
  #expire(now: number): void {
    for (let key = this.#order.oldest(); key !== undefined; key = this.#order.oldest()) {
      if (now - this.#windows.get(key)!.placedAt < this.#keepMs) return;
      this.#windows.delete(key);
    }
  }
}
