// The outbox: messages typed but not settled yet, kept so they survive a restart. An in-memory one
// for library use and tests, and a journal file per nick for the CLI.
import { closeSync, fdatasyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readIfThere, replaceFile } from '../util/files.js';

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
  /** Lets go of what it holds open (the client calls it as it closes). */
  close?(): Promise<void>;
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

/** The first line of an outbox file. */
const HEADER = '{"udpchat-outbox":2}';
/** Rewritten whole when it holds this many more lines than entries pending. */
const COMPACT_SLACK = 256;
/**
 * With nothing pending, cut back to its header once it holds this many lines: one truncation
 * of the open file, where a rewrite is a new file renamed over it (about 0.3 ms of CPU, and
 * on ext4 a flush of the data the rename replaces).
 */
const EMPTY_SLACK = 64;

type Line = { add: OutboxEntry } | { remove: string };

/**
 * The client's outbox in its data directory (one file per nick): a journal, one JSON line
 * per change (`{"add": entry}`, `{"remove": mid}`) appended to an open file, so keeping a
 * message costs one small append, not a rewrite. The appends are synchronous writes: a
 * line of a hundred bytes to the page cache costs a few microseconds that way, against
 * about sixty through the thread pool and its promise (measured: 10 µs of CPU for an add
 * and a remove, against 120). Cut back to its header when nothing is pending (the usual
 * case, every message settled), else rewritten whole (temp file and rename) when the removed
 * lines pile up. Without `durable`, nothing is fsynced: an `add` survives the process, not a
 * power cut. With it (`udpchat -c --fsync`), each change is on disk when it returns: an append
 * or a truncation flushed (fdatasync), a rewrite fsynced before it takes the name and its folder
 * after. A torn last line (a crash mid-append) is ignored; a file of the earlier format (one JSON
 * document) is read and rewritten as a journal.
 */
export class FileOutbox implements Outbox {
  readonly #path: string;
  readonly #durable: boolean;
  #read = false;
  #fd: number | undefined;
  #pending = new Map<string, OutboxEntry>();
  #lines = 0;
  /** One operation at a time: reads and writes never interleave. */
  #chain: Promise<unknown> = Promise.resolve();
  /** Operations in `#chain` not finished yet. */
  #queued = 0;

  constructor(path: string, options: { durable?: boolean } = {}) {
    this.#path = path;
    this.#durable = options.durable ?? false;
  }

  load(): Promise<OutboxEntry[]> {
    return this.#serial(async () => [...this.#pending.values()].map((entry) => ({ ...entry })));
  }

  add(entry: OutboxEntry): Promise<void> {
    if (this.#idle()) return settledBy(() => this.#add(entry));
    return this.#serial(async () => this.#add(entry));
  }

  remove(mid: string): Promise<void> {
    // An append or a truncation is made at once; a rewrite (temp file and rename) waits its
    // turn: with one entry fewer pending than now, is one due?
    if (this.#idle() && !this.#rewriteDue(this.#pending.size - 1))
      return settledBy(() => this.#remove(mid));
    return this.#serial(() => this.#remove(mid));
  }

  #add(entry: OutboxEntry): void {
    this.#pending.set(entry.mid, { ...entry });
    this.#append({ add: entry });
  }

  /** Returns the rewrite under way, when it came to that. */
  #remove(mid: string): Promise<void> | undefined {
    if (!this.#pending.delete(mid)) return;
    if (this.#pending.size === 0 && this.#lines >= EMPTY_SLACK) {
      this.#truncate();
      return;
    }
    if (this.#rewriteDue(this.#pending.size)) return this.#rewrite();
    this.#append({ remove: mid });
  }

  /** Whether, with `pending` entries, the journal has grown enough past them to be rewritten. */
  #rewriteDue(pending: number): boolean {
    return this.#lines > pending + COMPACT_SLACK;
  }

  /**
   * Read already, and no operation queued or under way: one made now, synchronously, keeps
   * the order, and spares a message the turns of the queue (the usual case: one message at a
   * time, each settled before the next is typed).
   */
  #idle(): boolean {
    return this.#read && this.#queued === 0;
  }

  /** Lets go of the file; the outbox opens it again if used. */
  close(): Promise<void> {
    return this.#serial(async () => {
      this.#closeFile();
      this.#read = false;
    }, false);
  }

  #append(line: Line): void {
    this.#fd ??= openSync(this.#path, 'a', 0o600);
    writeSync(this.#fd, `${JSON.stringify(line)}\n`);
    if (this.#durable) fdatasyncSync(this.#fd);
    this.#lines++;
  }

  /**
   * Nothing is pending: the file is cut back to its header (a crash at any point leaves either
   * the whole journal, whose lines add up to nothing pending, or the header alone).
   */
  #truncate(): void {
    this.#fd ??= openSync(this.#path, 'a', 0o600);
    ftruncateSync(this.#fd, Buffer.byteLength(`${HEADER}\n`));
    if (this.#durable) fdatasyncSync(this.#fd);
    this.#lines = 0;
  }

  #closeFile(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** The pending entries alone, written to a temp file that then takes the outbox's place. */
  async #rewrite(): Promise<void> {
    const body =
      [HEADER, ...[...this.#pending.values()].map((entry) => JSON.stringify({ add: entry }))].join(
        '\n',
      ) + '\n';
    await replaceFile(this.#path, body, { mode: 0o600, durable: this.#durable });
    this.#closeFile();
    this.#lines = this.#pending.size;
  }

  #serial<T>(operation: () => Promise<T> | T, reading = true): Promise<T> {
    this.#queued++;
    const run = this.#chain.then(async () => {
      try {
        if (reading) await this.#readFile();
        return await operation();
      } finally {
        this.#queued--;
      }
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #readFile(): Promise<void> {
    if (this.#read) return;
    await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
    const text = await readIfThere(this.#path);
    const parsed =
      text === undefined
        ? { pending: new Map<string, OutboxEntry>(), lines: 0, clean: false }
        : parseOutbox(text, this.#path);
    this.#pending = parsed.pending;
    this.#lines = parsed.lines;
    // A new file gets its header; one of the earlier format, or torn at the end, is written afresh.
    if (!parsed.clean) await this.#rewrite();
    this.#read = true;
  }
}

/** The entries a file holds; `clean` when it is a journal that can be appended to as it is. */
function parseOutbox(
  text: string,
  path: string,
): { pending: Map<string, OutboxEntry>; lines: number; clean: boolean } {
  const refuse = () => new Error(`outbox file ${path} is not a udpchat outbox`);
  const pending = new Map<string, OutboxEntry>();
  if (!text.startsWith(HEADER)) {
    // The earlier format: one JSON document {format: 1, pending: [...]}.
    let data: { format?: unknown; pending?: unknown };
    try {
      data = JSON.parse(text) as typeof data;
    } catch {
      throw refuse();
    }
    if (data?.format !== 1 || !Array.isArray(data.pending)) throw refuse();
    for (const entry of data.pending as OutboxEntry[]) pending.set(entry.mid, entry);
    return { pending, lines: 0, clean: false };
  }
  const lines = text.split('\n').slice(1);
  let clean = true;
  lines.forEach((raw, index) => {
    if (raw === '') return;
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      if (index !== lines.length - 1) throw refuse();
      clean = false; // torn by a crash mid-append (never acknowledged): dropped
      return;
    }
    if ('add' in line) pending.set(line.add.mid, line.add);
    else if ('remove' in line) pending.delete(line.remove);
  });
  return { pending, lines: lines.filter(Boolean).length, clean };
}

/** `operation`, run now, its outcome as a promise: what it returned, or rejected with what it threw. */
function settledBy(operation: () => Promise<void> | undefined | void): Promise<void> {
  return new Promise<void>((resolve) => resolve(operation()));
}
