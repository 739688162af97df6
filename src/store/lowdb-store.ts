// The default store, in local files through lowdb: the table and groups in one file (with a
// journal of record changes beside it), and one file per mailbox.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { makeFolder } from '../util/files.js';
import { DurableJSONFile } from './durable-json-file.js';
import type { SavedMessage } from '../protocol/fields.js';
import type { ClientRecord, Store } from './store.js';
import { Journal } from './journal.js';
import { FileClaims } from './claims.js';

interface Data {
  format: 1 | 2;
  clients: Record<string, ClientRecord>;
  /** Format 1 only: the mailboxes, which format 2 keeps in files of their own. */
  mailboxes?: Record<string, SavedMessage[]>;
  groups: Record<string, string[]>;
}

interface MailboxData {
  format: 2;
  messages: SavedMessage[];
}

interface Mailbox {
  db: Low<MailboxData>;
  /** `from|mid` of every message in it, so a duplicate is found without a scan. */
  ids: Set<string>;
}

const emptyData = (): Data => ({ format: 2, clients: {}, groups: {} });
const idOf = (message: Pick<SavedMessage, 'from' | 'mid'>) => `${message.from}|${message.mid}`;
/** A nick is letters, digits, '_', '.', '-': with the prefix, one plain file name (never '..'). */
const MAILBOX_FILE = /^m-([A-Za-z0-9_.-]+)\.json$/;
/** The journal is folded into the table file once it has this many lines, or as many as the table has records if more. */
const JOURNAL_LINES = 1_000;
/** The journal of client records beside the table file `path`. */
const journalPath = (path: string) => path.replace(/\.json$/, '') + '.clients.jsonl';

/**
 * The embedded default, in lowdb files: the table and groups in one (`registry.json`), and
 * each mailbox in a file of its own beside it (`registry.mailboxes/m-<nick>.json`), so that
 * saving a message rewrites only its recipient's mailbox, not everything stored. Each file
 * is written whole through a temp file and a rename (lowdb), so a kill -9 at any moment
 * leaves either the old or the new file; writes to one file that overlap are coalesced
 * into one by lowdb. A client record put (a registration, a client going offline) is not a
 * rewrite of the table file: it is one line appended to a journal beside it
 * (`registry.clients.jsonl`, see journal.ts), folded into the table file once the journal
 * is as long as the table; opening the store reads the table file, then the journal over it.
 * The keys taken with `claim` are in two more files beside it (`registry.claims.jsonl` and its
 * journal, see claims.ts).
 * Without `durable`, nothing is fsynced: a confirmed write survives the process, not a power
 * cut. With it, every write is on disk before it is confirmed: each file fsynced before it
 * takes its name and its folder after (durable-json-file.ts), each journal write flushed.
 */
export class LowdbStore implements Store {
  readonly location: string;
  readonly #db: Low<Data>;
  readonly #mailboxDir: string;
  readonly #mailboxes = new Map<string, Promise<Mailbox>>();
  /** Nicks with a mailbox file (or one being made): the others have no mail. */
  readonly #withFile = new Set<string>();
  /** Client records put since the table file was written (see journal.ts). */
  readonly #journal: Journal;
  /** Records in the table (counted here: the journal asks at every write). */
  #clientCount = 0;
  /** Every write on disk before it is confirmed (`udpchat -s --fsync`). */
  readonly #durable: boolean;
  /** Keys taken for a while (`claim`), in files beside the table (see claims.ts). */
  readonly #claims: FileClaims;

  constructor(path: string, options: { durable?: boolean } = {}) {
    this.location = path;
    this.#durable = options.durable ?? false;
    this.#mailboxDir = path.replace(/\.json$/, '') + '.mailboxes';
    // Built by hand: lowdb's presets silently switch to memory under NODE_ENV=test.
    this.#db = new Low<Data>(this.#file<Data>(path), emptyData());
    this.#claims = new FileClaims(path.replace(/\.json$/, ''), { durable: this.#durable });
    this.#journal = new Journal(journalPath(path), {
      compact: () => this.#db.write(),
      due: (lines) => lines >= Math.max(JOURNAL_LINES, this.#clientCount),
      durable: this.#durable,
    });
  }

  /** The adapter of one of the store's files. */
  #file<T>(path: string): Adapter<T> {
    return this.#durable ? new DurableJSONFile<T>(path) : new JSONFile<T>(path);
  }

  async open(): Promise<void> {
    // Private: the store holds password hashes and who talks to whom (a folder made here is 0700).
    await makeFolder(dirname(this.location), { durable: this.#durable });
    // A journal is only ever started once its table file is written: one without that file
    // belongs to a store that was removed, and goes with it.
    const tableFileExists = await stat(this.location).then(
      () => true,
      () => false,
    );
    try {
      await this.#db.read();
    } catch (error) {
      throw new Error(
        `store file ${this.location} is not a udpchat store (${(error as Error).message})`,
        {
          cause: error,
        },
      );
    }
    const data = this.#db.data as Partial<Data> | null;
    if (data?.format !== 1 && data?.format !== 2) {
      throw new Error(`store file ${this.location} is not a udpchat store (unknown format)`);
    }
    data.clients ??= {};
    data.groups ??= {};
    await makeFolder(this.#mailboxDir, { durable: this.#durable });
    for (const nick of await this.mailboxNicks()) this.#withFile.add(nick);
    // Format 1 kept the mailboxes in the main file: they move to their own files first.
    for (const [nick, messages] of Object.entries(data.mailboxes ?? {})) {
      const mailbox = await this.#mailbox(nick);
      for (const message of messages) {
        if (mailbox.ids.has(idOf(message))) continue;
        mailbox.ids.add(idOf(message));
        mailbox.db.data.messages.push(message);
      }
      await mailbox.db.write();
    }
    delete data.mailboxes;
    data.format = 2;
    // The records put since the table file was last written, in order, over it.
    for (const line of tableFileExists ? await this.#journal.read() : []) {
      const record = parseRecord(line);
      if (record) data.clients[record.nick] = record;
    }
    // Create the file now, so the path the operator is shown exists from the start; with
    // the journal in it, the journal starts again empty.
    await this.#db.write();
    await this.#journal.start();
    this.#clientCount = Object.keys(data.clients).length;
    await this.#claims.open();
  }

  claim(key: string, seconds: number): Promise<boolean> {
    return this.#claims.claim(key, seconds);
  }

  /**
   * The mailbox of `nick` if it has one (a file, or one made here), read on first use; a
   * nick that never had mail costs no file read and no memory (heartbeats ask for every nick).
   */
  #existing(nick: string): Promise<Mailbox> | undefined {
    return (
      this.#mailboxes.get(nick) ?? (this.#withFile.has(nick) ? this.#mailbox(nick) : undefined)
    );
  }

  /** The mailbox of `nick`, read from its file on first use (an absent file is an empty mailbox). */
  #mailbox(nick: string): Promise<Mailbox> {
    let mailbox = this.#mailboxes.get(nick);
    if (!mailbox) {
      this.#withFile.add(nick);
      mailbox = (async () => {
        const db = new Low<MailboxData>(
          this.#file<MailboxData>(join(this.#mailboxDir, `m-${nick}.json`)),
          { format: 2, messages: [] },
        );
        await db.read();
        return { db, ids: new Set(db.data.messages.map(idOf)) };
      })();
      this.#mailboxes.set(nick, mailbox);
      mailbox.catch(() => this.#mailboxes.delete(nick));
    }
    return mailbox;
  }

  /** Every recipient with a mailbox file (for tools and tests; the registry asks per nick). */
  async mailboxNicks(): Promise<string[]> {
    const names = await readdir(this.#mailboxDir).catch(() => []);
    return names.flatMap((name) => MAILBOX_FILE.exec(name)?.slice(1, 2) ?? []);
  }

  async loadClients(): Promise<ClientRecord[]> {
    return Object.values(this.#db.data.clients).map((record) => ({ ...record }));
  }

  async putClient(record: ClientRecord): Promise<void> {
    if (!Object.hasOwn(this.#db.data.clients, record.nick)) this.#clientCount++;
    this.#db.data.clients[record.nick] = { ...record };
    await this.#journal.append(JSON.stringify(record));
  }

  async saveMessage(to: string, message: SavedMessage): Promise<boolean> {
    const mailbox = await this.#mailbox(to);
    if (mailbox.ids.has(idOf(message))) return false;
    mailbox.ids.add(idOf(message));
    mailbox.db.data.messages.push({ ...message });
    await mailbox.db.write();
    return true;
  }

  async pendingMessages(to: string, limit = Infinity): Promise<SavedMessage[]> {
    const mailbox = await this.#existing(to);
    return mailbox
      ? mailbox.db.data.messages.slice(0, limit).map((message) => ({ ...message }))
      : [];
  }

  async countMessages(to: string, from?: string): Promise<number> {
    const messages = (await this.#existing(to))?.db.data.messages ?? [];
    if (from === undefined) return messages.length;
    let count = 0;
    for (const message of messages) if (message.from === from) count++;
    return count;
  }

  async deleteMessages(
    to: string,
    delivered: ReadonlyArray<Pick<SavedMessage, 'from' | 'mid'>>,
  ): Promise<void> {
    const mailbox = await this.#existing(to);
    if (!mailbox) return;
    const gone = new Set(delivered.map(idOf).filter((id) => mailbox.ids.has(id)));
    if (gone.size === 0) return;
    for (const id of gone) mailbox.ids.delete(id);
    mailbox.db.data.messages = mailbox.db.data.messages.filter((saved) => !gone.has(idOf(saved)));
    await mailbox.db.write();
  }

  async loadGroups(): Promise<Record<string, string[]>> {
    return Object.fromEntries(
      Object.entries(this.#db.data.groups).map(([name, members]) => [name, [...members]]),
    );
  }

  async putGroup(name: string, members: readonly string[]): Promise<void> {
    this.#db.data.groups[name] = [...members];
    await this.#db.write();
  }

  /** Idempotent: waits for the journals' last writes (the next open folds them in). */
  async close(): Promise<void> {
    await this.#journal.close();
    await this.#claims.close();
  }
}

/** A client record from a journal line, or undefined for a line that is not one. */
function parseRecord(line: string): ClientRecord | undefined {
  try {
    const record = JSON.parse(line) as Partial<ClientRecord> | null;
    return typeof record?.nick === 'string' && typeof record.ip === 'string'
      ? (record as ClientRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The client records stored at `path`, read without opening the store (the table file, then
 * the journal over it): for tools and tests that look at a running registry's store. A fold
 * of the journal into the table file between the two reads would hide the latest changes
 * (it comes once every thousand or more changes): read again to be sure.
 */
export async function readStoredClients(path: string): Promise<Record<string, ClientRecord>> {
  const data = JSON.parse(await readFile(path, 'utf8')) as Partial<Data>;
  const clients = { ...data.clients };
  const journal = new Journal(journalPath(path), {
    compact: async () => undefined,
    due: () => false,
  });
  for (const line of await journal.read()) {
    const record = parseRecord(line);
    if (record) clients[record.nick] = record;
  }
  return clients;
}
