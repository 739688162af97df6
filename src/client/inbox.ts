// Everything that reaches the client for its user (chats, the registry's deliveries, group
// messages): taken once, opened, put in order, held while the user is in a group.
import { WindowBudget } from '../util/rate-limiter.js';
import { WireError } from '../protocol/constants.js';
import type { MessageOf, ReplyBody } from '../protocol/messages.js';
import type { TableEntry } from '../protocol/fields.js';
import type { Sealed } from '../crypto/sealing.js';
import { sameAddress, type Address } from '../transport/address.js';
import { DedupWindow } from '../transport/dedup.js';
import { nodeClock, type Timeouts } from '../util/clock.js';
import { ReceiveOrder, type Arrival } from './receive-order.js';

/** What the inbox tells, as the client's events of the same names. */
export interface InboxEvents {
  message: { from: string; text: string; mid: string; all?: boolean };
  'group-message': { group: string; from: string; text: string; mid: string };
  'held-messages': { group: string; count: number };
  'saved-messages': Record<string, never>;
  'saved-message': { from: string; text: string; ts: number; mid: string };
  unreadable: { from: string; mid: string };
}

/** What the inbox needs of the client around it. */
export interface InboxContext {
  readonly nick: string;
  /** Longest a message waits for the one its sender sent before it. */
  readonly holdTimeoutMs: number;
  /** Direct chats one peer may send per `peerChatWindowMs`; past it they go unanswered. */
  readonly peerChats: number;
  readonly peerChatWindowMs: number;
  /** Peers' chats are answered only while online; pushes are taken until closed. */
  online(): boolean;
  closed(): boolean;
  /** The group this client is in, if any: private messages are held until it leaves. */
  group(): string | undefined;
  /**
   * Paths (paths.ts): whether a chat from `peer` may come from `from` (the table's address, or
   * a path punched to it). Absent: only the table's address.
   */
  accepts?(peer: TableEntry, from: Address): boolean;
  /** The table's entry for `nick`, if any (a chat must come from the address it gives). */
  peer(nick: string): TableEntry | undefined;
  /**
   * The text of a message sealed to this client by `from`: undefined when it does not open,
   * null when it may not be opened now (a sender the table does not know yet, or past its budget).
   */
  open(from: string, mid: string, sealed: Sealed): Promise<string | undefined | null>;
  emit<K extends keyof InboxEvents>(event: K, payload: InboxEvents[K]): void;
  debug(fields: object, message: string): void;
}

/** A private message taken, waiting for its turn to be shown; `text` is absent when it could not be opened. */
interface Received extends Arrival {
  text?: string;
  ts?: number;
  all?: boolean;
}

type PrivateEvent = 'message' | 'saved-messages' | 'saved-message' | 'unreadable';

/**
 * What reaches this client for its user: peers' chats, the registry's deliveries of saved or
 * relayed messages, group messages. It takes each once (dedup), opens it (through the
 * context), shows private ones in their sender's order (`ReceiveOrder`) and holds them while
 * the user is in a group. Each handler returns the reply to send, or undefined for none:
 * silence is an answer too (the sender tries again, or goes through the registry).
 */
export class Inbox {
  readonly #context: InboxContext;
  /** Private messages taken, each once, and shown in their sender's order (see receive-order.ts). */
  readonly #order: ReceiveOrder<Received>;
  /** Group messages already shown, by sender and message id. */
  readonly #shown = new DedupWindow();
  /** Messages being opened right now, by sender and id. */
  readonly #opening = new Set<string>();
  /** Direct chats per peer (see `peerChats`). */
  readonly #peerChats: WindowBudget;
  #chatBudgetRefusals = 0;
  /** The next saved message shown opens with the saved-messages line (a new catch-up began). */
  #savedLineDue = false;
  /** Private lines held while the user is in a group, in the order they came. */
  readonly #held: Array<{ event: PrivateEvent; show: () => void }> = [];

  // Unref'd by default: a hold keeps no process alive.
  constructor(context: InboxContext, timers: Timeouts = nodeClock({ unref: true })) {
    this.#context = context;
    this.#order = new ReceiveOrder<Received>({
      holdTimeoutMs: context.holdTimeoutMs,
      show: (message) => this.#show(message),
      timers,
    });
    this.#peerChats = new WindowBudget({
      points: context.peerChats,
      windowMs: context.peerChatWindowMs,
    });
  }

  /** Chats dropped unanswered because their peer was past its budget. */
  get chatBudgetRefusals(): number {
    return this.#chatBudgetRefusals;
  }

  /** A registration is on its way: saved messages may overtake its reply. */
  registering(): void {
    this.#order.registering();
  }

  /** Registered with `pending` saved messages to come: live ones naming none wait for them, at most `patienceMs`. */
  startCatchUp(pending: number, patienceMs: number): void {
    this.#order.startCatchUp(pending, patienceMs);
  }

  close(): void {
    this.#order.close();
  }

  /**
   * A peer's chat: acknowledged once opened, refused when it does not open, unanswered
   * otherwise (`answer` is then never called). The ACK leaves before the chat is shown: it
   * says the chat was taken (shown now, or in its turn), and the sender's wait should not
   * include this client's screen.
   */
  async onChat(
    request: MessageOf<'chat'>,
    from: Address,
    answer: (reply: ReplyBody) => void,
  ): Promise<void> {
    const context = this.#context;
    // After dereg a client does not answer peers: their messages go to the registry.
    if (!context.online()) return;
    const peer = context.peer(request.from);
    // Paths: its table address, or the path punched to it.
    const accepted =
      peer &&
      (context.accepts
        ? context.accepts(peer, from)
        : sameAddress({ address: peer.ip, port: peer.port }, from));
    if (!peer || !accepted) {
      context.debug(
        { claimed: request.from },
        'chat from an address the table does not give that nick',
      );
      return;
    }
    const key = `${request.from}|${request.mid}`;
    if (this.#order.has(request.from, request.mid)) return answer({ t: 'ack' }); // already taken (it came another way too)
    if (this.#opening.has(key)) return; // a copy is being opened right now; the sender tries again
    if (!this.#peerChats.spend(request.from)) {
      this.#chatBudgetRefusals++;
      return; // unanswered: past its budget, the sender's copies go by the registry
    }
    this.#opening.add(key);
    const text = await context.open(request.from, request.mid, request.sealed);
    this.#opening.delete(key);
    // Only what could be opened is acknowledged: the sender learns of anything else.
    if (text === undefined || text === null)
      return answer({
        t: 'err',
        code: WireError.BAD_REQUEST,
        message: 'the message could not be opened',
      });
    answer({ t: 'ack' });
    this.#order.receive({
      path: 'live',
      from: request.from,
      mid: request.mid,
      text,
      after: request.after,
      afterTaken: request.afterTaken,
      all: request.all,
    });
  }

  /**
   * Saved or relayed messages from the registry, opened one by one in order, and
   * acknowledged (so deleted from the mailbox) once all are opened. One that cannot be
   * opened (sealed to a key this nick had before) is said so, not dropped in silence.
   */
  async onDeliver(request: MessageOf<'deliver'>): Promise<ReplyBody | undefined> {
    if (this.#context.closed()) return undefined;
    const opened: Array<string | null | undefined> = [];
    for (const { from: sender, mid, sealed } of request.messages) {
      if (this.#order.has(sender, mid)) {
        opened.push(null);
        continue;
      }
      const text = await this.#context.open(sender, mid, sealed);
      // A sender this client's table does not know yet (the table is still on its way):
      // not acknowledged, so the registry keeps the batch and tries again.
      if (text === null) return undefined;
      opened.push(text);
    }
    const path = request.kind === 'relayed' ? 'live' : 'saved';
    if (path === 'saved' && request.first) this.#savedLineDue = true;
    // In the batch's order: saved ones are in the order their senders sent them.
    request.messages.forEach(({ from: sender, ts, mid, after, afterTaken }, index) => {
      const text = opened[index];
      if (text === null) return;
      this.#order.receive({
        path,
        from: sender,
        mid,
        ts,
        ...(after === undefined ? {} : { after }),
        ...(afterTaken ? { afterTaken } : {}),
        ...(text === undefined ? {} : { text }),
      });
    });
    if (path === 'saved') this.#order.caughtUp(request.messages.length);
    return { t: 'ack' };
  }

  /** A group message relayed by the registry: only a member in group mode answers; silence gets a stale member removed. */
  onGroupMessage(request: MessageOf<'group_msg'>): ReplyBody | undefined {
    if (!this.#context.online() || this.#context.group() !== request.group) return undefined;
    if (this.#shown.add(`${request.from}|${request.mid}`, true)) {
      this.#context.emit('group-message', {
        group: request.group,
        from: request.from,
        text: request.text,
        mid: request.mid,
      });
    }
    return { t: 'ack' };
  }

  /** Out of group `group`: what was held is shown, in order, after a line saying how many. */
  release(group: string | undefined): void {
    const held = this.#held.splice(0);
    const count = held.filter((item) => item.event !== 'saved-messages').length;
    if (group && count > 0) this.#context.emit('held-messages', { group, count });
    for (const item of held) item.show();
  }

  /** A private message whose turn has come (see ReceiveOrder). */
  #show(message: Received): void {
    const { from, mid, text } = message;
    if (text === undefined) return this.#emitPrivate('unreadable', { from, mid });
    if (message.path === 'live') {
      return this.#emitPrivate('message', {
        from,
        text,
        mid,
        ...(message.all ? { all: true } : {}),
      });
    }
    if (this.#savedLineDue) {
      this.#savedLineDue = false;
      this.#emitPrivate('saved-messages', {});
    }
    this.#emitPrivate('saved-message', { from, text, ts: message.ts ?? Date.now(), mid });
  }

  /** Private lines wait while the user is in a group (spec §3). */
  #emitPrivate<K extends PrivateEvent>(event: K, payload: InboxEvents[K]): void {
    if (this.#context.group())
      this.#held.push({ event, show: () => this.#context.emit(event, payload) });
    else this.#context.emit(event, payload);
  }
}
