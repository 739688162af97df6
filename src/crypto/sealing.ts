import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import type { webcrypto } from 'node:crypto';

/**
 * End-to-end sealing with HPKE (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
 * ChaCha20-Poly1305, from the @hpke packages. Messages between users use Auth mode, so
 * opening also proves which user's key sealed them; secrets for the registry use Base mode.
 * Nothing here composes primitives by hand.
 */
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
const INFO = new TextEncoder().encode('udpchat v1');

export interface AgreementKeys {
  keyPair: webcrypto.CryptoKeyPair;
  /** Raw public key, base64. */
  publicRaw: string;
}

/** A sealed payload: HPKE's encapsulated key and the ciphertext, both base64. */
export interface Sealed {
  enc: string;
  ct: string;
}

export async function agreementKeyPair(): Promise<AgreementKeys> {
  const keyPair = await suite.kem.generateKeyPair();
  return { keyPair, publicRaw: b64(await suite.kem.serializePublicKey(keyPair.publicKey)) };
}

/** The private half, raw, base64 (kept with the public half in the identity file). */
export async function exportAgreementKeys(keys: AgreementKeys): Promise<string> {
  return b64(await suite.kem.serializePrivateKey(keys.keyPair.privateKey));
}

export async function importAgreementKeys(privateRaw: string, publicRaw: string): Promise<AgreementKeys> {
  const privateKey = await suite.kem.deserializePrivateKey(bytes(privateRaw));
  const publicKey = await suite.kem.deserializePublicKey(bytes(publicRaw));
  return { keyPair: { privateKey, publicKey }, publicRaw };
}

/** Seals `plaintext` to `recipient` (raw base64 X25519), in Auth mode with `sender`'s keys when given. */
export async function seal(plaintext: Uint8Array, recipient: string, aad: Uint8Array, sender?: AgreementKeys): Promise<Sealed> {
  const context = await suite.createSenderContext({
    recipientPublicKey: await suite.kem.deserializePublicKey(bytes(recipient)),
    info: INFO,
    ...(sender ? { senderKey: sender.keyPair } : {}),
  });
  const ct = await context.seal(plaintext, aad);
  return { enc: b64(context.enc), ct: b64(ct) };
}

/** Opens what `seal` made; with `sender` (raw base64), only if that key sealed it. Throws otherwise. */
export async function open(sealed: Sealed, recipient: AgreementKeys, aad: Uint8Array, sender?: string): Promise<Uint8Array> {
  const context = await suite.createRecipientContext({
    recipientKey: recipient.keyPair,
    enc: toArrayBuffer(sealed.enc),
    info: INFO,
    ...(sender ? { senderPublicKey: await suite.kem.deserializePublicKey(bytes(sender)) } : {}),
  });
  return new Uint8Array(await context.open(bytes(sealed.ct), aad));
}

const b64 = (value: ArrayBuffer | Uint8Array) => Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString('base64');
const bytes = (value: string) => new Uint8Array(Buffer.from(value, 'base64'));
const toArrayBuffer = (value: string) => {
  const view = bytes(value);
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
};

/**
 * What a password sealed to the registry is bound to: the nick, the keys it is to bind the
 * nick to, and whether it logs in or makes the account. A captured one cannot be replayed
 * with other keys or for another nick.
 */
export function passwordAad(nick: string, sk: string, ek: string, account: string): Uint8Array {
  return new TextEncoder().encode(`udpchat-password|${nick}|${sk}|${ek}|${account}`);
}

/** What a message is sealed to besides the recipient's key: who sent it to whom, under which id. */
export function messageAad(from: string, to: string, mid: string): Uint8Array {
  return new TextEncoder().encode(`udpchat-message|${from}|${to}|${mid}`);
}
