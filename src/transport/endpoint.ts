// One endpoint and every byte that crosses its sockets: request/reply matching, timeouts and
// retries, signatures (through datagram-auth.ts), dedup and fragments. The sockets themselves,
// and which one a datagram leaves from, are sockets.ts's. Nothing above it sees a malformed or
// repeated datagram.
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
  type MessageOf,
  type Reply,
  type ReplyBody,
  type Request,
  type RequestBody,
} from '../protocol/messages.js';
import { formatAddress, normalizeIp, sameAddress, type Address } from './address.js';
import { ownBytes } from '../util/own-bytes.js';
import { eachAtMost } from '../util/at-most.js';
import { DedupWindow, type DedupWindowOptions } from './dedup.js';
import {
  DatagramAuth,
  type AuthDropReason,
  type EndpointAuth,
  type Opened,
} from './datagram-auth.js';
import { Reassembly, splitDatagram, type ReassemblyOptions } from './fragments.js';
import { Sockets } from './sockets.js';
import { SILENT_LOG } from '../util/silent-log.js';

export interface RequestOptions {
  /** How long to wait for the reply to each try. */
  timeoutMs: number;
  /** How many times the request is sent in all before it fails with ERR_TIMEOUT. */
  tries: number;
  /**
   * Each retry waits this many times longer than the one before (at most 8 times
   * `timeoutMs`); 1, the default, waits the same each time. For pushes to many clients, so
   * a loaded receiver is not met with ever more copies.
   */
  backoff?: number;
  /**
   * The last try waits until this long after the first was sent (when that is longer than
   * its own wait): the request fails then, as a budget promised, not before.
   */
  totalMs?: number;
  /**
   * Called with the round trip (ms) when the reply answers the only send made; not after a
   * resend, whose reply could answer any copy (Karn's rule). See round-trips.ts.
   */
  onRoundTrip?: (ms: number) => void;
  signal?: AbortSignal;
  /** With authentication on: the name the reply must be signed by (else any known signer). */
  signer?: string;
  /**
   * With authentication on: authenticate this request with a session key both ends hold
   * instead of a signature; its reply must come back under the same key.
   */
  mac?: DatagramMac;
  /**
   * With authentication on: a session this very request sets up (it goes signed); its reply
   * may come under this key instead of signed.
   */
  replyMac?: DatagramMac;
  /** The port of another socket of this endpoint (see `openSocket`) to send from, not the main one. */
  via?: number;
}

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
 * one; the reply leaves from the socket the request came in on.
 */
export type RequestHandler = (
  request: Request,
  from: Address,
  respond: Respond,
  by: string | undefined,
  size: number,
  via: number | undefined,
) => void | Promise<void>;

export interface EndpointOptions {
  type?: 'udp4' | 'udp6';
  logger?: Logger;
  /** The window of requests seen, with their replies kept for retransmissions (time and count). */
  dedup?: Omit<DedupWindowOptions, 'weigh' | 'maxWeight'>;
  /** The bytes of the replies kept in that window, at most (DEFAULT_REPLY_CACHE_BYTES); the oldest go first. */
  replyCacheBytes?: number;
  reassembly?: ReassemblyOptions;
  /** Signed datagrams remembered for the replay check (200,000 by default); a full cache refuses new ones. */
  replayCacheEntries?: number;
  auth?: EndpointAuth;
  /**
   * Asked first for every datagram, before any decoding or signature check: false (or a
   * promise of false) drops it as rate-limited. The registry limits each source address.
   */
  admit?: (from: Address) => boolean | Promise<boolean>;
}

export interface EndpointStats {
  sent: number;
  received: number;
  retried: number;
  timeouts: number;
  /** Retransmitted requests recognised and answered from the dedup window. */
  deduplicated: number;
  /** Replies not sent: larger than their request allowed (see `Respond`). */
  withheld: number;
  /** Replies that matched no request under way, or came from the wrong address. */
  strayReplies: number;
  dropped: Record<DropReason | AuthDropReason, number>;
  sendErrors: number;
  /** Requests sent in fragments, and fragments refused (inconsistent, too large, buffer full). */
  fragmented: number;
  fragmentsRefused: number;
  /** Datagrams taken as authenticated under a session key rather than a signature. */
  sessionAuthenticated: number;
  /** Signatures checked (whatever the outcome): the costly check a session key saves. */
  signaturesChecked: number;
  /** Requests taken without a check, as `EndpointAuth.unchecked` says (the registry's hellos). */
  unchecked: number;
}

interface Pending {
  to: Address;
  datagram: Buffer;
  options: RequestOptions;
  triesLeft: number;
  /** When the first try was sent (ms, the monotonic clock of `nowMs`). */
  firstSentAt: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  onAbort?: () => void;
}

/** How many times a pending request has been sent so far. */
const sendsMade = (pending: Pending): number =>
  Math.max(1, pending.options.tries) - pending.triesLeft;

/** A monotonic clock in milliseconds (fractions included). */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Pieces of one fragmented request on their way at once. */
const FRAGMENTS_IN_FLIGHT = 16;
/** A request made this long after the one before it is taken as after a quiet spell (see `#rearm`). */
const REARM_AFTER_QUIET_MS = 1000;

const errorReplyFor: Partial<Record<DropReason, number>> = {
  version: WireError.UNSUPPORTED_VERSION,
  'unknown-type': WireError.UNKNOWN_TYPE,
  schema: WireError.BAD_REQUEST,
};

/**
 * One UDP socket with request/reply matching, per-request timeouts and retries, and a
 * receiver-side dedup window. Owns every byte that crosses the socket: nothing above it
 * sees a malformed datagram or a retransmitted request.
 */
export class Endpoint extends EventEmitter {
  readonly stats: EndpointStats = {
    sent: 0,
    received: 0,
    retried: 0,
    timeouts: 0,
    deduplicated: 0,
    withheld: 0,
    strayReplies: 0,
    dropped: {
      oversized: 0,
      encoding: 0,
      json: 0,
      version: 0,
      'unknown-type': 0,
      schema: 0,
      unsigned: 0,
      'unknown-signer': 0,
      'bad-signature': 0,
      stale: 0,
      replayed: 0,
      'rate-limited': 0,
    },
    sendErrors: 0,
    fragmented: 0,
    fragmentsRefused: 0,
    sessionAuthenticated: 0,
    signaturesChecked: 0,
    unchecked: 0,
  };

  /** Fragmented requests being put together (bounded: see Reassembly). */
  get reassembling(): number {
    return this.#reassembly.pending;
  }

  /** Fragmented requests given up on: their pieces did not all come in time. */
  get reassembliesExpired(): number {
    return this.#reassembly.expired;
  }

  /** The main socket, the others beside it, and the routes between them. */
  readonly #sockets: Sockets;
  readonly #log: Logger;
  readonly #pending = new Map<string, Pending>();
  /** Requests seen recently, keyed by source and id, with the reply once sent. */
  readonly #seen: DedupWindow<Buffer | null>;
  readonly #reassembly: Reassembly;
  /** The checks of what comes in (who signed it, when, not seen before) and the signing of what leaves. */
  readonly #auth: DatagramAuth;
  readonly #admit: EndpointOptions['admit'];
  readonly #idPrefix = randomBytes(6).toString('base64url');
  #nextId = 0;
  /**
   * Node leaves the OS timer armed for a cleared timeout until the time it was due, so a request
   * answered at once still woke the process when its timeout would have fired (an idle client
   * woke three times per heartbeat, not two). When a request made after a quiet spell (see
   * REARM_AFTER_QUIET_MS) settles and nothing else is pending, this timer, due 1 ms later while
   * the process is awake anyway, makes Node arm the OS timer for the next live timer. In a busy
   * spell it is not worth its own wake-up per request.
   */
  #rearm: NodeJS.Timeout | undefined;
  /**
   * When the latest request was made (milliseconds of the monotonic clock: `process.hrtime`, not
   * `performance`, whose first use loads node:perf_hooks at start-up), and whether a quiet spell
   * came before it.
   */
  #lastRequestAt = -Infinity;
  #afterQuiet = false;
  #handler: RequestHandler | undefined;
  #closed = false;

  constructor(options: EndpointOptions = {}) {
    super();
    this.#log = options.logger ?? SILENT_LOG;
    this.#seen = new DedupWindow<Buffer | null>({
      ...options.dedup,
      maxWeight: options.replyCacheBytes ?? DEFAULT_REPLY_CACHE_BYTES,
      weigh: (reply) => reply?.byteLength ?? 0,
    });
    this.#reassembly = new Reassembly(options.reassembly);
    this.#auth = new DatagramAuth(options.auth, {
      ...(options.replayCacheEntries !== undefined
        ? { replayCacheEntries: options.replayCacheEntries }
        : {}),
      counters: this.stats,
      replyMac: (re, sid) => this.#replyMac(re, sid),
    });
    this.#admit = options.admit;
    this.#sockets = new Sockets(
      options.type ?? 'udp4',
      {
        onDatagram: (datagram, rinfo, via) => this.#onDatagram(datagram, rinfo, via),
        afterSend: this.#afterSend,
      },
      this.#log,
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
    this.#handler = handler;
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
      const datagram = this.#auth.seal(encodeRequest(id, body), options.mac);
      if (datagram.byteLength > MAX_MESSAGE_BYTES) {
        reject(
          new UdpchatError(
            'ERR_DATAGRAM_TOO_LARGE',
            `${body.t} is ${datagram.byteLength} bytes, over ${MAX_MESSAGE_BYTES}`,
          ),
        );
        return;
      }
      if (datagram.byteLength > SAFE_DATAGRAM_BYTES && body.t !== 'frag') {
        this.#requestInFragments(to, id, datagram, options).then(resolve, reject);
        return;
      }
      const now = nowMs();
      const pending: Pending = {
        to,
        datagram,
        options,
        triesLeft: Math.max(1, options.tries),
        firstSentAt: now,
        timer: undefined,
        resolve,
        reject,
      };
      if (options.signal) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as above
        pending.onAbort = () => this.#settle(id, pending, () => reject(options.signal?.reason));
        options.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#pending.set(id, pending);
      this.#afterQuiet = now - this.#lastRequestAt >= REARM_AFTER_QUIET_MS;
      this.#lastRequestAt = now;
      this.#transmit(id, pending);
    });
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

  /** Sends a datagram with no reply expected. */
  send(to: Address, datagram: Buffer, via?: number): void {
    if (this.#closed) return;
    this.stats.sent++;
    this.#sockets.send(to, datagram, via);
  }

  /** A reply leaves from the socket its request came in on (`via`; undefined: the main one), whatever the routes say. */
  #answer(to: Address, datagram: Buffer, via: number | undefined): void {
    if (this.#closed) return;
    this.stats.sent++;
    this.#sockets.sendFrom(to, datagram, via);
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
    for (const [id, pending] of this.#pending) {
      this.#settle(id, pending, () =>
        pending.reject(new UdpchatError('ERR_CLOSED', 'endpoint closed')),
      );
    }
    clearTimeout(this.#rearm);
    this.#seen.clear();
    this.#reassembly.clear();
    return this.#sockets.closeAll();
  }

  #transmit(id: string, pending: Pending): void {
    const done = sendsMade(pending);
    pending.triesLeft--;
    this.send(pending.to, pending.datagram, pending.options.via);
    const { timeoutMs, backoff = 1, totalMs } = pending.options;
    let wait = timeoutMs * Math.min(8, backoff ** done);
    if (pending.triesLeft === 0 && totalMs !== undefined)
      wait = Math.max(wait, pending.firstSentAt + totalMs - nowMs());
    pending.timer = setTimeout(() => {
      if (pending.triesLeft > 0) {
        this.stats.retried++;
        this.#transmit(id, pending);
        return;
      }
      this.stats.timeouts++;
      this.#settle(id, pending, () =>
        pending.reject(
          new UdpchatError('ERR_TIMEOUT', `no reply from ${formatAddress(pending.to)}`),
        ),
      );
    }, wait);
  }

  #settle(id: string, pending: Pending, finish: () => void): void {
    if (this.#pending.get(id) !== pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (this.#pending.size === 0 && this.#afterQuiet && !this.#closed)
      (this.#rearm ??= setTimeout(() => undefined, 1).unref()).refresh();
    if (pending.onAbort) pending.options.signal?.removeEventListener('abort', pending.onAbort);
    finish();
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
    if (isReply(opened.message)) this.#onReply(opened.message, from, opened.by);
    else this.#onRequest(opened.message, from, opened, datagram.byteLength, via);
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

  /** The session key a reply to request `re` may come under (`mac`, or `replyMac`), if it is `sid`'s. */
  #replyMac(re: string, sid: string): DatagramMac | undefined {
    const options = this.#pending.get(re)?.options;
    return [options?.mac, options?.replyMac].find((mac) => mac?.sid === sid);
  }

  #onReply(reply: Reply, from: Address, by: string | undefined): void {
    const pending = this.#pending.get(reply.re);
    // A reply counts only from the address the request went to (anyone else is guessing
    // ids) and, with authentication on, only signed by the party it was asked of.
    const wrongSigner =
      pending?.options.signer !== undefined && this.#auth.on && by !== pending.options.signer;
    if (!pending || !sameAddress(pending.to, from) || wrongSigner) {
      this.stats.strayReplies++;
      return;
    }
    const { onRoundTrip } = pending.options;
    if (onRoundTrip && sendsMade(pending) === 1) onRoundTrip(nowMs() - pending.firstSentAt);
    this.#settle(reply.re, pending, () => {
      if (reply.t === 'err') pending.reject(UdpchatError.fromWire(reply.code, reply.message));
      else pending.resolve(reply);
    });
  }

  #onRequest(
    request: Request,
    from: Address,
    opened: Opened,
    size: number,
    via: number | undefined,
  ): void {
    // With authentication on, only an unchecked request has no signer. It is answered afresh
    // each time it comes: a flood of them would otherwise push the replies kept for checked
    // requests out of the cache.
    if (this.#auth.on && opened.by === undefined) {
      this.#dispatch(request, from, this.#responder(request.id, from, via), undefined, size, via);
      return;
    }
    const key = `${from.address}|${from.port}|${request.id}`;
    const earlier = this.#seen.get(key); // null: seen, not answered yet
    if (earlier !== undefined) {
      // The same request again from the same place: a retransmission, answered as before.
      this.stats.deduplicated++;
      if (earlier) this.#answer(from, earlier, via);
      return;
    }
    // The same signed datagram from anywhere else: a replay.
    const replay =
      opened.replayKey === undefined ? 'added' : this.#auth.admitReplay(opened.replayKey);
    if (replay !== 'added') {
      this.#drop(replay === 'seen' ? 'replayed' : 'rate-limited', from, opened.by ?? '');
      return;
    }
    this.#seen.add(key, null);
    const respond = this.#responder(request.id, from, via, opened.mac, key);
    if (request.t === 'frag') {
      this.#onFragment(request, from, respond, opened.by, size, via);
      return;
    }
    this.#dispatch(request, from, respond, opened.by, size, via);
  }

  /**
   * The `respond` of request `id`: its one answer signed (or under `mac`), withheld if over
   * `atMost`, kept in the reply cache under `seen` if given, and sent back the way the request
   * came.
   */
  #responder(
    id: string,
    from: Address,
    via: number | undefined,
    mac?: DatagramMac,
    seen?: string,
  ): Respond {
    let replied = false;
    return (body, options = {}) => {
      if (replied || this.#closed) return;
      replied = true;
      const datagram = this.#auth.seal(encodeReply(id, body), options.mac ?? mac);
      if (options.atMost !== undefined && datagram.byteLength > options.atMost) {
        this.stats.withheld++;
        return;
      }
      if (seen !== undefined) this.#seen.update(seen, ownBytes(datagram)); // kept for a while: see ownBytes
      this.#answer(from, datagram, via);
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
      this.stats.fragmentsRefused++;
      this.#log.debug({ from: formatAddress(from), reason: result.reason }, 'fragment refused');
      return respond({
        t: 'err',
        code: WireError.BAD_REQUEST,
        message: `fragment refused: ${result.reason}`,
      });
    }
    // The whole request was signed before it was cut: it is checked again as a whole.
    const whole = this.#open(result.datagram, from, MAX_MESSAGE_BYTES);
    const message = whole?.message;
    const valid =
      message &&
      !isReply(message) &&
      message.t !== 'frag' &&
      message.id === fragment.of &&
      whole.by === by;
    if (
      !valid ||
      (whole.replayKey !== undefined && this.#auth.admitReplay(whole.replayKey) !== 'added')
    ) {
      this.stats.fragmentsRefused++;
      return respond({
        t: 'err',
        code: WireError.BAD_REQUEST,
        message: 'reassembled request is not valid',
      });
    }
    // The reply to the whole request answers (and is cached for) its last fragment.
    this.#dispatch(message, from, respond, by, size, via);
  }

  #dispatch(
    request: Request,
    from: Address,
    respond: Respond,
    by: string | undefined,
    size: number,
    via: number | undefined,
  ): void {
    if (!this.#handler) {
      respond({ t: 'err', code: WireError.UNKNOWN_TYPE, message: `no handler for ${request.t}` });
      return;
    }
    try {
      const result = this.#handler(request, from, respond, by, size, via);
      if (result) result.catch((error: unknown) => this.#handlerFailed(error, request, respond));
    } catch (error) {
      this.#handlerFailed(error, request, respond);
    }
  }

  #handlerFailed(error: unknown, request: Request, respond: Respond): void {
    this.#log.error({ err: error, type: request.t }, 'request handler failed');
    respond({ t: 'err', code: WireError.INTERNAL, message: 'internal error' });
  }
}
