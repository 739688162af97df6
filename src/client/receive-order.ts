// The order in which private messages are shown: per sender, in the order sent, each once,
// whether it came live or was saved by the registry while this client was away.
import { DedupWindow } from '../transport/dedup.js';
import { nodeClock, type Timeouts } from '../util/clock.js';

/**
 * A private message as it reaches a client, by whichever path: `live` (straight from the
 * peer, or relayed by the registry at once) or `saved` (kept in the mailbox while this
 * client was away).
 */
export interface Arrival {
  from: string;
  mid: string;
  /** The message its sender sent just before it (within a while). */
  after?: string;
  /** The sender had this client's ACK for `after` before sending this one. */
  afterTaken?: boolean;
  path: 'live' | 'saved';
}

export interface ReceiveOrderOptions<M extends Arrival> {
  /** Longest a message waits for the one it names as `after`. */
  holdTimeoutMs: number;
  /** Shows a message: its turn has come. */
  show(message: M): void;
  /** How long a message id is remembered, so a copy that comes later is not shown again. */
  dedup?: { ttlMs?: number; maxEntries?: number };
  /** The timers the holds wait with; node's (unref'd) unless given (tests pass a fake clock). */
  timers?: Timeouts;
}

/**
 * The order in which a client shows the private messages it receives, and that it shows
 * each once. Every message, live or saved, goes through one place per sender, where what
 * has come but is not shown yet is kept as runs: a message joins the run of the one it
 * names (`after`) and the run of the one that names it. A run is shown, whole, once its
 * first message's turn has come:
 *
 * - it names a message already shown, or one this client acknowledged and has since
 *   forgotten (it restarted, or the message is long gone: `afterTaken`), or none;
 * - it names one not here yet: it waits for it, bounded by `holdTimeoutMs` (counted outside
 *   catch-ups: the message it waits for is likely among the saved ones still coming);
 * - saved: its sender saved it only once the one before it was acknowledged here or saved
 *   ahead of it, so it never waits;
 * - after a registration with saved messages pending (a catch-up), a live message that
 *   names none waits until the saved ones are in, or the catch-up's patience runs out.
 *
 * A copy of a message already taken (another path, a retransmission) is refused.
 */
export class ReceiveOrder<M extends Arrival> {
  readonly #options: ReceiveOrderOptions<M>;
  /** Messages taken (shown, or waiting to be), by sender and id. */
  readonly #arrived: DedupWindow;
  /** Per sender: runs of messages taken but not shown yet, each in send order. */
  readonly #runs = new Map<string, Array<Run<M>>>();
  /** Saved messages still to come in the catch-up under way; 0 when none is. */
  #catchUp = 0;
  #catchUpTimer: unknown;
  readonly #timers: Timeouts;
  /** Saved messages that came since the registration began (some may overtake its reply). */
  #savedSinceRegistering = 0;

  constructor(options: ReceiveOrderOptions<M>) {
    this.#options = options;
    this.#timers = options.timers ?? nodeClock({ unref: true });
    this.#arrived = new DedupWindow(options.dedup);
  }

  /** Whether `from`'s message `mid` was taken already. */
  has(from: string, mid: string): boolean {
    return this.#arrived.has(key(from, mid));
  }

  /** Takes a message and shows what may be shown; false for a copy of one already taken. */
  receive(message: M): boolean {
    if (!this.#arrived.add(key(message.from, message.mid), true)) return false;
    let runs = this.#runs.get(message.from);
    if (!runs) this.#runs.set(message.from, (runs = []));
    const before = runs.find((run) => run.messages.at(-1)!.mid === message.after);
    const behind = runs.find((run) => run.messages[0].after === message.mid);
    if (before) before.messages.push(message);
    if (behind) {
      // This one is what that run waited for: it goes in front of it.
      this.#timers.clearTimeout(behind.timer);
      runs.splice(runs.indexOf(behind), 1);
      if (before) before.messages.push(...behind.messages);
      else runs.push({ messages: [message, ...behind.messages], timer: undefined, givenUp: false });
    } else if (!before) {
      runs.push({ messages: [message], timer: undefined, givenUp: false });
    }
    this.#drain(message.from);
    return true;
  }

  /** A registration is being sent: saved messages from now on belong to its catch-up. */
  registering(): void {
    this.#savedSinceRegistering = 0;
  }

  /**
   * The registration was answered with `pending` saved messages: until they are in (or
   * `patienceMs` passes), live messages that name no earlier message wait behind them.
   */
  startCatchUp(pending: number, patienceMs: number): void {
    this.#catchUp = Math.max(0, pending - this.#savedSinceRegistering);
    this.#timers.clearTimeout(this.#catchUpTimer);
    if (this.#catchUp === 0) return this.#endCatchUp();
    this.#catchUpTimer = this.#timers.setTimeout(() => this.#endCatchUp(), patienceMs);
  }

  /** `count` saved messages came (copies included: each was one of the pending). */
  caughtUp(count: number): void {
    this.#savedSinceRegistering += count;
    if (this.#catchUp === 0) return;
    this.#catchUp = Math.max(0, this.#catchUp - count);
    if (this.#catchUp === 0) this.#endCatchUp();
  }

  /** Stops every timer (the client is closing); nothing more is shown. */
  close(): void {
    this.#timers.clearTimeout(this.#catchUpTimer);
    for (const runs of this.#runs.values())
      for (const run of runs) this.#timers.clearTimeout(run.timer);
    this.#runs.clear();
  }

  #endCatchUp(): void {
    this.#catchUp = 0;
    this.#timers.clearTimeout(this.#catchUpTimer);
    for (const from of [...this.#runs.keys()]) this.#drain(from);
  }

  /** Shows every run of `from` whose turn has come; the others wait, bounded. */
  #drain(from: string): void {
    const runs = this.#runs.get(from);
    if (!runs) return;
    for (let i = 0; i < runs.length;) {
      const run = runs[i];
      const wait = this.#waitsFor(run);
      if (wait === undefined) {
        this.#timers.clearTimeout(run.timer);
        runs.splice(i, 1);
        for (const message of run.messages) this.#options.show(message);
        i = 0; // what it showed may be what another run named
        continue;
      }
      if (wait === 'after') run.timer ??= this.#holdTimer(from, run);
      i++;
    }
    if (runs.length === 0) this.#runs.delete(from);
  }

  #holdTimer(from: string, run: Run<M>): unknown {
    return this.#timers.setTimeout(() => {
      run.timer = undefined;
      // A wait that runs out during a catch-up starts again after it.
      if (this.#catchUp === 0) run.givenUp = true;
      this.#drain(from);
    }, this.#options.holdTimeoutMs);
  }

  /** What a run still waits for, if anything (see the class comment). */
  #waitsFor({ messages: [first], givenUp }: Run<M>): 'after' | 'catch-up' | undefined {
    const { from, after, afterTaken, path } = first;
    if (givenUp || path === 'saved') return undefined;
    if (after !== undefined) {
      // Taken and not the last of a run (it would have joined that run): shown.
      if (this.has(from, after)) return undefined;
      return afterTaken ? undefined : 'after';
    }
    return this.#catchUp > 0 ? 'catch-up' : undefined;
  }
}

interface Run<M> {
  /** Each names the one before it. */
  messages: M[];
  /** Running while the first message waits for its `after`. */
  timer: unknown;
  /** Its first message's `after` did not come within the hold: shown without it. */
  givenUp: boolean;
}

function key(from: string, mid: string): string {
  return `${from}|${mid}`;
}
