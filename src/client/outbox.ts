import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';

/** A message typed but without a final outcome yet. */
export interface OutboxEntry {
  mid: string;
  to: string;
  text: string;
  /** When it was typed, milliseconds since the epoch. */
  at: number;
}

/**
 * Messages kept until they reach a final outcome, in the order they were typed. `add`
 * resolves once the entry is durable, so a crash after it loses nothing.
 */
export interface Outbox {
  load(): Promise<OutboxEntry[]>;
  add(entry: OutboxEntry): Promise<void>;
  remove(mid: string): Promise<void>;
}

/** For library use and tests: survives nothing but keeps the same contract. */
export class MemoryOutbox implements Outbox {
  readonly #entries: OutboxEntry[] = [];

  async load(): Promise<OutboxEntry[]> {
    return this.#entries.map((entry) => ({ ...entry }));
  }

  async add(entry: OutboxEntry): Promise<void> {
    this.#entries.push({ ...entry });
  }

  async remove(mid: string): Promise<void> {
    const index = this.#entries.findIndex((entry) => entry.mid === mid);
    if (index >= 0) this.#entries.splice(index, 1);
  }
}

interface OutboxFile {
  format: 1;
  pending: OutboxEntry[];
}

/** The client's outbox in its data directory (one small JSON file per nick). */
export class FileOutbox implements Outbox {
  readonly #db: Low<OutboxFile>;
  readonly #path: string;
  #opened = false;
  /** One operation at a time: reads and writes never interleave. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
    this.#db = new Low<OutboxFile>(new JSONFile<OutboxFile>(path), { format: 1, pending: [] });
  }

  load(): Promise<OutboxEntry[]> {
    return this.#serial(async () => this.#db.data.pending.map((entry) => ({ ...entry })));
  }

  add(entry: OutboxEntry): Promise<void> {
    return this.#serial(async () => {
      this.#db.data.pending.push({ ...entry });
      await this.#db.write();
    });
  }

  remove(mid: string): Promise<void> {
    return this.#serial(async () => {
      const before = this.#db.data.pending.length;
      this.#db.data.pending = this.#db.data.pending.filter((entry) => entry.mid !== mid);
      if (this.#db.data.pending.length !== before) await this.#db.write();
    });
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(async () => {
      await this.#open();
      return operation();
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #open(): Promise<void> {
    if (this.#opened) return;
    await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
    await this.#db.read();
    const data = this.#db.data as Partial<OutboxFile> | null;
    if (data?.format !== 1 || !Array.isArray(data.pending)) {
      throw new Error(`outbox file ${this.#path} is not a udpchat outbox`);
    }
    this.#opened = true;
  }
}
