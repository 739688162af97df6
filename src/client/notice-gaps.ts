// Presence notices beyond the registry's table limit are sent once and never answered: this
// tells when one was missed, from the numbers they carry, so that the client watches again.
import type { Timeouts } from '../util/clock.js';

/** How long a missing notice may still come (overtaken by a later one) before it counts as lost. */
export const NOTICE_GRACE_MS = 500;
/** Numbers held beyond the first missing one, at most: past it, a gap is taken as lost at once. */
const AHEAD_KEPT = 64;

/** What the tracking needs of the client around it. */
export interface NoticeGapsContext {
  /** A notice was lost: say again what this client watches (its answers bring each entry as it is now). */
  lost(): void;
}

/**
 * The numbers of the presence notices this client took (see docs/protocol.md, presence
 * notices): each node numbers its notices to a client 1, 2, 3, …; the answer to the watch that
 * clears what the node held says the number it had reached, and so does each heartbeat's
 * answer. A number missing for `NOTICE_GRACE_MS` (or one the node says it sent that never
 * came) is a lost notice: `lost` is called, once until the next clearing watch starts the
 * count again. Its phases: `unstarted` (no clearing watch answered yet: numbers are only held),
 * `counting`, `lost` (told; waiting for the clearing watch that starts the count again).
 */
export class NoticeGaps {
  readonly #context: NoticeGapsContext;
  readonly #timers: Timeouts;
  #phase: 'unstarted' | 'counting' | 'lost' = 'unstarted';
  /** The node's table epoch when the count started: another one means it restarted. */
  #epoch: string | undefined;
  /** Every notice up to this one is accounted for (taken, or older than the clearing watch). */
  #through = 0;
  /** The highest number known to have been sent: taken, or said by a heartbeat's answer. */
  #highest = 0;
  /** Numbers taken beyond `#through` while one before them is missing. */
  readonly #ahead = new Set<number>();
  /** Set while a gap waits out its grace. */
  #grace: unknown;

  constructor(context: NoticeGapsContext, timers: Timeouts) {
    this.#context = context;
    this.#timers = timers;
  }

  /**
   * The watch that clears what the node held was answered at notice `seq`: notices up to it
   * were sent before, about what its answers now bring as it is (their entries are still
   * taken if newer); every later one must come.
   */
  started(seq: number, epoch: string): void {
    this.#cancelGrace();
    this.#phase = 'counting';
    this.#epoch = epoch;
    this.#through = seq;
    this.#highest = Math.max(this.#highest, seq);
    for (const held of [...this.#ahead]) if (held <= seq) this.#ahead.delete(held);
    this.#check();
  }

  /** A notice numbered `seq` came. */
  noticed(seq: number): void {
    if (seq <= this.#through || this.#phase === 'lost') return;
    this.#ahead.add(seq);
    this.#highest = Math.max(this.#highest, seq);
    if (this.#phase === 'counting') return this.#check();
    // Before the count starts, only the latest few are worth holding.
    if (this.#ahead.size > AHEAD_KEPT) this.#ahead.delete(Math.min(...this.#ahead));
  }

  /**
   * The node said (a heartbeat's answer) that its last notice to this client was number `seq`,
   * in table epoch `epoch`. Another epoch than the count started in: the node restarted and
   * no longer knows what this client watches (its notices are lost from now on). After a
   * loss nothing more is told until a clearing watch starts the count again (the client owes
   * its contacts to the node until then, see watching.ts).
   */
  sent(seq: number, epoch: string | undefined): void {
    if (this.#phase !== 'counting') return;
    const restarted = epoch !== undefined && epoch !== this.#epoch;
    if (!restarted && seq <= this.#through) return;
    if (restarted) return this.#lose();
    this.#highest = Math.max(this.#highest, seq);
    this.#check();
  }

  /** Moves `#through` over the numbers that came in order; one still missing below `#highest` is suspected. */
  #check(): void {
    while (this.#ahead.delete(this.#through + 1)) this.#through++;
    if (this.#through >= this.#highest) return this.#cancelGrace();
    if (this.#ahead.size > AHEAD_KEPT) return this.#lose();
    this.#suspect();
  }

  /** Waits out the grace: if nothing moved the count on meanwhile, the missing notice is lost. */
  #suspect(): void {
    if (this.#grace !== undefined) return;
    const through = this.#through;
    this.#grace = this.#timers.setTimeout(() => {
      this.#grace = undefined;
      if (this.#phase !== 'counting') return;
      if (this.#through === through) this.#lose();
      else if (this.#through < this.#highest) this.#suspect();
    }, NOTICE_GRACE_MS);
  }

  #lose(): void {
    this.#cancelGrace();
    this.#phase = 'lost';
    this.#ahead.clear();
    this.#context.lost();
  }

  #cancelGrace(): void {
    if (this.#grace === undefined) return;
    this.#timers.clearTimeout(this.#grace);
    this.#grace = undefined;
  }
}
