// The plain ACKs an endpoint owes one sender within one turn of the event loop, merged into one
// `acks` reply under one signature or MAC, as a QUIC ACK frame covers many packets. The first
// ACK to a sender in a turn leaves at once, alone (one message waits for nothing); those that
// follow it in the same turn leave together at the turn's end, or as soon as a reply would hold
// no more. Only requests marked `acks` are answered so (incoming.ts decides which).
import type { DatagramMac } from '../crypto/signing.js';
import { MAX_MERGED_ACKS } from '../protocol/constants.js';
import type { ReplyBody } from '../protocol/messages.js';
import type { Address } from './address.js';

/**
 * The characters of ids one merged reply carries, at most (each id counted with its quotes and
 * comma): with the envelope and a signature or MAC, it stays within one datagram
 * (SAFE_DATAGRAM_BYTES) even with ids of the longest length allowed.
 */
export const MERGED_ACK_MAX_CHARS = 900;

/** What an `AckMerger` needs: the sealing and sending of one reply, and the end of the turn. */
export interface AckMergerContext {
  /** Seals `body` as the reply to `re` (under `mac`, else signed) and sends it to `to` from `via`. */
  reply(
    to: Address,
    via: number | undefined,
    mac: DatagramMac | undefined,
    re: string,
    body: ReplyBody,
  ): void;
  /** Runs `flush` once the current turn of the event loop is done (setImmediate). */
  defer(flush: () => void): void;
  /** Merged replies sent, and the requests they acknowledged. */
  counters: { mergedAcks: number; acksMerged: number };
}

/** ACKs waiting to leave together: one sender, one socket, one key. */
interface Merge {
  readonly to: Address;
  readonly via: number | undefined;
  readonly mac: DatagramMac | undefined;
  ids: string[];
  chars: number;
}

/**
 * Gathers the plain ACKs owed to each sender (address, socket it came in on, session key) within
 * one turn of the event loop. `hold` says whether an ACK waits here (true) or is the turn's first
 * to that sender and goes now, by its caller (false).
 */
export class AckMerger {
  readonly #context: AckMergerContext;
  /** Senders answered in this turn: each with the ACKs that wait, or null while none does. */
  #turn = new Map<string, Merge | null>();
  #flushPlanned = false;

  constructor(context: AckMergerContext) {
    this.#context = context;
  }

  hold(to: Address, via: number | undefined, mac: DatagramMac | undefined, id: string): boolean {
    const key = `${to.address}|${to.port}|${via ?? ''}|${mac?.sid ?? ''}`;
    let merge = this.#turn.get(key);
    if (merge === undefined) {
      this.#turn.set(key, null);
      if (!this.#flushPlanned) {
        this.#flushPlanned = true;
        this.#context.defer(() => this.flush());
      }
      return false;
    }
    if (merge === null) this.#turn.set(key, (merge = { to, via, mac, ids: [], chars: 0 }));
    const chars = id.length + 3;
    if (merge.ids.length === MAX_MERGED_ACKS || merge.chars + chars > MERGED_ACK_MAX_CHARS)
      this.#emit(merge); // full: it leaves now
    merge.ids.push(id);
    merge.chars += chars;
    return true;
  }

  /** Sends what waits, and starts a new turn. */
  flush(): void {
    const turn = this.#turn;
    this.#turn = new Map();
    this.#flushPlanned = false;
    for (const merge of turn.values()) if (merge && merge.ids.length > 0) this.#emit(merge);
  }

  #emit(merge: Merge): void {
    const [re, ...more] = merge.ids;
    merge.ids = [];
    merge.chars = 0;
    if (re === undefined) return;
    if (more.length > 0) {
      this.#context.counters.mergedAcks++;
      this.#context.counters.acksMerged += more.length + 1;
    }
    const body: ReplyBody = more.length > 0 ? { t: 'acks', more } : { t: 'ack' };
    this.#context.reply(merge.to, merge.via, merge.mac, re, body);
  }
}
