// An append-only file of JSON lines, compacted now and then, so that one change costs the bytes
// of that change rather than a rewrite of everything stored. Used by the lowdb store.
import { closeSync, fdatasync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { syncFolder } from '../util/files.js';

const fdatasyncAsync = promisify(fdatasync);

export interface JournalOptions {
  /**
   * Writes everything the journal holds somewhere else, whole (the store's main file): once
   * it resolves, the journal is emptied. Asked for when `due(lines)` says so.
   */
  compact: () => Promise<void>;
  /** Whether a journal of `lines` lines should be compacted now. */
  due: (lines: number) => boolean;
  /**
   * Each write on disk before its `append`s resolve (fdatasync; lines added meanwhile go
   * together in the next write, so one flush serves them all), and the file's name once made.
   */
  durable?: boolean;
}

/**
 * An append-only file of lines (one JSON record each), so that a change costs the bytes of
 * that change, not a rewrite of everything stored. At most one write is in flight; lines
 * added meanwhile go together in the next one, and each `append` resolves once a write that
 * carried its line is done. When the journal is long (`due`), `compact` writes the whole
 * state elsewhere and the journal starts again empty: a rewrite of N records once every N or
 * so lines, a constant cost per line. The appends are synchronous: a few hundred bytes to a
 * local file cost less than handing them to libuv's thread pool and being woken when it is
 * done. Nothing is fsynced (as lowdb does not) unless `durable`: a line written survives the
 * process, not a power cut. A process killed in the middle of a write leaves at most its last
 * line torn, which `read` leaves out.
 */
export class Journal {
  readonly path: string;
  readonly #options: JournalOptions;
  #fd: number | undefined;
  /** Lines in the file. */
  #lines = 0;
  /** Lines not written yet, and the write that will carry them. */
  #pending: string[] = [];
  #next: Promise<void> | undefined;
  /** The write under way. */
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string, options: JournalOptions) {
    this.path = path;
    this.#options = options;
  }

  /** The complete lines in the file (none if there is no file). */
  read(): Promise<string[]> {
    return readLines(this.path);
  }

  /** Opens the file empty: call once what `read` gave is safely written elsewhere. */
  async start(): Promise<void> {
    closeSync(openSync(this.path, 'w', 0o600));
    this.#fd = openSync(this.path, 'a', 0o600);
    this.#lines = 0;
    if (this.#options.durable) await syncFolder(dirname(this.path));
  }

  /** Adds `line` (no newline in it); resolves once it is written. */
  append(line: string): Promise<void> {
    this.#pending.push(line);
    if (this.#next) return this.#next;
    const next = this.#writing.then(() => {
      this.#next = undefined; // lines from now on go in the write after this one
      return this.#write();
    });
    this.#next = next;
    this.#writing = next.catch(() => undefined);
    return next;
  }

  async #write(): Promise<void> {
    const lines = this.#pending;
    this.#pending = [];
    if (this.#fd === undefined) throw new Error('the journal is not open');
    writeSync(this.#fd, lines.join('\n') + '\n');
    if (this.#options.durable) await fdatasyncAsync(this.#fd);
    this.#lines += lines.length;
    if (this.#options.due(this.#lines)) await this.#compact();
  }

  /** Whole state written elsewhere, journal emptied (opened for appending: the next line goes at its start). */
  async #compact(): Promise<void> {
    await this.#options.compact();
    ftruncateSync(this.#fd!, 0);
    this.#lines = 0;
  }

  /**
   * Waits for the writes under way and closes the file. Idempotent. What it holds stays
   * there, for the next `read`: closing writes nothing more (the folder may be gone by then).
   */
  async close(): Promise<void> {
    await this.#writing;
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  /** Lines in the file now (for tests). */
  get lines(): number {
    return this.#lines;
  }
}

/** The complete lines of a file of lines (none if there is no file), empty ones left out. */
export async function readLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a line whose write was cut short
  return lines.filter((line) => line.length > 0);
}
