// Fresh Ed25519 and X25519 key pairs as raw bytes, and node:crypto key objects made from raw
// bytes. Keys are never handed out as the key objects generateKeyPairSync makes: on Node 20,
// using such a key (exporting it, say) while a garbage collection frees the job that made it
// can deadlock the process, both sides taking the key's lock (seen with 5,000 key pairs made
// in a row: a process hung for good in ExportJWK, under ~KeyGenJob). Made encoded (JWK) and
// imported anew, a key shares no lock with any job. Imports go through JWK too: OpenSSL's
// PKCS#8 decoder takes ~360 µs a key, a JWK ~30.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

export type Curve = 'ed25519' | 'x25519';

const JWK_CURVE = { ed25519: 'Ed25519', x25519: 'X25519' } as const;

/** A key pair, each half its raw 32 bytes (RFC 8032, RFC 7748). */
export interface RawKeyPair {
  privateRaw: Buffer;
  publicRaw: Buffer;
}

/** generateKeyPairSync encoding both halves as JWK (node:crypto does; its types list no such call for these curves). */
const generateJwkPair = generateKeyPairSync as unknown as (
  curve: Curve,
  options: { privateKeyEncoding: { format: 'jwk' }; publicKeyEncoding: { format: 'jwk' } },
) => { privateKey: JsonWebKey; publicKey: JsonWebKey };

/**
 * A fresh key pair on `curve`, raw. Made as JWK, whose `d` and `x` are the raw halves: OpenSSL
 * encodes DER several times slower (~190 µs a pair against ~50 here), and a session's every
 * start makes one.
 */
export function generateRawKeyPair(curve: Curve): RawKeyPair {
  const { privateKey, publicKey } = generateJwkPair(curve, {
    privateKeyEncoding: { format: 'jwk' },
    publicKeyEncoding: { format: 'jwk' },
  });
  return {
    privateRaw: Buffer.from(privateKey.d!, 'base64url'),
    publicRaw: Buffer.from(publicKey.x!, 'base64url'),
  };
}

/** The private key object of a raw pair (its public half is needed to import it). */
export function privateKeyObject(curve: Curve, pair: RawKeyPair): KeyObject {
  return createPrivateKey({
    key: {
      kty: 'OKP',
      crv: JWK_CURVE[curve],
      d: pair.privateRaw.toString('base64url'),
      x: pair.publicRaw.toString('base64url'),
    },
    format: 'jwk',
  });
}

/** The PKCS#8 prefix of each curve's raw private key (RFC 8410). */
const PKCS8_PREFIX = {
  ed25519: Buffer.from('302e020100300506032b657004220420', 'hex'),
  x25519: Buffer.from('302e020100300506032b656e04220420', 'hex'),
} as const;

/**
 * The private key object of a raw private key alone, through PKCS#8 (ten times slower than
 * `privateKeyObject`, which needs the public half: for a key whose public half is not at hand).
 */
export function privateKeyFromSecret(curve: Curve, privateRaw: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX[curve], privateRaw]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The raw private key of a PKCS#8 encoding of a `curve` key, or undefined when it is not one. */
export function rawOfPkcs8(curve: Curve, der: Buffer): Buffer | undefined {
  const prefix = PKCS8_PREFIX[curve];
  return der.byteLength === prefix.byteLength + 32 &&
    der.subarray(0, prefix.byteLength).equals(prefix)
    ? der.subarray(prefix.byteLength)
    : undefined;
}

/** The public key object of raw bytes; throws when they are not a key on `curve`. */
export function publicKeyObject(curve: Curve, raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: JWK_CURVE[curve], x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}
