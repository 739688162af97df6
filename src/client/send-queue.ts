// The messages typed and not settled yet, per recipient in the order typed: several tries run at
// once, but outcomes settle in order. The phases of one message are drawn below.
import { UdpchatError } from '../protocol/errors.js';
import { nodeClock, type Clock } from '../util/clock.js';
import { count, mebibytes } from '../util/numbers.js';
import { isTaken, type SendOutcome, type Try, type TriesMade } from './delivery.js';
import type { Outbox, OutboxEntry } from './outbox.js';

/*
 * A message's phases, from the moment it is queued until its final outcome:
 *
 *   waiting ──launched──▶ direct ──no ACK──▶ fallback ──answered──▶ settled
 *                          │  ▲                  │
 *                          │  └──retried──┐      │ registry silent, store down, …
 *                          │           queued ◀──┘
 *                          └──ACKed──▶ settled
 *
 * `direct` starts with the wait for the message's copy on disk; `fallback` with the wait for
 * the try at the message ahead of it. A settled message stays in its queue until every one
 * ahead of it has settled too: messages settle in the order they were typed.
 */
export type MessagePhase = 'waiting' | 'direct' | 'fallback' | 'queued' | 'settled';

/** How far past the first unsettled message (in windows) tries may run ahead. */
export const SPAN_WINDOWS = 4;
/** How long a settled message is named as `after` by the sender's next message. */
export const AFTER_WINDOW_MS = 60_000;

/** The most the outbox holds at once: messages, and the UTF-8 bytes of their texts. */
export interface OutboxLimit {
  readonly messages: number;
  readonly bytes: number;
}

/** What the send queue needs of the client around it. */
export interface SendQueueContext {
  /** Tries at messages to one recipient under way at once. */
  readonly sendWindow: number;
  /** Past it, a new message is refused (ERR_OUTBOX_FULL) until some of those kept have settled. */
  readonly outboxLimit: OutboxLimit;
  /** How soon messages kept because the registry did not answer are tried again. */
  readonly outboxRetryMs: number;
  readonly outbox: Outbox;
  /** A fresh message id. */
  newId(): string;
  /** Whether tries may go now (the client is online). */
  online(): boolean;
  /** One try at a message (see delivery.ts). */
  attempt(job: Try): Promise<SendOutcome>;
  warn(error: unknown, message: string): void;
}

interface QueuedMessage {
  entry: OutboxEntry;
  /** The UTF-8 bytes of its text, counted against `outboxLimit.bytes`. */
  bytes: number;
  phase: MessagePhase;
  /** Its final outcome, once settled. */
  outcome?: Exclude<SendOutcome, 'queued'>;
  /** The try under way or last made: the message behind it waits for it before going to the registry. */
  try?: Promise<SendOutcome>;
  /** Resolves the caller's `send()` at the first outcome. */
  settle: ((outcome: SendOutcome) => void) | undefined;
  /** Settles once the entry is in the outbox. */
  durable: Promise<void>;
  made: TriesMade;
  /** Its last try ended `queued` only because the one ahead of it did: it never reached the registry. */
  heldBehind?: boolean;
}

/**
 * The messages typed and not settled yet, per recipient in the order typed: each kept in
 * the outbox until its final outcome. Up to `sendWindow` tries per recipient run at once,
 * each naming the message before it (`after`); one drain loop per recipient settles them in
 * order, and stops at a head kept `queued` until the next retry (every `outboxRetryMs`, or
 * `retryAll()`). A message kept `queued` (itself, or behind the one ahead) resolves its
 * `send` with `queued` at once; its final outcome is only emitted. It sends nothing itself:
 * each try is the context's `attempt`.
 */
export class SendQueue {
  readonly #context: SendQueueContext;
  readonly #clock: Clock;
  /** Per recipient, the messages not yet settled, in the order typed. */
  readonly #queues = new Map<string, QueuedMessage[]>();
  readonly #draining = new Set<string>();
  /** Messages queued and not settled, and the bytes of their texts (see `outboxLimit`). */
  #heldMessages = 0;
  #heldBytes = 0;
  /**
   * Per recipient: the last message settled, which the next one names (`after`), saying
   * whether the recipient acknowledged it (so took it) or it was only saved.
   */
  readonly #lastSettled = new Map<string, { mid: string; at: number; taken: boolean }>();
  #retryTimer: unknown;
  #closed = false;

  // Unref'd by default: a retry keeps no process alive.
  constructor(context: SendQueueContext, clock: Clock = nodeClock({ unref: true })) {
    this.#context = context;
    this.#clock = clock;
  }

  /** Messages without a final outcome yet. */
  get unsettled(): number {
    return this.#heldMessages;
  }

  /**
   * Why a new message of `text` would be refused now (the outbox holds as many messages, or
   * as many bytes of text, as `outboxLimit` allows), or undefined.
   */
  checkRoom(text: string): UdpchatError | undefined {
    return this.#roomFor(Buffer.byteLength(text));
  }

  #roomFor(bytes: number): UdpchatError | undefined {
    const limit = this.#context.outboxLimit;
    if (this.#heldMessages >= limit.messages)
      return new UdpchatError(
        'ERR_OUTBOX_FULL',
        `${count(this.#heldMessages)} messages wait to be sent, the most kept at once`,
      );
    if (this.#heldBytes + bytes > limit.bytes)
      return new UdpchatError(
        'ERR_OUTBOX_FULL',
        `the messages waiting to be sent fill the ${mebibytes(limit.bytes)} of text kept at once`,
      );
    return undefined;
  }

  /** The phase of message `mid`, while it is queued. */
  phaseOf(mid: string): MessagePhase | undefined {
    for (const queue of this.#queues.values())
      for (const message of queue) if (message.entry.mid === mid) return message.phase;
    return undefined;
  }

  /**
   * Keeps a new message in the outbox and queues it now, in call order; it goes out once on
   * disk (a failed write is logged and it goes anyway). Resolves with its first outcome.
   */
  push(to: string, text: string): Promise<SendOutcome> {
    const bytes = Buffer.byteLength(text);
    const full = this.#roomFor(bytes);
    if (full) return Promise.reject(full);
    const entry: OutboxEntry = { mid: this.#context.newId(), to, text, at: this.#clock.now() };
    const durable = this.#context.outbox.add(entry).catch((error: unknown) => {
      this.#context.warn(error, 'outbox write failed: sending without a copy on disk');
    });
    return new Promise<SendOutcome>((settle) => this.#enqueue(entry, bytes, settle, durable));
  }

  /**
   * Queues messages an earlier run left in the outbox (their outcomes are only emitted). They
   * count against `outboxLimit` but are all taken: they are on disk already.
   */
  resume(entries: OutboxEntry[]): void {
    for (const entry of entries) this.#enqueue(entry, Buffer.byteLength(entry.text));
  }

  /** Tries again, at once, every recipient's queue. */
  retryAll(): void {
    for (const to of this.#queues.keys()) void this.#drain(to);
  }

  /** Stops the retry timer; tries under way end as the channel closes under them. */
  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** `bytes`: the UTF-8 bytes of its text. */
  #enqueue(
    entry: OutboxEntry,
    bytes: number,
    settle?: (outcome: SendOutcome) => void,
    durable: Promise<void> = Promise.resolve(),
  ): void {
    let queue = this.#queues.get(entry.to);
    if (!queue) this.#queues.set(entry.to, (queue = []));
    queue.push({
      entry,
      bytes,
      phase: 'waiting',
      settle,
      durable,
      made: { sends: 0, fallbacks: 0 },
    });
    this.#heldMessages++;
    this.#heldBytes += bytes;
    void this.#drain(entry.to);
  }

  /**
   * Settles one recipient's queue in order: starts the tries the window allows, awaits the
   * head's, removes it from the outbox and resolves its `send`; stops at a head kept `queued`.
   */
  async #drain(to: string): Promise<void> {
    if (this.#draining.has(to)) return this.#launch(to);
    this.#draining.add(to);
    try {
      const queue = this.#queues.get(to) ?? [];
      while (queue.length > 0 && this.#context.online()) {
        this.#launch(to);
        const head = queue[0];
        const outcome = await head.try!;
        // Kept only behind the one ahead, which has settled since: tried again now, as the head.
        if (outcome === 'queued' && head.heldBehind) continue;
        if (outcome === 'queued') {
          this.#scheduleRetry();
          return;
        }
        queue.shift();
        this.#heldMessages--;
        this.#heldBytes -= head.bytes;
        // Settled in the order typed: the next one names it (a failed one never arrives).
        if (outcome !== 'failed')
          this.#lastSettled.set(to, {
            mid: head.entry.mid,
            at: this.#clock.now(),
            taken: isTaken(outcome),
          });
        await this.#context.outbox
          .remove(head.entry.mid)
          .catch((error: unknown) => this.#context.warn(error, 'outbox write failed'));
        head.settle?.(outcome);
      }
      if (queue.length === 0) this.#queues.delete(to);
    } finally {
      this.#draining.delete(to);
    }
  }

  /**
   * Starts a try for every message within the window at the head of `to`'s queue that is
   * `waiting` or `queued`. The window counts tries under way: those done wait to settle in
   * order but free their place, so one slow message (say, gone to the registry) does not
   * stall the rest, up to a span of SPAN_WINDOWS windows from the head.
   */
  #launch(to: string): void {
    const queue = this.#queues.get(to);
    if (!queue || !this.#context.online()) return;
    const window = Math.max(1, this.#context.sendWindow);
    // Every message ever started lies within the span: the head only moves forward.
    const span = Math.min(queue.length, window * SPAN_WINDOWS);
    let underway = 0;
    for (let i = 0; i < span; i++) if (underwayPhase(queue[i].phase)) underway++;
    for (let i = 0; i < span && underway < window; i++) {
      const message = queue[i];
      if (message.phase !== 'waiting' && message.phase !== 'queued') continue;
      underway++;
      message.try = this.#try(to, message, i > 0 ? queue[i - 1] : undefined);
    }
  }

  /** One try at `message`, `before` being the message ahead of it in the queue, if any. */
  async #try(
    to: string,
    message: QueuedMessage,
    before: QueuedMessage | undefined,
  ): Promise<SendOutcome> {
    message.phase = 'direct';
    message.heldBehind = false;
    await message.durable;
    const outcome = await this.#context.attempt({
      entry: message.entry,
      after: before
        ? {
            after: before.entry.mid,
            afterTaken: before.outcome && isTaken(before.outcome) ? true : undefined,
          }
        : this.#afterFor(to),
      ahead: before?.try,
      made: message.made,
      fallingBack: () => (message.phase = 'fallback'),
      heldBehind: () => (message.heldBehind = true),
    });
    if (outcome === 'queued') {
      message.phase = 'queued';
      // Kept, itself or behind the one ahead that is still kept: that is its first outcome,
      // told now whatever its place (a send behind a message kept for hours must not wait as
      // long to resolve). Those ahead ended their tries first, so sends still resolve in the
      // order called. Held behind one that has settled since, it is tried again at once.
      if (!message.heldBehind || before?.phase === 'queued') {
        message.settle?.('queued');
        message.settle = undefined;
      }
    } else {
      message.phase = 'settled';
      message.outcome = outcome;
      if (this.#draining.has(to)) this.#launch(to); // its place is free
    }
    return outcome;
  }

  /**
   * The next message names the one settled before it, so the recipient shows them in order
   * whatever path each took: a saved one may still be in the mailbox when the recipient comes
   * online, an acknowledged one may still wait there for its own predecessor. Past the
   * recipient's memory of what it has taken (a minute is well inside it) there is no race.
   */
  #afterFor(to: string): { after?: string; afterTaken?: true } {
    const last = this.#lastSettled.get(to);
    if (!last) return {};
    if (this.#clock.now() - last.at > AFTER_WINDOW_MS) {
      this.#lastSettled.delete(to);
      return {};
    }
    return { after: last.mid, afterTaken: last.taken ? true : undefined };
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.retryAll();
    }, this.#context.outboxRetryMs);
  }
}

function underwayPhase(phase: MessagePhase): boolean {
  return phase === 'direct' || phase === 'fallback';
}
