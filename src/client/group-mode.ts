// The client's side of groups: the group it is in (group mode, in which private messages are
// held), the requests that make, join, list and leave groups, and what the registry tells of them.
import { UdpchatError, isUdpchatError } from '../protocol/errors.js';
import type { MessageOf, Reply, RequestBody } from '../protocol/messages.js';
import { groupNameProblem } from '../protocol/nick.js';
import { textProblem } from './text.js';

/** What group mode tells, as the client's events of the same names. */
export interface GroupModeEvents {
  /** Another member left the group, or was removed for not acknowledging. */
  'group-member-gone': { group: string; nick: string; reason: 'left' | 'removed' };
  /** This client was removed from its group by the registry. */
  'removed-from-group': { group: string };
  /** This client left its group (leave_group); held private messages follow. */
  'left-group': { group: string };
}

/** What group mode needs of the client around it. */
export interface GroupModeContext {
  readonly nick: string;
  online(): boolean;
  /** A request to the registry node in use (silence is told as `server-not-responding`). */
  request(body: RequestBody): Promise<Reply>;
  /** A fresh message id. */
  newId(): string;
  /** Out of `group`: the private messages held while in it are shown now, in order. */
  release(group: string): void;
  emit<K extends keyof GroupModeEvents>(event: K, payload: GroupModeEvents[K]): void;
}

/**
 * The group this client is in, if any, and the requests about groups. In a group, private
 * messages are held (by the inbox) until the client is out of it: it leaves, the registry
 * removes it (said in a `group_removed`, or found out from a refusal `NOT_IN_GROUP`), or it
 * registers again (every registration starts outside any group). Out of the group,
 * `removed-from-group` or `left-group` is told first, then what was held is let out.
 */
export class GroupMode {
  readonly #context: GroupModeContext;
  #group: string | undefined;

  constructor(context: GroupModeContext) {
    this.#context = context;
  }

  /** The group this client is in. */
  get current(): string | undefined {
    return this.#group;
  }

  async create(name: string): Promise<'created' | 'exists'> {
    const reply = await this.#request('create', name);
    return reply.status === 'exists' ? 'exists' : 'created';
  }

  list(): Promise<string[]> {
    return this.#listing('list');
  }

  /** Enters group mode: private messages are held until `leave()`. */
  async join(name: string): Promise<'joined' | 'missing'> {
    if (this.#group) throw new UdpchatError('ERR_IN_GROUP', `already in ${this.#group}`);
    const reply = await this.#request('join', name);
    if (reply.status !== 'joined') return 'missing';
    this.#group = name;
    return 'joined';
  }

  /** Leaves group mode, even when the registry does not answer (it drops the member itself). */
  async leave(): Promise<string> {
    const group = this.#inGroup();
    try {
      await this.#request('leave', group);
    } finally {
      this.#left(group, 'left-group');
    }
    return group;
  }

  /** The members of this client's group (a promise rejected outside one, as every request here). */
  async members(): Promise<string[]> {
    return this.#listing('members', this.#inGroup());
  }

  /** Resolves once the registry has the message; it relays it to every other member. */
  async send(text: string): Promise<void> {
    const group = this.#inGroup();
    const problem = textProblem(text);
    if (problem) throw problem;
    const context = this.#context;
    await context
      .request({ t: 'group_send', from: context.nick, group, mid: context.newId(), text })
      .catch((error: unknown) => this.#outOfGroup(error));
  }

  /** The client registered: the registry starts every registration outside any group, and so does the client. */
  registered(): void {
    this.#removed();
  }

  /** The registry tells of a member gone from `request.group` (this client itself: out of it). */
  onRemoved(request: MessageOf<'group_removed'>): void {
    if (this.#group !== request.group) return;
    if (request.nick === this.#context.nick) return this.#removed();
    this.#context.emit('group-member-gone', {
      group: request.group,
      nick: request.nick,
      reason: request.reason,
    });
  }

  /** A listing, page by page (each reply fits one datagram); a name seen twice, as a change meanwhile can cause, once. */
  async #listing(op: 'list' | 'members', group?: string): Promise<string[]> {
    const names = new Set<string>();
    for (let start: number | undefined; ;) {
      const reply = await this.#request(op, group, start);
      for (const name of (op === 'list' ? reply.groups : reply.members) ?? []) names.add(name);
      if (reply.next === undefined || reply.next <= (start ?? 0)) return [...names];
      start = reply.next;
    }
  }

  #inGroup(): string {
    if (!this.#group) throw new UdpchatError('ERR_NOT_IN_GROUP', 'not in a group');
    return this.#group;
  }

  async #request(op: MessageOf<'group'>['op'], group?: string, start?: number) {
    if (!this.#context.online()) throw new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
    if (group !== undefined) {
      const problem = groupNameProblem(group);
      if (problem) throw new UdpchatError('ERR_INVALID_GROUP', problem);
    }
    const reply = await this.#context
      .request({
        t: 'group',
        from: this.#context.nick,
        op,
        ...(group === undefined ? {} : { group }),
        ...(start === undefined ? {} : { start }),
      })
      .catch((error: unknown) => this.#outOfGroup(error));
    if (reply.t !== 'group_info')
      throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    return reply;
  }

  /**
   * The registry says this client is in no group: group mode ends here too. This is how a
   * client the registry took out of its group while it was only quiet finds out: the registry
   * tells no member it has just marked offline.
   */
  #outOfGroup(error: unknown): never {
    if (isUdpchatError(error, 'ERR_NOT_IN_GROUP')) this.#removed();
    throw error;
  }

  /** Out of its group (if in one) because the registry took it out: `removed-from-group`. */
  #removed(): void {
    const group = this.#group;
    if (group) this.#left(group, 'removed-from-group');
  }

  /** Out of `group`: `event` says so, then what was held is let out, in order. */
  #left(group: string, event: 'left-group' | 'removed-from-group'): void {
    this.#group = undefined;
    this.#context.emit(event, { group });
    this.#context.release(group);
  }
}
