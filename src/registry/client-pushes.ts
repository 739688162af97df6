// What the registry pushes to one client on its own: the whole table (in pages, one push per
// client and address at a time) and the entries of the nicks it watches (`presence`). Every
// push is a request the client must ACK; one that goes unanswered is told, for presence.
import type { Logger } from 'pino';
import type { MessageOf } from '../protocol/messages.js';
import type { TableSnapshot } from '../protocol/fields.js';
import type { ClientRecord } from '../store/store.js';
import { formatAddress } from '../transport/address.js';
import { addressOf } from './client-table.js';
import { pages, tableEntry } from './push.js';
import { eachAtMost } from '../util/at-most.js';

/** Table pages sent to one client at a time. */
export const TABLE_PAGES_IN_FLIGHT = 4;

/** A push as it goes out, without its `v` and `id`. */
type PushBody = Omit<MessageOf<'table'>, 'v' | 'id'> | Omit<MessageOf<'presence'>, 'v' | 'id'>;

/** What pushing to one client needs of the registry around it. */
export interface ClientPushesContext {
  readonly epoch: string;
  /** The table's version now. */
  version(): number;
  /** The whole table as it stands. */
  snapshot(): TableSnapshot;
  /** Sends `body` to `record` as a push (its retry budget, its session); resolves on its ACK. */
  send(record: ClientRecord, body: PushBody): Promise<unknown>;
  /** `nick` did not acknowledge a push (presence may probe it). */
  unanswered(nick: string): void;
  /** The registry is closing: nothing more goes out. */
  closed(): boolean;
  log: Logger;
}

/** Whole tables and presence entries pushed to one client (see the opening comment). */
export class ClientPushes {
  readonly #context: ClientPushesContext;
  /** Whole-table pushes under way, by nick and address. */
  readonly #tables = new Map<string, Promise<void>>();

  constructor(context: ClientPushesContext) {
    this.#context = context;
  }

  /** Settles (never rejects) once `record` acknowledged these entries as a `presence` push, or did not. */
  async presence(record: ClientRecord, entries: ClientRecord[], watch?: true): Promise<void> {
    const context = this.#context;
    if (context.closed()) return;
    const body = {
      t: 'presence' as const,
      epoch: context.epoch,
      version: context.version(),
      entries: entries.map(tableEntry),
      ...(watch ? { watch } : {}),
    };
    await context.send(record, body).catch((error: unknown) => {
      context.log.debug({ nick: record.nick, err: error }, 'presence push not acknowledged');
      context.unanswered(record.nick);
    });
  }

  /**
   * `record` receives again after a push to it went unanswered: what it may have missed. With
   * the whole table (`watched` undefined), the table afresh; beyond the table limit, the
   * entries it watches as `presence`, marked `watch` (a client that missed the news that the
   * table outgrew its limit learns it here). Settles, never rejects.
   */
  async catchUp(record: ClientRecord, watched?: ClientRecord[]): Promise<void> {
    if (!watched) return this.table(record, true);
    await Promise.all(pages(watched).map((part) => this.presence(record, part, true)));
  }

  /**
   * Settles (never rejects) once the client acknowledged the table, or did not. A table of
   * more than MAX_PAGE_ENTRIES nicks goes in pages, a few in flight at a time. Asked again
   * while one is on its way to that client at that address, it is not sent twice.
   */
  async table(record: ClientRecord, refresh: boolean, table?: TableSnapshot): Promise<void> {
    if (this.#context.closed()) return;
    const key = `${record.nick}|${formatAddress(addressOf(record))}`;
    const underway = this.#tables.get(key);
    if (underway) return underway;
    const push = this.#sendTable(record, refresh, table ?? this.#context.snapshot()).finally(() =>
      this.#tables.delete(key),
    );
    this.#tables.set(key, push);
    return push;
  }

  async #sendTable(record: ClientRecord, refresh: boolean, table: TableSnapshot): Promise<void> {
    const context = this.#context;
    const parts = pages(table.entries);
    const send = async (page: number): Promise<void> => {
      const body = {
        t: 'table' as const,
        table: { ...table, entries: parts[page] },
        ...(parts.length > 1 ? { page, pages: parts.length } : {}),
        ...(refresh ? { refresh: true as const } : {}),
      };
      await context.send(record, body);
    };
    // A page unanswered after its tries ends the push: no more pages are sent.
    const allPages = parts.map((_, page) => page);
    await eachAtMost(allPages, TABLE_PAGES_IN_FLIGHT, send, () => context.closed()).then(
      () => undefined,
      (error: Error) => {
        context.log.debug({ nick: record.nick, err: error }, 'table push not acknowledged');
        context.unanswered(record.nick);
      },
    );
  }
}
