// Rounds of hole punching to one peer (see paths.ts and docs/nat.md): candidate addresses
// punched at once, the registry's introduction asked for when the table address does not answer
// soon (or answered when the peer asked for it), and the round's verdict: the path it opened, or
// none (then a birthday round may follow).
import type { EndpointAddress, NatMapping } from '../protocol/fields.js';
import { formatAddress, sameAddress, type Address } from '../transport/address.js';
import { spreadTries } from '../transport/retry.js';
import type { Clock } from '../util/clock.js';
import { sharedController } from '../util/shared-controller.js';
import type { Punch } from './birthday.js';

export interface Introduced {
  ip: string;
  port: number;
  local: EndpointAddress[];
  /** How the peer's NAT maps, when the registry knows. */
  nat?: NatMapping | undefined;
}

export interface Round {
  controller: AbortController;
  tried: Set<string>;
  /**
   * Punches under way, and whether an introduction asked for is still awaited. Every punch
   * failed before the introduction was due, the round is over (it is not asked for).
   */
  underway: number;
  introducing: boolean;
  /** The registry was asked to introduce the two (so a punch from the peer comes of it). */
  introduceAsked: boolean;
  /** The round answers the peer's introduction: whatever opens, both NATs were punched. */
  byIntroduction: boolean;
  done: Promise<Address | undefined>;
  /** `punchedIn`: the peer's own punch got through (it punches only when introduced). */
  finish(address: Address | undefined, punchedIn?: boolean): void;
}

/** A peer's path state (paths.ts), the part its rounds of punching keep and read. */
export interface RoundPeer {
  /** The peer's table address (see `PeerPath` in paths.ts). */
  table: Address;
  open?: { address: Address };
  round?: Round;
  failedAt?: number;
  /** An introduction took part in the round (so what opens is a punched path). */
  introduced: boolean;
  /** How the peer's NAT maps, as its last introduction said. */
  peerNat?: NatMapping | undefined;
}

/** What rounds of punching need of the paths around them. */
export interface PunchRoundContext<Peer extends RoundPeer> {
  /** The client's side of the paths (see `PathContext` in paths.ts). */
  client: {
    clock: Clock;
    punch: Punch;
    introduce(peer: string): Promise<Introduced | undefined>;
  };
  timings: { introduceAfterMs: number; punchTimeoutMs: number; punchTries: number };
  counters: { rounds: number; punches: number; failed: number };
  /** The paths are closed: a round's verdict opens nothing, fails nothing. */
  closed(): boolean;
  /** A punch got through: the path to `nick` opens at `address`. */
  open(nick: string, state: Peer, address: Address, kind: 'direct' | 'punched'): void;
  /** A round with an introduction failed: a birthday round may follow, at once or once the message is relayed (birthday-rounds.ts). */
  birthdays: { start(nick: string, state: Peer): void; later(nick: string, state: Peer): void };
}

export class PunchRounds<Peer extends RoundPeer> {
  readonly #context: PunchRoundContext<Peer>;

  constructor(context: PunchRoundContext<Peer>) {
    this.#context = context;
  }

  /** `introduce`: ask the registry for an introduction if the table address does not answer soon; `introduced`: it already took part. */
  start(
    nick: string,
    state: Peer,
    candidates: Address[],
    { introduce, introduced }: { introduce: boolean; introduced: boolean },
  ): Round {
    this.#context.counters.rounds++;
    const { clock } = this.#context.client;
    let settle: (address: Address | undefined) => void = () => undefined;
    const done = new Promise<Address | undefined>((resolve) => (settle = resolve));
    let introduceTimer: unknown;
    const round: Round = {
      controller: sharedController(),
      tried: new Set(),
      underway: 0,
      introducing: false,
      introduceAsked: false,
      byIntroduction: !introduce && introduced,
      done,
      finish: (address, punchedIn = false) => {
        if (state.round !== round) return;
        state.round = undefined;
        clock.clearTimeout(introduceTimer);
        round.controller.abort(new Error('round over'));
        if (address && !this.#context.closed()) {
          // Its own punch answered at the table address, the peer was reachable as it is (maybe
          // only slow, say looking this client up): direct. Anything else took a punch.
          const punched = round.byIntroduction || punchedIn || !sameAddress(address, state.table);
          this.#context.open(nick, state, address, punched ? 'punched' : 'direct');
        } else if (!this.#context.closed() && !state.open) {
          this.#context.counters.failed++;
          state.failedAt = clock.now();
          // The asker's message goes to the registry right now: its birthday round waits for
          // the relay (or `birthdayAfterMs`), so the burst does not slow the message down.
          if (state.introduced && round.introduceAsked) this.#context.birthdays.later(nick, state);
          else if (state.introduced) this.#context.birthdays.start(nick, state);
        }
        settle(address);
      },
    };
    state.round = round;
    state.introduced = introduced;
    for (const candidate of candidates) this.punchAt(nick, round, candidate);
    if (introduce) {
      introduceTimer = clock.setTimeout(() => {
        if (state.round !== round) return;
        round.introduceAsked = true;
        round.introducing = true;
        this.#context.client.introduce(nick).then(
          (introduced) => {
            round.introducing = false;
            if (state.round !== round) return;
            // The registry sees it elsewhere than the table says: the table is stale, and the
            // registry's relay (with a fresh table) is the way, as ever; not a NAT to punch.
            if (
              introduced &&
              sameAddress({ address: introduced.ip, port: introduced.port }, state.table)
            ) {
              state.introduced = true;
              state.peerNat = introduced.nat;
              for (const candidate of candidatesOf(introduced))
                this.punchAt(nick, round, candidate);
            }
            if (round.underway === 0) round.finish(undefined);
          },
          () => {
            round.introducing = false;
            if (round.underway === 0) round.finish(undefined);
          },
        );
      }, this.#context.timings.introduceAfterMs);
    }
    return round;
  }

  /** One candidate address punched in `round` (once per round). */
  punchAt(nick: string, round: Round, address: Address): void {
    const key = formatAddress(address);
    if (round.tried.has(key)) return;
    round.tried.add(key);
    round.underway++;
    this.#context.counters.punches++;
    const options = this.#context.timings;
    const tries = spreadTries(options.punchTimeoutMs, options.punchTries);
    this.#context.client.punch(nick, address, tries, round.controller.signal).then(
      () => round.finish(address),
      () => {
        round.underway--;
        // A failed punch to the table address is no verdict while the introduction is awaited.
        if (round.underway === 0 && !round.introducing) round.finish(undefined);
      },
    );
  }

  /**
   * The registry says `nick` wants a path to this client: punch towards it now, in the round
   * under way or a new one (at the open path too, and the table address).
   */
  introduced(nick: string, state: Peer, introduced: Introduced): void {
    state.introduced = true;
    state.peerNat = introduced.nat;
    const candidates = candidatesOf(introduced);
    if (state.round) {
      for (const candidate of candidates) this.punchAt(nick, state.round, candidate);
      return;
    }
    this.start(
      nick,
      state,
      [...(state.open ? [state.open.address] : []), state.table, ...candidates],
      { introduce: false, introduced: true },
    );
  }
}

function candidatesOf(introduced: Introduced): Address[] {
  return [introduced, ...introduced.local].map(({ ip, port }) => ({ address: ip, port }));
}
