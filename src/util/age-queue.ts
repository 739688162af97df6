// The keys of a Map in the order they were added, for a Map whose oldest entries go first.
// Iterating the Map itself from its front walks over every entry deleted there since V8 last
// rebuilt its table: thousands in a full window (17 µs an eviction from a Map of 20,000 keys).

/**
 * The keys added to a Map, oldest first, each with a token that tells whether its place is
 * still current: a key deleted since, or deleted and added again (a place further back), leaves
 * a stale place, which `isCurrent` refuses and the queue skips. Stale places are dropped as
 * the head moves past them; the array lets go of them once they are half of it. So it holds
 * the places added since the Map's oldest entry was: a Map whose entries all expire keeps the
 * queue to what a lifetime's adds come to.
 */
export class AgeQueue<T> {
  readonly #isCurrent: (key: string, token: T) => boolean;
  #keys: string[] = [];
  #tokens: T[] = [];
  #head = 0;

  constructor(isCurrent: (key: string, token: T) => boolean) {
    this.#isCurrent = isCurrent;
  }

  /** `key` was just added to the Map, with `token` (its time, or its entry). */
  push(key: string, token: T): void {
    this.#keys.push(key);
    this.#tokens.push(token);
  }

  /** The oldest key whose place is current, or undefined when there is none. */
  oldest(): string | undefined {
    while (this.#head < this.#keys.length && !this.#current(this.#head)) this.#head++;
    if (this.#head >= 1024 && this.#head * 2 >= this.#keys.length) {
      this.#keys = this.#keys.slice(this.#head);
      this.#tokens = this.#tokens.slice(this.#head);
      this.#head = 0;
    }
    return this.#head < this.#keys.length ? this.#keys[this.#head] : undefined;
  }

  /** Places held, current or stale (what the queue costs). */
  get places(): number {
    return this.#keys.length - this.#head;
  }

  /**
   * The token of the oldest place, current or stale (undefined when there is none): with
   * tokens that grow in the order pushed (times), no current place has a smaller one.
   */
  firstToken(): T | undefined {
    return this.#head < this.#tokens.length ? this.#tokens[this.#head] : undefined;
  }

  /** Visits the keys whose places are current, oldest first, while `visit` says to go on. */
  visit(visit: (key: string) => boolean): void {
    for (let i = this.#head; i < this.#keys.length; i++)
      if (this.#current(i) && !visit(this.#keys[i])) break;
    this.oldest(); // past the places the visit made stale
  }

  clear(): void {
    this.#keys = [];
    this.#tokens = [];
    this.#head = 0;
  }

  #current(i: number): boolean {
    return this.#isCurrent(this.#keys[i], this.#tokens[i]);
  }
}
