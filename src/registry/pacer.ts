// When the next round of table changes may go out: a GCRA pace whose interval grows with the
// audience, so the datagrams spent on changes stay bounded however many there are.
import { nodeClock, type Clock } from '../util/clock.js';

/** The time and timeouts a `Pacer` waits with. */
export type PacerClock = Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;

/** Not unref'd: a round due is sent before the process may end. */
export const NODE_CLOCK: PacerClock = nodeClock({ unref: false });

/** What the pacer needs of the registry around it: its settings, and the rounds it paces. */
export interface PacerContext {
  /** Every round waits at least this long after the change that asked for it (`pushDelayMs`; 0: the end of this turn of the event loop). */
  readonly delayMs: number;
  /** Rounds are spaced by this long per 100 clients served, at least once (`pushIntervalMs`; 0: never spaced). */
  readonly intervalMs: number;
  /** Rounds that may go at once before the interval spaces them. */
  readonly burst: number;
  /** How many clients a round goes to now (those the interval grows with). */
  served(): number;
  /** Whether there is anything for a round to carry; a round with nothing is not sent and spends nothing. */
  pending(): boolean;
  /** Sends one round: every change made since the last one. */
  round(): void;
}

/**
 * Decides when the next round of table changes may go. Rounds are paced like cells by GCRA
 * (the generic cell rate algorithm): `burst` rounds at once, then one per interval, which grows
 * with the clients each round goes to (every 100 more, one interval more), so the datagrams
 * spent on changes stay bounded however many changes there are. One round is armed at a time:
 * changes asked for while it waits join it. It knows nothing of tables or sockets: the context
 * says whether there is anything to send and sends it.
 */
export class Pacer {
  readonly #context: PacerContext;
  readonly #clock: PacerClock;
  /** The armed round's timer; undefined when none is armed. */
  #timer: unknown;
  /** When the rounds sent so far would be spent at one per interval (GCRA's theoretical arrival time). */
  #pace = 0;
  #closed = false;

  constructor(context: PacerContext, clock: PacerClock = NODE_CLOCK) {
    this.#context = context;
    this.#clock = clock;
  }

  /** Something changed: arms a round, due after `delayMs` or once the pace allows, unless one is armed already. */
  request(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const interval = this.interval();
    const now = this.#clock.now();
    const wait =
      interval > 0 ? Math.max(0, this.#pace - (this.#context.burst - 1) * interval - now) : 0;
    const due = Math.max(this.#context.delayMs, wait);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#go();
    }, due);
  }

  /** The spacing of rounds now: `intervalMs` × max(1, clients served / 100). */
  interval(): number {
    return this.#context.intervalMs * Math.max(1, this.#context.served() / 100);
  }

  /** Idempotent: no round is sent from now on, the armed one included. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #go(): void {
    if (this.#closed || !this.#context.pending()) return;
    // The pace is spent when the round goes, before it is sent, at the interval of now.
    this.#pace = Math.max(this.#pace, this.#clock.now()) + this.interval();
    this.#context.round();
  }
}
