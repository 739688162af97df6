// Who watches whom, for the clients one registry node serves (in the shape of IRCv3 MONITOR):
// beyond the table limit a presence change goes to the watchers of the nick that changed, and
// to no one else. Memory only: a client says what it watches after each registration.
// Bounded: at most `limit` nicks per watcher, and watchers are registered nicks.

export class Watches {
  readonly #limit: number;
  /** What each watcher watches. */
  readonly #watching = new Map<string, Set<string>>();
  /** Who watches each nick. */
  readonly #watchers = new Map<string, Set<string>>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Adds `nicks` to what `watcher` watches, up to the limit; returns those past it (not added). */
  add(watcher: string, nicks: Iterable<string>): string[] {
    let watching = this.#watching.get(watcher);
    const refused: string[] = [];
    for (const nick of nicks) {
      if (nick === watcher || watching?.has(nick)) continue;
      if ((watching?.size ?? 0) >= this.#limit) {
        refused.push(nick);
        continue;
      }
      if (!watching) this.#watching.set(watcher, (watching = new Set()));
      watching.add(nick);
      let watchers = this.#watchers.get(nick);
      if (!watchers) this.#watchers.set(nick, (watchers = new Set()));
      watchers.add(watcher);
    }
    return refused;
  }

  remove(watcher: string, nicks: Iterable<string>): void {
    const watching = this.#watching.get(watcher);
    if (!watching) return;
    for (const nick of nicks) {
      if (!watching.delete(nick)) continue;
      const watchers = this.#watchers.get(nick);
      watchers?.delete(watcher);
      if (watchers?.size === 0) this.#watchers.delete(nick);
    }
    if (watching.size === 0) this.#watching.delete(watcher);
  }

  /** `watcher` watches nothing any more (it registered anew, or left). */
  clear(watcher: string): void {
    const watching = this.#watching.get(watcher);
    if (watching) this.remove(watcher, [...watching]);
  }

  /** Who watches `nick`. */
  watchersOf(nick: string): ReadonlySet<string> {
    return this.#watchers.get(nick) ?? EMPTY;
  }

  /** What `watcher` watches. */
  watchedBy(watcher: string): ReadonlySet<string> {
    return this.#watching.get(watcher) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
