// The requests an endpoint sends and awaits: the table of those under way, each one's
// retransmissions on its timer (backoff, a total budget), the matching of a reply to its request
// (the address it went to, the signer asked; Karn's rule for the round trip), of a merged
// `acks` reply to each request it names (each checked as its own reply), and the settling
// of each: answered, timed out, aborted or closed. The endpoint seals, sizes and cuts a request
// into fragments before it comes here.
import type { DatagramMac } from '../crypto/signing.js';
import { UdpchatError } from '../protocol/errors.js';
import { PROTOCOL_VERSION } from '../protocol/constants.js';
import type { MessageOf, Reply } from '../protocol/messages.js';
import { formatAddress, sameAddress, type Address } from './address.js';
import type { SendKind } from './bundle.js';
import type { DatagramAuth } from './datagram-auth.js';

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

/** The counters the outgoing requests keep (the endpoint's stats). */
export interface OutgoingCounters {
  retried: number;
  timeouts: number;
  strayReplies: number;
}

/** What the outgoing requests need of the endpoint around them. */
export interface OutgoingContext {
  readonly counters: OutgoingCounters;
  /**
   * Whether authentication is on (a reply must then be signed by the request's `signer`), the
   * sealing of a retransmission under a session key, and the end of such a request.
   */
  readonly auth: Pick<DatagramAuth, 'on' | 'seal' | 'settled'>;
  /**
   * Sends one try of a request (counted as sent; nothing once the endpoint closed); `again`
   * for a retransmission, which never goes in a bundle (see transport/bundle.ts).
   */
  send(to: Address, datagram: Buffer, via: number | undefined, kind: SendKind): void;
}

/**
 * What a request under a session key needs to be sealed afresh for each retransmission: its
 * bytes before sealing, the key, and the numbers its tries were sent with so far (each try
 * names those before it: see `DatagramAuth.seal`).
 */
export interface Resealable {
  inner: Buffer;
  mac: DatagramMac;
  tries: number[];
}

interface Pending {
  to: Address;
  /** The latest try's bytes. */
  datagram: Buffer;
  /** The request before it was sealed and its tries' numbers, when each retransmission is sealed afresh (see `start`). */
  reseal: Resealable | undefined;
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

/** A request made this long after the one before it is taken as after a quiet spell (see `#rearm`). */
const REARM_AFTER_QUIET_MS = 1000;

/**
 * The requests under way, by id: each sent, resent on its timer until a reply comes or its
 * tries run out, and settled once (resolved, or rejected with ERR_TIMEOUT, the abort's reason,
 * an `err` reply's code, or ERR_CLOSED).
 */
export class OutgoingRequests {
  readonly #context: OutgoingContext;
  readonly #pending = new Map<string, Pending>();
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
  /** Set by `close`, when the endpoint closes. */
  #closed = false;

  constructor(context: OutgoingContext) {
    this.#context = context;
  }

  /**
   * Sends request `id`, already sealed as `datagram`, to `to`, and retransmits it until a reply
   * settles it (`resolve`; an `err` reply `reject`s with its code) or the tries run out
   * (ERR_TIMEOUT). An abort of `options.signal` rejects with the signal's own reason. Each
   * retransmission is the same datagram; or, given `reseal` (a request under a session key),
   * the request sealed afresh: it carries a number of its own in the session, since the
   * receiver's window refuses a number left far behind (see replay-windows.ts), and names the
   * numbers before it, which the receiver then takes too, so an earlier try held back on the
   * path is refused.
   */
  start(
    id: string,
    to: Address,
    datagram: Buffer,
    options: RequestOptions,
    resolve: (reply: Reply) => void,
    reject: (reason: unknown) => void,
    reseal?: Resealable,
  ): void {
    const now = nowMs();
    const pending: Pending = {
      to,
      datagram,
      reseal,
      options,
      triesLeft: Math.max(1, options.tries),
      firstSentAt: now,
      timer: undefined,
      resolve,
      reject,
    };
    if (options.signal) {
      // An abort rejects with the signal's own reason, as Node's APIs do.
      pending.onAbort = () => this.#settle(id, pending, () => reject(options.signal?.reason));
      options.signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    this.#pending.set(id, pending);
    this.#afterQuiet = now - this.#lastRequestAt >= REARM_AFTER_QUIET_MS;
    this.#lastRequestAt = now;
    this.#transmit(id, pending);
  }

  /** The session key a reply to request `re` may come under (`mac`, or `replyMac`), if it is `sid`'s. */
  replyMac(re: string, sid: string): DatagramMac | undefined {
    const options = this.#pending.get(re)?.options;
    if (options?.mac?.sid === sid) return options.mac;
    return options?.replyMac?.sid === sid ? options.replyMac : undefined;
  }

  /**
   * A reply came in from `from`, signed by `by` (or under the key of session `sid`): it settles
   * its request, or is counted stray. A merged `acks` settles each request it names as an `ack`
   * of its own would.
   */
  receive(reply: Reply, from: Address, by: string | undefined, sid?: string): void {
    if (reply.t === 'acks') return this.#receiveMerged(reply, from, by, sid);
    const pending = this.#pending.get(reply.re);
    if (!pending || !this.#answers(pending, from, by)) {
      this.#context.counters.strayReplies++;
      return;
    }
    this.#answered(reply, pending);
  }

  /**
   * Each request a merged ACK names; its first (`re`) the endpoint already checked against the
   * session key it came under, the others are checked here: a request made under one session,
   * or that set one up, takes an ACK under that session's key alone.
   */
  #receiveMerged(
    reply: MessageOf<'acks'>,
    from: Address,
    by: string | undefined,
    sid: string | undefined,
  ): void {
    for (const re of [reply.re, ...reply.more]) {
      const pending = this.#pending.get(re);
      const underItsKey =
        sid === undefined ||
        pending?.options.mac?.sid === sid ||
        pending?.options.replyMac?.sid === sid;
      if (!pending || !underItsKey || !this.#answers(pending, from, by)) {
        this.#context.counters.strayReplies++;
        continue;
      }
      this.#answered({ v: PROTOCOL_VERSION, t: 'ack', re }, pending);
    }
  }

  /**
   * A reply counts only from the address the request went to (anyone else is guessing ids)
   * and, with authentication on, only signed by the party it was asked of.
   */
  #answers(pending: Pending, from: Address, by: string | undefined): boolean {
    const wrongSigner =
      pending.options.signer !== undefined &&
      this.#context.auth.on &&
      by !== pending.options.signer;
    return sameAddress(pending.to, from) && !wrongSigner;
  }

  #answered(reply: Exclude<Reply, MessageOf<'acks'>>, pending: Pending): void {
    const { onRoundTrip } = pending.options;
    if (onRoundTrip && sendsMade(pending) === 1) onRoundTrip(nowMs() - pending.firstSentAt);
    this.#settle(
      reply.re,
      pending,
      () => {
        if (reply.t === 'err') pending.reject(UdpchatError.fromWire(reply.code, reply.message));
        else pending.resolve(reply);
      },
      true,
    );
  }

  /** Rejects every request under way with ERR_CLOSED; none is made after. */
  close(): void {
    this.#closed = true;
    for (const [id, pending] of this.#pending) {
      this.#settle(id, pending, () =>
        pending.reject(new UdpchatError('ERR_CLOSED', 'endpoint closed')),
      );
    }
    clearTimeout(this.#rearm);
  }

  #transmit(id: string, pending: Pending): void {
    const done = sendsMade(pending);
    pending.triesLeft--;
    if (done > 0 && pending.reseal) {
      const { inner, mac, tries } = pending.reseal;
      pending.datagram = this.#context.auth.seal(inner, mac, tries);
    }
    this.#context.send(
      pending.to,
      pending.datagram,
      pending.options.via,
      done > 0 ? 'again' : 'first',
    );
    const { timeoutMs, backoff = 1, totalMs } = pending.options;
    let wait = timeoutMs * Math.min(8, backoff ** done);
    if (pending.triesLeft === 0 && totalMs !== undefined)
      wait = Math.max(wait, pending.firstSentAt + totalMs - nowMs());
    pending.timer = setTimeout(() => {
      if (pending.triesLeft > 0) {
        this.#context.counters.retried++;
        this.#transmit(id, pending);
        return;
      }
      this.#context.counters.timeouts++;
      this.#settle(id, pending, () =>
        pending.reject(
          new UdpchatError('ERR_TIMEOUT', `no reply from ${formatAddress(pending.to)}`),
        ),
      );
    }, wait);
  }

  /** Settles `pending` once: `answered` when a reply came (see `DatagramAuth.settled`). */
  #settle(id: string, pending: Pending, finish: () => void, answered = false): void {
    if (this.#pending.get(id) !== pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    const { reseal } = pending;
    if (reseal) this.#context.auth.settled(reseal.mac, reseal.tries, answered);
    if (this.#pending.size === 0 && this.#afterQuiet && !this.#closed)
      (this.#rearm ??= setTimeout(() => undefined, 1).unref()).refresh();
    if (pending.onAbort) pending.options.signal?.removeEventListener('abort', pending.onAbort);
    finish();
  }
}
