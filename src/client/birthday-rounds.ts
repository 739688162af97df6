// Per peer, the birthday rounds of paths.ts (see docs/nat.md): when one follows a failed round
// of punching, the path its first punch through opens, its end, and the symmetric side's sockets
// kept spare after it until the peer's traffic picks one. The punching itself is birthday.ts'.
import type { NatMapping } from '../protocol/fields.js';
import type { Address } from '../transport/address.js';
import type { Clock } from '../util/clock.js';
import {
  BirthdayRound,
  SocketBudget,
  type BirthdayRole,
  type BirthdayTimings,
  type Punch,
} from './birthday.js';

/** A peer's path state (paths.ts), the part its birthday rounds keep and read. */
export interface BirthdayPeer {
  /** The peer's table address (see `PeerPath` in paths.ts). */
  table: Address;
  /** `via`: the socket the path is kept on (a birthday round's), when not the main one. */
  open?: { address: Address; usedAt: number; via?: number };
  /**
   * The symmetric side's other sockets that got through in the birthday round that opened the
   * path: the peer may have taken one of them for the path (each side takes the first it
   * saw). Kept until the peer's traffic comes on one (that one becomes the path's) or the path
   * closes.
   */
  spare?: number[];
  /** How the peer's NAT maps, as its last introduction said. */
  peerNat?: NatMapping | undefined;
  birthday?: BirthdayRound;
  /** When the last birthday round started (one per `repunchMs`). */
  birthdayAt?: number;
  /** The timer of a birthday round that waits for the message to be relayed first. */
  birthdayDue?: unknown;
}

/** What the birthday rounds need of the paths around them. */
export interface BirthdayRoundsContext<Peer extends BirthdayPeer> {
  /** The client's side of the paths (see `PathContext` in paths.ts). */
  client: {
    clock: Clock;
    punch: Punch;
    openSockets?(count: number): Promise<number[]>;
    closeSocket?(via: number): void;
    route?(to: Address, via: number | undefined): void;
  };
  timings: BirthdayTimings & { repunchMs: number; birthdayAfterMs: number };
  counters: { birthdays: number; birthdaysWon: number; birthdayPunches: number };
  /** How this client's NAT maps, when known. */
  nat(): NatMapping | undefined;
  /** The paths are closed: no round starts, none opens a path. */
  closed(): boolean;
  /** `state` is still `nick`'s (neither forgotten nor replaced after a new registration). */
  current(nick: string, state: Peer): boolean;
  /** A punch got through: the path to `nick` opens at `address`, kept on the socket `via` (else the main one). */
  open(nick: string, state: Peer, address: Address, via: number | undefined): void;
}

export class BirthdayRounds<Peer extends BirthdayPeer> {
  readonly #context: BirthdayRoundsContext<Peer>;
  /**
   * Sockets birthday rounds hold open now, theirs and the `spare` ones kept after them (all
   * together stay within `birthdaySockets`; a path's own socket is the path's).
   */
  readonly #sockets: SocketBudget;

  constructor(context: BirthdayRoundsContext<Peer>) {
    this.#context = context;
    this.#sockets = new SocketBudget(context.timings.birthdaySockets);
  }

  /**
   * After a failed round with an introduction: a birthday round when one side's NAT maps
   * symmetrically and the other's consistently (see the class comment in paths.ts and
   * birthday.ts), at most one per `repunchMs` per peer.
   */
  start(nick: string, state: Peer): void {
    const own = this.#context.nat();
    const theirs = state.peerNat;
    const role: BirthdayRole | undefined =
      own === 'symmetric' && theirs === 'consistent'
        ? 'sockets'
        : own === 'consistent' && theirs === 'symmetric'
          ? 'probes'
          : undefined;
    const context = this.#context.client;
    const openSockets = context.openSockets?.bind(context);
    if (!role || state.birthday || this.#context.closed() || !openSockets) return;
    const { clock } = context;
    const timings = this.#context.timings;
    if (state.birthdayAt !== undefined && clock.now() - state.birthdayAt < timings.repunchMs)
      return;
    state.birthdayAt = clock.now();
    this.#context.counters.birthdays++;
    const birthday: BirthdayRound = new BirthdayRound(
      {
        clock,
        punch: context.punch.bind(context),
        openSockets,
        closeSocket: (via) => context.closeSocket?.(via),
        budget: this.#sockets,
        through: (address, via) => this.#won(nick, state, birthday, address, via),
        punched: () => void this.#context.counters.birthdayPunches++,
        timedOut: () => this.end(state, birthday),
      },
      timings,
      { nick, table: state.table },
    );
    state.birthday = birthday;
    birthday.start(role);
  }

  /** The round starts once the message that fell back was relayed (`relayed`), or `birthdayAfterMs` later. */
  later(nick: string, state: Peer): void {
    if (state.birthdayDue !== undefined) return;
    state.birthdayDue = this.#context.client.clock.setTimeout(() => {
      state.birthdayDue = undefined;
      if (this.#context.current(nick, state) && !state.open) this.start(nick, state);
    }, this.#context.timings.birthdayAfterMs);
  }

  /** The relayed message is through: a birthday round waiting for it starts now. */
  relayed(nick: string, state: Peer): void {
    if (state.birthdayDue !== undefined) {
      this.#context.client.clock.clearTimeout(state.birthdayDue);
      state.birthdayDue = undefined;
      this.start(nick, state);
    }
  }

  /** A punch of `birthday` got through to `address` (from its socket `via`, on the symmetric side): the path opens there, if none is open. */
  #won(
    nick: string,
    state: Peer,
    birthday: BirthdayRound,
    address: Address,
    via: number | undefined,
  ): void {
    if (
      state.birthday !== birthday ||
      !this.#context.current(nick, state) ||
      this.#context.closed()
    )
      return;
    this.#context.counters.birthdaysWon++;
    if (state.open) return;
    this.#context.open(nick, state, address, via);
  }

  /**
   * The birthday round is over: its punches stop, and its sockets close but the path's and,
   * beside a path on one of them, the others that got through (`spare`). A new round starts
   * only while no path is open, so no spares are held from an earlier one.
   */
  end(state: Peer, birthday: BirthdayRound): void {
    if (state.birthday !== birthday) return;
    state.birthday = undefined;
    const spare = birthday.end(state.open?.via);
    if (spare.length > 0) state.spare = spare;
  }

  /** Everything birthday under way for `state` stopped: a round waiting to start, a round running. */
  stop(state: Peer): void {
    if (state.birthdayDue !== undefined) this.#context.client.clock.clearTimeout(state.birthdayDue);
    state.birthdayDue = undefined;
    if (state.birthday) this.end(state, state.birthday);
  }

  /** An authenticated punch from the peer came on the socket `via`, not the main one: whether it is answered. */
  onPunch(state: Peer, from: Address, via: number): boolean {
    // On another socket: a birthday round's (the first through wins), or the path kept there.
    if (state.birthday?.holds(via)) {
      state.birthday.heardOn(from, via);
      return true;
    }
    if (this.adopt(state, via)) return true;
    if (state.open?.via !== via) return false;
    state.open.usedAt = this.#context.client.clock.now();
    return true;
  }

  /**
   * The peer's traffic came on `via`, a socket kept `spare`: the peer took that one for the
   * path, so it becomes the path's, and the others close.
   */
  adopt(state: Peer, via: number): boolean {
    const open = state.open;
    if (!open || !state.spare?.includes(via)) return false;
    const previous = open.via;
    this.dropSpares(state, via);
    open.via = via;
    const context = this.#context.client;
    open.usedAt = context.clock.now();
    context.route?.(open.address, via);
    if (previous !== undefined) context.closeSocket?.(previous);
    return true;
  }

  /** Closes the sockets kept `spare` but `keep` (which becomes the path's); none counts against `birthdaySockets` then. */
  dropSpares(state: Peer, keep?: number): void {
    for (const via of state.spare ?? []) if (via !== keep) this.#context.client.closeSocket?.(via);
    this.#sockets.release(state.spare?.length ?? 0);
    state.spare = undefined;
  }
}
