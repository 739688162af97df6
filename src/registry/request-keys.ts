// Which key checks each datagram that reaches the registry: a client's signing key, or the
// datagram key of the session it set up here; and whom a request under a session this node
// does not hold is told so.
import type { KeyObject } from 'node:crypto';
import { cachedSigningKey, signingKeyFrom } from '../crypto/identity.js';
import type { ClientRecord } from '../store/store.js';
import { isReply, type Message } from '../protocol/messages.js';
import { sameAddress, type Address } from '../transport/address.js';
import type { EndpointAuth } from '../transport/datagram-auth.js';
import { addressOf } from './client-table.js';
import { setLatest } from '../util/latest.js';

/** What the keys are looked up in: the table, the cookie check, the sessions clients set up here. */
export interface RequestKeysContext {
  record(nick: string): ClientRecord | undefined;
  /** Whether `cookie` proves that `from` receives (see address-cookies.ts). */
  addressValidated(from: Address, cookie: string | undefined): boolean;
  /** The datagram key of `nick`'s session `sid` here, if it holds that one. */
  sessionKey(nick: string, sid: string): Buffer | undefined;
}

/** Key objects kept for keys not bound yet (see `RequestKeys.#claimed`). */
const CLAIMED_KEPT = 64;

/** The nick a request speaks for (`nick`, or `from`), if it names one. */
export function claimedNick(message: Message): string | undefined {
  if ('nick' in message) return message.nick;
  return 'from' in message && typeof message.from === 'string' ? message.from : undefined;
}

/**
 * The registry's side of the transport's checks (see EndpointAuth): every request is signed by
 * the nick it speaks for, or, once that nick set up a session here, under the session's
 * datagram key (an HMAC: no signature to verify). A registration is always signed with the key
 * it brings: it binds the nick to it. A hello, and a heartbeat from a nick the table does not
 * hold, are not checked at all (see `unchecked`).
 */
export class RequestKeys implements Omit<EndpointAuth, 'name' | 'privateKey' | 'windowMs'> {
  readonly #context: RequestKeysContext;
  /**
   * Key objects made for keys a datagram brought before any nick was bound to them (a new
   * registration), the latest CLAIMED_KEPT: once the registration binds one, the nick's next
   * signed request finds it here and it joins the cache, rather than being made again (about
   * 20 µs). Bounded: a flood of fresh keys only turns these few over.
   */
  readonly #claimed = new Map<string, KeyObject>();

  constructor(context: RequestKeysContext) {
    this.#context = context;
  }

  /**
   * The key a datagram signed by `by` must verify with. A registration brings its own
   * (possession is what is proved; binding is checked by the registration); anything else
   * needs the key the nick is bound to, and must speak for that nick only.
   */
  keyFor(by: string, message: Message, from: Address): KeyObject | undefined {
    if (!isReply(message)) {
      const claimed = claimedNick(message);
      if (message.t === 'hello') return undefined; // see unchecked: never asked
      if (message.t === 'register') {
        if (claimed !== by) return undefined;
        // The cookie (an HMAC) before the signature (the costly check): a registration from an
        // address that has not shown it receives is dropped unanswered, unchecked.
        return this.#context.addressValidated(from, message.cookie)
          ? this.#claimedKey(by, message.sk)
          : undefined;
      }
      // Pieces of a request only from where their nick is registered: a user cannot spread a
      // flood of pieces over many addresses (each its own rate budget) and have each checked.
      if (message.t === 'frag') {
        const record = this.#context.record(by);
        return record && sameAddress(addressOf(record), from)
          ? this.#boundKey(record.sk)
          : undefined;
      }
      if (claimed !== undefined && message.t !== 'probe' && claimed !== by) return undefined;
    }
    const record = this.#context.record(by);
    return record ? this.#boundKey(record.sk) : undefined;
  }

  /**
   * A hello is answered whoever sent it: its answer (a cookie for the address it came from, and
   * the registry's public keys) is no larger than it and proves nothing about anyone, so its
   * signature would prove nothing worth an Ed25519 verification (the costliest step of a
   * registration, and what a flood of hellos with fresh keys would make the registry do). So
   * is a signed heartbeat from a nick the table does not hold (say, this node lost its store):
   * its answer, `NOT_REGISTERED`, tells its sender to register again, which proves its key
   * then. (One under a session key is told `NO_SESSION` first, see datagram-auth.ts.)
   */
  unchecked(message: Message): boolean {
    return (
      message.t === 'hello' || (message.t === 'heartbeat' && !this.#context.record(message.nick))
    );
  }

  /**
   * The key of `by`'s session `sid` for a request under it: one that speaks for `by` alone,
   * and is not a registration (signed, always) or a hello.
   */
  macKeyFor(by: string, sid: string, message: Message): Buffer | undefined {
    if (isReply(message) || message.t === 'register' || message.t === 'hello') return undefined;
    const claimed = claimedNick(message);
    if (claimed !== undefined && claimed !== by) return undefined;
    return this.#context.sessionKey(by, sid);
  }

  /**
   * A request under a session this node does not hold (it forgot it, restarted, or the client
   * set it up with another node) is told `NO_SESSION`, so the client signs again: whatever the
   * size where its nick is registered (an address that has shown it receives), elsewhere only
   * in no more bytes than the request (say, a registry that lost its store).
   */
  noSession(by: string, _message: Message, from: Address): boolean {
    const record = this.#context.record(by);
    return record !== undefined && sameAddress(addressOf(record), from);
  }

  /**
   * A key a datagram brings for itself. Only keys bound to a nick go into the cache; one bound
   * to none is kept among the latest CLAIMED_KEPT (see `#claimed`), so a flood of registrations
   * with fresh keys (and bad signatures) makes a key object each, and keeps few.
   */
  #claimedKey(nick: string, sk: string): KeyObject | undefined {
    if (this.#context.record(nick)?.sk === sk) return this.#boundKey(sk);
    const key = signingKeyFrom(sk);
    if (key === undefined) return undefined;
    setLatest(this.#claimed, sk, key, CLAIMED_KEPT);
    return key;
  }

  /** The key object of `sk`, bound to a nick: from the cache, or the one its registration made. */
  #boundKey(sk: string): KeyObject | undefined {
    const made = this.#claimed.get(sk);
    this.#claimed.delete(sk);
    return cachedSigningKey(sk, made);
  }
}
