import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import type { SavedMessage } from '../protocol/messages.js';
import type { ClientRecord, Store } from './store.js';

interface Data {
  format: 1;
  clients: Record<string, ClientRecord>;
  mailboxes: Record<string, SavedMessage[]>;
  groups: Record<string, string[]>;
}

const emptyData = (): Data => ({ format: 1, clients: {}, mailboxes: {}, groups: {} });
const sameMessage = (a: Pick<SavedMessage, 'from' | 'mid'>, b: Pick<SavedMessage, 'from' | 'mid'>) =>
  a.from === b.from && a.mid === b.mid;

/**
 * The embedded default: one JSON file, written whole through a temp file and a rename
 * (lowdb), so a kill -9 at any moment leaves either the old or the new file.
 */
export class LowdbStore implements Store {
  readonly location: string;
  readonly #db: Low<Data>;

  constructor(path: string) {
    this.location = path;
    // Built by hand: lowdb's presets silently switch to memory under NODE_ENV=test.
    this.#db = new Low<Data>(new JSONFile<Data>(path), emptyData());
  }

  async open(): Promise<void> {
    // Private: the store holds password hashes and who talks to whom (a folder made here is 0700).
    await mkdir(dirname(this.location), { recursive: true, mode: 0o700 });
    try {
      await this.#db.read();
    } catch (error) {
      throw new Error(`store file ${this.location} is not a udpchat store (${(error as Error).message})`, {
        cause: error,
      });
    }
    const data = this.#db.data as Partial<Data> | null;
    if (data?.format !== 1) {
      throw new Error(`store file ${this.location} is not a udpchat store (unknown format)`);
    }
    data.clients ??= {};
    data.mailboxes ??= {};
    data.groups ??= {};
    // Create the file now, so the path the operator is shown exists from the start.
    await this.#db.write();
  }

  async loadClients(): Promise<ClientRecord[]> {
    return Object.values(this.#db.data.clients).map((record) => ({ ...record }));
  }

  async putClient(record: ClientRecord): Promise<void> {
    this.#db.data.clients[record.nick] = { ...record };
    await this.#db.write();
  }

  async saveMessage(to: string, message: SavedMessage): Promise<boolean> {
    const mailbox = (this.#db.data.mailboxes[to] ??= []);
    if (mailbox.some((saved) => sameMessage(saved, message))) return false;
    mailbox.push({ ...message });
    await this.#db.write();
    return true;
  }

  async pendingMessages(to: string, limit = Infinity): Promise<SavedMessage[]> {
    return (this.#db.data.mailboxes[to] ?? []).slice(0, limit).map((message) => ({ ...message }));
  }

  async countMessages(to: string): Promise<number> {
    return this.#db.data.mailboxes[to]?.length ?? 0;
  }

  async deleteMessages(to: string, delivered: ReadonlyArray<Pick<SavedMessage, 'from' | 'mid'>>): Promise<void> {
    const mailbox = this.#db.data.mailboxes[to];
    if (!mailbox) return;
    const left = mailbox.filter((saved) => !delivered.some((gone) => sameMessage(saved, gone)));
    if (left.length === mailbox.length) return;
    if (left.length === 0) delete this.#db.data.mailboxes[to];
    else this.#db.data.mailboxes[to] = left;
    await this.#db.write();
  }

  async loadGroups(): Promise<Record<string, string[]>> {
    return Object.fromEntries(Object.entries(this.#db.data.groups).map(([name, members]) => [name, [...members]]));
  }

  async putGroup(name: string, members: readonly string[]): Promise<void> {
    this.#db.data.groups[name] = [...members];
    await this.#db.write();
  }

  async close(): Promise<void> {
    // Every write was awaited by its caller; nothing is buffered here.
  }
}
