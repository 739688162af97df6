// HPKE's DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256 as @hpke builds them, fed with node:crypto's
// X25519 and HMAC-SHA256 instead of WebCrypto's: the same bytes (tested against the stock
// suite), without a thread-pool round trip per primitive. The KEM, the key schedule and the
// AEAD are the library's own; only the primitives under them come from here.
import { createHmac, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import {
  Dhkem,
  HkdfSha256Native,
  KemId,
  NotSupportedError,
  XCryptoKey,
  type DhkemPrimitives,
} from '@hpke/common';
import { ownBytes } from '../util/own-bytes.js';
import {
  generateRawKeyPair,
  privateKeyFromSecret,
  privateKeyObject,
  publicKeyObject,
} from './key-pairs.js';

type Bytes = ArrayBufferLike | ArrayBufferView;

const view = (input: Bytes): Uint8Array =>
  ArrayBuffer.isView(input)
    ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    : new Uint8Array(input);

/** A copy of `bytes` as an ArrayBuffer of exactly its length (what the @hpke interfaces return). */
const own = (bytes: Uint8Array): ArrayBuffer => ownBytes(bytes).buffer as ArrayBuffer;

/** HKDF-SHA256 (RFC 5869) through node:crypto's HMAC; the HPKE labels are the library's. */
export class NodeHkdfSha256 extends HkdfSha256Native {
  override extract(salt: Bytes, ikm: Bytes): Promise<ArrayBuffer> {
    // RFC 5869: an empty salt is a string of HashLen zeros.
    const key = salt.byteLength === 0 ? new Uint8Array(32) : view(salt);
    return Promise.resolve(own(createHmac('sha256', key).update(view(ikm)).digest()));
  }

  override expand(prk: Bytes, info: Bytes, len: number): Promise<ArrayBuffer> {
    if (len > 255 * 32) return Promise.reject(new Error('Entropy limit reached'));
    const okm = new Uint8Array(len);
    let previous: Uint8Array = new Uint8Array(0);
    for (let counter = 1, filled = 0; filled < len; counter++) {
      previous = createHmac('sha256', view(prk))
        .update(previous)
        .update(view(info))
        .update(Uint8Array.of(counter))
        .digest();
      okm.set(previous.subarray(0, len - filled), filled);
      filled += Math.min(previous.byteLength, len - filled);
    }
    return Promise.resolve(okm.buffer);
  }

  override extractAndExpand(
    salt: Bytes,
    ikm: Bytes,
    info: Bytes,
    len: number,
  ): Promise<ArrayBuffer> {
    return Promise.resolve(hkdfSync('sha256', view(ikm), view(salt), view(info), len));
  }
}

const X25519 = 'X25519';
const KEY_BYTES = 32;

/** node:crypto's key for each raw key handed to the library, made at its first use. */
const keyObjects = new WeakMap<XCryptoKey, KeyObject>();
function keyObjectOf(key: CryptoKey): KeyObject {
  if (!(key instanceof XCryptoKey)) throw new TypeError('not a key of this suite');
  let object = keyObjects.get(key);
  if (!object) {
    object =
      key.type === 'public'
        ? publicKeyObject('x25519', key.key)
        : privateKeyFromSecret('x25519', key.key);
    keyObjects.set(key, object);
  }
  return object;
}

/**
 * A key pair of this suite from its raw halves, its private key object made with the public
 * half at hand (see key-pairs.ts: ten times faster than from the private half alone, which
 * `deserializePrivateKey` has).
 */
export function keyPairFromRaw(privateRaw: Uint8Array, publicRaw: Uint8Array): CryptoKeyPair {
  const privateKey = rawKey(privateRaw, 'private');
  const publicKey = rawKey(publicRaw, 'public');
  keyObjects.set(
    privateKey,
    privateKeyObject('x25519', {
      privateRaw: Buffer.from(privateKey.key),
      publicRaw: Buffer.from(publicKey.key),
    }),
  );
  return { privateKey, publicKey };
}

const rawOf = (key: KeyObject, part: 'x' | 'd'): Uint8Array =>
  new Uint8Array(Buffer.from(key.export({ format: 'jwk' })[part]!, 'base64url'));

function rawKey(input: Bytes, type: 'public' | 'private'): XCryptoKey {
  const bytes = view(input);
  if (bytes.byteLength !== KEY_BYTES) throw new Error('Invalid length of the key');
  return new XCryptoKey(X25519, bytes.slice(), type, type === 'private' ? ['deriveBits'] : []);
}

/** X25519 for DHKEM, raw keys in, raw keys out, the arithmetic by node:crypto (OpenSSL). */
class NodeX25519 implements DhkemPrimitives {
  serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    return Promise.resolve(own((key as XCryptoKey).key));
  }

  deserializePublicKey(key: Bytes): Promise<CryptoKey> {
    return Promise.resolve().then(() => rawKey(key, 'public'));
  }

  serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    return Promise.resolve(own((key as XCryptoKey).key));
  }

  deserializePrivateKey(key: Bytes): Promise<CryptoKey> {
    return Promise.resolve().then(() => rawKey(key, 'private'));
  }

  importKey(format: 'raw' | 'jwk', key: ArrayBuffer | JsonWebKey, isPublic: boolean) {
    if (format !== 'raw' || !(key instanceof ArrayBuffer))
      return Promise.reject(new NotSupportedError('raw keys only'));
    return isPublic ? this.deserializePublicKey(key) : this.deserializePrivateKey(key);
  }

  generateKeyPair(): Promise<CryptoKeyPair> {
    return Promise.resolve().then(() => {
      const pair = generateRawKeyPair('x25519');
      const secret = new XCryptoKey(X25519, new Uint8Array(pair.privateRaw), 'private', [
        'deriveBits',
      ]);
      keyObjects.set(secret, privateKeyObject('x25519', pair));
      return {
        privateKey: secret,
        publicKey: new XCryptoKey(X25519, new Uint8Array(pair.publicRaw), 'public'),
      };
    });
  }

  /** Deterministic key pairs (RFC 9180 §7.1.3) are not used by udpchat. */
  deriveKeyPair(): Promise<CryptoKeyPair> {
    return Promise.reject(new NotSupportedError('deriveKeyPair is not supported'));
  }

  derivePublicKey(key: CryptoKey): Promise<CryptoKey> {
    return Promise.resolve().then(() => {
      const publicKey = createPublicKey(keyObjectOf(key));
      const open = new XCryptoKey(X25519, rawOf(publicKey, 'x'), 'public');
      keyObjects.set(open, publicKey);
      return open;
    });
  }

  dh(secret: CryptoKey, open: CryptoKey): Promise<ArrayBuffer> {
    return Promise.resolve().then(() =>
      own(diffieHellman({ privateKey: keyObjectOf(secret), publicKey: keyObjectOf(open) })),
    );
  }
}

/** DHKEM(X25519, HKDF-SHA256) (RFC 9180 §4.1): the library's KEM over node:crypto's primitives. */
export class NodeDhkemX25519HkdfSha256 extends Dhkem {
  override readonly id = KemId.DhkemX25519HkdfSha256;
  override readonly secretSize = 32;
  override readonly encSize = 32;
  override readonly publicKeySize = 32;
  override readonly privateKeySize = 32;

  constructor() {
    const kdf = new NodeHkdfSha256();
    super(KemId.DhkemX25519HkdfSha256, new NodeX25519(), kdf);
  }
}
