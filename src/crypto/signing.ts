// Signed datagrams: the message's own JSON, a newline (JSON.stringify never writes a raw one),
// and `{"by","ts","sig"}`, an Ed25519 signature over a domain tag, the signer's name, the time and
// the message bytes (or, in a session, an HMAC that also covers the datagram's number in the
// session). The message is never re-encoded, so the bytes checked are the bytes signed.
import {
  createHmac,
  createSecretKey,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';

/** The trailer of a signed datagram. */
export interface Signature {
  /** The signer: a nick, or REGISTRY_NAME. */
  by: string;
  /** When it was signed, milliseconds since the epoch (for the replay window). */
  ts: number;
  /** Ed25519, base64; or, between two users in a session, `mac` and `sid` instead. */
  sig?: string;
  /** HMAC-SHA256 under the session's datagram key, base64. */
  mac?: string;
  /** Which session's key made `mac`. */
  sid?: string;
  /** With `mac`: the datagram's number among those its sender sent under the session (the replay window). */
  n?: number;
  /**
   * With `n`, on a retransmission sealed afresh: the numbers the same request was sent with
   * before (the latest PRIOR_TRIES), under the MAC too, so its receiver takes them as well and
   * an earlier try held back on the path is refused when it comes (see replay-windows.ts).
   */
  prior?: number[];
  /**
   * With `n`, on a request, for a while after one under the session ended with a try its
   * receiver may not have taken (see `DatagramAuth.seal`): the lowest number a request still
   * under way was first sent with, or `n` when none is; every number below it is a request its
   * sender is done with, or a reply. Under the MAC too: the receiver then refuses any request
   * numbered below it that it has not taken (see replay-windows.ts).
   */
  low?: number;
}

/** Earlier tries' numbers a retransmission names at most (`Signature.prior`). */
export const PRIOR_TRIES = 8;

/**
 * A session key to authenticate datagrams with instead of a signature: between two users
 * only, once both hold the session (see `Sessions` in sealing.ts).
 */
export interface DatagramMac {
  sid: string;
  key: Buffer;
}

export const REGISTRY_NAME = '@registry';
const NEWLINE = 0x0a;
/** A trailer's bytes at most, newline included (a MAC's with a 40-letter name, `low` and PRIOR_TRIES numbers of 16 digits: 337). */
const TRAILER_BYTES = 400;

function signedBytes(inner: Uint8Array, by: string, ts: number): Buffer {
  return Buffer.concat([Buffer.from(`udpchat-sig-v1|${by}|${ts}|`, 'utf8'), inner]);
}

export function signDatagram(
  inner: Buffer,
  by: string,
  privateKey: KeyObject,
  now = Date.now(),
): Buffer {
  const sig = sign(null, signedBytes(inner, by, now), privateKey).toString('base64');
  return withTrailer(inner, by, now, `"sig":${JSON.stringify(sig)}`);
}

/**
 * The message's bytes, a newline and the trailer's JSON: `by`, `ts`, then the proof's fields
 * (`"sig":…`, or `"sid":…,"mac":…`), written as JSON.stringify writes a Signature, without
 * making the object first.
 */
function withTrailer(inner: Buffer, by: string, ts: number, proof: string): Buffer {
  const tail = `\n{"by":${JSON.stringify(by)},"ts":${ts},${proof}}`;
  return Buffer.concat([inner, Buffer.from(tail, 'utf8')]);
}

/**
 * Each session key as a KeyObject, made once: an HMAC keyed with one skips the checks and the
 * copy a Buffer key goes through at every call (measured: a quarter of an HMAC's cost while
 * the process is cold, as each message finds it). Keyed by the Buffer a session keeps.
 */
const keyObjects = new WeakMap<Buffer, KeyObject>();

function keyObjectOf(key: Buffer): KeyObject {
  let made = keyObjects.get(key);
  if (made === undefined) keyObjects.set(key, (made = createSecretKey(key)));
  return made;
}

function macOf(
  inner: Uint8Array,
  by: string,
  ts: number,
  sid: string,
  n: number,
  key: Buffer,
  prior: readonly number[] | undefined,
  low: number | undefined,
): Buffer {
  // A retransmission's earlier numbers, and `low`, go under domain tags of their own, so a
  // datagram without them is authenticated exactly as before.
  const head =
    low !== undefined
      ? `udpchat-mac-v2-low|${by}|${ts}|${sid}|${n}|${low}|${prior?.join(',') ?? ''}|`
      : prior === undefined
        ? `udpchat-mac-v2|${by}|${ts}|${sid}|${n}|`
        : `udpchat-mac-v2-prior|${by}|${ts}|${sid}|${n}|${prior.join(',')}|`;
  return createHmac('sha256', keyObjectOf(key)).update(head).update(inner).digest();
}

/**
 * The session form of a signed datagram: the trailer carries `{"by","ts","sid","n","mac"}`, an
 * HMAC-SHA256 (node:crypto) under the session's datagram key over a domain tag, the
 * sender's name, the time, the session id, `n` (the datagram's number among those `by` sent
 * under the session: never the same twice) and the message bytes. A retransmission sealed
 * afresh also names its earlier tries' numbers, `prior` (see `Signature.prior`), and a datagram
 * may name `low` (see `Signature.low`), both under the MAC.
 */
export function macDatagram(
  inner: Buffer,
  by: string,
  mac: DatagramMac,
  n: number,
  now = Date.now(),
  prior?: readonly number[],
  low?: number,
): Buffer {
  const named = prior !== undefined && prior.length > 0 ? prior : undefined;
  const tag = macOf(inner, by, now, mac.sid, n, mac.key, named, low).toString('base64');
  const lowField = low === undefined ? '' : `"low":${low},`;
  const priorField = named ? `"prior":[${named.join(',')}],` : '';
  return withTrailer(
    inner,
    by,
    now,
    `"sid":${JSON.stringify(mac.sid)},"n":${n},${lowField}${priorField}"mac":${JSON.stringify(tag)}`,
  );
}

export function verifyMac(inner: Uint8Array, signature: Signature, key: Buffer): boolean {
  if (signature.mac === undefined || signature.sid === undefined || signature.n === undefined)
    return false;
  const given = Buffer.from(signature.mac, 'base64');
  const expected = macOf(
    inner,
    signature.by,
    signature.ts,
    signature.sid,
    signature.n,
    key,
    signature.prior,
    signature.low,
  );
  return given.byteLength === expected.byteLength && timingSafeEqual(given, expected);
}

/** Splits a signed datagram; undefined when it is not one (then it is dropped as unsigned). */
export function splitSigned(datagram: Buffer): { inner: Buffer; signature: Signature } | undefined {
  const cut = datagram.lastIndexOf(NEWLINE);
  if (cut < 0 || datagram.byteLength - cut > TRAILER_BYTES) return undefined;
  let tail: unknown;
  try {
    tail = JSON.parse(datagram.toString('utf8', cut + 1));
  } catch {
    return undefined;
  }
  const { by, ts, sig, mac, sid, n, prior, low } = (tail ?? {}) as Partial<Signature>;
  if (typeof by !== 'string' || by.length === 0 || by.length > 40) return undefined;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) return undefined;
  if (typeof sig === 'string' && sig.length === 88)
    return { inner: datagram.subarray(0, cut), signature: { by, ts, sig } };
  if (
    typeof mac === 'string' &&
    mac.length === 44 &&
    typeof sid === 'string' &&
    sid.length === 16 &&
    isNumberUpTo(n, Number.MAX_SAFE_INTEGER)
  ) {
    if (prior !== undefined && !isPrior(prior, n)) return undefined;
    // `low` is at most every number of its own request: its first try's, and `n`.
    if (low !== undefined && !isNumberUpTo(low, prior?.[0] ?? n)) return undefined;
    return {
      inner: datagram.subarray(0, cut),
      signature: { by, ts, mac, sid, n, prior, low },
    };
  }
  return undefined;
}

/** Whether `value` is a whole number from 0 to `most`. */
function isNumberUpTo(value: unknown, most: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= most;
}

/** Whether `prior` names earlier numbers as a retransmission numbered `n` does: 1 to PRIOR_TRIES, rising, each below `n`. */
function isPrior(prior: unknown, n: number): prior is number[] {
  if (!Array.isArray(prior) || prior.length === 0 || prior.length > PRIOR_TRIES) return false;
  let before = -1;
  for (const number of prior as unknown[]) {
    if (!isNumberUpTo(number, n - 1) || number <= before) return false;
    before = number;
  }
  return true;
}

export function verifySignature(
  inner: Uint8Array,
  signature: Signature,
  publicKey: KeyObject,
): boolean {
  if (signature.sig === undefined) return false;
  try {
    return verify(
      null,
      signedBytes(inner, signature.by, signature.ts),
      publicKey,
      Buffer.from(signature.sig, 'base64'),
    );
  } catch {
    return false;
  }
}
