// The client's copy of the registry's client table, kept right from whole tables and versioned
// changes; it asks for the whole table again when a change is missing.
import type { MessageOf } from '../protocol/messages.js';
import type { TableEntry, TableSnapshot } from '../protocol/fields.js';
import { nodeClock, type Timeouts } from '../util/clock.js';

/** What the table replica needs of the client around it. */
export interface ReplicaContext {
  /** This client's nick: its own entry brings no notice, and one showing it offline calls `correctPresence`. */
  readonly nick: string;
  /**
   * The registry's request budget, which the waits are measured in: a change held ahead of
   * its predecessor waits 2 × `serverTimeoutMs`, a table in pages 2 × `serverTimeoutMs` × `serverTries`.
   */
  readonly serverTimeoutMs: number;
  readonly serverTries: number;
  /** Asks the registry for the whole table, which comes back as a `table` push (the client sends one request at a time). */
  resync(): void;
  /** The table changed; `entries` is all of it now (the client emits `table`). */
  changed(entries: TableEntry[]): void;
  /** Another nick came online, or went offline, in an applied table or change (the client emits `joined`, `left`). */
  joined(nick: string): void;
  left(nick: string): void;
  /** A table or change was applied after the first table: a recipient may be back (the client retries what waits). */
  applied(): void;
  /** An applied table or change has this client offline (the client, when online, says otherwise at once). */
  correctPresence(): void;
  /** The registry says the table outgrew its limit: this client now holds only what it watches (the client says what). */
  watchModeStarted(): void;
}

/**
 * `following`: pushes are taken as they come. `awaiting-first`: a registration is on its way,
 * and the next whole table is its first (it brings no notices; changes wait for it).
 * `closed`: nothing more is taken, no timer runs.
 */
type Phase =
  { name: 'following' } | { name: 'awaiting-first'; arrived: () => void } | { name: 'closed' };

/** A table in pages still coming in, and its check for pages whose every try was lost. */
interface PagesComingIn {
  epoch: string;
  version: number;
  parts: Array<TableEntry[] | undefined>;
  missing: number;
  timer: unknown;
}

/**
 * The client's copy of the registry's client table, kept correct from the registry's pushes:
 * whole tables (`table`, possibly in pages) replace it when newer, changes (`table_delta`)
 * update it version by version. A change that comes ahead of its predecessor is held a
 * moment; a gap that stays, a change of another epoch (the registry restarted) or a table
 * whose pages do not all come asks for the whole table again (`resync`). Each applied table
 * or change says who came online or went offline, comparing only the entries it brings.
 * It knows nothing of sockets or of the client's state: it is handed messages and a context.
 */
export class TableReplica {
  readonly #context: ReplicaContext;
  readonly #timers: Timeouts;
  readonly #entries = new Map<string, TableEntry>();
  #epoch = '';
  #version = -1;
  #phase: Phase = { name: 'following' };
  /** A table in pages still coming in (one version at a time). */
  #pages: PagesComingIn | undefined;
  /**
   * `table`: the whole table, kept by pushes. `watch`: the table is beyond the registry's
   * limit, and only the nicks this client watches are held, each as of its own version.
   */
  #mode: 'table' | 'watch' = 'table';
  /** In watch mode: the table version each entry held is as of (an older one is ignored). */
  readonly #entryVersions = new Map<string, number>();
  /** Changes that came ahead of their predecessor, by the version they follow. */
  readonly #aheadDeltas = new Map<number, MessageOf<'table_delta'>>();
  /** The waits of the held changes, each ended by `close()`. */
  readonly #holdTimers = new Set<unknown>();

  // Unref'd by default: a wait of the replica keeps no process alive.
  constructor(context: ReplicaContext, timers: Timeouts = nodeClock({ unref: true })) {
    this.#context = context;
    this.#timers = timers;
  }

  /** The table as held now. */
  entries(): TableEntry[] {
    return [...this.#entries.values()];
  }

  get(nick: string): TableEntry | undefined {
    return this.#entries.get(nick);
  }

  has(nick: string): boolean {
    return this.#entries.has(nick);
  }

  /** The epoch and version held (an empty epoch and -1 before the first table). */
  get version(): { epoch: string; version: number } {
    return { epoch: this.#epoch, version: this.#version };
  }

  /** How many changes are held, waiting for their predecessor. */
  get held(): number {
    return this.#aheadDeltas.size;
  }

  /**
   * A registration is on its way: the next whole table is its first. Resolves once it is
   * taken; a later call takes the place of an earlier one, whose promise then never resolves.
   */
  awaitFirstTable(): Promise<void> {
    if (this.#phase.name === 'closed') return new Promise<void>(() => {});
    return new Promise<void>((arrived) => (this.#phase = { name: 'awaiting-first', arrived }));
  }

  /** No first table follows (the registration was refused or not answered). */
  stopAwaiting(): void {
    if (this.#phase.name === 'awaiting-first') this.#phase = { name: 'following' };
  }

  /** Whether a registration's first table has yet to come. */
  get awaitingFirstTable(): boolean {
    return this.#phase.name === 'awaiting-first';
  }

  /** Whether the table is beyond the registry's limit: only what this client watches is held. */
  get watchMode(): boolean {
    return this.#mode === 'watch';
  }

  /**
   * The registry holds more nicks than its table limit: from now on only the nicks `keep`
   * says are held, as `presence` and `watched` bring them; a registration waiting for its
   * first table waits no more (none comes).
   */
  enterWatchMode(keep: (nick: string) => boolean): void {
    if (this.#phase.name === 'closed') return;
    this.#mode = 'watch';
    if (this.#pages) this.#timers.clearTimeout(this.#pages.timer);
    this.#pages = undefined;
    this.#aheadDeltas.clear();
    for (const nick of [...this.#entries.keys()]) {
      if (nick !== this.#context.nick && !keep(nick)) this.#entries.delete(nick);
      if (!this.#entryVersions.has(nick)) this.#entryVersions.set(nick, -1);
    }
    const phase = this.#phase;
    if (phase.name === 'awaiting-first') {
      this.#phase = { name: 'following' };
      phase.arrived();
    }
  }

  /** The registry's table is within its limit again (a registration said so): whole tables from now on. */
  enterTableMode(): void {
    this.#mode = 'table';
    this.#entryVersions.clear();
  }

  /** A `presence` push (already acknowledged): changes of watched nicks, with notices. */
  onPresence(push: MessageOf<'presence'>): void {
    if (this.#phase.name === 'closed') return;
    if (push.watch && this.#mode === 'table') this.#context.watchModeStarted();
    if (this.#mode !== 'watch') return;
    this.#takeEntries(push.epoch, push.version, push.entries, true);
  }

  /**
   * The answer to a `watch`: the nicks looked up, as of its version. No notices (they are not
   * changes), unless it catches up after a lost presence notice (`catchingUp`): then what
   * changed of a nick held is told as a notice would have told it.
   */
  onWatched(reply: MessageOf<'watched'>, catchingUp = false): void {
    if (this.#phase.name === 'closed' || this.#mode !== 'watch') return;
    this.#takeEntries(reply.epoch, reply.version, reply.entries, catchingUp);
  }

  /** No longer watched: not held any more. */
  forget(nick: string): void {
    if (this.#mode !== 'watch' || nick === this.#context.nick) return;
    this.#entries.delete(nick);
    this.#entryVersions.delete(nick);
  }

  /** In watch mode: takes each entry newer than the one held (another epoch: a restarted registry, all are). */
  #takeEntries(epoch: string, version: number, entries: TableEntry[], notices: boolean): void {
    if (epoch !== this.#epoch) {
      this.#epoch = epoch;
      this.#version = -1;
      for (const nick of this.#entryVersions.keys()) this.#entryVersions.set(nick, -1);
    }
    this.#version = Math.max(this.#version, version);
    const news = entries.filter((entry) => version > (this.#entryVersions.get(entry.nick) ?? -1));
    if (news.length === 0) return;
    const changes = news.map((entry) => ({
      entry,
      wasOnline: this.#entries.get(entry.nick)?.online ?? entry.online,
    }));
    for (const entry of news) {
      this.#entries.set(entry.nick, entry);
      this.#entryVersions.set(entry.nick, version);
    }
    if (!notices) return this.#context.applied();
    this.#context.changed(this.entries());
    this.#notices(changes);
    this.#context.applied();
  }

  /** A `table` push (already acknowledged): taken when newer than the one held, or when it says `refresh`. */
  onTable(push: MessageOf<'table'>): void {
    if (this.#phase.name === 'closed' || this.#mode === 'watch') return;
    if (!push.refresh && !this.#isNewer(push.table)) return;
    const table = this.#pageIn(push);
    if (table) this.#takeTable(table);
  }

  /** A `table_delta` push (already acknowledged). */
  onDelta(delta: MessageOf<'table_delta'>): void {
    if (this.#phase.name === 'closed' || this.#mode === 'watch') return;
    if (this.#phase.name === 'awaiting-first') return this.#holdDelta(delta); // the whole table is on its way; this may follow it
    if (delta.epoch === this.#epoch && delta.to <= this.#version) return; // old news
    if (delta.epoch !== this.#epoch) return this.#context.resync(); // the registry restarted
    if (delta.from !== this.#version) return this.#holdDelta(delta); // its predecessor may only be late
    this.#applyDelta(delta);
    this.#applyHeldDeltas();
  }

  /** Idempotent: ends every wait; nothing more is taken. */
  close(): void {
    if (this.#pages) this.#timers.clearTimeout(this.#pages.timer);
    this.#pages = undefined;
    for (const timer of this.#holdTimers) this.#timers.clearTimeout(timer);
    this.#holdTimers.clear();
    this.#phase = { name: 'closed' };
  }

  #isNewer(table: TableSnapshot): boolean {
    return table.epoch !== this.#epoch || table.version > this.#version;
  }

  /** The whole table once `push` completes it (a table in one piece completes itself). */
  #pageIn(push: MessageOf<'table'>): TableSnapshot | undefined {
    const { table, page = 0, pages = 1 } = push;
    if (pages === 1) return table;
    let pending = this.#pages;
    if (
      !pending ||
      pending.epoch !== table.epoch ||
      pending.version !== table.version ||
      pending.parts.length !== pages
    ) {
      // A newer table replaces one still coming in; an older one's pages are dropped.
      if (pending && pending.epoch === table.epoch && pending.version > table.version)
        return undefined;
      if (pending) this.#timers.clearTimeout(pending.timer);
      pending = {
        epoch: table.epoch,
        version: table.version,
        parts: new Array<TableEntry[] | undefined>(pages),
        missing: pages,
        timer: undefined,
      };
      this.#pages = pending;
      this.#checkPages(pending);
    }
    if (page >= pages || pending.parts[page]) return undefined;
    pending.parts[page] = table.entries;
    if (--pending.missing > 0) return undefined;
    this.#timers.clearTimeout(pending.timer);
    this.#pages = undefined;
    return {
      epoch: table.epoch,
      version: table.version,
      entries: pending.parts.flatMap((part) => part ?? []),
    };
  }

  /** Pages whose every try was lost: asks again every so often; the pages in hand are kept. */
  #checkPages(pending: PagesComingIn): void {
    const patience = 2 * this.#context.serverTimeoutMs * this.#context.serverTries;
    pending.timer = this.#timers.setTimeout(() => {
      if (this.#pages !== pending) return;
      this.#context.resync();
      this.#checkPages(pending);
    }, patience);
  }

  #takeTable(table: TableSnapshot): void {
    const phase = this.#phase;
    // A registration's first table brings no notices: everyone in it is simply there.
    const first = phase.name === 'awaiting-first';
    const changes = first
      ? []
      : table.entries.map((entry) => ({
          entry,
          wasOnline: this.#entries.get(entry.nick)?.online ?? false,
        }));
    this.#setTable(table);
    this.#context.changed(this.entries());
    if (phase.name === 'awaiting-first') {
      this.#phase = { name: 'following' };
      phase.arrived();
      this.#applyHeldDeltas();
      return;
    }
    this.#notices(changes);
    this.#applyHeldDeltas(); // changes that came while the pages did
    this.#context.applied();
  }

  /** Replaces the table held, and drops the held changes it covers or that belong to another epoch. */
  #setTable(table: TableSnapshot): void {
    for (const [from, delta] of this.#aheadDeltas)
      if (delta.epoch !== table.epoch || from < table.version) this.#aheadDeltas.delete(from);
    this.#epoch = table.epoch;
    this.#version = table.version;
    this.#entries.clear();
    for (const entry of table.entries) this.#entries.set(entry.nick, entry);
  }

  /** Holds a change that came ahead of its predecessor a moment; if the gap stays, asks for the whole table. */
  #holdDelta(delta: MessageOf<'table_delta'>): void {
    this.#aheadDeltas.set(delta.from, delta);
    const timer = this.#timers.setTimeout(() => {
      this.#holdTimers.delete(timer);
      if (this.#pages) return; // a whole table is coming in (and asked for again if it stalls)
      if (
        this.#aheadDeltas.has(delta.from) &&
        !(delta.epoch === this.#epoch && this.#version >= delta.to)
      )
        this.#context.resync();
    }, 2 * this.#context.serverTimeoutMs);
    this.#holdTimers.add(timer);
  }

  /** Applies the held changes that now follow the version in hand, in order. */
  #applyHeldDeltas(): void {
    for (
      let next = this.#aheadDeltas.get(this.#version);
      next;
      next = this.#aheadDeltas.get(this.#version)
    ) {
      this.#aheadDeltas.delete(next.from);
      this.#applyDelta(next);
    }
  }

  #applyDelta(delta: MessageOf<'table_delta'>): void {
    this.#version = delta.to;
    // A change already in hand (say, a newcomer's own arrival in its first table) is no news.
    const news = delta.entries.filter(
      (entry) => JSON.stringify(this.#entries.get(entry.nick)) !== JSON.stringify(entry),
    );
    if (news.length === 0) return;
    const changes = news.map((entry) => ({
      entry,
      wasOnline: this.#entries.get(entry.nick)?.online ?? false,
    }));
    for (const entry of news) this.#entries.set(entry.nick, entry);
    this.#context.changed(this.entries());
    this.#notices(changes);
    this.#context.applied();
  }

  /** `joined` / `left` for the entries whose online state changed (only they are looked at). */
  #notices(changes: Array<{ entry: TableEntry; wasOnline: boolean }>): void {
    for (const { entry, wasOnline } of changes) {
      if (entry.nick === this.#context.nick || entry.online === wasOnline) continue;
      if (entry.online) this.#context.joined(entry.nick);
      else this.#context.left(entry.nick);
    }
    if (this.#entries.get(this.#context.nick)?.online === false) this.#context.correctPresence();
  }
}
