// Several datagrams to one address in one UDP datagram: the framing, and the coalescer that
// gathers what a client sends to an address within one turn of the event loop. Bytes only:
// every datagram in a bundle is checked on arrival as if it had come alone.
import { SAFE_DATAGRAM_BYTES } from '../protocol/constants.js';
import type { Address } from './address.js';
import { TurnGroups } from './turn-groups.js';

/**
 * The first two bytes of a bundle. A udpchat datagram is JSON and starts with `{`, so a
 * datagram starting with a zero byte is never one.
 */
const MAGIC = [0x00, 0x01] as const;
const HEADER_BYTES = MAGIC.length;
/** Each datagram in a bundle is preceded by its length, two bytes, big-endian. */
const LENGTH_BYTES = 2;
/** The most datagrams one bundle carries, made or taken. */
export const BUNDLE_MAX_DATAGRAMS = 64;
/** A bundle made here is never larger than this: no IP fragments (see SAFE_DATAGRAM_BYTES). */
export const BUNDLE_MAX_BYTES = SAFE_DATAGRAM_BYTES;

/**
 * Which send of a datagram this is: its `first`, which may share a bundle, or `again` (a
 * retransmission, or an answer repeated to one), which leaves alone: a peer that takes no
 * bundles, or lost the one it came in, gets it this time. `alone`: a first send that leaves at
 * once, alone, rather than wait in a bundle (a merged ACK that filled up: ack-merge.ts).
 */
export type SendKind = 'first' | 'again' | 'alone';

/** Whether `datagram` is a bundle (it may still be malformed: see `unbundle`). */
export function isBundle(datagram: Uint8Array): boolean {
  return (
    datagram.byteLength >= HEADER_BYTES && datagram[0] === MAGIC[0] && datagram[1] === MAGIC[1]
  );
}

/**
 * The datagrams a bundle carries, as views into it; undefined when it is malformed: a length
 * past its end, an empty datagram, more than BUNDLE_MAX_DATAGRAMS, or nothing at all. A
 * malformed bundle is dropped whole.
 */
export function unbundle(bundle: Buffer): Buffer[] | undefined {
  if (!isBundle(bundle)) return undefined;
  const datagrams: Buffer[] = [];
  let at = HEADER_BYTES;
  while (at < bundle.byteLength) {
    if (at + LENGTH_BYTES > bundle.byteLength || datagrams.length === BUNDLE_MAX_DATAGRAMS)
      return undefined;
    const length = bundle.readUInt16BE(at);
    at += LENGTH_BYTES;
    if (length === 0 || at + length > bundle.byteLength) return undefined;
    datagrams.push(bundle.subarray(at, at + length));
    at += length;
  }
  return datagrams.length > 0 ? datagrams : undefined;
}

/**
 * Datagrams gathered to leave together, to one address: `fits` says whether one more may join
 * (at most BUNDLE_MAX_BYTES and BUNDLE_MAX_DATAGRAMS), `take` gives what goes on the wire (a
 * bundle of two or more, the datagram itself if alone) and empties it.
 */
class Run {
  readonly to: Address;
  datagrams: Buffer[] = [];
  #bytes = HEADER_BYTES;

  constructor(to: Address) {
    this.to = to;
  }

  /** Whether `datagram` may join (a datagram too large to share a bundle never may). */
  fits(datagram: Buffer): boolean {
    return (
      this.datagrams.length < BUNDLE_MAX_DATAGRAMS &&
      this.#bytes + LENGTH_BYTES + datagram.byteLength <= BUNDLE_MAX_BYTES
    );
  }

  add(datagram: Buffer): void {
    this.datagrams.push(datagram);
    this.#bytes += LENGTH_BYTES + datagram.byteLength;
  }

  take(): Buffer {
    const { datagrams } = this;
    const wire = datagrams.length > 1 ? frame(datagrams, this.#bytes) : datagrams[0];
    this.datagrams = [];
    this.#bytes = HEADER_BYTES;
    return wire;
  }
}

function frame(datagrams: readonly Buffer[], bytes: number): Buffer {
  const bundle = Buffer.allocUnsafe(bytes);
  bundle[0] = MAGIC[0];
  bundle[1] = MAGIC[1];
  let at = HEADER_BYTES;
  for (const datagram of datagrams) {
    bundle.writeUInt16BE(datagram.byteLength, at);
    at += LENGTH_BYTES;
    at += datagram.copy(bundle, at);
  }
  return bundle;
}

/**
 * What a `Coalescer` needs: the send itself, a way to run something after this turn's I/O,
 * and where to count the bundles.
 */
export interface CoalescerContext {
  send(to: Address, datagram: Buffer): void;
  /** Runs `flush` once the current turn of the event loop is done (setImmediate). */
  defer(flush: () => void): void;
  /** Bundles sent, and the datagrams they carried. */
  counters: { bundlesSent: number; bundled: number };
}

/**
 * Gathers what goes to one address within one turn of the event loop. The first datagram to an
 * address in a turn leaves at once (one message alone waits for nothing); those that follow it
 * within the same turn leave bundled: each bundle as soon as it is full, the last at the
 * turn's end, and a datagram too large to share one alone, in its place. A stream of messages
 * and their ACKs then costs one send and one receive a bundle, not one a datagram; and a full
 * bundle does not wait for the rest of the turn, so the other end starts on it while this one
 * goes on.
 */
export class Coalescer {
  readonly #context: CoalescerContext;
  /**
   * Addresses sent to in this turn: each with what waits to leave with the next datagrams to
   * it (none while nothing does: one message alone costs no run).
   */
  readonly #turn: TurnGroups<Run>;

  constructor(context: CoalescerContext) {
    this.#context = context;
    this.#turn = new TurnGroups(
      (end) => context.defer(end),
      (run) => {
        if (run.datagrams.length > 0) this.#emit(run);
      },
    );
  }

  send(to: Address, datagram: Buffer): void {
    const key = `${to.address}|${to.port}`;
    let run = this.#turn.of(key);
    if (run === undefined) return this.#context.send(to, datagram); // the first: at once
    run ??= this.#turn.keep(key, new Run(to));
    if (!run.fits(datagram) && run.datagrams.length > 0) this.#emit(run); // full: it leaves now
    if (run.fits(datagram)) run.add(datagram);
    else this.#context.send(to, datagram); // too large to share a bundle
  }

  /** Sends what waits, and starts a new turn. */
  flush(): void {
    this.#turn.end();
  }

  #emit(run: Run): void {
    const count = run.datagrams.length;
    if (count > 1) {
      this.#context.counters.bundlesSent++;
      this.#context.counters.bundled += count;
    }
    this.#context.send(run.to, run.take());
  }
}
