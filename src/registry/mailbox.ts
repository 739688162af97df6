// The mailbox: messages for users who could not take them directly, relayed at once or saved in the
// store, and delivered oldest first in batches, each deleted only once acknowledged.
import type { Logger } from 'pino';
import { MAX_DELIVERY_BATCH } from '../protocol/constants.js';
import type { MessageOf } from '../protocol/messages.js';
import type { SavedMessage } from '../protocol/fields.js';
import { sameAddress, type Address } from '../transport/address.js';
import { spreadTries, type RetryBudget } from '../transport/retry.js';
import type { Store } from '../store/store.js';
import { jsonBytes, prefixWithin } from '../util/fit.js';

/** A delivery of saved or relayed messages as it goes out, without its `v` and `id`. */
export type DeliverBody = Omit<MessageOf<'deliver'>, 'v' | 'id'>;

/** What the mailbox needs of the registry around it. */
export interface MailboxContext {
  store: Pick<Store, 'pendingMessages' | 'deleteMessages' | 'countMessages' | 'saveMessage'>;
  log: Logger;
  /** Saved messages: per try, and tries; a relay spreads `deliverTimeoutMs` over `relayTries`. */
  readonly deliverTimeoutMs: number;
  readonly deliverTries: number;
  readonly relayTries: number;
  /** Saved messages sent in one datagram are held to about this many bytes. */
  readonly batchBytes: number;
  /** Most messages one recipient's mailbox holds; a message past it is refused (`mailbox-full`). */
  readonly mailboxMessages: number;
  /** Most of those from one sender; a message of that sender past it is refused the same way. */
  readonly mailboxMessagesPerSender: number;
  /** The address of `nick` if it is online, else undefined. */
  onlineAddress(nick: string): Address | undefined;
  /** Sends `body` to `nick` at `to` as a request with that retry budget; resolves on its ACK, rejects when unanswered (or closing). */
  request(nick: string, to: Address, body: DeliverBody, retry: RetryBudget): Promise<unknown>;
  /** `nick` acknowledged `count` saved messages (the registry emits `delivered`). */
  delivered(nick: string, count: number): void;
}

/** What became of a message handed to the mailbox (see `take`). */
export type Taken = 'relayed' | 'saved' | 'mailbox-full' | 'share-full' | 'store-failed';

/**
 * Messages for users who could not take them directly. A message for a recipient that answers
 * is relayed at once, unless older ones wait for it or a delivery to it runs (then it queues
 * behind them, so order holds); otherwise it is saved in the store. Saved messages are
 * delivered oldest first, in batches of about `batchBytes`, each deleted only once the
 * recipient ACKs it; one delivery per recipient at a time. A delivery the recipient does not
 * ACK stops and keeps the messages (tried again at its next heartbeat or registration), unless
 * the recipient has registered elsewhere meanwhile: it then starts over there. A mailbox holds
 * at most `mailboxMessages`, and at most `mailboxMessagesPerSender` from one sender: senders
 * cannot grow one recipient's state without bound, and one sender cannot fill it for the others.
 */
export class Mailbox {
  readonly #context: MailboxContext;
  /** Recipients a delivery runs to now. */
  readonly #delivering = new Set<string>();
  #closed = false;

  constructor(context: MailboxContext) {
    this.#context = context;
  }

  /**
   * Hands over `message` for `to`, last seen at `address`. `reachable`: it answered a probe
   * just now, so it may get the message relayed. `mailbox-full` when `to`'s mailbox holds
   * `mailboxMessages` already, `share-full` when it holds `mailboxMessagesPerSender` from this
   * sender; `store-failed` (logged) when it could not be saved; a failure to count what waits
   * is thrown.
   */
  async take(
    to: string,
    address: Address,
    message: SavedMessage,
    reachable: boolean,
  ): Promise<Taken> {
    const { store, log } = this.#context;
    const waiting = await store.countMessages(to);
    if (reachable) {
      // With older messages still in its mailbox this one queues behind them (order); the
      // mailbox is then delivered at once, and the sender is not kept waiting for that.
      const behindOthers = this.#delivering.has(to) || waiting > 0;
      if (!behindOthers && (await this.#relay(to, address, message))) return 'relayed';
    }
    if (waiting >= this.#context.mailboxMessages) return 'mailbox-full';
    // The sender's own share, counted only when the mailbox could hold that many at all.
    const share = this.#context.mailboxMessagesPerSender;
    if (waiting >= share && (await store.countMessages(to, message.from)) >= share)
      return 'share-full';
    try {
      await store.saveMessage(to, message);
    } catch (error) {
      log.error(
        { from: message.from, to, mid: message.mid, err: error },
        'could not save a message',
      );
      return 'store-failed';
    }
    return 'saved';
  }

  /** Sends saved messages oldest first, deleting each batch only once the client ACKs it. */
  async deliver(nick: string): Promise<void> {
    if (this.#delivering.has(nick)) return;
    this.#delivering.add(nick);
    const { store, log } = this.#context;
    try {
      let first = true;
      while (!this.#closed) {
        const target = this.#context.onlineAddress(nick);
        if (!target) return;
        const batch = prefixWithin(
          await store.pendingMessages(nick, MAX_DELIVERY_BATCH),
          this.#context.batchBytes,
          jsonBytes,
        );
        if (batch.length === 0) return;
        try {
          await this.#context.request(
            nick,
            target,
            { t: 'deliver', kind: 'saved', first, messages: batch },
            { timeoutMs: this.#context.deliverTimeoutMs, tries: this.#context.deliverTries },
          );
        } catch (error) {
          const now = this.#context.onlineAddress(nick);
          if (now && !sameAddress(now, target)) {
            first = true; // it registered again elsewhere meanwhile: start over there
            continue;
          }
          log.warn(
            { nick, err: error },
            'saved messages not acknowledged; kept, tried again at its next heartbeat or registration',
          );
          return;
        }
        await store.deleteMessages(nick, batch);
        first = false;
        log.info({ nick, count: batch.length }, 'saved messages delivered');
        this.#context.delivered(nick, batch.length);
      }
    } finally {
      this.#delivering.delete(nick);
    }
  }

  /** Idempotent: deliveries under way send no further batch. */
  close(): void {
    this.#closed = true;
  }

  async #relay(to: string, address: Address, message: SavedMessage): Promise<boolean> {
    try {
      const { timeoutMs, tries } = spreadTries(
        this.#context.deliverTimeoutMs,
        this.#context.relayTries,
      );
      await this.#context.request(
        to,
        address,
        { t: 'deliver', kind: 'relayed', first: false, messages: [message] },
        { timeoutMs, tries },
      );
      return true;
    } catch {
      return false;
    }
  }
}
