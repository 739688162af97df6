// A lowdb adapter for a store that must outlive a power cut (`udpchat -s --fsync`): a JSON file
// written as lowdb's own JSONFile writes it (a temporary file, then a rename), but each write
// fsynced before the rename and its folder after (util/files.ts), so a write that resolved is on
// the disk. Writes that overlap are coalesced, as lowdb's are: one at a time, in order; while one
// is under way, the latest data waits, and every write that came meanwhile resolves once that
// data is on disk.
import type { Adapter } from 'lowdb';
import { readIfThere, replaceFile } from '../util/files.js';

export class DurableJSONFile<T> implements Adapter<T> {
  readonly #path: string;
  /** The latest write queued: each write starts once the one before it has ended. */
  #tail: Promise<void> = Promise.resolve();
  /** The write queued and not started yet: a write made meanwhile gives it its data. */
  #queued: { text: string; written: Promise<void> } | undefined;

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
    if (this.#queued) {
      this.#queued.text = text;
      return this.#queued.written;
    }
    const queued = { text, written: Promise.resolve() };
    queued.written = this.#tail
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined; // from here on, a write waits for this one
        return replaceFile(this.#path, queued.text, { durable: true });
      });
    this.#queued = queued;
    this.#tail = queued.written;
    return queued.written;
  }
}
