// Keys taken once for a span of time, in files, so that a process restarted still knows them:
// the signed requests a registry took (beside its lowdb store, see registry/signed-once.ts), or
// a client (in its data folder, see client.ts).
import { replaceFile } from '../util/files.js';
import { Journal, readLines } from './journal.js';

/** Keys held at once, at most: past it, a new one is refused (as the transport's replay cache refuses one). */
export const MAX_CLAIMS = 200_000;
/** The journal is folded into the snapshot once it has this many lines, or twice as many as the keys held if more. */
const JOURNAL_LINES = 1_000;

/** One key held, as a line of the files: the key and until when (ms since the epoch). */
interface Held {
  k: string;
  until: number;
}

export interface ClaimsOptions {
  /** Each write on disk before the claim it carries is confirmed (`--fsync`). */
  durable?: boolean;
  now?: () => number;
  max?: number;
}

/**
 * Keys held for a while, each taken once: `claim` says whether a key is free (and takes it) or
 * still held. They live in memory and in two files: a snapshot of the keys held
 * (`<base>.claims.jsonl`, written whole), and a journal of the keys taken since
 * (`<base>.claims-journal.jsonl`, see journal.ts), folded into the snapshot when it has grown.
 * Opening reads both and keeps the keys still held. A key's line is written before its claim
 * is confirmed, so a process killed after taking a key still holds it once restarted (with
 * `durable`, a power cut too).
 */
export class FileClaims {
  readonly #snapshot: string;
  readonly #journal: Journal;
  readonly #durable: boolean;
  readonly #now: () => number;
  readonly #max: number;
  /** Each key held, and until when; in the order taken, so the first to end come first. */
  readonly #held = new Map<string, number>();

  constructor(base: string, options: ClaimsOptions = {}) {
    this.#snapshot = `${base}.claims.jsonl`;
    this.#durable = options.durable ?? false;
    this.#now = options.now ?? Date.now;
    this.#max = options.max ?? MAX_CLAIMS;
    this.#journal = new Journal(`${base}.claims-journal.jsonl`, {
      compact: () => this.#writeSnapshot(),
      due: (lines) => lines >= Math.max(JOURNAL_LINES, 2 * this.#held.size),
      durable: this.#durable,
    });
  }

  /** Reads what the files hold, keeps the keys still held, and starts the journal again empty. */
  async open(): Promise<void> {
    const now = this.#now();
    const lines = [...(await readLines(this.#snapshot)), ...(await this.#journal.read())];
    const held = lines
      .map(parseHeld)
      .filter((entry): entry is Held => entry !== undefined && entry.until > now);
    for (const { k, until } of held.sort((a, b) => a.until - b.until)) {
      this.#held.delete(k); // a key in both files: in the place of its later end
      this.#held.set(k, until);
    }
    // Nothing in either file (a first start, or a quiet last run): nothing to write again.
    if (lines.length > 0) await this.#writeSnapshot();
    await this.#journal.start();
  }

  /**
   * Takes `key` for `seconds` and resolves true once that is written; false while it is held
   * already, or when as many keys as it may hold are held (nothing is written then).
   */
  async claim(key: string, seconds: number): Promise<boolean> {
    const line = this.#take(key, seconds);
    if (line === undefined) return false;
    await this.#journal.append(line);
    return true;
  }

  /**
   * As `claim`, decided at once: its line is written in the same turn of the event loop, and
   * not waited for (a failed write goes to `failed`). For a process whose order of handling
   * must not change (a client's requests): with `durable`, the line is flushed as it is
   * written, and the claim is not held back for the flush.
   */
  claimNow(key: string, seconds: number, failed: (error: unknown) => void): boolean {
    const line = this.#take(key, seconds);
    if (line === undefined) return false;
    this.#journal.append(line).catch(failed);
    return true;
  }

  /** Takes `key` for `seconds` if it is free and there is room: the line to write, else undefined. */
  #take(key: string, seconds: number): string | undefined {
    const now = this.#now();
    this.#release(now);
    const until = this.#held.get(key);
    if (until !== undefined && until > now) return undefined;
    if (this.#held.size >= this.#max) return undefined;
    const end = now + seconds * 1000;
    this.#held.delete(key); // at the end of the order
    this.#held.set(key, end);
    return JSON.stringify({ k: key, until: end } satisfies Held);
  }

  /** Keys held now (for tests). */
  get size(): number {
    this.#release(this.#now());
    return this.#held.size;
  }

  /** Waits for the writes under way and closes the journal (what it holds is read at the next open). */
  close(): Promise<void> {
    return this.#journal.close();
  }

  /** Lets go of the keys whose time is up, first to end first. */
  #release(now: number): void {
    for (const [key, until] of this.#held) {
      if (until > now) return;
      this.#held.delete(key);
    }
  }

  #writeSnapshot(): Promise<void> {
    this.#release(this.#now());
    const lines = [...this.#held].map(([k, until]) => JSON.stringify({ k, until }) + '\n');
    return replaceFile(this.#snapshot, lines.join(''), { mode: 0o600, durable: this.#durable });
  }
}

/** A held key from a line, or undefined for a line that is not one. */
function parseHeld(line: string): Held | undefined {
  try {
    const held = JSON.parse(line) as Partial<Held> | null;
    return typeof held?.k === 'string' && Number.isFinite(held.until) ? (held as Held) : undefined;
  } catch {
    return undefined;
  }
}
