// Presence beyond the registry's table limit: the client holds only the nicks it watches (its
// contacts, whom it writes to, who writes to it), and pages of users are asked of the registry.
import { WATCH_BATCH } from '../protocol/constants.js';
import { UdpchatError } from '../protocol/errors.js';
import type { MessageOf, RequestBody } from '../protocol/messages.js';
import type { TableEntry } from '../protocol/fields.js';
import type { Contacts } from './contacts.js';
import type { TableReplica } from './table-replica.js';
import { eachAtMost } from '../util/at-most.js';
import type { Timeouts } from '../util/clock.js';
import { NoticeGaps } from './notice-gaps.js';
import { setLatest } from '../util/latest.js';

/** What watching needs of the client around it. */
export interface WatchingContext {
  readonly nick: string;
  /** A request to the registry (its reply; rejects on timeout or refusal). */
  request(body: RequestBody): Promise<{ t: string }>;
  /** Whether this client is registered right now. */
  online(): boolean;
  log(error: unknown, message: string): void;
  /** For the wait before a missing presence notice counts as lost (see notice-gaps.ts). */
  readonly timers: Timeouts;
}

/** One page of `all` or `online`. */
export interface UsersPage {
  entries: Array<{ nick: string; online: boolean }>;
  /** From 0. */
  page: number;
  pages: number;
  /** The registry does not answer heartbeats: the table as it last was, not kept up to date. */
  stale?: true;
}

/** What `watch` did. */
export type WatchOutcome = 'watching' | 'no-such-user' | 'full';

/** `watch` requests under way at once while a registration's contacts are said (see watchContacts). */
const WATCHES_AT_ONCE = 4;
/** Unknown nicks looked up at once because they wrote to this client; more wait for a later try. */
const LEARNING_AT_ONCE = 4;
/** Nicks not found lately, not looked up again for this long. */
const UNKNOWN_FOR_MS = 30_000;
const UNKNOWN_KEPT = 256;

/**
 * Beyond the registry's table limit, the client holds only the nicks it watches (see
 * table-replica.ts): its contacts, said again after each registration; nicks it writes to,
 * looked up once and then watched; senders it does not know, looked up when they write
 * (a few at a time, and a nick not found is not asked for again for a while). `all` and
 * `online` become pages asked of the registry. It knows the registry only through its context.
 */
export class Watching {
  readonly #context: WatchingContext;
  readonly #replica: TableReplica;
  readonly #contacts: Contacts;
  /** Look-ups under way, by nick: a second asks nothing more. */
  readonly #lookups = new Map<string, Promise<TableEntry | undefined>>();
  /** Nicks the registry did not know, and when it said so. */
  readonly #unknown = new Map<string, number>();
  #learning = 0;
  /** The numbers of the presence notices taken: a missing one makes the contacts watched again. */
  readonly #gaps: NoticeGaps;
  /**
   * Whether the registry node in use holds what this client watches: `saying` while they are
   * said (one saying at a time), `held` once every batch was answered with nothing lost
   * meanwhile, `owed` when a notice was lost or a batch went unanswered (said again now if
   * nothing is being said, else at the next heartbeat's answer).
   */
  #contactsAtNode: 'saying' | 'held' | 'owed' = 'held';

  constructor(context: WatchingContext, replica: TableReplica, contacts: Contacts) {
    this.#context = context;
    this.#replica = replica;
    this.#contacts = contacts;
    this.#gaps = new NoticeGaps({ lost: () => this.#owe() }, context.timers);
  }

  get active(): boolean {
    return this.#replica.watchMode;
  }

  /**
   * After a registration beyond the limit: says which nicks this client watches (its contacts),
   * WATCH_BATCH a request. The first also clears what the registry held for this client, so
   * it goes alone; the rest then go WATCHES_AT_ONCE at a time, not one round trip each.
   * `catchingUp`: said again after a lost presence notice, so what changed is told (see
   * TableReplica.onWatched).
   */
  async watchContacts(catchingUp = false): Promise<void> {
    this.#contactsAtNode = 'saying';
    try {
      await this.#sayContacts(catchingUp);
      if (this.#contactsAtNode === 'saying') this.#contactsAtNode = 'held';
    } catch (error) {
      this.#contactsAtNode = 'owed';
      throw error;
    }
  }

  async #sayContacts(catchingUp: boolean): Promise<void> {
    const nicks = this.#contacts.list().filter((nick) => nick !== this.#context.nick);
    const batches: string[][] = [];
    for (let at = 0; at < nicks.length; at += WATCH_BATCH)
      batches.push(nicks.slice(at, at + WATCH_BATCH));
    await this.#watch({ add: batches.shift() ?? [], clear: true }, catchingUp);
    await eachAtMost(batches, WATCHES_AT_ONCE, (add) => this.#watch({ add }, catchingUp));
  }

  /** A presence notice numbered `seq` came (its entries go to the table replica). */
  noticed(seq: number): void {
    if (this.active) this.#gaps.noticed(seq);
  }

  /**
   * The registry node in use said (a heartbeat's answer) that its last presence notice to this
   * client was number `seq`, in table epoch `epoch`. Contacts owed to the node (a watch of them
   * unanswered, or a lost notice not made up for yet) are said again now.
   */
  sent(seq: number, epoch: string | undefined): void {
    if (!this.active) return;
    if (this.#contactsAtNode === 'owed') return this.#rewatch();
    this.#gaps.sent(seq, epoch);
  }

  /**
   * The entry of `nick`: held already, or looked up (and watched from now on, as a contact).
   * Undefined when the registry does not know it. Within the limit, the table says.
   */
  lookup(nick: string): Promise<TableEntry | undefined> {
    const held = this.#replica.get(nick);
    if (held || !this.active) return Promise.resolve(held);
    const underway = this.#lookups.get(nick);
    if (underway) return underway;
    const lookup = this.#lookUp(nick).finally(() => this.#lookups.delete(nick));
    this.#lookups.set(nick, lookup);
    return lookup;
  }

  /**
   * This client wrote to `nick`, or heard from it: it becomes the most recent contact, and,
   * new, is watched (the least recent contact pushed out is no longer watched).
   */
  touch(nick: string): void {
    if (nick === this.#context.nick) return;
    const change = this.#contacts.touch(nick);
    if (!this.active) return;
    if (change.evicted !== undefined) this.#forget(change.evicted);
    if (change.added && !this.#replica.has(nick)) void this.lookup(nick);
  }

  /**
   * A datagram from `nick`, whom this client does not hold: looks it up in the background,
   * so the sender's next try (it retries) can be checked. Bounded: a few at a time, and a nick
   * the registry did not know lately is not asked for again.
   */
  learn(nick: string): void {
    if (
      !this.active ||
      !this.#context.online() ||
      this.#lookups.has(nick) ||
      this.#learning >= LEARNING_AT_ONCE
    )
      return;
    const notFoundAt = this.#unknown.get(nick);
    if (notFoundAt !== undefined && Date.now() - notFoundAt < UNKNOWN_FOR_MS) return;
    this.#learning++;
    this.lookup(nick)
      .catch((error: unknown) => this.#context.log(error, 'look-up of a sender failed'))
      .finally(() => this.#learning--);
  }

  /** The user watches `nick` (kept until `unwatch`, whatever the other contacts do). */
  async watch(nick: string): Promise<WatchOutcome> {
    // Within the limit the whole table says who exists (and every change comes anyway).
    if (!this.active && !this.#replica.has(nick)) return 'no-such-user';
    const change = this.#contacts.pin(nick);
    if (!change.added && !this.#contacts.has(nick)) return 'full';
    if (change.evicted !== undefined) this.#forget(change.evicted);
    if (!this.active) return 'watching';
    const reply = await this.#watch({ add: [nick] });
    if (reply.missing.includes(nick)) {
      this.#forget(nick); // no such user: not kept watched
      return 'no-such-user';
    }
    return reply.full ? 'full' : 'watching';
  }

  /** The user no longer watches `nick`; false when it was not watched. */
  async unwatch(nick: string): Promise<boolean> {
    if (!this.#contacts.has(nick)) return false;
    this.#forget(nick);
    return true;
  }

  /** What this client watches (the nicks pinned with `watch` first). */
  watching(): { pinned: string[]; contacts: string[] } {
    const pinned = this.#contacts.pinned();
    return { pinned, contacts: this.#contacts.list().filter((nick) => !pinned.includes(nick)) };
  }

  /** One page of the users (`online`: those online), asked of the registry. */
  async page(online: boolean, page: number): Promise<UsersPage> {
    const reply = await this.#context.request({
      t: 'list',
      nick: this.#context.nick,
      online,
      page,
    });
    if (reply.t !== 'listing') throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    const { entries, pages } = reply as MessageOf<'listing'>;
    return { entries, page, pages };
  }

  /**
   * A notice was lost: the contacts are owed to the node, and said again now unless they are
   * being said (that saying then ends owed, and the next heartbeat's answer says them again).
   */
  #owe(): void {
    const saying = this.#contactsAtNode === 'saying';
    this.#contactsAtNode = 'owed';
    if (!saying) this.#rewatch();
  }

  /**
   * The contacts owed to the node are said again (never while they are being said: see the
   * callers): the clearing watch starts the count of notices again, and its answers bring each
   * contact as it is now.
   */
  #rewatch(): void {
    if (!this.active || !this.#context.online()) return;
    this.watchContacts(true).catch((error: unknown) =>
      this.#context.log(error, 'watching again after a lost notice failed'),
    );
  }

  async #lookUp(nick: string): Promise<TableEntry | undefined> {
    const reply = await this.#watch({ add: [nick] });
    if (reply.missing.includes(nick)) {
      // Not a user: not watched (a contact that may register later stays watched, see watchContacts).
      if (!this.#contacts.has(nick))
        void this.#watch({ remove: [nick] }).catch((error: unknown) =>
          this.#context.log(error, 'unwatch failed'),
        );
      setLatest(this.#unknown, nick, Date.now(), UNKNOWN_KEPT);
      return undefined;
    }
    this.#unknown.delete(nick);
    const change = this.#contacts.touch(nick);
    if (change.evicted !== undefined) this.#forget(change.evicted);
    return this.#replica.get(nick);
  }

  /** No longer a contact: no longer watched, nor held. */
  #forget(nick: string): void {
    this.#contacts.remove(nick);
    this.#replica.forget(nick);
    if (!this.active || !this.#context.online()) return;
    void this.#watch({ remove: [nick] }).catch((error: unknown) =>
      this.#context.log(error, 'unwatch failed'),
    );
  }

  async #watch(
    change: { add?: string[]; remove?: string[]; clear?: true },
    catchingUp = false,
  ): Promise<MessageOf<'watched'>> {
    const reply = await this.#context.request({ t: 'watch', nick: this.#context.nick, ...change });
    if (reply.t !== 'watched') throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    const watched = reply as MessageOf<'watched'>;
    this.#replica.onWatched(watched, catchingUp);
    if (change.clear) this.#gaps.started(watched.seq ?? 0, watched.epoch);
    return watched;
  }
}
