// One endpoint and every byte that crosses its sockets: admission, the opening of each datagram
// (signatures through datagram-auth.ts) with its drops counted, and the hand-off of what was
// opened: a reply to outgoing.ts (requests under way: timers, retries, matching), a request to
// incoming.ts (dedup, fragments put together, the handler and its replies). Requests too large
// for one datagram leave in fragments from here. The sockets themselves, and which one a
// datagram leaves from, are sockets.ts's. Nothing above it sees a malformed or repeated datagram.
import type dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { encodeReply, encodeRequest, type DropReason } from '../protocol/codec.js';
import type { DatagramMac } from '../crypto/signing.js';
import { MAX_MESSAGE_BYTES, SAFE_DATAGRAM_BYTES, WireError } from '../protocol/constants.js';
import { UdpchatError } from '../protocol/errors.js';
import {
  errorReply,
  isReply,
  type Reply,
  type Request,
  type RequestBody,
} from '../protocol/messages.js';
import { formatAddress, normalizeIp, type Address } from './address.js';
import type { SendKind } from './bundle.js';
import { eachAtMost } from '../util/at-most.js';
import type { DedupWindowOptions } from './dedup.js';
import {
  DatagramAuth,
  type AuthDropReason,
  type EndpointAuth,
  type Opened,
} from './datagram-auth.js';
import { splitDatagram, type ReassemblyOptions } from './fragments.js';
import { IncomingRequests, type RequestHandler } from './incoming.js';
import { OutgoingRequests, type RequestOptions, type Resealable } from './outgoing.js';
import { Sockets } from './sockets.js';
import { newEndpointStats, type EndpointStats } from './endpoint-stats.js';
import { SILENT_LOG } from '../util/silent-log.js';

export { DEFAULT_REPLY_CACHE_BYTES, type Respond, type RequestHandler } from './incoming.js';
export type { RequestOptions } from './outgoing.js';
export type { EndpointStats } from './endpoint-stats.js';

export interface EndpointOptions {
  type?: 'udp4' | 'udp6';
  logger?: Logger;
  /** The window of requests seen, with their replies kept for retransmissions (time and count). */
  dedup?: Omit<DedupWindowOptions, 'weigh' | 'maxWeight'>;
  /** The bytes of the replies kept in that window, at most (DEFAULT_REPLY_CACHE_BYTES); the oldest go first. */
  replyCacheBytes?: number;
  reassembly?: ReassemblyOptions;
  /** Signed requests remembered for the replay check (200,000 by default); a full cache refuses new ones. */
  replayCacheEntries?: number;
  /** Senders' sessions whose requests' numbers are remembered for the replay check (100,000 by default); past it, a new one is refused. */
  replayWindows?: number;
  auth?: EndpointAuth;
  /**
   * Asked first for every datagram, before any decoding or signature check: false (or a
   * promise of false) drops it as rate-limited. The registry limits each source address.
   */
  admit?: (from: Address) => boolean | Promise<boolean>;
  /**
   * Datagrams to one address within one turn of the event loop leave bundled, after the
   * first (see transport/bundle.ts); each request is marked `acks`, and the plain ACKs one
   * sender's marked requests get in one turn leave merged, after the first (ack-merge.ts).
   * Off by default: a registry answers addresses not proven yet, and a bundle's framing would
   * make its answer larger than what came in.
   */
  coalesce?: boolean;
}

/** Pieces of one fragmented request on their way at once. */
const FRAGMENTS_IN_FLIGHT = 16;

const errorReplyFor: Partial<Record<DropReason, number>> = {
  version: WireError.UNSUPPORTED_VERSION,
  'unknown-type': WireError.UNKNOWN_TYPE,
  schema: WireError.BAD_REQUEST,
};

/**
 * One UDP socket with request/reply matching, per-request timeouts and retries, and a
 * receiver-side dedup window. Owns every byte that crosses the socket: nothing above it
 * sees a malformed datagram or a retransmitted request. It opens each datagram and hands a
 * reply to its `OutgoingRequests`, a request to its `IncomingRequests`, each with a context
 * of the little it needs from here.
 */
export class Endpoint extends EventEmitter {
  readonly stats: EndpointStats = newEndpointStats();

  /** Fragmented requests being put together (bounded: see Reassembly). */
  get reassembling(): number {
    return this.#incoming.reassembling;
  }

  /** Fragmented requests given up on: their pieces did not all come in time. */
  get reassembliesExpired(): number {
    return this.#incoming.reassembliesExpired;
  }

  /** The main socket, the others beside it, and the routes between them. */
  readonly #sockets: Sockets;
  readonly #log: Logger;
  /** Requests sent and awaited: their timers, retries and replies. */
  readonly #outgoing: OutgoingRequests;
  /** Requests received: dedup and the replies kept, fragments, the handler. */
  readonly #incoming: IncomingRequests;
  /** The checks of what comes in (who signed it, when, not seen before) and the signing of what leaves. */
  readonly #auth: DatagramAuth;
  readonly #admit: EndpointOptions['admit'];
  /** Whether requests are marked `acks` (the endpoint coalesces). */
  readonly #marksAcks: boolean;
  readonly #idPrefix = randomBytes(6).toString('base64url');
  #nextId = 0;
  #closed = false;

  constructor(options: EndpointOptions = {}) {
    super();
    this.#log = options.logger ?? SILENT_LOG;
    this.#auth = new DatagramAuth(options.auth, {
      ...(options.replayCacheEntries !== undefined
        ? { replayCacheEntries: options.replayCacheEntries }
        : {}),
      ...(options.replayWindows !== undefined ? { replayWindows: options.replayWindows } : {}),
      counters: this.stats,
      replyMac: (re, sid) => this.#outgoing.replyMac(re, sid),
    });
    this.#outgoing = new OutgoingRequests({
      counters: this.stats,
      auth: this.#auth,
      send: (to, datagram, via, kind) => this.send(to, datagram, via, kind),
    });
    this.#incoming = new IncomingRequests(
      {
        counters: this.stats,
        log: this.#log,
        auth: this.#auth,
        open: (datagram, from, maxBytes) => this.#open(datagram, from, maxBytes),
        drop: (reason, from, detail) => this.#drop(reason, from, detail),
        answer: (to, datagram, via, kind) => this.#answer(to, datagram, via, kind),
        defer: (flush) => void setImmediate(flush),
      },
      { ...options, mergeAcks: options.coalesce ?? false },
    );
    this.#marksAcks = options.coalesce ?? false;
    this.#admit = options.admit;
    this.#sockets = new Sockets(
      options.type ?? 'udp4',
      {
        onDatagram: (datagram, rinfo, via) => this.#onDatagram(datagram, rinfo, via),
        afterSend: this.#afterSend,
        counters: this.stats,
      },
      this.#log,
      options.coalesce ?? false,
    );
  }

  /** Binds the socket; a port in use is reported as ERR_PORT_IN_USE. */
  listen(port: number, host?: string): Promise<Address> {
    return this.#sockets.listen(port, host);
  }

  /**
   * Opens another socket beside the main one, bound to `port` (0: any) on the main one's
   * address unless `host` is given; what it receives is taken as the main socket's is, and a
   * reply leaves from it. Resolves with its port.
   */
  openSocket(port = 0, host?: string): Promise<number> {
    return this.#sockets.open(port, host); // ERR_CLOSED once the endpoint closed (its sockets with it)
  }

  /** Closes a socket `openSocket` opened, and forgets the routes through it. */
  closeSocket(port: number): void {
    this.#sockets.close(port);
  }

  /** From now on, what goes to `to` leaves from the socket at `via` (undefined: the main one again). */
  route(to: Address, via: number | undefined): void {
    this.#sockets.route(to, via);
  }

  /** Sockets open beside the main one. */
  get otherSockets(): number {
    return this.#sockets.others;
  }

  address(): Address {
    return this.#sockets.address();
  }

  onRequest(handler: RequestHandler): void {
    this.#incoming.setHandler(handler);
  }

  newId(): string {
    return `${this.#idPrefix}${(this.#nextId++).toString(36)}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends a request and resolves with its reply. Retransmits the same datagram (same id)
   * until a reply comes or the tries run out; an `err` reply rejects with its code.
   */
  request(
    to: Address,
    body: RequestBody,
    options: RequestOptions,
    id = this.newId(),
  ): Promise<Reply> {
    if (this.#closed) return Promise.reject(new UdpchatError('ERR_CLOSED', 'endpoint closed'));
    // An abort rejects with the signal's own reason, as Node's APIs do.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- see above
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return new Promise<Reply>((resolve, reject) => {
      const inner = encodeRequest(id, body, this.#marksAcks);
      // Under a session key each try is sealed afresh from `inner`, with a number of its own
      // (`tries`: see `DatagramAuth.seal`).
      const reseal: Resealable | undefined = options.mac && { inner, mac: options.mac, tries: [] };
      const datagram = this.#auth.seal(inner, options.mac, reseal?.tries);
      if (datagram.byteLength > MAX_MESSAGE_BYTES) {
        this.#notSentWhole(reseal);
        reject(
          new UdpchatError(
            'ERR_DATAGRAM_TOO_LARGE',
            `${body.t} is ${datagram.byteLength} bytes, over ${MAX_MESSAGE_BYTES}`,
          ),
        );
        return;
      }
      if (datagram.byteLength > SAFE_DATAGRAM_BYTES && body.t !== 'frag') {
        this.#notSentWhole(reseal);
        this.#requestInFragments(to, id, datagram, options).then(resolve, reject);
        return;
      }
      this.#outgoing.start(id, to, datagram, options, resolve, reject, reseal);
    });
  }

  /**
   * A request sealed under a session key but not sent as it is (too large, or sent in pieces,
   * each a request of its own): its own number is never taken (see incoming.ts), so it is not
   * under way (see `DatagramAuth.settled`).
   */
  #notSentWhole(reseal: Resealable | undefined): void {
    if (reseal) this.#auth.settled(reseal.mac, reseal.tries, true);
  }

  /**
   * Every piece but the last goes at once, each acknowledged and retried on its own; the
   * last goes when they are all in, and its reply is the reply to the whole request.
   */
  async #requestInFragments(
    to: Address,
    id: string,
    datagram: Buffer,
    options: RequestOptions,
  ): Promise<Reply> {
    this.stats.fragmented++;
    const pieces = splitDatagram(datagram);
    const n = pieces.length;
    const fragment = (i: number): RequestBody => ({ t: 'frag', of: id, i, n, data: pieces[i] });
    // A window of pieces on their way at once, not all: a large request does not flood the receiver.
    const allButLast = Array.from({ length: n - 1 }, (_, i) => i);
    await eachAtMost(allButLast, FRAGMENTS_IN_FLIGHT, (i) =>
      this.request(to, fragment(i), options),
    );
    return this.request(to, fragment(n - 1), options);
  }

  /**
   * Sends a request once, with no reply awaited and none kept: for what its receiver answers
   * with silence (a presence notice), whose loss the application itself notices. Signed, or
   * under `mac`; no larger than one datagram.
   */
  notify(to: Address, body: RequestBody, mac?: DatagramMac): void {
    if (this.#closed) return;
    const datagram = this.#auth.seal(encodeRequest(this.newId(), body), mac);
    if (datagram.byteLength > SAFE_DATAGRAM_BYTES) {
      this.#log.warn({ type: body.t, bytes: datagram.byteLength }, 'notice too large: not sent');
      return;
    }
    this.send(to, datagram);
  }

  /**
   * Sends a datagram with no reply expected; one sent `again` (a retransmission) leaves alone,
   * never in a bundle (see `SendKind`).
   */
  send(to: Address, datagram: Buffer, via?: number, kind: SendKind = 'first'): void {
    if (this.#closed) return;
    this.stats.sent++;
    this.#sockets.send(to, datagram, via, kind);
  }

  /** A reply leaves from the socket its request came in on (`via`; undefined: the main one), whatever the routes say; a repeated one alone. */
  #answer(to: Address, datagram: Buffer, via: number | undefined, kind: SendKind): void {
    if (this.#closed) return;
    this.stats.sent++;
    this.#sockets.sendFrom(to, datagram, via, kind);
  }

  /** One callback for every send, not a closure each (the error names the address). */
  readonly #afterSend = (error: Error | null): void => {
    if (!error) return;
    this.stats.sendErrors++;
    this.#log.debug({ err: error }, 'send failed');
  };

  /** Idempotent: rejects every request under way with ERR_CLOSED and frees the port. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#outgoing.close();
    this.#incoming.close();
    return this.#sockets.closeAll();
  }

  #onDatagram(datagram: Buffer, rinfo: dgram.RemoteInfo, via?: number): void {
    if (this.#closed) return;
    this.stats.received++;
    const from: Address = { address: normalizeIp(rinfo.address), port: rinfo.port };
    const admitted = this.#admit?.(from) ?? true;
    if (admitted === true) return this.#take(datagram, from, via);
    if (admitted === false) return void this.#drop('rate-limited', from, 'over the limit');
    admitted.then(
      (ok) =>
        ok ? this.#take(datagram, from, via) : this.#drop('rate-limited', from, 'over the limit'),
      () => this.#drop('rate-limited', from, 'over the limit'),
    );
  }

  #take(datagram: Buffer, from: Address, via: number | undefined): void {
    if (this.#closed) return;
    const opened = this.#open(datagram, from);
    if (!opened) return;
    if (isReply(opened.message))
      this.#outgoing.receive(opened.message, from, opened.by, opened.mac?.sid);
    else this.#incoming.receive(opened.message, from, opened, datagram.byteLength, via);
  }

  #drop(reason: DropReason | AuthDropReason, from: Address, detail: string): undefined {
    this.stats.dropped[reason]++;
    this.#log.debug({ from: formatAddress(from), reason, detail }, 'dropped datagram');
    return undefined;
  }

  /** Decodes (and with authentication on, checks) one datagram; undefined when dropped. */
  #open(datagram: Buffer, from: Address, maxBytes?: number): Opened | undefined {
    const opened = this.#auth.open(datagram, from, maxBytes);
    if ('message' in opened) return opened;
    if (opened.noSession) {
      const { request, by } = opened.noSession;
      this.#noSession(request, by, from, datagram.byteLength);
    }
    this.#drop(opened.drop, from, opened.detail);
    // Unauthenticated, a readable bad request is told; authenticated, only a checked one could be.
    const code = errorReplyFor[opened.drop as DropReason];
    if (!this.#auth.on && code !== undefined && opened.requestId !== undefined)
      this.send(from, encodeReply(opened.requestId, { t: 'err', code, message: opened.detail }));
    return undefined;
  }

  /** Tells the sender of `request`, under a session not held here, to sign again (see `EndpointAuth.noSession`). */
  #noSession(request: Request, by: string, from: Address, size: number): void {
    const proven = this.#auth.noSession(by, request, from);
    if (proven === undefined) return;
    const answer = this.#auth.seal(encodeReply(request.id, errorReply('NO_SESSION', 'no session')));
    if (proven || answer.byteLength <= size) this.send(from, answer);
    else this.stats.withheld++;
  }
}
