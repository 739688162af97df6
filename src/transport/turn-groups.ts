// What one turn of the event loop gathers per key, for the two that send the first thing to a
// key at once and gather what follows it: the coalescer (datagrams to an address: bundle.ts)
// and the ACK merger (ACKs to a sender: ack-merge.ts). The turn's end, planned at the turn's
// first key, hands over each group made.

/**
 * The keys seen in this turn of the event loop, each with the group of what followed its first
 * (or none yet). The turn ends when `defer` runs `end` (setImmediate), or when `end` is called.
 */
export class TurnGroups<G> {
  readonly #defer: (end: () => void) => void;
  readonly #onEnd: (group: G) => void;
  /** Keys seen in this turn: each with its group, or null while it has none. */
  #groups = new Map<string, G | null>();
  #endPlanned = false;

  /** `onEnd`: called at the turn's end with each group made in it. */
  constructor(defer: (end: () => void) => void, onEnd: (group: G) => void) {
    this.#defer = defer;
    this.#onEnd = onEnd;
  }

  /**
   * What `key` has in this turn: undefined for its first (the caller sends it now), null once
   * it had its first and no group yet (the caller makes one: `keep`), else its group.
   */
  of(key: string): G | null | undefined {
    const group = this.#groups.get(key);
    if (group !== undefined) return group;
    this.#groups.set(key, null);
    if (!this.#endPlanned) {
      this.#endPlanned = true;
      this.#defer(() => this.end());
    }
    return undefined;
  }

  /** `group` is `key`'s from now on, in this turn. */
  keep(key: string, group: G): G {
    this.#groups.set(key, group);
    return group;
  }

  /** Ends the turn: a new one starts, and each group made in this one goes to `onEnd`. */
  end(): void {
    const groups = this.#groups;
    this.#groups = new Map();
    this.#endPlanned = false;
    for (const group of groups.values()) if (group !== null) this.#onEnd(group);
  }
}
