// Who watches whom, for the clients one registry node serves (in the shape of IRCv3 MONITOR):
// beyond the table limit a presence change goes to the watchers of the nick that changed, and
// to no one else. Memory only: a client says what it watches after each registration.
// Bounded: at most `limit` nicks per watcher, and watchers are registered nicks.

/**
 * Members of one side of a watch (what a watcher watches, or who watches a nick): an array
 * while small, a Set once larger. Most lists hold a client's twenty or so contacts; a Set of
 * twenty costs about 700 bytes, an array of them under 200, and at 10,000 clients the two
 * directions made 13 MB of Sets.
 */
type Members = string[] | Set<string>;

/** Past this many members a list becomes a Set (membership and removal stop being linear). */
const ARRAY_MEMBERS = 32;

function has(members: Members, nick: string): boolean {
  return Array.isArray(members) ? members.includes(nick) : members.has(nick);
}

function sizeOf(members: Members | undefined): number {
  if (members === undefined) return 0;
  return Array.isArray(members) ? members.length : members.size;
}

/** Adds `nick` (not there yet) to `members`; returns the list to keep (a Set once too large). */
function withMember(members: Members | undefined, nick: string): Members {
  if (members === undefined) return [nick];
  if (!Array.isArray(members)) return members.add(nick);
  if (members.length < ARRAY_MEMBERS) {
    members.push(nick);
    return members;
  }
  return new Set([...members, nick]);
}

/** Removes `nick`; false when it was not there. Order does not matter: the last takes its place. */
function drop(members: Members, nick: string): boolean {
  if (!Array.isArray(members)) return members.delete(nick);
  const index = members.indexOf(nick);
  if (index < 0) return false;
  members[index] = members[members.length - 1];
  members.pop();
  return true;
}

const NONE: readonly string[] = [];

export class Watches {
  readonly #limit: number;
  /** What each watcher watches. */
  readonly #watching = new Map<string, Members>();
  /** Who watches each nick. */
  readonly #watchers = new Map<string, Members>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Adds `nicks` to what `watcher` watches, up to the limit; returns those past it (not added). */
  add(watcher: string, nicks: Iterable<string>): string[] {
    let watching = this.#watching.get(watcher);
    const refused: string[] = [];
    for (const nick of nicks) {
      if (nick === watcher || (watching && has(watching, nick))) continue;
      if (sizeOf(watching) >= this.#limit) {
        refused.push(nick);
        continue;
      }
      watching = withMember(watching, nick);
      this.#watching.set(watcher, watching);
      this.#watchers.set(nick, withMember(this.#watchers.get(nick), watcher));
    }
    return refused;
  }

  remove(watcher: string, nicks: Iterable<string>): void {
    const watching = this.#watching.get(watcher);
    if (!watching) return;
    for (const nick of nicks) {
      if (!drop(watching, nick)) continue;
      const watchers = this.#watchers.get(nick);
      if (!watchers) continue;
      drop(watchers, watcher);
      if (sizeOf(watchers) === 0) this.#watchers.delete(nick);
    }
    if (sizeOf(watching) === 0) this.#watching.delete(watcher);
  }

  /** `watcher` watches nothing any more (it registered anew, or left). */
  clear(watcher: string): void {
    const watching = this.#watching.get(watcher);
    if (watching) this.remove(watcher, [...watching]);
  }

  /** Who watches `nick` (not to be changed while it is gone through). */
  watchersOf(nick: string): Iterable<string> {
    return this.#watchers.get(nick) ?? NONE;
  }

  /** What `watcher` watches (not to be changed while it is gone through). */
  watchedBy(watcher: string): Iterable<string> {
    return this.#watching.get(watcher) ?? NONE;
  }
}
