import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { decode, encodeReply, encodeRequest, type DropReason } from '../protocol/codec.js';
import { MAX_MESSAGE_BYTES, SAFE_DATAGRAM_BYTES, WireError } from '../protocol/constants.js';
import { UdpchatError } from '../protocol/errors.js';
import { isReply, type MessageOf, type Reply, type ReplyBody, type Request, type RequestBody } from '../protocol/messages.js';
import { formatAddress, normalizeIp, sameAddress, type Address } from './address.js';
import { DedupWindow, type DedupWindowOptions } from './dedup.js';
import { Reassembly, splitDatagram, type ReassemblyOptions } from './fragments.js';

export interface RequestOptions {
  /** How long to wait for the reply to each try. */
  timeoutMs: number;
  /** How many times the request is sent in all before it fails with ERR_TIMEOUT. */
  tries: number;
  signal?: AbortSignal;
}

/** Answers a request; the reply is remembered so a retransmitted request gets it again. */
export type Respond = (body: ReplyBody) => void;
export type RequestHandler = (request: Request, from: Address, respond: Respond) => void | Promise<void>;

export interface EndpointOptions {
  type?: 'udp4' | 'udp6';
  logger?: Logger;
  dedup?: DedupWindowOptions;
  reassembly?: ReassemblyOptions;
}

export interface EndpointStats {
  sent: number;
  received: number;
  retried: number;
  timeouts: number;
  /** Retransmitted requests recognised and answered from the dedup window. */
  deduplicated: number;
  /** Replies that matched no request under way, or came from the wrong address. */
  strayReplies: number;
  dropped: Record<DropReason, number>;
  sendErrors: number;
  /** Requests sent in fragments, and fragments refused (inconsistent, too large, buffer full). */
  fragmented: number;
  fragmentsRefused: number;
}

interface Pending {
  to: Address;
  datagram: Buffer;
  options: RequestOptions;
  triesLeft: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  onAbort?: () => void;
}

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

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
    strayReplies: 0,
    dropped: { oversized: 0, encoding: 0, json: 0, version: 0, 'unknown-type': 0, schema: 0 },
    sendErrors: 0,
    fragmented: 0,
    fragmentsRefused: 0,
  };

  readonly #socket: dgram.Socket;
  readonly #log: Logger;
  readonly #pending = new Map<string, Pending>();
  /** Requests seen recently, keyed by source and id, with the reply once sent. */
  readonly #seen: DedupWindow<Buffer | null>;
  readonly #reassembly: Reassembly;
  readonly #idPrefix = randomBytes(6).toString('base64url');
  #nextId = 0;
  #handler: RequestHandler | undefined;
  #closed = false;
  #bound = false;

  constructor(options: EndpointOptions = {}) {
    super();
    this.#log = options.logger ?? pino({ level: 'silent' });
    this.#seen = new DedupWindow(options.dedup);
    this.#reassembly = new Reassembly(options.reassembly);
    this.#socket = dgram.createSocket({ type: options.type ?? 'udp4', reuseAddr: false });
    this.#socket.on('message', (datagram, rinfo) => this.#onDatagram(datagram, rinfo));
    this.#socket.on('error', (error) => {
      // A bind failure is the caller's to report (listen rejects); later errors are logged.
      if (this.#bound) this.#log.warn({ err: error }, 'socket error');
    });
  }

  /** Binds the socket; a port in use is reported as ERR_PORT_IN_USE. */
  listen(port: number, host?: string): Promise<Address> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        reject(
          error.code === 'EADDRINUSE'
            ? new UdpchatError('ERR_PORT_IN_USE', `port ${port} is already in use`, { cause: error })
            : error,
        );
      };
      this.#socket.once('error', onError);
      this.#socket.bind({ port, address: host, exclusive: true }, () => {
        this.#socket.off('error', onError);
        this.#bound = true;
        this.#enlargeBuffers();
        resolve(this.address());
      });
    });
  }

  /** Bursts (a table push to many, a flood) overflow the default buffer; the kernel caps the ask. */
  #enlargeBuffers(): void {
    try {
      this.#socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    } catch (error) {
      this.#log.debug({ err: error }, 'could not enlarge the receive buffer');
    }
  }

  address(): Address {
    const { address, port } = this.#socket.address();
    return { address, port };
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
  request(to: Address, body: RequestBody, options: RequestOptions, id = this.newId()): Promise<Reply> {
    if (this.#closed) return Promise.reject(new UdpchatError('ERR_CLOSED', 'endpoint closed'));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return new Promise<Reply>((resolve, reject) => {
      const datagram = encodeRequest(id, body);
      if (datagram.byteLength > MAX_MESSAGE_BYTES) {
        reject(new UdpchatError('ERR_DATAGRAM_TOO_LARGE', `${body.t} is ${datagram.byteLength} bytes, over ${MAX_MESSAGE_BYTES}`));
        return;
      }
      if (datagram.byteLength > SAFE_DATAGRAM_BYTES && body.t !== 'frag') {
        this.#requestInFragments(to, id, datagram, options).then(resolve, reject);
        return;
      }
      const pending: Pending = {
        to,
        datagram,
        options,
        triesLeft: Math.max(1, options.tries),
        timer: undefined,
        resolve,
        reject,
      };
      if (options.signal) {
        pending.onAbort = () => this.#settle(id, pending, () => reject(options.signal?.reason));
        options.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#pending.set(id, pending);
      this.#transmit(id, pending);
    });
  }

  /**
   * Every piece but the last goes at once, each acknowledged and retried on its own; the
   * last goes when they are all in, and its reply is the reply to the whole request.
   */
  async #requestInFragments(to: Address, id: string, datagram: Buffer, options: RequestOptions): Promise<Reply> {
    this.stats.fragmented++;
    const pieces = splitDatagram(datagram);
    const n = pieces.length;
    const fragment = (i: number): RequestBody => ({ t: 'frag', of: id, i, n, data: pieces[i]! });
    await Promise.all(pieces.slice(0, -1).map((_, i) => this.request(to, fragment(i), options)));
    return this.request(to, fragment(n - 1), options);
  }

  /** Sends a datagram with no reply expected. */
  send(to: Address, datagram: Buffer): void {
    if (this.#closed) return;
    this.stats.sent++;
    this.#socket.send(datagram, to.port, to.address, (error) => {
      if (error) {
        this.stats.sendErrors++;
        this.#log.debug({ err: error, to: formatAddress(to) }, 'send failed');
      }
    });
  }

  /** Idempotent: rejects every request under way with ERR_CLOSED and frees the port. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const [id, pending] of this.#pending) {
      this.#settle(id, pending, () => pending.reject(new UdpchatError('ERR_CLOSED', 'endpoint closed')));
    }
    this.#seen.clear();
    this.#reassembly.clear();
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #transmit(id: string, pending: Pending): void {
    pending.triesLeft--;
    this.send(pending.to, pending.datagram);
    pending.timer = setTimeout(() => {
      if (pending.triesLeft > 0) {
        this.stats.retried++;
        this.#transmit(id, pending);
        return;
      }
      this.stats.timeouts++;
      this.#settle(id, pending, () =>
        pending.reject(new UdpchatError('ERR_TIMEOUT', `no reply from ${formatAddress(pending.to)}`)),
      );
    }, pending.options.timeoutMs);
  }

  #settle(id: string, pending: Pending, finish: () => void): void {
    if (this.#pending.get(id) !== pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (pending.onAbort) pending.options.signal?.removeEventListener('abort', pending.onAbort);
    finish();
  }

  #onDatagram(datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    this.stats.received++;
    const from: Address = { address: normalizeIp(rinfo.address), port: rinfo.port };
    const decoded = decode(datagram);
    if (!decoded.ok) {
      this.stats.dropped[decoded.reason]++;
      this.#log.debug({ from: formatAddress(from), reason: decoded.reason, detail: decoded.detail }, 'dropped datagram');
      const code = errorReplyFor[decoded.reason];
      if (code !== undefined && decoded.requestId !== undefined) {
        this.send(from, encodeReply(decoded.requestId, { t: 'err', code, message: decoded.detail }));
      }
      return;
    }
    const message = decoded.message;
    if (isReply(message)) {
      this.#onReply(message, from);
      return;
    }
    this.#onRequest(message, from);
  }

  #onReply(reply: Reply, from: Address): void {
    const pending = this.#pending.get(reply.re);
    // A reply counts only from the address the request went to: anyone else is guessing ids.
    if (!pending || !sameAddress(pending.to, from)) {
      this.stats.strayReplies++;
      return;
    }
    this.#settle(reply.re, pending, () => {
      if (reply.t === 'err') pending.reject(UdpchatError.fromWire(reply.code, reply.message));
      else pending.resolve(reply);
    });
  }

  #onRequest(request: Request, from: Address): void {
    const key = `${from.address}|${from.port}|${request.id}`;
    if (!this.#seen.add(key, null)) {
      this.stats.deduplicated++;
      const earlierReply = this.#seen.get(key);
      if (earlierReply) this.send(from, earlierReply);
      return;
    }
    let replied = false;
    const respond: Respond = (body) => {
      if (replied || this.#closed) return;
      replied = true;
      const datagram = encodeReply(request.id, body);
      this.#seen.update(key, datagram);
      this.send(from, datagram);
    };
    if (request.t === 'frag') {
      this.#onFragment(request, from, respond);
      return;
    }
    this.#dispatch(request, from, respond);
  }

  #onFragment(fragment: MessageOf<'frag'>, from: Address, respond: Respond): void {
    const result = this.#reassembly.add(`${from.address}|${from.port}|${fragment.of}`, fragment.i, fragment.n, fragment.data);
    if (result.status === 'incomplete' || result.status === 'duplicate') return respond({ t: 'ack' });
    if (result.status === 'refused') {
      this.stats.fragmentsRefused++;
      this.#log.debug({ from: formatAddress(from), reason: result.reason }, 'fragment refused');
      return respond({ t: 'err', code: WireError.BAD_REQUEST, message: `fragment refused: ${result.reason}` });
    }
    const decoded = decode(result.datagram, MAX_MESSAGE_BYTES);
    if (!decoded.ok || isReply(decoded.message) || decoded.message.t === 'frag' || decoded.message.id !== fragment.of) {
      this.stats.fragmentsRefused++;
      return respond({ t: 'err', code: WireError.BAD_REQUEST, message: 'reassembled request is not valid' });
    }
    // The reply to the whole request answers (and is cached for) its last fragment.
    this.#dispatch(decoded.message, from, respond);
  }

  #dispatch(request: Request, from: Address, respond: Respond): void {
    if (!this.#handler) {
      respond({ t: 'err', code: WireError.UNKNOWN_TYPE, message: `no handler for ${request.t}` });
      return;
    }
    try {
      const result = this.#handler(request, from, respond);
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
