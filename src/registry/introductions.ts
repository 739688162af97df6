// Introductions between clients without a direct path, so both can punch through their NATs at
// once, and the budget of live relays per pair when punching fails (details below).
import { errorReply, type MessageOf, type ReplyBody } from '../protocol/messages.js';
import { type EndpointAddress, type NatMapping } from '../protocol/fields.js';
import { MAX_LOCAL_ADDRESSES } from '../protocol/constants.js';
import { formatAddress, normalizeIp, type Address } from '../transport/address.js';
import type { ClientRecord } from '../store/store.js';
import { setLatest } from '../util/latest.js';

/**
 * Introductions between clients that have no direct path (see docs/nat.md), and the budget
 * of live relays per pair when punching fails.
 *
 * Safe by construction: only a client online at the address it sends from (the handler's
 * guard) may ask, and only for a client online at its own; both addresses were proven at
 * registration (address cookies), so the registry sends nothing to an address that has not
 * shown it receives. One introduction per pair per `intervalMs`: asked again sooner, the
 * asker gets its answer but the other is not told again.
 */
export interface IntroductionContext {
  /** The record of `nick` when it is online. */
  online(nick: string): ClientRecord | undefined;
  /** Sends `introduction` to `record` (retried; never rejects), after the asker's answer has gone. */
  tell(record: ClientRecord, body: Omit<MessageOf<'introduction'>, 'v' | 'id'>): void;
  now(): number;
}

export interface IntroductionOptions {
  /** Least time between two introductions of one pair. */
  intervalMs: number;
  /** Relays per pair (either direction counted apart) per `relayWindowMs`, in messages and sealed bytes. */
  relayMessages: number;
  relayBytes: number;
  relayWindowMs: number;
}

export const INTRODUCTION_DEFAULTS: IntroductionOptions = {
  intervalMs: 2_000,
  relayMessages: 600,
  relayBytes: 1024 * 1024,
  relayWindowMs: 60_000,
};

/** Above this many remembered pairs, the ones out of their window are forgotten. */
const PRUNE_ABOVE = 10_000;

export class Introductions {
  readonly #context: IntroductionContext;
  readonly #options: IntroductionOptions;
  /** Each client's local addresses, as its last registration said. */
  readonly #locals = new Map<string, EndpointAddress[]>();
  /** How each client's NAT maps, as its `nat_probe` showed, for the address it was registered at then. */
  readonly #mappings = new Map<string, { at: string; mapping: NatMapping }>();
  /** When each pair (sorted nicks) was last introduced. */
  readonly #introduced = new Map<string, number>();
  /** Per sender → recipient: the relay window's start, and what it relayed in it. */
  readonly #relays = new Map<string, { start: number; messages: number; bytes: number }>();
  /** Introductions sent and relays refused, for stats. */
  readonly counters = { introductions: 0, relaysRefused: 0 };

  constructor(context: IntroductionContext, options: Partial<IntroductionOptions> = {}) {
    this.#context = context;
    this.#options = { ...INTRODUCTION_DEFAULTS, ...options };
  }

  /** A client registered, naming its local addresses (at most MAX_LOCAL_ADDRESSES kept). */
  registered(nick: string, local: readonly EndpointAddress[] | undefined): void {
    if (local && local.length > 0) this.#locals.set(nick, local.slice(0, MAX_LOCAL_ADDRESSES));
    else this.#locals.delete(nick);
  }

  /** `nick`, registered at `at`, probed the second port: its NAT maps it so (told in its introductions). */
  mapped(nick: string, at: Address, mapping: NatMapping): void {
    setLatest(this.#mappings, nick, { at: formatAddress(at), mapping }, PRUNE_ABOVE);
  }

  /** The answer to `sender`'s `introduce`; `to` is told of `sender` unless it was lately. */
  introduce(sender: ClientRecord, to: string): ReplyBody {
    if (to === sender.nick) return errorReply('BAD_REQUEST', 'an introduction to yourself');
    const peer = this.#context.online(to);
    if (!peer) return errorReply('UNKNOWN_NICK', `${to} is not online`);
    const now = this.#context.now();
    const pair = [sender.nick, to].sort().join('|');
    const last = this.#introduced.get(pair);
    if (last === undefined || now - last >= this.#options.intervalMs) {
      this.#introduced.set(pair, now);
      this.#prune(this.#introduced, (at) => now - at >= this.#options.intervalMs);
      this.counters.introductions++;
      this.#context.tell(peer, {
        t: 'introduction',
        peer: sender.nick,
        ip: sender.ip,
        port: sender.port,
        local: this.#localsFor(sender, peer),
        ...this.#mappingOf(sender),
      });
    }
    return {
      t: 'introduced',
      peer: to,
      ip: peer.ip,
      port: peer.port,
      local: this.#localsFor(peer, sender),
      ...this.#mappingOf(peer),
    };
  }

  /**
   * Whether the registry may relay one more message of `bytes` sealed bytes from `from` to
   * `to` live (it counts it when so): relaying is the last resort, bounded per pair.
   */
  mayRelay(from: string, to: string, bytes: number): boolean {
    const now = this.#context.now();
    const key = `${from}|${to}`;
    let window = this.#relays.get(key);
    if (!window || now - window.start >= this.#options.relayWindowMs) {
      window = { start: now, messages: 0, bytes: 0 };
      this.#relays.set(key, window);
      this.#prune(this.#relays, (entry) => now - entry.start >= this.#options.relayWindowMs);
    }
    if (
      window.messages + 1 > this.#options.relayMessages ||
      window.bytes + bytes > this.#options.relayBytes
    ) {
      this.counters.relaysRefused++;
      return false;
    }
    window.messages++;
    window.bytes += bytes;
    return true;
  }

  /**
   * `of`'s local addresses, for `to`: only when both are seen at one public address (peers
   * behind one NAT); anyone else would be sent towards addresses nobody proved.
   */
  #localsFor(of: ClientRecord, to: ClientRecord): EndpointAddress[] {
    if (normalizeIp(of.ip) !== normalizeIp(to.ip)) return [];
    return this.#locals.get(of.nick) ?? [];
  }

  /** How `record`'s NAT maps, when its probe was made from where it is registered now. */
  #mappingOf(record: ClientRecord): { nat?: NatMapping } {
    const known = this.#mappings.get(record.nick);
    return known && known.at === formatAddress({ address: record.ip, port: record.port })
      ? { nat: known.mapping }
      : {};
  }

  #prune<V>(map: Map<string, V>, stale: (value: V) => boolean): void {
    if (map.size <= PRUNE_ABOVE) return;
    for (const [key, value] of map) if (stale(value)) map.delete(key);
  }
}
