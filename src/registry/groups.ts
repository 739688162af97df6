// Group chats: groups and their members, and the relay of each group message to every member,
// acknowledged; members who stop answering are removed and the others told.
import type { Logger } from 'pino';
import { MAX_GROUPS } from '../protocol/constants.js';
import { jsonBytes, prefixWithin } from '../util/fit.js';
import { errorReply, type MessageOf } from '../protocol/messages.js';
import { groupNameProblem } from '../protocol/nick.js';
import type { Address } from '../transport/address.js';
import type { Respond } from '../transport/endpoint.js';
import { spreadTries, type RetryBudget } from '../transport/retry.js';
import type { Store } from '../store/store.js';

/** A message in a group, as the registry relays it to a member. */
type GroupMessage = Omit<MessageOf<'group_msg'>, 'v' | 'id'>;

/** What the registry sends a member: a group message, or news that someone left. */
export type GroupBody = GroupMessage | Omit<MessageOf<'group_removed'>, 'v' | 'id'>;

/** What the group logic needs of the registry around it. */
export interface GroupContext {
  store: Pick<Store, 'putGroup'>;
  log: Logger;
  /**
   * Sends `body` to `member` at `to` as a request with that retry budget (under the member's
   * session with this node when it holds one, else signed); resolves on its ACK, rejects when
   * unanswered.
   */
  request(member: string, to: Address, body: GroupBody, retry: RetryBudget): Promise<unknown>;
  /** How long a member has to ACK a group message before it is removed. */
  ackTimeoutMs: number;
  /** Most members one group has (at most MAX_GROUPS, the most a listing goes to). */
  maxMembers: number;
  /** The address of `nick` if it is online, else undefined. */
  onlineAddress(nick: string): Address | undefined;
  /** Where `nick` was last, online or not (to tell a member taken for offline). */
  lastAddress(nick: string): Address | undefined;
  background(work: Promise<void>, what: string): void;
  /** Tells the other registry nodes (if any) that a group changed. */
  changed(group: string): void;
}

/**
 * Group chats: named groups, their members (one group at a time per member), and the
 * relay of group messages to every member, each acknowledged. A member that does not
 * ACK, goes offline or registers again is removed, and the others are told.
 */
export class Groups {
  readonly #members = new Map<string, string[]>();
  /** Each member's group (one at a time), kept with `#members`: looked up on every register and dereg. */
  readonly #groupOf = new Map<string, string>();
  readonly #context: GroupContext;

  constructor(context: GroupContext) {
    this.#context = context;
  }

  /** Takes the groups as the store has them (at start, and when another node changed one). */
  load(groups: Record<string, string[]>): void {
    this.#members.clear();
    this.#groupOf.clear();
    for (const [name, members] of Object.entries(groups)) {
      this.#members.set(name, [...members]);
      for (const member of members) if (!this.#groupOf.has(member)) this.#groupOf.set(member, name);
    }
  }

  groupOf(nick: string): string | undefined {
    return this.#groupOf.get(nick);
  }

  async handle(request: MessageOf<'group'>, respond: Respond): Promise<void> {
    const { op, from } = request;
    if (op === 'list')
      return respond({
        t: 'group_info',
        ...listingPage('groups', [...this.#members.keys()].sort(), request.start),
      });
    const name = request.group;
    const problem = name === undefined ? 'a group name is needed' : groupNameProblem(name);
    if (name === undefined || problem) return respond(errorReply('BAD_REQUEST', problem ?? ''));
    const members = this.#members.get(name);
    switch (op) {
      case 'create':
        if (members) return respond({ t: 'group_info', status: 'exists' });
        if (this.#members.size >= MAX_GROUPS) {
          return respond(errorReply('REGISTRY_FULL', `at most ${MAX_GROUPS} groups`));
        }
        this.#members.set(name, []);
        await this.#context.store.putGroup(name, []);
        this.#context.changed(name);
        this.#context.log.info({ group: name, by: from }, 'group created');
        return respond({ t: 'group_info', status: 'created' });
      case 'join': {
        if (!members) return respond({ t: 'group_info', status: 'missing' });
        // Bounded (a full group refuses a newcomer until a place is freed).
        const most = Math.min(this.#context.maxMembers, MAX_GROUPS);
        if (!members.includes(from) && members.length >= most) {
          return respond(errorReply('REGISTRY_FULL', `a group has at most ${most} members`));
        }
        const current = this.groupOf(from);
        if (current && current !== name) await this.remove(current, from, 'left');
        if (!members.includes(from)) members.push(from);
        this.#groupOf.set(from, name);
        await this.#context.store.putGroup(name, members);
        this.#context.changed(name);
        this.#context.log.info({ group: name, nick: from }, 'joined a group');
        return respond({ t: 'group_info', status: 'joined' });
      }
      case 'leave':
        if (members?.includes(from)) await this.remove(name, from, 'left');
        return respond({ t: 'group_info', status: 'left' });
      case 'members':
        if (!members) return respond({ t: 'group_info', status: 'missing' });
        if (!members.includes(from)) return respond(errorReply('NOT_IN_GROUP', `not in ${name}`));
        return respond({ t: 'group_info', ...listingPage('members', members, request.start) });
    }
  }

  /** Answers once the registry has the message, then relays it to each other member. */
  send(request: MessageOf<'group_send'>, respond: Respond): void {
    const members = this.#members.get(request.group);
    if (!members?.includes(request.from)) {
      return respond(errorReply('NOT_IN_GROUP', `not in ${request.group}`));
    }
    respond({ t: 'ack' });
    const { group, from, mid, text } = request;
    for (const member of members) {
      if (member === from) continue;
      this.#context.background(
        this.#relay(group, member, { t: 'group_msg', group, from, mid, text }),
        'group relay',
      );
    }
  }

  /**
   * Takes `nick` out of its group: `left` when it went away itself (dereg, a new
   * registration), `removed` when the registry took it for offline (it may still listen,
   * so it is told).
   */
  async memberGone(nick: string, reason: 'left' | 'removed'): Promise<void> {
    const group = this.groupOf(nick);
    if (group) await this.remove(group, nick, reason);
  }

  /** The others are told; a removed member is told too (it may still be listening). */
  async remove(group: string, nick: string, reason: 'left' | 'removed'): Promise<void> {
    const members = this.#members.get(group);
    if (!members?.includes(nick)) return;
    members.splice(members.indexOf(nick), 1);
    if (this.#groupOf.get(nick) === group) this.#groupOf.delete(nick);
    await this.#context.store.putGroup(group, members);
    this.#context.changed(group);
    this.#context.log.info({ group, nick }, 'removed from a group');
    const told = reason === 'removed' ? [...members, nick] : members;
    for (const member of told) {
      const address =
        member === nick ? this.#context.lastAddress(member) : this.#context.onlineAddress(member);
      if (!address) continue;
      this.#context
        .request(
          member,
          address,
          { t: 'group_removed', group, nick, reason },
          spreadTries(this.#context.ackTimeoutMs, 2),
        )
        .catch(() => undefined); // a member that misses this is removed at its own next silence
    }
  }

  async #relay(group: string, member: string, message: GroupMessage): Promise<void> {
    const address = this.#context.onlineAddress(member);
    try {
      if (!address) throw new Error('offline');
      await this.#context.request(
        member,
        address,
        message,
        spreadTries(this.#context.ackTimeoutMs, 2),
      );
    } catch {
      await this.remove(group, member, 'removed');
    }
  }
}

/**
 * Names listed in one reply at most: the bytes of their JSON. 500 names of 32 characters
 * would be about 17 KB in one datagram; a page keeps the reply, with its header and
 * signature, within SAFE_DATAGRAM_BYTES.
 */
const LISTING_PAGE_BYTES = 800;

/** The page of `names` from `start` that fits LISTING_PAGE_BYTES, and where the next begins. */
function listingPage<K extends 'groups' | 'members'>(
  key: K,
  names: readonly string[],
  start = 0,
): { [P in K]: string[] } & { next?: number } {
  const part = prefixWithin(names.slice(start), LISTING_PAGE_BYTES, jsonBytes);
  const end = start + part.length;
  return { [key]: part, ...(end < names.length ? { next: end } : {}) } as { [P in K]: string[] } & {
    next?: number;
  };
}
