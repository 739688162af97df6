// The sessions clients set up with this registry node: which key a request to a client goes
// under, and the fallback to signatures when a session may have been lost.
import type { Logger } from 'pino';
import type { Sessions } from '../crypto/sealing.js';
import type { DatagramMac } from '../crypto/signing.js';

/** Who must answer a request to a client, and the session key it goes under, if any. */
export interface Addressee {
  signer: string;
  mac?: DatagramMac;
}

/**
 * The sessions clients set up with this registry node (at registration, or by a `session`
 * request): what the node sends a client with one goes under its datagram key, and what the
 * client sends (its requests, its answers) comes under it too, instead of signatures. One
 * per nick; a session is dropped when the nick registers anew, registers with another node,
 * or leaves a push or probe unanswered (later ones are then signed: a client that lost the
 * key is not left unreachable; a request under a dropped session is answered `NO_SESSION`,
 * see request-keys.ts). Setting one up costs an HPKE set-up here.
 */
export class ClientSessions {
  readonly #sessions: Sessions;
  readonly #log: Logger;
  /** Per nick, the datagram key of its session. */
  readonly #keys = new Map<string, DatagramMac>();

  constructor(sessions: Sessions, log: Logger) {
    this.#sessions = sessions;
    this.#log = log;
  }

  has(nick: string): boolean {
    return this.#keys.has(nick);
  }

  /**
   * Takes the session `nick` (X25519 key `ek`) set up as `enc`, and resolves with its datagram
   * key; undefined when it could not be taken (its datagrams stay signed).
   */
  async take(nick: string, enc: string, ek: string): Promise<DatagramMac | undefined> {
    try {
      const mac = await this.#sessions.incomingDatagramKey(enc, ek);
      this.#keys.set(nick, mac);
      return mac;
    } catch (error) {
      this.#log.debug({ nick, err: error }, 'session not taken: its datagrams are signed');
      return undefined;
    }
  }

  /** The datagram key of `nick`'s session `sid`, if that is the one held here. */
  keyOf(nick: string, sid: string): Buffer | undefined {
    const mac = this.#keys.get(nick);
    return mac?.sid === sid ? mac.key : undefined;
  }

  forget(nick: string): void {
    this.#keys.delete(nick);
  }

  /** Who must answer a request to `nick`, under its session's key when it holds one here. */
  to(nick: string): Addressee {
    const mac = this.#keys.get(nick);
    return mac ? { signer: nick, mac } : { signer: nick };
  }
}
