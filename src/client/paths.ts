// Per peer, the direct path this client has to it, and the hole punching that opens one across
// NATs (details below).
import { networkInterfaces } from 'node:os';
import { MAX_LOCAL_ADDRESSES } from '../protocol/constants.js';
import type { EndpointAddress } from '../protocol/messages.js';
import { formatAddress, sameAddress, type Address } from '../transport/address.js';
import type { Clock } from '../util/clock.js';

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
} as const;

export type PathTimings = { [K in keyof typeof PATH_DEFAULTS]: number };

/** What a peer's table entry says of where it is. */
export interface PeerAddress {
  nick: string;
  ip: string;
  port: number;
}

export interface Introduced {
  ip: string;
  port: number;
  local: EndpointAddress[];
}

/** What Paths needs of the client around it. */
export interface PathContext {
  clock: Clock;
  /** Resolves once `peer` acknowledged a punch sent to `to`; rejects when it did not, or on `signal`. */
  punch(peer: string, to: Address, tries: { timeoutMs: number; tries: number }, signal?: AbortSignal): Promise<void>;
  /** Asks the registry to introduce this client to `peer`: where `peer` is, or undefined when refused or unanswered. */
  introduce(peer: string): Promise<Introduced | undefined>;
  /** The peer's entry in the table now, if any. */
  entry(nick: string): PeerAddress | undefined;
  /** The path to `peer` changed from what was last told (told first when it is anything but a plain direct one). */
  changed(peer: string, kind: PathKind, address: string): void;
}

interface Round {
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

interface PeerPath {
  /** The table address this state is for (a peer registered elsewhere starts afresh). */
  table: Address;
  open?: { address: Address; kind: 'direct' | 'punched'; usedAt: number };
  round?: Round;
  failedAt?: number;
  /** An introduction took part in the round (so what opens is a punched path). */
  introduced: boolean;
  /**
   * Where the peer's own punches came from lately (authenticated: signed by it): its chats
   * are taken from there too, as a symmetric NAT gives it another address towards each peer.
   */
  heardAt: string[];
  /** The kind last told; a plain direct path is never told. */
  told: PathKind;
  keepalive?: unknown;
}

const keyOf = (address: Address) => formatAddress(address);
/** Addresses a peer's punches came from, kept per peer. */
const HEARD_AT_KEPT = 4;
/** Peers whose path state is kept; past it, the least recent without an open path or a round are forgotten. */
const PEERS_KEPT = 1_000;
const tableAddress = (peer: PeerAddress): Address => ({ address: peer.ip, port: peer.port });

export class Paths {
  readonly #context: PathContext;
  readonly #options: PathTimings;
  readonly #peers = new Map<string, PeerPath>();
  #closed = false;
  /** The address the registry sees this client at (from `registered`). */
  reflexive: Address | undefined;
  /** Rounds of punching started, and punch datagrams' requests sent (each up to `punchTries` datagrams). */
  readonly counters = { rounds: 0, punches: 0, opened: 0, failed: 0 };

  constructor(context: PathContext, options: Partial<PathTimings> = {}) {
    this.#context = context;
    this.#options = { ...PATH_DEFAULTS, ...options };
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
    if (state.failedAt !== undefined && this.#context.clock.now() - state.failedAt < this.#options.repunchMs) {
      return state.told === 'relayed' ? undefined : state.table;
    }
    // A punch beside the message: a peer whose symmetric NAT gives it another address towards
    // this one learns that address from it (its chats then come from there; see `accepts`).
    this.#startRound(peer.nick, state, [state.table], { introduce: true, introduced: false });
    return state.table;
  }

  /**
   * A direct message to `peer` was acknowledged from `at`: a round under way is over (the
   * path is open there), and an open path there is in use.
   */
  reached(peer: PeerAddress, at: Address): void {
    const state = this.#state(peer);
    if (state.round) return state.round.finish(at);
    if (state.open && sameAddress(state.open.address, at)) state.open.usedAt = this.#context.clock.now();
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
    if (this.#peers.get(peer.nick) !== state || !state.open || sameAddress(state.open.address, tried)) return undefined;
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

  /** Whether a chat from `peer` may come from `from`: its table address, its open path, or where its punches came from. */
  accepts(peer: PeerAddress, from: Address): boolean {
    if (sameAddress(tableAddress(peer), from)) return true;
    const state = this.#peers.get(peer.nick);
    if (!state || !sameAddress(state.table, tableAddress(peer))) return false;
    if (state.open && sameAddress(state.open.address, from)) {
      state.open.usedAt = this.#context.clock.now();
      return true;
    }
    return state.heardAt.includes(keyOf(from));
  }

  /**
   * The registry relayed a message to `nick` live: when a round with an introduction found no
   * path, that is how it is reached now (told once).
   */
  relayed(nick: string): void {
    const state = this.#peers.get(nick);
    if (state && !state.open && !state.round && state.failedAt !== undefined && state.introduced) this.#tell(nick, state, 'relayed', state.table);
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
  onPunch(nick: string, from: Address): boolean {
    const peer = this.#context.entry(nick);
    if (!peer || this.#closed) return false;
    const state = this.#state(peer);
    const key = keyOf(from);
    if (!state.heardAt.includes(key)) state.heardAt = [key, ...state.heardAt].slice(0, HEARD_AT_KEPT);
    if (state.round) {
      // From elsewhere than the table says, it opens the path only once the registry has
      // introduced the two at the table's address: else this client's table may be stale,
      // and the registry's relay (which refreshes it) is the way, as ever.
      if (sameAddress(from, state.table) || state.introduced) state.round.finish(from, state.round.introduceAsked);
    } else if (state.open && sameAddress(state.open.address, from)) {
      state.open.usedAt = this.#context.clock.now();
    } else if (!state.open) {
      this.#open(nick, state, from, state.introduced || !sameAddress(from, state.table) ? 'punched' : 'direct');
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
    const state = this.#state(peer);
    state.introduced = true;
    const candidates = candidatesOf(introduced);
    if (state.round) {
      for (const candidate of candidates) this.#punchAt(nick, state.round, candidate);
      return;
    }
    this.#startRound(nick, state, [...(state.open ? [state.open.address] : []), state.table, ...candidates], { introduce: false, introduced: true });
  }

  /** Stops every keepalive and round. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const state of this.#peers.values()) {
      state.round?.finish(undefined);
      this.#stopKeepalive(state);
    }
    this.#peers.clear();
  }

  #state(peer: PeerAddress): PeerPath {
    const table = tableAddress(peer);
    let state = this.#peers.get(peer.nick);
    if (state && !sameAddress(state.table, table)) {
      // Registered again elsewhere: what held for its old address does not now.
      state.round?.finish(undefined);
      this.#stopKeepalive(state);
      state = undefined;
    }
    if (!state) {
      state = { table, introduced: false, told: 'direct', heardAt: [] };
      this.#peers.set(peer.nick, state);
      if (this.#peers.size > PEERS_KEPT) this.#forgetIdle();
    }
    return state;
  }

  /** `introduce`: ask the registry for an introduction if the table address does not answer soon; `introduced`: it already took part. */
  /** Forgets the oldest half of the peers with neither an open path nor a round (their state is cheap to make again). */
  #forgetIdle(): void {
    let excess = Math.ceil(this.#peers.size / 2);
    for (const [nick, state] of this.#peers) {
      if (excess <= 0) break;
      if (state.open || state.round) continue;
      this.#peers.delete(nick);
      excess--;
    }
  }

  #startRound(nick: string, state: PeerPath, candidates: Address[], { introduce, introduced }: { introduce: boolean; introduced: boolean }): Round {
    this.counters.rounds++;
    const { clock } = this.#context;
    let settle: (address: Address | undefined) => void = () => undefined;
    const done = new Promise<Address | undefined>((resolve) => (settle = resolve));
    let introduceTimer: unknown;
    const round: Round = {
      controller: new AbortController(),
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
        if (address && !this.#closed) {
          // Its own punch answered at the table address, the peer was reachable as it is (maybe
          // only slow, say looking this client up): direct. Anything else took a punch.
          const punched = round.byIntroduction || punchedIn || !sameAddress(address, state.table);
          this.#open(nick, state, address, punched ? 'punched' : 'direct');
        } else if (!this.#closed && !state.open) {
          this.counters.failed++;
          state.failedAt = clock.now();
        }
        settle(address);
      },
    };
    state.round = round;
    state.introduced = introduced;
    for (const candidate of candidates) this.#punchAt(nick, round, candidate);
    if (introduce) {
      introduceTimer = clock.setTimeout(() => {
        if (state.round !== round) return;
        round.introduceAsked = true;
        round.introducing = true;
        this.#context.introduce(nick).then(
          (introduced) => {
            round.introducing = false;
            if (state.round !== round) return;
            // The registry sees it elsewhere than the table says: the table is stale, and the
            // registry's relay (with a fresh table) is the way, as ever; not a NAT to punch.
            if (introduced && sameAddress(tableAddress({ nick, ...introduced }), state.table)) {
              state.introduced = true;
              for (const candidate of candidatesOf(introduced)) this.#punchAt(nick, round, candidate);
            }
            if (round.underway === 0) round.finish(undefined);
          },
          () => {
            round.introducing = false;
            if (round.underway === 0) round.finish(undefined);
          },
        );
      }, this.#options.introduceAfterMs);
    }
    return round;
  }

  /** One candidate address punched in `round` (once per round). */
  #punchAt(nick: string, round: Round, address: Address): void {
    const key = keyOf(address);
    if (round.tried.has(key)) return;
    round.tried.add(key);
    round.underway++;
    this.counters.punches++;
    const tries = { timeoutMs: Math.max(1, Math.floor(this.#options.punchTimeoutMs / this.#options.punchTries)), tries: this.#options.punchTries };
    this.#context.punch(nick, address, tries, round.controller.signal).then(
      () => round.finish(address),
      () => {
        round.underway--;
        // A failed punch to the table address is no verdict while the introduction is awaited.
        if (round.underway === 0 && !round.introducing) round.finish(undefined);
      },
    );
  }

  #open(nick: string, state: PeerPath, address: Address, kind: 'direct' | 'punched'): void {
    this.counters.opened++;
    state.failedAt = undefined;
    state.open = { address, kind, usedAt: this.#context.clock.now() };
    this.#tell(nick, state, kind, address);
    if (kind === 'punched') this.#startKeepalive(nick, state);
  }

  #close(state: PeerPath): void {
    state.open = undefined;
    this.#stopKeepalive(state);
  }

  #tell(nick: string, state: PeerPath, kind: PathKind, address: Address): void {
    if (state.told === kind) return;
    state.told = kind;
    this.#context.changed(nick, kind, keyOf(address));
  }

  #startKeepalive(nick: string, state: PeerPath): void {
    this.#stopKeepalive(state);
    const { clock } = this.#context;
    state.keepalive = clock.setInterval(() => {
      const open = state.open;
      if (!open || this.#closed) return this.#stopKeepalive(state);
      // Unused for long: let the NAT forget it; the next message punches again.
      if (clock.now() - open.usedAt > this.#options.idleMs) return this.#close(state);
      this.counters.punches++;
      const tries = { timeoutMs: Math.max(1, Math.floor(this.#options.punchTimeoutMs / this.#options.punchTries)), tries: this.#options.punchTries };
      this.#context.punch(nick, open.address, tries).catch(() => {
        if (state.open === open) this.#close(state);
      });
    }, this.#options.keepaliveMs);
  }

  #stopKeepalive(state: PeerPath): void {
    if (state.keepalive === undefined) return;
    this.#context.clock.clearInterval(state.keepalive);
    state.keepalive = undefined;
  }
}

function candidatesOf(introduced: Introduced): Address[] {
  return [introduced, ...introduced.local].map(({ ip, port }) => ({ address: ip, port }));
}

/**
 * This client's addresses on its own networks, with the port its socket is bound to: what a
 * peer behind the same NAT reaches it at. Only IPv4 and IPv6 of the family bound; loopback
 * left out unless bound to it.
 */
export function localAddresses(bound: Address): EndpointAddress[] {
  const family = bound.address.includes(':') ? 'IPv6' : 'IPv4';
  const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
  if (!wildcard) return [{ ip: bound.address, port: bound.port }];
  const found: EndpointAddress[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.internal || address.family !== family || address.address.startsWith('fe80:')) continue;
      found.push({ ip: address.address, port: bound.port });
    }
  }
  return found.slice(0, MAX_LOCAL_ADDRESSES);
}
