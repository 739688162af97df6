// A lowdb adapter for a store that must outlive a power cut (`udpchat -s --fsync`): a JSON file
// written as lowdb's own JSONFile writes it (a temporary file, then a rename), but each write
// fsynced before the rename and its folder after (util/files.ts), so a write that resolved is on
// the disk. Writes that overlap are coalesced, as lowdb's are: while one is under way, the latest
// data waits, and every write that came meanwhile resolves once that data is on disk.
import type { Adapter } from 'lowdb';
import { readIfThere, replaceFile } from '../util/files.js';

export class DurableJSONFile<T> implements Adapter<T> {
  readonly #path: string;
  /** The write under way. */
  #writing: Promise<void> | undefined;
  /** The text the next write carries, and that write (one for every write made meanwhile). */
  #waiting: string | undefined;
  #next: Promise<void> | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  async read(): Promise<T | null> {
    const text = await readIfThere(this.#path);
    return text === undefined ? null : (JSON.parse(text) as T);
  }

  /** Resolves once `data` (or data written after it) is on disk. */
  write(data: T): Promise<void> {
    const text = JSON.stringify(data, null, 2);
    if (this.#writing === undefined) return this.#start(text);
    this.#waiting = text;
    this.#next ??= this.#writing
      .catch(() => undefined)
      .then(() => {
        const waiting = this.#waiting!;
        this.#waiting = undefined;
        this.#next = undefined;
        return this.#start(waiting);
      });
    return this.#next;
  }

  #start(text: string): Promise<void> {
    const writing = replaceFile(this.#path, text, { durable: true }).finally(() => {
      if (this.#writing === writing) this.#writing = undefined;
    });
    this.#writing = writing;
    return writing;
  }
}
