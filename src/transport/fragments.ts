// Requests too large for one safe datagram: split into fragments, and put back together on the
// other side in any order, with memory bounded by count, size and age.
import { MAX_FRAGMENTS, MAX_MESSAGE_BYTES } from '../protocol/constants.js';
import { AgeQueue } from '../util/age-queue.js';
import { DedupWindow } from './dedup.js';

/**
 * Raw bytes per fragment: 960 characters of base64, which with the envelope (~90 bytes)
 * and a signature (~180 bytes) stays under SAFE_DATAGRAM_BYTES.
 */
export const FRAGMENT_BYTES = 720;

/** Splits one encoded request into base64 pieces of FRAGMENT_BYTES. */
export function splitDatagram(datagram: Buffer, fragmentBytes = FRAGMENT_BYTES): string[] {
  const pieces: string[] = [];
  for (let offset = 0; offset < datagram.byteLength; offset += fragmentBytes) {
    pieces.push(datagram.subarray(offset, offset + fragmentBytes).toString('base64'));
  }
  return pieces;
}

export interface ReassemblyOptions {
  /** An incomplete message is dropped this long after its first fragment. */
  timeoutMs?: number;
  /**
   * Bytes held for all incomplete messages together, each piece charged PIECE_COST on top of
   * its bytes and each message MESSAGE_COST (so empty pieces cost too); past it, refused.
   */
  maxBufferedBytes?: number;
  /** Incomplete messages from one source at once; more are refused. */
  maxPerSource?: number;
  /** Incomplete messages at once, from everyone. */
  maxPending?: number;
  now?: () => number;
}

/** What holding one piece costs beyond its bytes (its buffer and bookkeeping). */
export const PIECE_COST = 128;
/** What holding one incomplete message costs beyond its pieces. */
export const MESSAGE_COST = 256;
export const DEFAULT_REASSEMBLIES_PER_SOURCE = 32;
export const DEFAULT_REASSEMBLIES_PENDING = 4_096;

export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 10_000;
export const DEFAULT_REASSEMBLY_BUFFER_BYTES = 8 * 1024 * 1024;

interface Partial {
  parts: Array<Buffer | undefined>;
  received: number;
  /** The message's own bytes (bounded by MAX_MESSAGE_BYTES). */
  bytes: number;
  /** What it is charged against the buffer: its bytes and the fixed costs. */
  charged: number;
  startedAt: number;
  source: string;
}

export type FragmentResult =
  | { status: 'incomplete' }
  /** A piece of a message already put together: acknowledge it, nothing more. */
  | { status: 'duplicate' }
  | { status: 'complete'; datagram: Buffer }
  | {
      status: 'refused';
      reason: 'inconsistent' | 'too-large' | 'buffer-full' | 'encoding' | 'too-many';
    };

/**
 * Puts fragmented requests back together, in order, whatever order and however many
 * times the fragments come. Memory is bounded by count, size and age.
 */
export class Reassembly {
  readonly #partials = new Map<string, Partial & { count: number }>();
  /** The keys of `#partials` as they were started: age order (a place is stale once its partial is gone). */
  readonly #started = new AgeQueue<Partial>((key, partial) => this.#partials.get(key) === partial);
  /** Incomplete messages per source. */
  readonly #perSource = new Map<string, number>();
  readonly #timeoutMs: number;
  readonly #maxBufferedBytes: number;
  readonly #maxPerSource: number;
  readonly #maxPending: number;
  readonly #now: () => number;
  /** Messages already put together, so a late repeat cannot start them over. */
  readonly #completed: DedupWindow;
  #buffered = 0;
  expired = 0;

  constructor(options: ReassemblyOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REASSEMBLY_TIMEOUT_MS;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_REASSEMBLY_BUFFER_BYTES;
    this.#maxPerSource = options.maxPerSource ?? DEFAULT_REASSEMBLIES_PER_SOURCE;
    this.#maxPending = options.maxPending ?? DEFAULT_REASSEMBLIES_PENDING;
    this.#now = options.now ?? Date.now;
    this.#completed = new DedupWindow({ ttlMs: this.#timeoutMs * 3, now: this.#now });
  }

  get pending(): number {
    return this.#partials.size;
  }

  /** What the incomplete messages are charged: their bytes and the fixed costs. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Adds fragment `index` of `count` of the message `key` from `source` (the sender's
   * address, whose incomplete messages are counted together); a repeat changes nothing.
   */
  add(key: string, index: number, count: number, data: string, source = key): FragmentResult {
    this.#expire();
    if (count < 2 || count > MAX_FRAGMENTS || index < 0 || index >= count || data.length === 0) {
      return { status: 'refused', reason: 'inconsistent' };
    }
    if (this.#completed.has(key)) return { status: 'duplicate' };
    const bytes = Buffer.from(data, 'base64');
    if (bytes.toString('base64') !== data) return { status: 'refused', reason: 'encoding' };
    let partial = this.#partials.get(key);
    const cost = bytes.byteLength + PIECE_COST + (partial ? 0 : MESSAGE_COST);
    // Checked before anything is kept: a refused piece must not leave an empty entry behind.
    if (this.#buffered + cost > this.#maxBufferedBytes)
      return { status: 'refused', reason: 'buffer-full' };
    if (!partial) {
      const fromSource = this.#perSource.get(source) ?? 0;
      if (fromSource >= this.#maxPerSource || this.#partials.size >= this.#maxPending)
        return { status: 'refused', reason: 'too-many' };
      partial = {
        parts: new Array<Buffer | undefined>(count),
        received: 0,
        bytes: 0,
        charged: MESSAGE_COST,
        startedAt: this.#now(),
        source,
        count,
      };
      this.#partials.set(key, partial);
      this.#started.push(key, partial);
      this.#perSource.set(source, fromSource + 1);
      this.#buffered += MESSAGE_COST;
    }
    if (partial.count !== count) return { status: 'refused', reason: 'inconsistent' };
    if (partial.parts[index]) return { status: 'incomplete' };
    if (partial.bytes + bytes.byteLength > MAX_MESSAGE_BYTES) {
      this.#drop(key, partial);
      return { status: 'refused', reason: 'too-large' };
    }
    partial.parts[index] = bytes;
    partial.received++;
    partial.bytes += bytes.byteLength;
    partial.charged += bytes.byteLength + PIECE_COST;
    this.#buffered += bytes.byteLength + PIECE_COST;
    if (partial.received < count) return { status: 'incomplete' };
    this.#drop(key, partial);
    this.#completed.add(key, true);
    return { status: 'complete', datagram: Buffer.concat(partial.parts as Buffer[]) };
  }

  clear(): void {
    this.#partials.clear();
    this.#started.clear();
    this.#perSource.clear();
    this.#completed.clear();
    this.#buffered = 0;
  }

  #drop(key: string, partial: Partial): void {
    this.#partials.delete(key);
    this.#buffered -= partial.charged;
    const left = (this.#perSource.get(partial.source) ?? 1) - 1;
    if (left > 0) this.#perSource.set(partial.source, left);
    else this.#perSource.delete(partial.source);
  }

  #expire(): void {
    const now = this.#now();
    // Oldest first: stop at the first one still young.
    for (let key = this.#started.oldest(); key !== undefined; key = this.#started.oldest()) {
      const partial = this.#partials.get(key)!;
      if (now - partial.startedAt <= this.#timeoutMs) break;
      this.#drop(key, partial);
      this.expired++;
    }
  }
}
