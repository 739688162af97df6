// Per peer, the direct path this client has to it, and the hole punching that opens one across
// NATs (details below).
import type { NatMapping } from '../protocol/fields.js';
import { formatAddress, sameAddress, type Address } from '../transport/address.js';
import type { Clock } from '../util/clock.js';
import type { Punch } from './birthday.js';
import { BirthdayRounds, type BirthdayPeer } from './birthday-rounds.js';
import { Keepalives, type KeptPeer } from './keepalives.js';
import { PunchRounds, type Introduced, type RoundPeer } from './punch-rounds.js';
import { sharedController } from '../util/shared-controller.js';
import { setLatest } from '../util/latest.js';

export type { Introduced } from './punch-rounds.js';
export { localAddresses } from './local-addresses.js';

/**
 * Per peer, the direct path this client has to it, and hole punching to open one across NATs
 * (see docs/nat.md).
 *
 * A round of punching starts the first time a message goes to a peer without an open path,
 * beside the message's own direct try at the table address: a `punch` there at once (a peer
 * on a public address, or behind a full-cone NAT, answers it), and after `introduceAfterMs`
 * without an answer, an introduction through the registry: both peers then punch towards each
 * other's reflexive address (and local ones, behind one NAT) at the same time, and the first
 * punch through opens the path. A message whose try missed goes once more on a path opened
 * elsewhere. A round that failed leaves the messages to the registry (relayed), and the peer
 * is punched again after `repunchMs`; an introduction the peer asked for punches again at once.
 *
 * When a round with an introduction failed and the registry says one side's NAT maps
 * symmetrically (a new public port per destination) and the other's consistently, a birthday
 * round follows (on the side whose message fell back, once it was relayed), bounded in time
 * (`birthdayMs`) and datagrams: the symmetric side opens up to
 * `birthdaySockets` more sockets, each punching the other's address (`birthdayTries` times);
 * the consistent side punches up to `birthdayProbes` random ports of the symmetric side's
 * public IP, `birthdayBatch` every `birthdayGapMs`. The first punch through opens the path,
 * kept on that socket (the others close); until then the peer is relayed.
 *
 * A punched path is kept open by a punch every `keepaliveMs` (below conntrack's 30 s for UDP
 * flows without replies) while it was used in the last `idleMs`; a keepalive unanswered, or a
 * message unacknowledged on it, closes it: the next message punches again.
 *
 *     (none) ──send──▶ punching ──answered──▶ open: direct | punched ──dies──▶ (none)
 *                         └──────no answer──▶ failed (relayed) ──repunchMs, or introduced──▶ punching
 */
export type PathKind = 'direct' | 'punched' | 'relayed';

export const PATH_DEFAULTS = {
  /** How long each candidate address is punched (over `punchTries` tries). */
  punchTimeoutMs: 500,
  punchTries: 5,
  /** How long a punch to the table address goes unanswered before the registry introduces the two. */
  introduceAfterMs: 100,
  /** How soon a peer whose round failed is punched again. */
  repunchMs: 30_000,
  /** How often an open punched path is kept alive. */
  keepaliveMs: 15_000,
  /** A punched path unused for this long is let go (not kept alive). */
  idleMs: 300_000,
  /** The birthday round (symmetric ↔ consistent): its whole time, after which it is over, won or not. */
  birthdayMs: 3_000,
  /** The side whose message fell back waits for it to be relayed, or this long, before its birthday round. */
  birthdayAfterMs: 200,
  /** The symmetric side: sockets opened, and punches each sends (spread over `birthdayMs`). */
  birthdaySockets: 256,
  birthdayTries: 4,
  /** The consistent side: random ports punched in all, so many every `birthdayGapMs`. */
  birthdayProbes: 2_048,
  birthdayBatch: 64,
  birthdayGapMs: 20,
} as const;

export type PathTimings = { [K in keyof typeof PATH_DEFAULTS]: number };

/** What a peer's table entry says of where it is. */
export interface PeerAddress {
  nick: string;
  ip: string;
  port: number;
}

/** What Paths needs of the client around it. */
export interface PathContext {
  clock: Clock;
  punch: Punch;
  /** The birthday round: opens up to `count` more sockets, giving their ports (absent: no birthday round). */
  openSockets?(count: number): Promise<number[]>;
  closeSocket?(via: number): void;
  /** What goes to `to` leaves from the socket at `via` (undefined: the main one). */
  route?(to: Address, via: number | undefined): void;
  /** Asks the registry to introduce this client to `peer`: where `peer` is, or undefined when refused or unanswered. */
  introduce(peer: string): Promise<Introduced | undefined>;
  /** The peer's entry in the table now, if any. */
  entry(nick: string): PeerAddress | undefined;
  /** The path to `peer` changed from what was last told (told first when it is anything but a plain direct one). */
  changed(peer: string, kind: PathKind, address: string): void;
}

/** One peer's path state: the parts its rounds, birthday rounds and keepalive keep, and these. */
interface PeerPath extends RoundPeer, BirthdayPeer, KeptPeer {
  /** The table address this state is for (a peer registered elsewhere starts afresh). */
  table: Address;
  /** `via`: the socket the path is kept on (a birthday round's), when not the main one. */
  open?: { address: Address; kind: 'direct' | 'punched'; usedAt: number; via?: number };
  /**
   * What direct tries at each address listen to (see `watchTry`), by address: one controller
   * for every try there until a path opens elsewhere (then it is aborted and dropped), not one
   * per try.
   */
  watchers: Map<string, { tried: Address; controller: AbortController }>;
  /**
   * Where the peer's own punches came from lately (authenticated: signed by it): its chats
   * are taken from there too, as a symmetric NAT gives it another address towards each peer.
   */
  heardAt: string[];
  /** The kind last told; a plain direct path is never told. */
  told: PathKind;
}

const keyOf = (address: Address) => formatAddress(address);
/** Addresses a peer's punches came from, kept per peer. */
const HEARD_AT_KEPT = 4;
/** Addresses per peer whose direct tries share an abort signal (see `watchTry`). */
const WATCHED_ADDRESSES_KEPT = 4;
/** Peers whose path state is kept; past it, the least recent without an open path or a round are forgotten. */
const PEERS_KEPT = 1_000;
const tableAddress = (peer: PeerAddress): Address => ({ address: peer.ip, port: peer.port });

export class Paths {
  readonly #context: PathContext;
  readonly #options: PathTimings;
  readonly #peers = new Map<string, PeerPath>();
  readonly #rounds: PunchRounds<PeerPath>;
  readonly #birthdays: BirthdayRounds<PeerPath>;
  readonly #keepalives: Keepalives<PeerPath>;
  #closed = false;
  /** The address the registry sees this client at (from `registered`). */
  reflexive: Address | undefined;
  /** How this client's NAT maps (from the registry's probe port), when known. */
  nat: NatMapping | undefined;
  /**
   * Rounds of punching started, and punch datagrams' requests sent (each up to `punchTries`
   * datagrams); birthday rounds started and won, and their punches' requests.
   */
  readonly counters = {
    rounds: 0,
    punches: 0,
    opened: 0,
    failed: 0,
    birthdays: 0,
    birthdaysWon: 0,
    birthdayPunches: 0,
  };

  constructor(context: PathContext, options: Partial<PathTimings> = {}) {
    this.#context = context;
    this.#options = { ...PATH_DEFAULTS, ...options };
    const closed = () => this.#closed;
    const shared = { client: context, timings: this.#options, counters: this.counters, closed };
    this.#birthdays = new BirthdayRounds({
      ...shared,
      nat: () => this.nat,
      current: (nick, state) => this.#peers.get(nick) === state,
      open: (nick, state, address, via) => this.#open(nick, state, address, 'punched', via),
    });
    this.#rounds = new PunchRounds({
      ...shared,
      open: (nick, state, address, kind) => this.#open(nick, state, address, kind),
      birthdays: this.#birthdays,
    });
    this.#keepalives = new Keepalives({ ...shared, close: (state) => this.#close(state) });
  }

  /**
   * Where a direct message to `peer` goes first: its open path; else its table address, tried
   * as ever while a round of punching runs beside it (started here, unless one runs or one
   * failed within `repunchMs`): behind a consistent NAT the message's own retries get through
   * once the punch has opened it. None when the peer is relayed (no punch got through, the
   * registry reached it): straight to the registry until the next round.
   */
  addressFor(peer: PeerAddress): Address | undefined {
    const state = this.#state(peer);
    if (state.open) {
      state.open.usedAt = this.#context.clock.now();
      return state.open.address;
    }
    if (state.round) return state.table;
    if (
      state.failedAt !== undefined &&
      this.#context.clock.now() - state.failedAt < this.#options.repunchMs
    ) {
      return state.told === 'relayed' ? undefined : state.table;
    }
    // A punch beside the message: a peer whose symmetric NAT gives it another address towards
    // this one learns that address from it (its chats then come from there; see `accepts`).
    this.#rounds.start(peer.nick, state, [state.table], { introduce: true, introduced: false });
    return state.table;
  }

  /**
   * A direct message to `peer` was acknowledged from `at`: a round under way is over (the
   * path is open there), and an open path there is in use.
   */
  reached(peer: PeerAddress, at: Address): void {
    const state = this.#state(peer);
    if (state.round) return state.round.finish(at);
    if (state.open && sameAddress(state.open.address, at))
      state.open.usedAt = this.#context.clock.now();
    else if (!state.open) this.#open(peer.nick, state, at, 'direct');
  }

  /**
   * A direct try at `tried` went unanswered. A path that was open there is closed (the next
   * message punches again); else, once the round under way is over, the path it opened
   * elsewhere (say, a local address behind one NAT) is given for one more try, or none.
   */
  async afterMiss(peer: PeerAddress, tried: Address): Promise<Address | undefined> {
    const state = this.#state(peer);
    if (state.open && sameAddress(state.open.address, tried)) {
      this.#close(state);
      return undefined;
    }
    // An introduction not yet due is not waited for (the message goes to the registry now).
    if (state.round && !state.round.introduceAsked) state.round.finish(undefined);
    if (state.round) await state.round.done;
    if (
      this.#peers.get(peer.nick) !== state ||
      !state.open ||
      sameAddress(state.open.address, tried)
    )
      return undefined;
    state.open.usedAt = this.#context.clock.now();
    return state.open.address;
  }

  /** The kind of path to `nick` now, if one is open or failed. */
  pathTo(nick: string): { kind: PathKind; address: string } | undefined {
    const state = this.#peers.get(nick);
    if (state?.open) return { kind: state.open.kind, address: keyOf(state.open.address) };
    if (state?.failedAt !== undefined) return { kind: 'relayed', address: keyOf(state.table) };
    return undefined;
  }

  /**
   * While a direct try at `tried` is under way: its signal is aborted when a path to `peer`
   * opens elsewhere (say, the peer's punch came from another port of its symmetric NAT), so
   * the message goes there at once instead of waiting out its tries. The tries at one address
   * share the signal until it is aborted; a try after that gets a fresh one.
   */
  watchTry(peer: PeerAddress, tried: Address): AbortSignal {
    const { watchers } = this.#state(peer);
    const key = keyOf(tried);
    let watcher = watchers.get(key);
    if (!watcher) {
      // A peer is tried at its table address or its open path: a few addresses at most.
      watcher = { tried, controller: sharedController() };
      setLatest(watchers, key, watcher, WATCHED_ADDRESSES_KEPT);
    }
    // Each try removes its own listener from the signal when it settles (endpoint.ts).
    return watcher.controller.signal;
  }

  /** Whether a chat from `peer` may come from `from`: its table address, its open path, or where its punches came from. */
  accepts(peer: PeerAddress, from: Address): boolean {
    if (sameAddress(tableAddress(peer), from)) return true;
    const state = this.#peers.get(peer.nick);
    if (!state || !sameAddress(state.table, tableAddress(peer))) return false;
    if (state.open && sameAddress(state.open.address, from)) {
      state.open.usedAt = this.#context.clock.now();
      return true;
    }
    // A symmetric NAT gives the peer a port per socket: its birthday round may have kept
    // another socket than the one this side's path goes to, until this side's traffic moves it
    // there (see `spare`). Its chats from another port of that IP meanwhile are its own.
    if (
      state.open?.kind === 'punched' &&
      state.peerNat === 'symmetric' &&
      state.open.address.address === from.address
    )
      return true;
    return state.heardAt.includes(keyOf(from));
  }

  /**
   * The registry relayed a message to `nick` live: when a round with an introduction found no
   * path, that is how it is reached now (told once).
   */
  relayed(nick: string): void {
    const state = this.#peers.get(nick);
    if (!state || state.open || state.round || state.failedAt === undefined || !state.introduced)
      return;
    this.#tell(nick, state, 'relayed', state.table);
    this.#birthdays.relayed(nick, state);
  }

  /** `nick`'s chat came on socket `via` (authenticated): on a `spare` one, the path moves there. */
  heardVia(nick: string, via: number): void {
    const state = this.#peers.get(nick);
    if (state) this.#birthdays.adopt(state, via);
  }

  /** A message sent on the open path to `nick` went unacknowledged: the path is closed, the next message punches again. */
  unreached(nick: string): void {
    const state = this.#peers.get(nick);
    if (state?.open) this.#close(state);
  }

  /**
   * An authenticated punch from `from` (signed by `nick`; the transport checked it) for
   * this client: answered (true) when the table knows `nick`; it opens the path there.
   */
  onPunch(nick: string, from: Address, via?: number): boolean {
    const peer = this.#context.entry(nick);
    if (!peer || this.#closed) return false;
    const state = this.#state(peer);
    if (via !== undefined) return this.#birthdays.onPunch(state, from, via);
    const key = keyOf(from);
    if (!state.heardAt.includes(key))
      state.heardAt = [key, ...state.heardAt].slice(0, HEARD_AT_KEPT);
    if (state.round) {
      // From elsewhere than the table says, it opens the path only once the registry has
      // introduced the two at the table's address: else this client's table may be stale,
      // and the registry's relay (which refreshes it) is the way, as ever.
      if (sameAddress(from, state.table) || state.introduced)
        state.round.finish(from, state.round.introduceAsked);
    } else if (state.open && sameAddress(state.open.address, from)) {
      state.open.usedAt = this.#context.clock.now();
    } else if (!state.open) {
      this.#open(
        nick,
        state,
        from,
        state.introduced || !sameAddress(from, state.table) ? 'punched' : 'direct',
      );
    }
    return true;
  }

  /**
   * The registry says `nick` wants a path to this client: punch towards it now. A path held
   * open stays open meanwhile (the peer may only have been slow to hear this client's answer).
   */
  onIntroduction(nick: string, introduced: Introduced): void {
    const peer = this.#context.entry(nick);
    if (!peer || this.#closed) return;
    this.#rounds.introduced(nick, this.#state(peer), introduced);
  }

  /** Stops every keepalive and round. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const state of this.#peers.values()) this.#discard(state);
    this.#peers.clear();
  }

  #state(peer: PeerAddress): PeerPath {
    const table = tableAddress(peer);
    let state = this.#peers.get(peer.nick);
    if (state && !sameAddress(state.table, table)) {
      // Registered again elsewhere: what held for its old address does not now.
      this.#discard(state);
      state = undefined;
    }
    if (!state) {
      state = { table, introduced: false, told: 'direct', heardAt: [], watchers: new Map() };
      this.#peers.set(peer.nick, state);
      if (this.#peers.size > PEERS_KEPT) this.#forgetIdle();
    }
    return state;
  }

  /** Forgets the oldest half of the peers with neither an open path nor a round (their state is cheap to make again). */
  #forgetIdle(): void {
    let excess = Math.ceil(this.#peers.size / 2);
    for (const [nick, state] of this.#peers) {
      if (excess <= 0) break;
      if (state.open || state.round || state.birthday) continue;
      this.#peers.delete(nick);
      excess--;
    }
  }

  #open(
    nick: string,
    state: PeerPath,
    address: Address,
    kind: 'direct' | 'punched',
    via?: number,
  ): void {
    this.counters.opened++;
    state.failedAt = undefined;
    // The consistent side's probes stop; the symmetric side's round runs to its end (see `spare`).
    if (state.birthday && via === undefined) this.#birthdays.end(state, state.birthday);
    if (state.open?.via !== undefined && state.open.via !== via)
      this.#context.closeSocket?.(state.open.via);
    state.open = {
      address,
      kind,
      usedAt: this.#context.clock.now(),
      ...(via !== undefined ? { via } : {}),
    };
    if (via !== undefined) this.#context.route?.(address, via);
    for (const [key, watcher] of state.watchers) {
      if (sameAddress(watcher.tried, address)) continue;
      watcher.controller.abort(new Error('a path opened elsewhere'));
      state.watchers.delete(key);
    }
    this.#tell(nick, state, kind, address);
    if (kind === 'punched') this.#keepalives.start(nick, state);
  }

  #close(state: PeerPath): void {
    if (state.open?.via !== undefined) this.#context.closeSocket?.(state.open.via);
    this.#birthdays.dropSpares(state);
    state.open = undefined;
    this.#keepalives.stop(state);
  }

  /** Everything under way for a peer's state stopped, its sockets closed. */
  #discard(state: PeerPath): void {
    state.round?.finish(undefined);
    this.#birthdays.stop(state);
    this.#close(state);
  }

  #tell(nick: string, state: PeerPath, kind: PathKind, address: Address): void {
    if (state.told === kind) return;
    state.told = kind;
    this.#context.changed(nick, kind, keyOf(address));
  }
}
