// Who sent a datagram, checked, with authentication on: the signature or session MAC each
// datagram carries, its freshness, and the replay check (a cache of the signed requests taken,
// a window per session for the others); and the signing of what leaves. The
// endpoint hands every datagram through here before anything above it sees it.
import type { KeyObject } from 'node:crypto';
import {
  PRIOR_TRIES,
  macDatagram,
  signDatagram,
  splitSigned,
  verifyMac,
  verifySignature,
  type DatagramMac,
} from '../crypto/signing.js';
import { decode, type DropReason } from '../protocol/codec.js';
import { isReply, type Message, type Request } from '../protocol/messages.js';
import type { Address } from './address.js';
import { DedupWindow } from './dedup.js';
import { ReplayWindows } from './replay-windows.js';

/**
 * Every datagram signed and every one checked: who signed it (a key the application
 * names), that the signature holds, that it is recent, and that it was not seen before.
 */
export interface EndpointAuth {
  /** This endpoint's name on the wire (a nick, or the registry's name). */
  name: string;
  privateKey: KeyObject;
  /**
   * The key `by` signs with; undefined when `by` is unknown here, or the datagram is not to
   * be checked at all (it is dropped). Asked before the signature is checked, so cheap
   * refusals (by address, by cookie) go here.
   */
  keyFor(by: string, message: Message, from: Address): KeyObject | undefined;
  /**
   * The key of session `sid` that `by` authenticates requests with instead of a signature;
   * undefined when this endpoint holds no such session with `by` (the datagram is dropped).
   */
  macKeyFor?(by: string, sid: string, message: Message): Buffer | undefined;
  /**
   * Defined: a request under a session key `macKeyFor` did not give (dropped either way) is
   * answered, signed, `err NO_SESSION`, so its sender signs again; only if that answer is no
   * larger than the request, unless this says `from` has shown it receives.
   */
  noSession?(by: string, message: Message, from: Address): boolean;
  /**
   * True for a signed request answered whoever sent it (the registry's hello): its signature
   * is not checked, it enters neither the replay cache nor the reply cache (it is answered
   * afresh each time it comes), and its handler is told no signer (`by` undefined). Its answer
   * must prove nothing about anyone, and be no larger than it. One under a session key is
   * never taken unchecked (its key is looked up, and the sender told if there is none).
   */
  unchecked?(message: Message): boolean;
  /** How far a signature's time may be from this clock (default 60 s). */
  windowMs?: number;
}

export type AuthDropReason =
  'unsigned' | 'unknown-signer' | 'bad-signature' | 'stale' | 'replayed' | 'rate-limited';
export const DEFAULT_SIGNATURE_WINDOW_MS = 60_000;

/**
 * How long a request taken must be remembered to refuse it again: as long as it could still be
 * taken as fresh (its time up to `windowMs` either side of the receiver's clock), and a second.
 */
export const replayMemoryMs = (windowMs = DEFAULT_SIGNATURE_WINDOW_MS): number =>
  2 * windowMs + 1000;

/** How long a signed request taken is held where it outlives the process (a store, a file): `replayMemoryMs`, in seconds. */
export const SIGNED_HELD_SECONDS = replayMemoryMs() / 1000;

/** Characters of a signature (base64) a replay key keeps: 22, 132 bits. */
const REPLAY_KEY_CHARS = 22;

/**
 * The replay cache's key for a signed request already checked: its signer and the start of
 * its signature. Only requests whose signature was verified are admitted, so two that share a
 * key are one datagram sent again (132 bits of an Ed25519 signature's R do not repeat
 * otherwise). The key is a string of its own: a slice or a concatenation would keep the whole
 * signature alive with it, in each of up to 200,000 entries.
 */
function replayKeyOf(by: string, tag: string | undefined): string {
  return Buffer.from(`${by}|${(tag ?? '').slice(0, REPLAY_KEY_CHARS)}`, 'utf8').toString('utf8');
}

/** A datagram that passed every check, and who signed it (with authentication on). */
export interface Opened {
  message: Message;
  by: string | undefined;
  /**
   * For the replay check (a reply has none: see `open`): a signed request's own key in the
   * replay cache; or, with `n`, the window of its sender's session.
   */
  replayKey: string | undefined;
  /** A request under a session key: its number in that session (see `ReplayWindows`). */
  n?: number;
  /** With `n`, a retransmission's: the numbers of the same request's earlier tries (`Signature.prior`). */
  prior?: readonly number[];
  /** With `n`: below it, every number its sender sent under the session is done with (`Signature.low`). */
  low?: number;
  /** The session key it was authenticated with, if not signed: the reply goes under it too. */
  mac?: DatagramMac;
}

/** A datagram dropped, and why; `noSession`: a request under a session not held here (see `EndpointAuth.noSession`). */
export interface Dropped {
  drop: DropReason | AuthDropReason;
  detail: string;
  /** Set when the datagram was a readable request, so the sender can be told. */
  requestId?: string;
  noSession?: { request: Request; by: string };
}

/** The counters the checks keep (the endpoint's stats). */
export interface AuthCounters {
  sessionAuthenticated: number;
  signaturesChecked: number;
  unchecked: number;
}

/**
 * The checks of every datagram with authentication on (and the decoding of each, on or off):
 * who signed it, that the signature or session MAC holds, that it is recent; the replay cache
 * of signed datagrams taken; and the signing of what leaves. Without `EndpointAuth`, a datagram
 * is only decoded.
 */
export class DatagramAuth {
  readonly #auth: EndpointAuth | undefined;
  readonly #counters: AuthCounters;
  /** The session key a reply to request `re` may come under, if it is `sid`'s. */
  readonly #replyMac: (re: string, sid: string) => DatagramMac | undefined;
  /** Signed requests already taken, so a captured one sent again (from anywhere) is not. */
  readonly #replays: DedupWindow;
  /** The numbers of requests under session keys already taken, per sender and session. */
  readonly #windows: ReplayWindows;
  /** The next number of a datagram sent under each session key (by the key's Buffer). */
  readonly #numbers = new WeakMap<Buffer, number>();
  /** The requests under way under each session key (by the key's Buffer), for `low`. */
  readonly #underWay = new WeakMap<Buffer, UnderWay>();
  /** How long requests name `low` after a request that may have left a try behind settled. */
  readonly #lowForMs: number;

  constructor(
    auth: EndpointAuth | undefined,
    options: {
      replayCacheEntries?: number;
      replayWindows?: number;
      counters: AuthCounters;
      replyMac: (re: string, sid: string) => DatagramMac | undefined;
    },
  ) {
    this.#auth = auth;
    this.#counters = options.counters;
    this.#replyMac = options.replyMac;
    // Every signed request (and every session's window) is remembered for as long as what it
    // took is fresh: when full, new ones are refused rather than one forgotten early (a
    // forgotten one could be replayed).
    const ttlMs = replayMemoryMs(auth?.windowMs);
    // As long as such a try could still be taken as fresh, whatever the two clocks say.
    this.#lowForMs = ttlMs;
    this.#replays = new DedupWindow({
      ttlMs,
      maxEntries: options.replayCacheEntries ?? 200_000,
      whenFull: 'refuse',
    });
    this.#windows = new ReplayWindows({ ttlMs, maxWindows: options.replayWindows ?? 100_000 });
  }

  /** Whether authentication is on. */
  get on(): boolean {
    return this.#auth !== undefined;
  }

  /**
   * With authentication on, every datagram leaves signed, or authenticated under a session
   * key with the next number of this endpoint's datagrams under it (so the same bytes sealed
   * again are a new datagram: a retransmission under a session is sealed afresh, see
   * outgoing.ts). With `tries` (a request's numbers so far under `mac`, kept by the caller across
   * its tries), the datagram names them as its earlier tries' (`Signature.prior`) and its own
   * number is added to them; an empty `tries` is a new request, under way until `settled`.
   *
   * For a while after a request under the key settled with a try its receiver may not have
   * taken (it was sent more than once, or went unanswered), every request under the key names
   * `low` (`Signature.low`): the first number of the oldest request still under way, else its
   * own. The receiver then refuses such a try, held back on the path, when it comes, though it
   * never saw its number. A reply names none: its receiver does not check replies by number.
   */
  seal(datagram: Buffer, mac?: DatagramMac, tries?: number[]): Buffer {
    const auth = this.#auth;
    if (!auth) return datagram;
    if (!mac) return signDatagram(datagram, auth.name, auth.privateKey);
    const n = this.#numbers.get(mac.key) ?? 0;
    this.#numbers.set(mac.key, n + 1);
    if (tries === undefined) return macDatagram(datagram, auth.name, mac, n);
    let underWay = this.#underWay.get(mac.key);
    if (tries.length === 0) {
      if (underWay === undefined) this.#underWay.set(mac.key, (underWay = new UnderWay()));
      underWay.firsts.push(n);
    }
    const now = Date.now();
    const low = underWay !== undefined && now < underWay.lowUntil ? underWay.low(n) : undefined;
    // A request's tries: each names the numbers of those before it (the latest PRIOR_TRIES).
    const prior = tries.length === 0 ? undefined : tries.slice(-PRIOR_TRIES);
    const sealed = macDatagram(datagram, auth.name, mac, n, now, prior, low);
    tries.push(n);
    return sealed;
  }

  /**
   * A request sealed under `mac` with `tries` (see `seal`) is no longer under way: answered
   * (`answered`: a reply came), or given up. When a try of it may not have been taken (more
   * than one was sent, or none was answered), requests under the key name `low` a while.
   */
  settled(mac: DatagramMac, tries: readonly number[], answered: boolean): void {
    const underWay = this.#underWay.get(mac.key);
    if (underWay === undefined || tries.length === 0) return;
    const at = underWay.firsts.indexOf(tries[0]);
    if (at >= 0) underWay.firsts.splice(at, 1);
    if (!answered || tries.length > 1) underWay.lowUntil = Date.now() + this.#lowForMs;
  }

  /** Whether the sender of a request under a session not held here is told `NO_SESSION` (see `EndpointAuth.noSession`): undefined, never; true, whatever its size. */
  noSession(by: string, request: Request, from: Address): boolean | undefined {
    return this.#auth?.noSession?.(by, request, from);
  }

  /**
   * Takes a checked request for the replay check, by its `Opened.replayKey` and `n`: `added`
   * the first time (or when it has no replay key: nothing to check it by), else `seen` (or
   * `full`: refused). A signed one by its signature in the replay cache; one under a session
   * key by its number `n`, in its sender's window, where the numbers of its earlier tries it
   * names (`prior`) are taken too, whatever it is told, and the window's floor rises to its
   * `low`.
   */
  admitReplay({
    replayKey,
    n,
    prior,
    low,
  }: Pick<Opened, 'replayKey' | 'n' | 'prior' | 'low'>): 'added' | 'seen' | 'full' {
    if (replayKey === undefined) return 'added';
    if (n === undefined) return this.#replays.admit(replayKey, true);
    const taken = this.#windows.admit(replayKey, n);
    if (taken === 'full') return taken;
    // An earlier try of the same request, held back on the path, is refused when it comes.
    if (prior) for (const earlier of prior) this.#windows.admit(replayKey, earlier);
    // So is any try of a request its sender is done with (authenticated and fresh, whether
    // taken now or answered before: `low` only ever rises at its sender).
    if (low !== undefined) this.#windows.raise(replayKey, low);
    return taken;
  }

  /** Decodes (and with authentication on, checks) one datagram. */
  open(datagram: Buffer, from: Address, maxBytes?: number): Opened | Dropped {
    const auth = this.#auth;
    const split = auth ? splitSigned(datagram) : undefined;
    if (auth && !split) return { drop: 'unsigned', detail: 'no signature' };
    const decoded = decode(split ? split.inner : datagram, maxBytes);
    if (!decoded.ok) {
      return {
        drop: decoded.reason,
        detail: decoded.detail,
        ...(decoded.requestId !== undefined ? { requestId: decoded.requestId } : {}),
      };
    }
    if (!auth || !split) return { message: decoded.message, by: undefined, replayKey: undefined };
    // Nothing to check it against, nothing proved by it: no signer, no replay key.
    const { signature } = split;
    if (
      !isReply(decoded.message) &&
      signature.sid === undefined &&
      auth.unchecked?.(decoded.message)
    ) {
      this.#counters.unchecked++;
      return { message: decoded.message, by: undefined, replayKey: undefined };
    }
    let mac: DatagramMac | undefined;
    if (signature.sid !== undefined) {
      // A session key: a reply under the one its request went with, a request under one the application holds.
      const message = decoded.message;
      const key = isReply(message)
        ? this.#replyMac(message.re, signature.sid)
        : ((found) => (found ? { sid: signature.sid, key: found } : undefined))(
            auth.macKeyFor?.(signature.by, signature.sid, message),
          );
      if (!key) {
        return {
          drop: 'unknown-signer',
          detail: `${signature.by} in session ${signature.sid}`,
          ...(isReply(message) ? {} : { noSession: { request: message, by: signature.by } }),
        };
      }
      if (!verifyMac(split.inner, signature, key.key))
        return { drop: 'bad-signature', detail: signature.by };
      mac = key;
    } else {
      const key = auth.keyFor(signature.by, decoded.message, from);
      if (!key) return { drop: 'unknown-signer', detail: signature.by };
      this.#counters.signaturesChecked++;
      if (!verifySignature(split.inner, signature, key))
        return { drop: 'bad-signature', detail: signature.by };
    }
    if (Math.abs(Date.now() - signature.ts) > (auth.windowMs ?? DEFAULT_SIGNATURE_WINDOW_MS))
      return { drop: 'stale', detail: `${signature.by} at ${signature.ts}` };
    if (mac) this.#counters.sessionAuthenticated++;
    // A reply settles the one request under way with its id (outgoing.ts), at most once: only
    // a request is checked for replays, and only a request needs a key there.
    if (isReply(decoded.message))
      return { message: decoded.message, by: signature.by, replayKey: undefined, mac };
    if (mac) {
      const replayKey = `${signature.by}|${signature.sid}`;
      const { n, prior, low } = signature;
      return { message: decoded.message, by: signature.by, replayKey, n, prior, low, mac };
    }
    const replayKey = replayKeyOf(signature.by, signature.sig);
    return { message: decoded.message, by: signature.by, replayKey };
  }
}

/**
 * The requests under way under one session key, by the number each was first sent with (rising,
 * as numbers are given), and until when requests under the key name `low`.
 */
class UnderWay {
  readonly firsts: number[] = [];
  lowUntil = -Infinity;

  /** The first number of the oldest request under way, else `n` (the datagram's own). */
  low(n: number): number {
    return this.firsts.length > 0 ? this.firsts[0] : n;
  }
}
