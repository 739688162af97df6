// The requests that come in to an endpoint, once opened: the dedup window with the replies kept
// for retransmissions, the replay check, the pieces of a fragmented request put together and
// checked again as a whole, and the dispatch of each request to the handler with its `Respond`
// (signed or under a session key, withheld over its size cap, cached, a plain ACK merged with
// others to the same sender: ack-merge.ts). A handler that fails is answered INTERNAL.
import type { Logger } from 'pino';
import type { DatagramMac } from '../crypto/signing.js';
import { MAX_MESSAGE_BYTES, WireError } from '../protocol/constants.js';
import { encodeReply } from '../protocol/codec.js';
import { isReply, type MessageOf, type ReplyBody, type Request } from '../protocol/messages.js';
import { ownBytes } from '../util/own-bytes.js';
import { formatAddress, sameAddress, type Address } from './address.js';
import { AckMerger } from './ack-merge.js';
import type { SendKind } from './bundle.js';
import type { DatagramAuth, Opened } from './datagram-auth.js';
import { DedupWindow, type DedupWindowOptions } from './dedup.js';
import { Reassembly, type ReassemblyOptions } from './fragments.js';

/**
 * The bytes of replies kept for retransmitted requests, at most: with replies of a few hundred
 * bytes, the last twelve thousand or so, about seven seconds' worth at the rate of the presence
 * benchmark (10,000 registrations, some 1,700 replies a second), where a retransmission comes
 * within `timeoutMs × tries` of its request (2.5 s by default); and a bound on what a flood of
 * requests with large answers can make a node hold. A signed retransmission that comes after
 * its request left the window is not answered: the replay cache takes it for a replay.
 */
export const DEFAULT_REPLY_CACHE_BYTES = 8 * 1024 * 1024;

/**
 * Answers a request; the reply is remembered so a retransmitted request gets it again.
 * `atMost`: send it only if it is no larger than that many bytes (else nothing is sent:
 * `stats.withheld`), for an address that has not shown it receives. `mac`: under this session
 * key (one the request just set up) rather than as the request came.
 */
export type Respond = (body: ReplyBody, options?: { atMost?: number; mac?: DatagramMac }) => void;
/**
 * `size`: the bytes of the datagram that brought the request (for one in pieces, its last).
 * `via`: the port of the other socket it came in on (see `openSocket`), undefined for the main
 * one; the reply leaves from the socket the request came in on. `signed`: for a request checked
 * by its signature (not under a session key), its replay key (its signer and signature): the
 * same for the same datagram wherever it is sent, so several receivers that share a store can
 * take it once between them.
 */
export type RequestHandler = (
  request: Request,
  from: Address,
  respond: Respond,
  by: string | undefined,
  size: number,
  via: number | undefined,
  signed: string | undefined,
) => void | Promise<void>;

/** The counters the incoming requests keep (the endpoint's stats). */
export interface IncomingCounters {
  deduplicated: number;
  withheld: number;
  fragmentsRefused: number;
  mergedAcks: number;
  acksMerged: number;
}

/** What the incoming requests need of the endpoint around them. */
export interface IncomingContext {
  readonly counters: IncomingCounters;
  readonly log: Logger;
  /** Whether authentication is on, the sealing of replies, the replay check. */
  readonly auth: Pick<DatagramAuth, 'on' | 'seal' | 'admitReplay'>;
  /**
   * Decodes (and with authentication on, checks) a request put together from its pieces, as
   * the endpoint does every datagram (a drop counted); undefined when dropped.
   */
  open(datagram: Buffer, from: Address, maxBytes: number): Opened | undefined;
  /** Counts and logs a request dropped after it was opened: a replay, or the replay cache full. */
  drop(reason: 'replayed' | 'rate-limited', from: Address, detail: string): void;
  /**
   * Sends a reply from the socket its request came in on (`via`; undefined: the main one);
   * `again` for one repeated to a retransmission, which never goes in a bundle.
   */
  answer(to: Address, datagram: Buffer, via: number | undefined, kind: SendKind): void;
  /** Runs `flush` once the current turn of the event loop is done (setImmediate). */
  defer(flush: () => void): void;
}

/** The windows of what came in, as `EndpointOptions` has them. */
export interface IncomingOptions {
  dedup?: Omit<DedupWindowOptions, 'weigh' | 'maxWeight'>;
  replyCacheBytes?: number;
  reassembly?: ReassemblyOptions;
  /**
   * Merge the plain ACKs of requests marked `acks` that one sender's requests get within one
   * turn (see ack-merge.ts); the endpoint's `coalesce`. Off, each is answered on its own.
   */
  mergeAcks?: boolean;
}

/**
 * What the reply cache keeps for a request acknowledged inside a merged `acks` reply: a
 * retransmission of it gets a plain `ack` of its own, sealed then, under the key it came with.
 */
const MERGED = 'merged';
/** The weight of that mark in the reply cache: about the bytes of the `ack` it stands for. */
const MERGED_WEIGHT = 128;

/**
 * A request seen: where it came from, and its reply once sent (null: not yet; or MERGED). A new
 * one is made when the reply is, so the window weighs the reply it holds.
 */
interface Seen {
  readonly from: Address;
  readonly reply: Buffer | null | typeof MERGED;
}

/**
 * The receiving side of an endpoint: every request opened is answered once, by the handler;
 * the same request again from the same place (a retransmission) gets the reply kept for it and
 * is not handled twice.
 */
export class IncomingRequests {
  readonly #context: IncomingContext;
  /**
   * Requests seen recently, with where each came from and its reply once sent: one under a
   * session key keyed by its sender, session and id, any other by its source and id.
   */
  readonly #seen: DedupWindow<Seen>;
  /**
   * The plain ACKs held to leave merged (eight at a time, the rest at the turn's end);
   * undefined when not merging.
   */
  readonly #acks: AckMerger | undefined;
  readonly #reassembly: Reassembly;
  #handler: RequestHandler | undefined;
  /** Set by `close`, when the endpoint closes: a reply given after is not sent. */
  #closed = false;

  constructor(context: IncomingContext, options: IncomingOptions) {
    this.#context = context;
    this.#seen = new DedupWindow<Seen>({
      ...options.dedup,
      maxWeight: options.replyCacheBytes ?? DEFAULT_REPLY_CACHE_BYTES,
      weigh: ({ reply }) => (reply === MERGED ? MERGED_WEIGHT : (reply?.byteLength ?? 0)),
    });
    this.#acks = options.mergeAcks
      ? new AckMerger({
          counters: context.counters,
          defer: (flush) => context.defer(flush),
          reply: (to, via, mac, re, body, kind) => {
            if (!this.#closed)
              context.answer(to, context.auth.seal(encodeReply(re, body), mac), via, kind);
          },
        })
      : undefined;
    this.#reassembly = new Reassembly(options.reassembly);
  }

  /** Fragmented requests being put together (bounded: see Reassembly). */
  get reassembling(): number {
    return this.#reassembly.pending;
  }

  /** Fragmented requests given up on: their pieces did not all come in time. */
  get reassembliesExpired(): number {
    return this.#reassembly.expired;
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Forgets the requests seen and the pieces held; no reply is sent after. */
  close(): void {
    this.#closed = true;
    this.#seen.clear();
    this.#reassembly.clear();
  }

  /** A request came in, opened as `opened`, in a datagram of `size` bytes, on the socket `via`. */
  receive(
    request: Request,
    from: Address,
    opened: Opened,
    size: number,
    via: number | undefined,
  ): void {
    // With authentication on, only an unchecked request has no signer. It is answered afresh
    // each time it comes: a flood of them would otherwise push the replies kept for checked
    // requests out of the cache.
    if (this.#context.auth.on && opened.by === undefined) {
      const respond = this.#responder(request.id, from, via);
      this.#dispatch(request, from, respond, undefined, size, via, undefined);
      return;
    }
    // A request under a session key is its sender's whatever address it comes from (only the
    // two ends hold the key): kept by session and id, a copy of it from another address is a
    // replay even where its own number was never taken (a first try held back on the path, its
    // retransmission sealed afresh taken since). Any other by source and id: a signed copy
    // from elsewhere is the same bytes, which the replay cache refuses.
    const session = opened.n === undefined ? undefined : opened.replayKey;
    const key =
      session === undefined
        ? `${from.address}|${from.port}|${request.id}`
        : `${session}|${request.id}`;
    const earlier = this.#seen.get(key);
    if (earlier !== undefined) {
      // A try answered from here takes its number (and names its earlier ones) all the same: a
      // copy of it after the window forgot the request is refused by the number.
      if (session !== undefined) this.#context.auth.admitReplay(opened);
      if (!sameAddress(earlier.from, from)) {
        this.#context.drop('replayed', from, opened.by ?? '');
        return;
      }
      // The same request again from the same place: a retransmission, answered as before.
      this.#context.counters.deduplicated++;
      const again =
        earlier.reply === MERGED
          ? this.#context.auth.seal(encodeReply(request.id, { t: 'ack' }), opened.mac)
          : earlier.reply;
      if (again) this.#context.answer(from, again, via, 'again');
      return;
    }
    // The same signed datagram from anywhere else: a replay.
    const replay = this.#context.auth.admitReplay(opened);
    if (replay !== 'added') {
      this.#context.drop(replay === 'seen' ? 'replayed' : 'rate-limited', from, opened.by ?? '');
      return;
    }
    this.#seen.add(key, { from, reply: null });
    const respond = this.#responder(request.id, from, via, opened.mac, key, request.acks);
    if (request.t === 'frag') {
      this.#onFragment(request, from, respond, opened.by, size, via);
      return;
    }
    this.#dispatch(request, from, respond, opened.by, size, via, signedKey(opened));
  }

  /**
   * The `respond` of request `id`: its one answer signed (or under `mac`), withheld if over
   * `atMost`, kept in the reply cache under `seen` if given, and sent back the way the request
   * came; a plain ACK to a request marked `acks` (`mergeable`) merged with others when it is not
   * its sender's first in this turn.
   */
  #responder(
    id: string,
    from: Address,
    via: number | undefined,
    mac?: DatagramMac,
    seen?: string,
    mergeable?: true,
  ): Respond {
    let replied = false;
    return (body, options = {}) => {
      if (replied || this.#closed) return;
      replied = true;
      if (
        mergeable &&
        seen !== undefined &&
        isPlainAck(body) &&
        options.atMost === undefined &&
        options.mac === undefined &&
        this.#acks?.hold(from, via, mac, id)
      ) {
        this.#seen.update(seen, { from, reply: MERGED });
        return;
      }
      const datagram = this.#context.auth.seal(encodeReply(id, body), options.mac ?? mac);
      if (options.atMost !== undefined && datagram.byteLength > options.atMost) {
        this.#context.counters.withheld++;
        return;
      }
      if (seen !== undefined) this.#seen.update(seen, { from, reply: ownBytes(datagram) }); // kept for a while: see ownBytes
      this.#context.answer(from, datagram, via, 'first');
    };
  }

  #onFragment(
    fragment: MessageOf<'frag'>,
    from: Address,
    respond: Respond,
    by: string | undefined,
    size: number,
    via: number | undefined,
  ): void {
    const result = this.#reassembly.add(
      `${from.address}|${from.port}|${fragment.of}`,
      fragment.i,
      fragment.n,
      fragment.data,
      from.address,
    );
    if (result.status === 'incomplete' || result.status === 'duplicate')
      return respond({ t: 'ack' });
    if (result.status === 'refused') {
      this.#context.counters.fragmentsRefused++;
      this.#context.log.debug(
        { from: formatAddress(from), reason: result.reason },
        'fragment refused',
      );
      return respond({
        t: 'err',
        code: WireError.BAD_REQUEST,
        message: `fragment refused: ${result.reason}`,
      });
    }
    // The whole request was signed before it was cut: it is checked again as a whole.
    const whole = this.#context.open(result.datagram, from, MAX_MESSAGE_BYTES);
    const message = whole?.message;
    const valid =
      message &&
      !isReply(message) &&
      message.t !== 'frag' &&
      message.id === fragment.of &&
      whole.by === by;
    // A signed whole is checked against the replay cache. One under a session key is not: each
    // of its pieces was checked in the session's window, so a replay of them is refused there,
    // while the whole's own number (taken before its pieces') could have been left behind by
    // the session's traffic meanwhile.
    if (!valid || (whole.n === undefined && this.#context.auth.admitReplay(whole) !== 'added')) {
      this.#context.counters.fragmentsRefused++;
      return respond({
        t: 'err',
        code: WireError.BAD_REQUEST,
        message: 'reassembled request is not valid',
      });
    }
    // The reply to the whole request answers (and is cached for) its last fragment.
    this.#dispatch(message, from, respond, by, size, via, signedKey(whole));
  }

  #dispatch(
    request: Request,
    from: Address,
    respond: Respond,
    by: string | undefined,
    size: number,
    via: number | undefined,
    signed: string | undefined,
  ): void {
    if (!this.#handler) {
      respond({ t: 'err', code: WireError.UNKNOWN_TYPE, message: `no handler for ${request.t}` });
      return;
    }
    try {
      const result = this.#handler(request, from, respond, by, size, via, signed);
      if (result) result.catch((error: unknown) => this.#handlerFailed(error, request, respond));
    } catch (error) {
      this.#handlerFailed(error, request, respond);
    }
  }

  #handlerFailed(error: unknown, request: Request, respond: Respond): void {
    this.#context.log.error({ err: error, type: request.t }, 'request handler failed');
    respond({ t: 'err', code: WireError.INTERNAL, message: 'internal error' });
  }
}

/** A request checked by its signature: its replay key (see `RequestHandler`); else undefined. */
function signedKey(opened: Pick<Opened, 'replayKey' | 'n'>): string | undefined {
  return opened.n === undefined ? opened.replayKey : undefined;
}

/** An `ack` carrying nothing but itself: the only reply merged. */
function isPlainAck(body: ReplyBody): boolean {
  return body.t === 'ack' && body.seq === undefined && body.epoch === undefined;
}
