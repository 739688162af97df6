// The client's keys and everything done with them: its identity, end-to-end sessions with peers,
// sessions with the registry, and which key checks each incoming datagram.
import type { KeyObject } from 'node:crypto';
import { WindowBudget } from '../util/rate-limiter.js';
import { cachedSigningKey, type Identity } from '../crypto/identity.js';
import { messageAad, passwordAad, seal, Sessions, type Sealed } from '../crypto/sealing.js';
import { REGISTRY_NAME, type DatagramMac } from '../crypto/signing.js';
import { isReply, type Message } from '../protocol/messages.js';
import { type TableEntry } from '../protocol/fields.js';
import type { DeliveryKeys } from './delivery.js';
import { setLatest } from '../util/latest.js';
import { decodeUtf8, encodeUtf8 } from '../util/utf8.js';

/** Sessions with the registry whose keys a client still takes. */
export const REGISTRY_SESSIONS_KEPT = 4;

/** What the keyring needs of the client around it. */
export interface KeyringContext {
  readonly nick: string;
  /**
   * Key agreements (a new sealed session, a one-shot seal) one peer may make this client do
   * per `peerSessionWindowMs`; past it, its messages are not opened.
   */
  readonly peerSessions: number;
  readonly peerSessionWindowMs: number;
  /** The table's entry for `nick`, if any: the keys a peer's datagrams and messages are checked with. */
  peer(nick: string): TableEntry | undefined;
  /** The registry's signing key once its hello checked out. */
  serverKey(): string | undefined;
}

/**
 * This client's keys and what is done with them: its identity, the end-to-end sessions with
 * its peers (seal, open, the datagram keys a chat may go under), the sessions it set up with
 * the registry, and the transport's callbacks that say which key checks a datagram
 * (`keyFor`, `macKeyFor`). Who holds which key comes from the context (the table, the pin).
 */
export class Keyring implements DeliveryKeys {
  readonly identity: Identity;
  readonly #context: KeyringContext;
  /** End-to-end sealing, one HPKE setup per peer and session rather than per message. */
  readonly #sessions: Sessions;
  /**
   * The datagram keys of the sessions this client set up with the registry (see
   * `register.session`), by session id: the last few, since a node it registered with
   * earlier may still use an older one.
   */
  readonly #registryKeys = new Map<string, Buffer>();
  /** Key agreements per peer (see `peerSessions`). */
  readonly #peerSessions: WindowBudget;
  #sessionBudgetRefusals = 0;

  constructor(identity: Identity, context: KeyringContext) {
    this.identity = identity;
    this.#context = context;
    this.#sessions = new Sessions(identity.agreement);
    this.#peerSessions = new WindowBudget({
      points: context.peerSessions,
      windowMs: context.peerSessionWindowMs,
    });
  }

  /** Messages not opened because their peer was past its key-agreement budget. */
  get sessionBudgetRefusals(): number {
    return this.#sessionBudgetRefusals;
  }

  seal(peer: TableEntry, mid: string, text: string): Promise<Sealed> {
    return this.#sessions.seal(
      encodeUtf8(text),
      peer.ek,
      messageAad(this.#context.nick, peer.nick, mid),
    );
  }

  macFor(ek: string, sealed: Sealed): DatagramMac | undefined {
    return this.#sessions.macFor(ek, sealed);
  }

  confirm(ek: string, sealed: Sealed, holds: boolean): void {
    this.#sessions.confirm(ek, sealed, holds);
  }

  /**
   * The text of a message sealed to this client by `from` (whose key the table gives):
   * undefined when it does not open, null when the table does not know `from` yet or `from`
   * is past its key-agreement budget.
   */
  async open(from: string, mid: string, sealed: Sealed): Promise<string | undefined | null> {
    const sender = this.#context.peer(from);
    if (!sender) return null;
    // A peer making this client agree on keys again and again (fresh sessions, one-shot
    // seals) is held to its budget: past it, nothing more of it is opened for a while.
    if (!this.#sessions.opensCheaply(sealed, sender.ek) && !this.#peerSessions.spend(from)) {
      this.#sessionBudgetRefusals++;
      return null;
    }
    try {
      const bytes = await this.#sessions.open(
        sealed,
        messageAad(from, this.#context.nick, mid),
        sender.ek,
      );
      return decodeUtf8(bytes);
    } catch {
      return undefined;
    }
  }

  /** The account password sealed to the registry's key `ek`, bound to this nick, its keys and `account`. */
  sealPassword(password: string, ek: string, account: string): Promise<Sealed> {
    const { sk, ek: own } = this.identity.public;
    return seal(encodeUtf8(password), ek, passwordAad(this.#context.nick, sk, own, account));
  }

  /** Whether a session with the holder of `ek` is made already (so using it costs nothing more). */
  hasSession(ek: string): boolean {
    return this.#sessions.has(ek);
  }

  /** The session with the registry's key `ek`, its datagram key taken among the ones the registry may use. */
  async registrySession(ek: string): Promise<{ enc: string; mac: DatagramMac }> {
    const session = await this.#sessions.datagramSession(ek);
    setLatest(this.#registryKeys, session.mac.sid, session.mac.key, REGISTRY_SESSIONS_KEPT);
    return session;
  }

  /**
   * Whose key checks a datagram: the registry's (its hello is self-signed: the pin decides),
   * or the one the registry's table binds to the peer's nick, who may speak only for itself.
   */
  keyFor(by: string, message: Message): KeyObject | undefined {
    if (by === REGISTRY_NAME) {
      // A hello is self-signed: it proves the registry holds the key it names, nothing more.
      // The server link then holds that key against the pin (a registry set up anew, or
      // someone posing as it, is refused, and the user told so) or pins it (first use).
      if (message.t === 'server_hello') return cachedSigningKey(message.sk);
      const known = this.#context.serverKey();
      return known === undefined ? undefined : cachedSigningKey(known);
    }
    const entry = this.#context.peer(by);
    if (!entry) return undefined;
    if (!isReply(message) && 'from' in message && message.from !== by) return undefined;
    return cachedSigningKey(entry.sk);
  }

  /**
   * A peer's chats (and their fragments) may come authenticated under the datagram key of
   * a session it sealed an earlier message in, instead of signed; the registry's requests
   * under the key of the session this client set up with it; nothing else may.
   */
  macKeyFor(by: string, sid: string, message: Message): Buffer | undefined {
    // The registry's requests, under the session this client set up with it at registration.
    if (by === REGISTRY_NAME) return this.#registryKeys.get(sid);
    if (message.t !== 'chat' && message.t !== 'frag') return undefined;
    if (message.t === 'chat' && message.from !== by) return undefined;
    const entry = this.#context.peer(by);
    return entry ? this.#sessions.incomingMac(sid, entry.ek) : undefined;
  }
}
