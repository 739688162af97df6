/** A live message as the client shows it. */
export interface LiveMessage {
  from: string;
  text: string;
  mid: string;
  all?: boolean;
}

export interface ReceiveOrderOptions {
  /** Longest a message waits for the one it names as `after`. */
  holdTimeoutMs: number;
  /** Whether the message `from`+`mid` has been taken (shown, or waiting here to be). */
  taken(from: string, mid: string): boolean;
  /** Shows a live message: its turn has come. */
  show(message: LiveMessage): void;
}

/**
 * The order in which a client shows what it receives, per sender: a live message that
 * names an earlier one (`after`) waits for it, and those behind it wait too; after a
 * registration with saved messages pending (a catch-up), live messages wait behind the
 * saved ones, except those a saved message lets go of, which are older than the saved
 * ones still to come. Every wait is bounded.
 */
export class ReceiveOrder {
  readonly #options: ReceiveOrderOptions;
  /** Saved messages still to come after a registration; live ones wait behind them. */
  #catchUp = 0;
  #catchUpTimer: NodeJS.Timeout | undefined;
  readonly #held: LiveMessage[] = [];
  /** Per sender: live messages waiting, in order, for an earlier one still on its way. */
  readonly #waiting = new Map<string, { messages: Array<{ message: LiveMessage; after?: string }>; timer: NodeJS.Timeout }>();

  constructor(options: ReceiveOrderOptions) {
    this.#options = options;
  }

  /**
   * After a registration with `pending` saved messages, live messages (newer by
   * construction: their senders saw this client online only after it registered) wait
   * behind them, for at most `patienceMs`.
   */
  startCatchUp(pending: number, patienceMs: number): void {
    this.#catchUp = pending;
    clearTimeout(this.#catchUpTimer);
    if (pending <= 0) return this.#endCatchUp();
    this.#catchUpTimer = setTimeout(() => this.#endCatchUp(), patienceMs);
    this.#catchUpTimer.unref();
  }

  /** `count` saved messages of the catch-up have come. */
  caughtUp(count: number): void {
    this.#catchUp -= count;
    if (this.#catchUp <= 0) this.#endCatchUp();
  }

  /**
   * A saved message from `from` was shown: what waited for it is older than the saved
   * messages after it, so it is shown now, not behind the rest of the catch-up.
   */
  savedShown(from: string): void {
    this.#release(from, { behindSaved: true });
  }

  /**
   * Shows a live message unless it must wait: behind an earlier message from the same
   * sender that is still waiting, or behind the one it names as `after`.
   */
  live(message: LiveMessage, after?: string): void {
    const waiting = this.#waiting.get(message.from);
    if (!waiting && (after === undefined || this.#options.taken(message.from, after))) {
      this.#emitLive(message);
      return;
    }
    if (waiting) {
      // The one a waiting message names is older than it: it goes in front of that one.
      const named = waiting.messages.findIndex((entry) => entry.after === message.mid);
      if (named >= 0) waiting.messages.splice(named, 0, { message, after });
      else waiting.messages.push({ message, after });
      this.#release(message.from);
      return;
    }
    // Bounded: if the earlier message never comes, these are shown anyway.
    const timer = setTimeout(() => this.#release(message.from, { all: true }), this.#options.holdTimeoutMs);
    timer.unref();
    this.#waiting.set(message.from, { messages: [{ message, after }], timer });
  }

  /** Stops every timer (the client is closing); nothing more is shown. */
  close(): void {
    clearTimeout(this.#catchUpTimer);
    for (const waiting of this.#waiting.values()) clearTimeout(waiting.timer);
  }

  #endCatchUp(): void {
    this.#catchUp = 0;
    clearTimeout(this.#catchUpTimer);
    for (const message of this.#held.splice(0)) this.#options.show(message);
  }

  /**
   * Shows what waited for `from`'s earlier messages, in order, as far as they have come.
   * `all`: the hold timed out, so everything goes. `behindSaved`: released by a saved
   * message, so these are older than the saved ones still to come in the catch-up and
   * must not wait behind them.
   */
  #release(from: string, how: { all?: boolean; behindSaved?: boolean } = {}): void {
    const waiting = this.#waiting.get(from);
    if (!waiting) return;
    while (waiting.messages.length > 0) {
      const head = waiting.messages[0]!;
      if (!how.all && head.after !== undefined && !this.#options.taken(from, head.after)) return;
      waiting.messages.shift();
      this.#emitLive(head.message, how.behindSaved);
    }
    clearTimeout(waiting.timer);
    this.#waiting.delete(from);
  }

  /**
   * Live messages wait while a catch-up is under way (they are newer than the saved
   * ones), unless they are known to be older; even then they keep their place behind
   * anything already waiting from the same sender.
   */
  #emitLive(message: LiveMessage, older = false): void {
    const behind = this.#catchUp > 0 && (!older || this.#held.some((held) => held.from === message.from));
    if (behind) this.#held.push(message);
    else this.#options.show(message);
  }
}
