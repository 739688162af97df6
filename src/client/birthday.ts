// The birthday round of hole punching (see paths.ts and docs/nat.md): when one side's NAT maps
// symmetrically and the other's consistently, many punches at once, bounded in time, sockets
// and datagrams, until one gets through.
import { randomInt } from 'node:crypto';
import type { Address } from '../transport/address.js';
import { spreadTries, type RetryBudget } from '../transport/retry.js';
import type { Clock } from '../util/clock.js';
import { sharedController } from '../util/shared-controller.js';

/** How a birthday round runs (see PATH_DEFAULTS in paths.ts). */
export interface BirthdayTimings {
  /** Its whole time, after which it is over, won or not. */
  birthdayMs: number;
  /** The symmetric side: sockets opened, and punches each sends (spread over `birthdayMs`). */
  birthdaySockets: number;
  birthdayTries: number;
  /** The consistent side: random ports punched in all, so many every `birthdayGapMs`. */
  birthdayProbes: number;
  birthdayBatch: number;
  birthdayGapMs: number;
}

/** `sockets`: the symmetric side (many sockets, one address); `probes`: the consistent side (one socket, many ports). */
export type BirthdayRole = 'sockets' | 'probes';

/**
 * Resolves once `peer` acknowledged a punch sent to `to` (from the socket at `via`, else the
 * main one); rejects when it did not, or on `signal`.
 */
export type Punch = (
  peer: string,
  to: Address,
  tries: RetryBudget,
  signal?: AbortSignal,
  via?: number,
) => Promise<void>;

/** What a birthday round needs of the paths around it. */
export interface BirthdayContext {
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  punch: Punch;
  openSockets(count: number): Promise<number[]>;
  closeSocket(via: number): void;
  /** Sockets every birthday round together holds open now (see `SocketBudget`). */
  budget: SocketBudget;
  /** A punch got through: to `address`, from the round's socket at `via` (the symmetric side) or the main one. */
  through(address: Address, via: number | undefined): void;
  /** A punch's request went (counted as `birthdayPunches`). */
  punched(): void;
  /** The round's time ran out (the paths then end it). */
  timedOut(): void;
}

/** The sockets birthday rounds hold open, theirs and the spares kept after them: within one limit for all (file descriptors are finite). */
export class SocketBudget {
  #open = 0;

  constructor(readonly limit: number) {}

  /** Takes up to `count` sockets of what is left; how many it took. */
  take(count: number): number {
    const taken = Math.max(0, Math.min(count, this.limit - this.#open));
    this.#open += taken;
    return taken;
  }

  /** `count` sockets closed (or never opened). */
  release(count: number): void {
    this.#open = Math.max(0, this.#open - count);
  }
}

/**
 * One birthday round with one peer, at `table` (the peer's public address): on the symmetric
 * side up to `birthdaySockets` more sockets, each punching that address `birthdayTries` times;
 * on the consistent side up to `birthdayProbes` random ports of its IP, `birthdayBatch` every
 * `birthdayGapMs`. Every punch that gets through is told (`through`); the sockets that got
 * through are kept in `won`. It ends after `birthdayMs`, or when the paths end it.
 */
export class BirthdayRound {
  readonly #context: BirthdayContext;
  readonly #timings: BirthdayTimings;
  readonly #nick: string;
  readonly #table: Address;
  readonly #controller = sharedController();
  /** The symmetric side's sockets (their ports). */
  #sockets: number[] = [];
  /** The symmetric side's sockets that got through (a punch answered, a probe received). */
  readonly #won: number[] = [];
  #timer: unknown;
  /** When `start` was called (the round ends `birthdayMs` after). */
  #startedAt = 0;
  #over = false;

  constructor(
    context: BirthdayContext,
    timings: BirthdayTimings,
    peer: { nick: string; table: Address },
  ) {
    this.#context = context;
    this.#timings = timings;
    this.#nick = peer.nick;
    this.#table = peer.table;
  }

  /** Starts punching as `role`; over after `birthdayMs` at the latest. */
  start(role: BirthdayRole): void {
    this.#startedAt = this.#context.clock.now();
    this.#timer = this.#context.clock.setTimeout(
      () => this.#context.timedOut(),
      this.#timings.birthdayMs,
    );
    if (role === 'sockets') void this.#punchFromSockets();
    else this.#probePorts();
  }

  /** Whether `via` is one of this round's sockets. */
  holds(via: number): boolean {
    return this.#sockets.includes(via);
  }

  /** A punch from the peer came on this round's socket `via`: it got through. */
  heardOn(address: Address, via: number): void {
    this.#through(address, via);
  }

  /**
   * Ends the round: its punches stop, and its sockets close but `path` (the path's own) and,
   * beside a path on one of them, the others that got through, which it returns (the peer may
   * have taken one of them for the path: see `spare` in paths.ts). Idempotent.
   */
  end(path: number | undefined): number[] {
    if (this.#over) return [];
    this.#over = true;
    this.#context.clock.clearTimeout(this.#timer);
    this.#controller.abort(new Error('birthday over'));
    const spare = path === undefined ? [] : this.#won.filter((via) => via !== path);
    this.#context.budget.release(this.#sockets.length - spare.length);
    for (const via of this.#sockets)
      if (via !== path && !spare.includes(via)) this.#context.closeSocket(via);
    return spare;
  }

  #through(address: Address, via: number | undefined): void {
    if (this.#over) return;
    // On the symmetric side the round goes on to its end: another socket through meanwhile
    // may be the one the peer saw first.
    if (via !== undefined && !this.#won.includes(via)) this.#won.push(via);
    this.#context.through(address, via);
  }

  /** The symmetric side: many sockets, each a new public port, each punching the peer's one address. */
  async #punchFromSockets(): Promise<void> {
    const context = this.#context;
    const count = context.budget.take(this.#timings.birthdaySockets);
    const sockets = count <= 0 ? [] : await context.openSockets(count).catch(() => []);
    context.budget.release(count - sockets.length);
    if (this.#over) {
      context.budget.release(sockets.length);
      for (const via of sockets) context.closeSocket(via);
      return;
    }
    this.#sockets = sockets;
    // Spread over the time left once the sockets are open (opening 256 takes a while on a
    // loaded machine), so the last punch leaves a quarter of it for its answer: a punch
    // answered after the round ended would leave the peer on a socket closed at the end.
    const left = this.#timings.birthdayMs - (context.clock.now() - this.#startedAt);
    const tries = spreadTries(left, this.#timings.birthdayTries);
    for (const via of sockets) {
      context.punched();
      context.punch(this.#nick, this.#table, tries, this.#controller.signal, via).then(
        () => this.#through(this.#table, via),
        () => undefined,
      );
    }
  }

  /** The consistent side: punches to random ports of the peer's public IP, a batch at a time. */
  #probePorts(): void {
    const { clock } = this.#context;
    const timings = this.#timings;
    const started = clock.now();
    const ports = new Set<number>();
    const batch = () => {
      if (this.#over) return;
      const timeoutMs = Math.max(1, timings.birthdayMs - (clock.now() - started));
      for (let i = 0; i < timings.birthdayBatch && ports.size < timings.birthdayProbes; i++) {
        // Never the table's port: the round before this one punched it in vain.
        let port: number;
        do port = randomInt(1024, 65536);
        while (ports.has(port) || port === this.#table.port);
        ports.add(port);
        const to = { address: this.#table.address, port };
        this.#context.punched();
        this.#context.punch(this.#nick, to, { timeoutMs, tries: 1 }, this.#controller.signal).then(
          () => this.#through(to, undefined),
          () => undefined,
        );
      }
      if (ports.size < timings.birthdayProbes) clock.setTimeout(batch, timings.birthdayGapMs);
    };
    batch();
  }
}
