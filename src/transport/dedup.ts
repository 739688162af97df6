// A bounded window of recently seen keys, with the reply already sent: what lets a retransmitted
// request be answered again without being carried out twice.
import { AgeQueue } from '../util/age-queue.js';

export interface DedupWindowOptions<V = true> {
  /** How long an entry is remembered. */
  ttlMs?: number;
  /** Most entries kept; the oldest go first. Bounds memory under a flood of unique ids. */
  maxEntries?: number;
  /**
   * When full of entries still within their time: `evict` the oldest (the default), or
   * `refuse` the new key (`admit` says `full`), for a window whose whole point is to
   * remember every key for its time (a replay cache: forgetting one early lets it in again).
   */
  whenFull?: 'evict' | 'refuse';
  /**
   * With `weigh`, the values' weights (a cached reply's bytes) add up to at most this: the
   * oldest entries go first to make room, whatever `whenFull` says. A value heavier than the
   * whole budget is kept alone.
   */
  maxWeight?: number;
  /** The weight of a value (0 for one that weighs nothing, such as a reply not made yet). */
  weigh?: (value: V) => number;
  now?: () => number;
}

export const DEFAULT_DEDUP_TTL_MS = 120_000;
export const DEFAULT_DEDUP_MAX_ENTRIES = 20_000;

/**
 * One key's entry: when it was added (milliseconds since the window was made, so a small
 * integer V8 keeps inline for the first 24 days of a process), with its value; or that time
 * alone when the value is `true`, as in a window of bare keys (a replay cache of 200,000
 * entries saves an object and a boxed number on each).
 */
type Entry<V> = number | { at: number; value: V };

const atOf = <V>(entry: Entry<V>): number => (typeof entry === 'number' ? entry : entry.at);

/**
 * Remembers recently seen keys (with an optional value, such as the reply already sent)
 * for a bounded time and count, and, with `weigh`, a bounded total weight of values. The
 * oldest go first, taken from an `AgeQueue` of the keys in the order they were added.
 */
export class DedupWindow<V = true> {
  readonly #entries = new Map<string, Entry<V>>();
  /**
   * The keys in the order they were added, with the time each was added: a place is stale
   * once its key is gone (expired on a look-up) or bears another time (added again since).
   */
  readonly #order = new AgeQueue<number>((key, at) => {
    const entry = this.#entries.get(key);
    return entry !== undefined && atOf(entry) === at;
  });
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #whenFull: 'evict' | 'refuse';
  readonly #maxWeight: number;
  readonly #weigh: ((value: V) => number) | undefined;
  /** The sum of the values' weights (with `weigh`). */
  #weight = 0;
  readonly #now: () => number;
  /** The clock's reading when the window was made: entries' times are counted from it. */
  readonly #origin: number;

  constructor(options: DedupWindowOptions<V> = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_DEDUP_TTL_MS;
    this.#maxEntries = options.maxEntries ?? DEFAULT_DEDUP_MAX_ENTRIES;
    this.#whenFull = options.whenFull ?? 'evict';
    this.#maxWeight = options.maxWeight ?? Infinity;
    this.#weigh = options.weigh;
    this.#now = options.now ?? Date.now;
    this.#origin = this.#now();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The sum of the values' weights (0 without `weigh`). */
  get weight(): number {
    return this.#weight;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  get(key: string): V | undefined {
    return this.#live(key, this.#now() - this.#origin);
  }

  /** Records a key; returns false when it was already there (a duplicate), or could not be kept. */
  add(key: string, value: V): boolean {
    return this.admit(key, value) === 'added';
  }

  /** Records a key: `added`, `seen` (already there), or `full` (refused: see `whenFull`). */
  admit(key: string, value: V): 'added' | 'seen' | 'full' {
    // One reading of the clock for the look-up, the eviction and the new entry.
    const now = this.#now() - this.#origin;
    if (this.#live(key, now) !== undefined) return 'seen';
    this.#evict(now);
    if (this.#entries.size >= this.#maxEntries) return 'full';
    this.#entries.set(key, value === true ? now : { at: now, value });
    this.#order.push(key, now);
    this.#weight += this.#weightOf(value);
    this.#shed(key);
    return 'added';
  }

  /** Replaces the value of a key already seen, keeping its age (and its place among the oldest). */
  update(key: string, value: V): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#weight += this.#weightOf(value) - this.#weightOf(this.#valueOf(entry));
    if (typeof entry !== 'number' && value !== true) entry.value = value;
    else this.#entries.set(key, value === true ? atOf(entry) : { at: atOf(entry), value });
    this.#shed(key);
  }

  clear(): void {
    this.#entries.clear();
    this.#order.clear();
    this.#weight = 0;
  }

  #weightOf(value: V): number {
    return this.#weigh ? this.#weigh(value) : 0;
  }

  #valueOf(entry: Entry<V>): V {
    return typeof entry === 'number' ? (true as V) : entry.value;
  }

  #delete(key: string, entry: Entry<V>): void {
    this.#entries.delete(key);
    this.#weight -= this.#weightOf(this.#valueOf(entry));
  }

  /** Over `maxWeight`: the oldest entries go until it fits, all but `keep` (the one just weighed). */
  #shed(keep?: string): void {
    if (this.#weight <= this.#maxWeight) return;
    this.#order.visit((key) => {
      if (key !== keep) this.#delete(key, this.#entries.get(key)!);
      return this.#weight > this.#maxWeight;
    });
  }

  /** The value of a key within its time (`now` counted from the origin); an expired entry is dropped. */
  #live(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now - atOf(entry) > this.#ttlMs) {
      this.#delete(key, entry);
      return undefined;
    }
    return this.#valueOf(entry);
  }

  /** Whether every entry within its time stays: there is room, or a full window refuses instead. */
  #keepsAll(): boolean {
    return this.#entries.size < this.#maxEntries || this.#whenFull === 'refuse';
  }

  #evict(now: number): void {
    // Times only grow in the order added: while the oldest place (stale or not) is within its
    // time and entries within their time all stay, nothing is due: no entry is looked up.
    const first = this.#order.firstToken();
    if (first === undefined || (this.#keepsAll() && now - first <= this.#ttlMs)) return;
    // Oldest first: the expired, then, when evicting, the rest.
    for (let key = this.#order.oldest(); key !== undefined; key = this.#order.oldest()) {
      const entry = this.#entries.get(key)!;
      const expired = now - atOf(entry) > this.#ttlMs;
      if (!expired && this.#keepsAll()) break;
      this.#delete(key, entry);
    }
  }
}
