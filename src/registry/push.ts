// Pushing the table to clients: its version, the changes since the last round (`table_delta`),
// paced rounds, and the pages a whole table is cut into.
import type { Logger } from 'pino';
import { MAX_PAGE_ENTRIES, WATCH_BATCH } from '../protocol/constants.js';
import type { MessageOf } from '../protocol/messages.js';
import type { TableEntry } from '../protocol/fields.js';
import type { ClientRecord } from '../store/store.js';
import { NODE_CLOCK, Pacer, type PacerClock } from './pacer.js';

/** Rounds of table changes that go out at once before pushIntervalMs spaces them. */
export const PUSH_BURST = 10;

/** A change of the table as it goes out, without its `v` and `id`. */
export type TableDeltaBody = Omit<MessageOf<'table_delta'>, 'v' | 'id'>;
/** A change of watched nicks as it goes out (see `presence`). */
export type PresenceBody = Omit<MessageOf<'presence'>, 'v' | 'id'>;

/** What the sending of table changes needs of the registry around it. */
export interface ChangesContext {
  /** The table's epoch (a new one at each start of the registry). */
  readonly epoch: string;
  /** Changes within this long go out as one version (`pushDelayMs`). */
  readonly delayMs: number;
  /** The spacing of rounds per 100 clients served (`pushIntervalMs`, see pacer.ts). */
  readonly intervalMs: number;
  log: Logger;
  /** The record of `nick` as the table holds it now, if it does. */
  record(nick: string): ClientRecord | undefined;
  /** Every record of the table. */
  records(): Iterable<ClientRecord>;
  /** Whether this node serves `record` (it gets its table changes from this node). */
  serves(record: ClientRecord): boolean;
  /** Whether `nick`'s last push or probe went unanswered: it gets no changes until it proves it receives. */
  unresponsive(nick: string): boolean;
  /**
   * Whether the table is beyond its limit: then changes go as `presence`, each to the
   * watchers of the nick that changed, instead of `table_delta` to every client.
   */
  watchMode(): boolean;
  /** Who watches `nick` among this node's clients. */
  watchersOf(nick: string): Iterable<string>;
  /**
   * The clients still holding the whole table (registered while it was small), taken once
   * the table is beyond its limit: each is told once that it now holds only what it watches.
   */
  takeWholeTableHolders(): Iterable<string>;
  /** Sends one change to `record` as a request with the push's budget; rejects when it goes unanswered. */
  send(record: ClientRecord, body: TableDeltaBody | PresenceBody): Promise<unknown>;
  /**
   * Sends one change to `record` as a presence notice: once, numbered, never answered (the
   * client notices a missing number and watches again, see docs/protocol.md).
   */
  notify(record: ClientRecord, body: PresenceBody): void;
  /** A change went unanswered by `nick`. */
  unanswered(nick: string): void;
}

/**
 * The table's version and the changes made since the last one went out, sent in rounds paced by
 * a `Pacer`: each round takes the next version (more than MAX_PAGE_ENTRIES changed entries take
 * one version per page) and sends one `table_delta` to every online client this node serves,
 * and to any client the round takes for offline without a dereg (alive behind a lossy link, it
 * then says at once that it is here). Each datagram is a request of its own; one unanswered
 * is logged and reported, never retried beyond its budget. It knows the table only through its
 * context.
 */
export class TableChanges {
  readonly #context: ChangesContext;
  readonly #pacer: Pacer;
  /** Nicks changed since the last version went out. */
  readonly #changed = new Set<string>();
  #version = 0;

  constructor(context: ChangesContext, clock: PacerClock = NODE_CLOCK) {
    this.#context = context;
    this.#pacer = new Pacer(
      {
        delayMs: context.delayMs,
        intervalMs: context.intervalMs,
        burst: PUSH_BURST,
        served: () => {
          // Beyond the table limit a round goes to the watchers of what changed, not to everyone.
          if (context.watchMode()) return 0;
          let online = 0;
          for (const record of context.records())
            if (record.online && context.serves(record)) online++;
          return online;
        },
        pending: () => this.#changed.size > 0,
        round: () => this.#send(),
      },
      clock,
    );
  }

  /** The table's version: the number of changes sent since the start. */
  get version(): number {
    return this.#version;
  }

  /** `nick`'s entry changed: it goes in the next round. */
  add(nick: string): void {
    this.#changed.add(nick);
  }

  /** Tells this node's clients what changed, soon: once the pacer lets the next round go. */
  tell(): void {
    this.#pacer.request();
  }

  /** Idempotent: no round goes from now on. */
  close(): void {
    this.#pacer.close();
  }

  #send(): void {
    const context = this.#context;
    const entries = [...this.#changed].flatMap((nick) => {
      const record = context.record(nick);
      return record ? [tableEntry(record)] : [];
    });
    this.#changed.clear();
    if (context.watchMode()) return this.#sendToWatchers(entries);
    // A client just taken for offline without saying dereg (its probes went unanswered) hears
    // of it too: alive behind a lossy link, it says it is here at once (a heartbeat).
    const takenOffline = new Set(
      entries
        .filter((entry) => !entry.online && !context.record(entry.nick)?.deregistered)
        .map((entry) => entry.nick),
    );
    // A change too large for one request goes as several, one version each.
    for (const part of pages(entries)) {
      const from = this.#version++;
      const body = {
        t: 'table_delta' as const,
        epoch: context.epoch,
        from,
        to: this.#version,
        entries: part,
      };
      for (const record of context.records()) {
        if (!context.serves(record)) continue;
        if (!takenOffline.has(record.nick) && (!record.online || context.unresponsive(record.nick)))
          continue;
        context.send(record, body).catch((error: Error) => {
          context.log.debug({ nick: record.nick, err: error }, 'table change not acknowledged');
          context.unanswered(record.nick);
        });
      }
    }
  }

  /**
   * One round beyond the table limit: each watcher of a nick that changed gets one presence
   * notice with the entries it watches (WATCH_BATCH to a notice, so that each fits one
   * datagram), and a nick just taken for offline without a dereg hears of itself in a request
   * (its answer shows it is alive): at most watchers + 1 datagrams per change, none answered
   * but the last.
   */
  #sendToWatchers(entries: TableEntry[]): void {
    const context = this.#context;
    const version = ++this.#version;
    const byClient = new Map<string, TableEntry[]>();
    const add = (nick: string, entry: TableEntry) => {
      const list = byClient.get(nick);
      if (list) list.push(entry);
      else byClient.set(nick, [entry]);
    };
    const takenOffline = new Set<string>();
    for (const entry of entries) {
      for (const watcher of context.watchersOf(entry.nick)) add(watcher, entry);
      if (!entry.online && !context.record(entry.nick)?.deregistered) {
        takenOffline.add(entry.nick);
        add(entry.nick, entry);
      }
    }
    const push = (record: ClientRecord, body: PresenceBody) =>
      context.send(record, body).catch((error: Error) => {
        context.log.debug({ nick: record.nick, err: error }, 'presence change not acknowledged');
        context.unanswered(record.nick);
      });
    for (const [nick, list] of byClient) {
      const record = context.record(nick);
      if (!record || !context.serves(record)) continue;
      if (takenOffline.has(nick)) {
        for (const part of pages(list))
          void push(record, { t: 'presence', epoch: context.epoch, version, entries: part });
        continue;
      }
      if (!record.online || context.unresponsive(nick)) continue;
      for (const part of pages(list, WATCH_BATCH))
        context.notify(record, { t: 'presence', epoch: context.epoch, version, entries: part });
    }
    for (const nick of context.takeWholeTableHolders()) {
      const record = context.record(nick);
      if (!record?.online || !context.serves(record) || context.unresponsive(nick)) continue;
      void push(record, { t: 'presence', epoch: context.epoch, version, entries: [], watch: true });
    }
  }
}

/** Splits table entries into pages of at most `size` (an empty table is one empty page). */
export function pages<Entry>(entries: Entry[], size = MAX_PAGE_ENTRIES): Entry[][] {
  const parts: Entry[][] = [];
  for (let start = 0; start < entries.length; start += size)
    parts.push(entries.slice(start, start + size));
  return parts.length > 0 ? parts : [[]];
}

/** A record as the table shows it to clients. */
export const tableEntry = ({ nick, ip, port, online, sk, ek }: ClientRecord): TableEntry => ({
  nick,
  ip,
  port,
  online,
  sk,
  ek,
});
