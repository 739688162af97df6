// A `save`: a sender that got no ACK (or holds its peer offline) hands a message to the registry,
// which asks the recipient first and relays it live, or keeps it in the mailbox.
import type { Logger } from 'pino';
import { errorReply, type MessageOf, type ReplyBody } from '../protocol/messages.js';
import { type SavedMessage } from '../protocol/fields.js';
import type { ClientRecord } from '../store/store.js';
import type { Taken } from './mailbox.js';

/** Which message a line of the log or an event is about. */
export interface SaveIds {
  from: string;
  to: string;
  mid: string;
}

/** What a save needs of the registry around it. */
export interface SaveContext {
  readonly log: Logger;
  /** The table's record of `nick`, if any. */
  client(nick: string): ClientRecord | undefined;
  /** Asks `record` whether it is there (a presence probe); true once it answered. */
  probe(record: ClientRecord): Promise<boolean>;
  markOffline(record: ClientRecord): Promise<void>;
  markOnline(record: ClientRecord): Promise<void>;
  /** Whether the registry may still relay `bytes` more between these two now (introductions.ts). */
  mayRelay(from: string, to: string, bytes: number): boolean;
  /** Hands the message to the mailbox (see mailbox.ts): relayed when `reachable`, else saved. */
  take(to: ClientRecord, message: SavedMessage, reachable: boolean): Promise<Taken>;
  /** After a relay, the sender's view of the recipient is refreshed (its copy said offline). */
  refreshSender(sender: ClientRecord, recipient: ClientRecord): void;
  saved(ids: SaveIds): void;
  relayed(ids: SaveIds): void;
  now(): number;
}

/**
 * Store and forward, one `save` at a time. Unless the recipient left with `dereg`, it is
 * probed first: one that answers gets the message relayed now (within the pair's relay
 * budget, the last resort between clients that cannot punch a path), one that does not is
 * marked offline and the message waits in its mailbox. The answer names the outcome:
 * `relayed`, `saved`, or an error (`UNKNOWN_NICK`, `TRY_LATER`, `MAILBOX_FULL`,
 * `STORE_FAILED`).
 */
export class Saves {
  readonly #context: SaveContext;

  constructor(context: SaveContext) {
    this.#context = context;
  }

  /** Carries out `request` from `sender` (online at its address: the handler's guard). */
  async save(
    request: MessageOf<'save'>,
    sender: ClientRecord,
    respond: (body: ReplyBody) => void,
  ): Promise<void> {
    const context = this.#context;
    if (request.to === request.from)
      return respond(errorReply('BAD_REQUEST', 'a message to yourself'));
    const recipient = context.client(request.to);
    if (!recipient) return respond(errorReply('UNKNOWN_NICK', `no user ${request.to}`));
    const message: SavedMessage = {
      from: request.from,
      mid: request.mid,
      sealed: request.sealed,
      ts: context.now(),
    };
    if (request.after !== undefined) message.after = request.after;
    if (request.afterTaken) message.afterTaken = true;
    const ids = { from: request.from, to: request.to, mid: request.mid };

    // The sender saw no ACK, or its table says offline. Unless the recipient left with dereg,
    // ask it before saving: a live one gets the message now (the classic "exists" case).
    let alive = false;
    if (recipient.online || !recipient.deregistered) {
      alive = await context.probe(recipient);
      if (!alive) {
        context.log.info(
          { nick: recipient.nick },
          `${recipient.nick} did not answer the presence probe`,
        );
        await context.markOffline(recipient);
      }
    }
    if (alive && !context.mayRelay(request.from, request.to, request.sealed.ct.length)) {
      context.log.info(ids, 'relay refused: the budget for this pair is spent');
      return respond(
        errorReply('TRY_LATER', 'the relay budget between you and this user is spent for now'),
      );
    }
    // Relayed only when nothing waits for it in the mailbox (see mailbox.ts), else saved.
    const outcome = await context.take(recipient, message, alive);
    if (outcome === 'store-failed')
      return respond(errorReply('STORE_FAILED', 'the server could not save the message'));
    if (outcome === 'mailbox-full') {
      context.log.info(ids, 'message refused: the mailbox is full');
      return respond(errorReply('MAILBOX_FULL', `the mailbox of ${recipient.nick} is full`));
    }
    if (outcome === 'share-full') {
      context.log.info(ids, 'message refused: the sender has its share of the mailbox');
      return respond(
        errorReply(
          'MAILBOX_FULL',
          `the mailbox of ${recipient.nick} holds as many of your messages as it keeps`,
        ),
      );
    }
    if (outcome === 'relayed') {
      // It has the message: whatever happens to this bookkeeping, the answer is "relayed".
      await context
        .markOnline(recipient)
        .catch((error: unknown) => context.log.error({ err: error }, 'could not mark online'));
      context.log.info(ids, 'message relayed to a client that was online');
      context.relayed(ids);
      respond({ t: 'save_result', outcome: 'relayed' });
      context.refreshSender(sender, recipient);
      return;
    }
    context.log.info(ids, 'message saved');
    context.saved(ids);
    respond({ t: 'save_result', outcome: 'saved' });
    // It answered the probe: hand the mailbox over now, not at its next registration.
    if (alive) await context.markOnline(recipient);
  }
}
