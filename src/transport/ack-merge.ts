// The plain ACKs an endpoint owes one sender within one turn of the event loop, merged into
// `acks` replies under one signature or MAC each, as a QUIC ACK frame covers many packets. The
// first ACK to a sender in a turn leaves at once, alone (one message waits for nothing); those
// that follow it leave together: every ACKS_PER_MERGE at once, the rest at the turn's end. Only
// requests marked `acks` are answered so (incoming.ts decides which).
import type { DatagramMac } from '../crypto/signing.js';
import type { ReplyBody } from '../protocol/messages.js';
import type { Address } from './address.js';
import type { SendKind } from './bundle.js';
import { TurnGroups } from './turn-groups.js';

/**
 * The ACKs one merged reply carries before it leaves, without waiting for the turn's end, and
 * alone, not in a bundle: a receiver whose turn takes in a sender's whole window would otherwise
 * answer it all at the end, and the sender would wait idle until then (and the receiver next,
 * for the window's next messages). In the throughput benchmark's stream, a reply every 8 ACKs
 * kept both ends busier than one at the turn's end (or a bundle's worth) did. Eight ids of the
 * longest length allowed, with the envelope and a signature, make about 730 bytes: one
 * datagram (SAFE_DATAGRAM_BYTES). At most MAX_MERGED_ACKS (protocol/constants.ts), the most a
 * reply may carry.
 */
export const ACKS_PER_MERGE = 8;

/** What an `AckMerger` needs: the sealing and sending of one reply, and the end of the turn. */
export interface AckMergerContext {
  /**
   * Seals `body` as the reply to `re` (under `mac`, else signed) and sends it to `to` from `via`:
   * `alone` for a full reply, which leaves at once, `first` at the turn's end.
   */
  reply(
    to: Address,
    via: number | undefined,
    mac: DatagramMac | undefined,
    re: string,
    body: ReplyBody,
    kind: SendKind,
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
}

/**
 * Gathers the plain ACKs owed to each sender (address, socket it came in on, session key) within
 * one turn of the event loop. `hold` says whether an ACK waits here (true) or is the turn's first
 * to that sender and goes now, by its caller (false).
 */
export class AckMerger {
  readonly #context: AckMergerContext;
  /** Senders answered in this turn: each with the ACKs that wait (none until its second). */
  readonly #turn: TurnGroups<Merge>;

  constructor(context: AckMergerContext) {
    this.#context = context;
    this.#turn = new TurnGroups(
      (end) => context.defer(end),
      (merge) => {
        if (merge.ids.length > 0) this.#emit(merge, 'first');
      },
    );
  }

  hold(to: Address, via: number | undefined, mac: DatagramMac | undefined, id: string): boolean {
    const key = `${to.address}|${to.port}|${via ?? ''}|${mac?.sid ?? ''}`;
    let merge = this.#turn.of(key);
    if (merge === undefined) return false; // the first: its caller sends it now
    merge ??= this.#turn.keep(key, { to, via, mac, ids: [] });
    merge.ids.push(id);
    if (merge.ids.length === ACKS_PER_MERGE) this.#emit(merge, 'alone');
    return true;
  }

  #emit(merge: Merge, kind: SendKind): void {
    const [re, ...more] = merge.ids;
    merge.ids = [];
    if (re === undefined) return;
    if (more.length > 0) {
      this.#context.counters.mergedAcks++;
      this.#context.counters.acksMerged += more.length + 1;
    }
    const body: ReplyBody = more.length > 0 ? { t: 'acks', more } : { t: 'ack' };
    this.#context.reply(merge.to, merge.via, merge.mac, re, body, kind);
  }
}
