// Stateless proof that a client's address receives what is sent to it: a cookie in answer to a
// hello, required at registration, so forged source addresses cannot register nor cost memory.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Address } from '../transport/address.js';

/** How long a cookie is good for: the minute it was made in and the next. */
const BUCKET_MS = 60_000;

/**
 * Stateless proof that an address receives what is sent to it (as QUIC's Retry token and
 * DTLS's cookie): the registry answers a `hello` with a cookie, an HMAC of the source address
 * and the current minute under a secret of this process, and takes a `register` only with a
 * cookie made for its source address in the last minute or two. Nothing is kept per address,
 * so a flood of hellos from forged addresses costs no memory.
 */
export class AddressCookies {
  readonly #secret = randomBytes(32);
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A cookie for `address`, good for one to two minutes. */
  make(address: Address): string {
    const bucket = Math.floor(this.#now() / BUCKET_MS);
    return `${bucket.toString(36)}.${this.#mac(address, bucket)}`;
  }

  /** Whether `cookie` was made here for `address`, this minute or the one before. */
  check(address: Address, cookie: string | undefined): boolean {
    if (cookie === undefined) return false;
    const [bucketText, mac, extra] = cookie.split('.');
    if (!bucketText || !mac || extra !== undefined) return false;
    const bucket = parseInt(bucketText, 36);
    const current = Math.floor(this.#now() / BUCKET_MS);
    if (!Number.isSafeInteger(bucket) || bucket > current || bucket < current - 1) return false;
    const expected = Buffer.from(this.#mac(address, bucket));
    const given = Buffer.from(mac);
    return given.byteLength === expected.byteLength && timingSafeEqual(given, expected);
  }

  #mac(address: Address, bucket: number): string {
    return createHmac('sha256', this.#secret)
      .update(`${address.address}|${address.port}|${bucket}`)
      .digest('base64url')
      .slice(0, 22);
  }
}
