// The nicks a client keeps watching when the registry's table is too large to hold whole: recent
// correspondents and those the user pinned, bounded, and kept in a file between runs.
import { readFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { replaceFile } from '../util/files.js';
import { nickProblem } from '../protocol/nick.js';

/** A contact: a nick this client wrote to or heard from, or one the user asked to watch (`pinned`). */
export interface Contact {
  nick: string;
  pinned: boolean;
}

/** Where contacts are kept across restarts. */
export interface ContactsStore {
  load(): Promise<Contact[]>;
  save(contacts: Contact[]): Promise<void>;
}

/** What a change of the contacts did: the nick now watched, and the one it pushed out. */
export interface ContactChange {
  added: boolean;
  evicted?: string;
}

/**
 * The nicks this client keeps watching when the table is beyond the registry's limit: whoever
 * it wrote to or heard from, most recent last, and those the user watches explicitly (never
 * pushed out). Bounded: past `limit`, a new contact pushes out the least recent one the user
 * did not pin; with every place pinned, `watch` is refused and nothing else is added.
 */
export class Contacts {
  readonly #limit: number;
  readonly #store: ContactsStore | undefined;
  /** In order of use, least recent first (a Map keeps insertion order). */
  readonly #contacts = new Map<string, Contact>();
  /**
   * The most recent contact (the Map's last key), when known: touching it again (each message
   * of one conversation) leaves the order as it is, without taking it out and putting it back.
   */
  #newest: string | undefined;
  #saving: Promise<void> = Promise.resolve();
  #saveDue = false;

  constructor(limit: number, store?: ContactsStore) {
    this.#limit = limit;
    this.#store = store;
  }

  /** Takes the contacts kept by an earlier run (an unreadable file gives none). */
  async load(): Promise<void> {
    const kept = (await this.#store?.load().catch(() => [])) ?? [];
    for (const contact of kept.filter((contact) => !nickProblem(contact.nick)).slice(-this.#limit))
      this.#contacts.set(contact.nick, { nick: contact.nick, pinned: contact.pinned === true });
    this.#newest = undefined; // added after any touched before
  }

  list(): string[] {
    return [...this.#contacts.keys()];
  }

  /** The nicks the user watches explicitly. */
  pinned(): string[] {
    return [...this.#contacts.values()]
      .filter((contact) => contact.pinned)
      .map((contact) => contact.nick);
  }

  has(nick: string): boolean {
    return this.#contacts.has(nick);
  }

  /** This client wrote to `nick` or heard from it: it becomes the most recent contact. */
  touch(nick: string): ContactChange {
    return this.#use(nick, false);
  }

  /** The user watches `nick`: kept until `unwatch`. Refused (`added: false`) when every place is pinned. */
  pin(nick: string): ContactChange {
    return this.#use(nick, true);
  }

  /** The user no longer watches `nick`; true when it was a contact. */
  remove(nick: string): boolean {
    const removed = this.#contacts.delete(nick);
    if (nick === this.#newest) this.#newest = undefined;
    if (removed) this.#save();
    return removed;
  }

  /** Settles once what was changed is kept. */
  flush(): Promise<void> {
    return this.#saving;
  }

  #use(nick: string, pin: boolean): ContactChange {
    const known = this.#contacts.get(nick);
    if (known) {
      if (nick !== this.#newest) {
        this.#contacts.delete(nick);
        this.#contacts.set(nick, known);
        this.#newest = nick;
      }
      if (pin && !known.pinned) {
        known.pinned = true;
        this.#save();
      }
      return { added: false };
    }
    let evicted: string | undefined;
    if (this.#contacts.size >= this.#limit) {
      evicted = [...this.#contacts.values()].find((contact) => !contact.pinned)?.nick;
      if (evicted === undefined) return { added: false };
      this.#contacts.delete(evicted);
    }
    this.#contacts.set(nick, { nick, pinned: pin });
    this.#newest = nick;
    this.#save();
    return evicted === undefined ? { added: true } : { added: true, evicted };
  }

  /** One write at a time; changes made meanwhile go in the next one. */
  #save(): void {
    const store = this.#store;
    if (!store || this.#saveDue) return;
    this.#saveDue = true;
    this.#saving = this.#saving.then(async () => {
      this.#saveDue = false;
      await store.save([...this.#contacts.values()]).catch(() => undefined);
    });
  }
}

/**
 * Contacts kept as JSON in one file (written to a temporary file, then renamed); with `durable`
 * (`udpchat -c --fsync`), on disk when `save` resolves: fsynced before the rename, its folder after.
 */
export class FileContacts implements ContactsStore {
  readonly #path: string;
  readonly #durable: boolean;

  constructor(path: string, options: { durable?: boolean } = {}) {
    this.#path = path;
    this.#durable = options.durable ?? false;
  }

  async load(): Promise<Contact[]> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch {
      return [];
    }
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (item): item is Contact =>
        typeof item === 'object' &&
        item !== null &&
        typeof (item as Contact).nick === 'string' &&
        typeof (item as Contact).pinned === 'boolean',
    );
  }

  async save(contacts: Contact[]): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
    await replaceFile(this.#path, JSON.stringify(contacts), { durable: this.#durable });
  }
}
