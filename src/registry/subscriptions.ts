// Presence beyond the table limit, on this node: who watches whom, the answers to `watch` and
// `list`, and the clients that still hold the whole table.
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { MessageOf, ReplyBody } from '../protocol/messages.js';
import type { ClientRecord } from '../store/store.js';
import { tableEntry } from './push.js';
import { UserPages } from './user-pages.js';
import { Watches } from './watches.js';

/** What subscriptions need of the registry around them. */
export interface SubscriptionsContext {
  /** Most nicks one client may watch. */
  readonly maxWatch: number;
  /** The table's epoch, and its version now (what an answer's entries are as of). */
  readonly epoch: string;
  version(): number;
  record(nick: string): ClientRecord | undefined;
  records(): Iterable<ClientRecord>;
  /** Sends `record` these entries as a `presence` push (`watch`: it now holds only what it watches); settles, never rejects. */
  push(record: ClientRecord, entries: ClientRecord[], watch?: true): Promise<void>;
}

/**
 * The clients' side of presence beyond the table limit, on this node: who watches whom
 * (watches.ts), the answers to `watch` and `list`, and the clients that still hold the whole
 * table (registered while it was within the limit; each is told once when it outgrows it).
 * Everything here is bounded: watches per watcher, holders by the limit, pages per nick.
 */
export class Subscriptions {
  readonly #context: SubscriptionsContext;
  readonly watches: Watches;
  /** This node's clients that hold the whole table: at most `tableLimit` of them. */
  readonly #wholeTableHolders = new Set<string>();
  readonly #pages: UserPages;
  /** Pages of `all` and `online` a nick may ask for: a few a second. */
  readonly #pageBudget = new RateLimiterMemory({ points: 20, duration: 10 });
  /** The number of the last presence notice sent to each client (see `nextNotice`): one per nick the table holds at most. */
  readonly #notices = new Map<string, number>();

  constructor(context: SubscriptionsContext) {
    this.#context = context;
    this.watches = new Watches(context.maxWatch);
    this.#pages = new UserPages(() => context.records());
  }

  /** `nick` registered: what it watched before it says again; with the whole table (`holdsTable`) it is a holder. */
  registered(nick: string, holdsTable: boolean): void {
    this.watches.clear(nick);
    if (holdsTable) this.#wholeTableHolders.add(nick);
    else this.#wholeTableHolders.delete(nick);
  }

  /** `nick` left with dereg: it watches nothing. */
  left(nick: string): void {
    this.watches.clear(nick);
    this.#wholeTableHolders.delete(nick);
    this.#notices.delete(nick);
  }

  /**
   * The number of the next presence notice to `nick`: 1, 2, 3, … from its first, kept across
   * its registrations with this node (a notice of an earlier one that comes late is then not
   * taken for a gap) until it leaves with dereg.
   */
  nextNotice(nick: string): number {
    const seq = (this.#notices.get(nick) ?? 0) + 1;
    this.#notices.set(nick, seq);
    return seq;
  }

  /** The number of the last presence notice sent to `nick` (0: none). */
  lastNotice(nick: string): number {
    return this.#notices.get(nick) ?? 0;
  }

  /** The table changed (a nick came, or went online or offline): pages are made again when next asked for. */
  changed(): void {
    this.#pages.changed();
  }

  /** The holders of the whole table, taken once the table is beyond its limit (each is then told, see push.ts). */
  takeWholeTableHolders(): string[] {
    const holders = [...this.#wholeTableHolders];
    this.#wholeTableHolders.clear();
    return holders;
  }

  /** The records of the nicks `nick` watches that the table holds. */
  watchedRecords(nick: string): ClientRecord[] {
    return [...this.watches.watchedBy(nick)].flatMap((other) => this.#context.record(other) ?? []);
  }

  /** Tells a client that held the whole table that it now holds only what it watches. */
  tellWatchMode(record: ClientRecord): Promise<void> {
    this.#wholeTableHolders.delete(record.nick);
    return this.#context.push(record, [], true);
  }

  /**
   * Adds to and takes from what the client watches. The answer carries the entries of the
   * nicks added that the table holds (WATCH_BATCH at most: it fits one datagram) as of the
   * table's version now, and names the others (watched all the same: they may register later);
   * later changes come as presence notices, numbered after the `seq` it carries.
   */
  watch(request: MessageOf<'watch'>): ReplyBody {
    const context = this.#context;
    const { nick } = request;
    if (request.clear) this.watches.clear(nick);
    if (request.remove) this.watches.remove(nick, request.remove);
    // A nick not in the table is watched too (as MONITOR does): it may register later.
    const add = (request.add ?? []).filter((other) => other !== nick);
    const refused = new Set(this.watches.add(nick, add));
    const entries = add.flatMap((other) => {
      const record = refused.has(other) ? undefined : context.record(other);
      return record ? [tableEntry(record)] : [];
    });
    return {
      t: 'watched',
      epoch: context.epoch,
      version: context.version(),
      entries,
      missing: add.filter((other) => !context.record(other)),
      ...(refused.size > 0 ? { full: true as const } : {}),
      seq: this.lastNotice(nick),
    };
  }

  /** One page of the users (see user-pages.ts); past the nick's budget, TRY_LATER. */
  async list(request: MessageOf<'list'>): Promise<ReplyBody | { refuse: string }> {
    const allowed = await this.#pageBudget.consume(request.nick).then(
      () => true,
      () => false,
    );
    if (!allowed) return { refuse: 'too many pages asked for: wait a few seconds' };
    return { t: 'listing', ...this.#pages.page(request.online, request.page) };
  }
}
