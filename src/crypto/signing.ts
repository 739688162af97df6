import { sign, verify, type KeyObject } from 'node:crypto';

/**
 * A signed datagram is the message's own JSON, a newline (JSON.stringify never writes a
 * raw one), and `{"by","ts","sig"}`: an Ed25519 signature over a domain tag, the signer's
 * name, the time and the message bytes. The message is never re-encoded, so the bytes
 * checked are the bytes signed.
 */
export interface Signature {
  /** The signer: a nick, or REGISTRY_NAME. */
  by: string;
  /** When it was signed, milliseconds since the epoch (for the replay window). */
  ts: number;
  sig: string;
}

export const REGISTRY_NAME = '@registry';
const NEWLINE = 0x0a;

function signedBytes(inner: Uint8Array, by: string, ts: number): Buffer {
  return Buffer.concat([Buffer.from(`udpchat-sig-v1|${by}|${ts}|`, 'utf8'), inner]);
}

export function signDatagram(inner: Buffer, by: string, privateKey: KeyObject, now = Date.now()): Buffer {
  const sig = sign(null, signedBytes(inner, by, now), privateKey).toString('base64');
  return Buffer.concat([inner, Buffer.from([NEWLINE]), Buffer.from(JSON.stringify({ by, ts: now, sig }), 'utf8')]);
}

/** Splits a signed datagram; undefined when it is not one (then it is dropped as unsigned). */
export function splitSigned(datagram: Buffer): { inner: Buffer; signature: Signature } | undefined {
  const cut = datagram.lastIndexOf(NEWLINE);
  if (cut < 0 || datagram.byteLength - cut > 300) return undefined;
  let tail: unknown;
  try {
    tail = JSON.parse(datagram.subarray(cut + 1).toString('utf8'));
  } catch {
    return undefined;
  }
  const { by, ts, sig } = (tail ?? {}) as Partial<Signature>;
  if (typeof by !== 'string' || by.length === 0 || by.length > 40) return undefined;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || typeof sig !== 'string' || sig.length !== 88) return undefined;
  return { inner: datagram.subarray(0, cut), signature: { by, ts, sig } };
}

export function verifySignature(inner: Uint8Array, signature: Signature, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(inner, signature.by, signature.ts), publicKey, Buffer.from(signature.sig, 'base64'));
  } catch {
    return false;
  }
}
