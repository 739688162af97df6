// End-to-end sealing with HPKE (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
// ChaCha20-Poly1305, from the @hpke packages (loaded at first use), X25519 and HMAC under them
// from node:crypto (hpke-node.ts). Messages between users use Auth mode, so opening also proves
// which user's key sealed them; secrets for the registry use Base mode. Nothing here composes
// primitives by hand.
import { createCipheriv, createDecipheriv, createHash, type webcrypto } from 'node:crypto';
import type { CipherSuite } from '@hpke/core';
import { generateRawKeyPair } from './key-pairs.js';
import type { DatagramMac } from './signing.js';
import { encodeUtf8 } from '../util/utf8.js';

let suitePromise: Promise<CipherSuite> | undefined;
function hpke(): Promise<CipherSuite> {
  suitePromise ??= (async () => {
    const [{ CipherSuite }, { Chacha20Poly1305 }, { NodeDhkemX25519HkdfSha256, NodeHkdfSha256 }] =
      await Promise.all([
        import('@hpke/core'),
        import('@hpke/chacha20poly1305'),
        import('./hpke-node.js'),
      ]);
    return new CipherSuite({
      kem: new NodeDhkemX25519HkdfSha256(),
      kdf: new NodeHkdfSha256(),
      aead: new Chacha20Poly1305(),
    });
  })();
  return suitePromise;
}
const INFO = new TextEncoder().encode('udpchat v1');

/** An X25519 key pair, raw, base64; made into WebCrypto keys for HPKE at its first use. */
export interface AgreementKeys {
  publicRaw: string;
  privateRaw: string;
}

const keyPairs = new WeakMap<AgreementKeys, Promise<webcrypto.CryptoKeyPair>>();
async function keyPairOf(keys: AgreementKeys): Promise<webcrypto.CryptoKeyPair> {
  let pair = keyPairs.get(keys);
  if (!pair) {
    pair = import('./hpke-node.js').then(({ keyPairFromRaw }) =>
      keyPairFromRaw(bytes(keys.privateRaw), bytes(keys.publicRaw)),
    );
    keyPairs.set(keys, pair);
  }
  return pair;
}

/**
 * A sealed payload: HPKE's encapsulated key and the ciphertext, both base64. With `n` (a
 * nonce), `ct` was sealed under a session key exported from the HPKE context of `enc`
 * (see {@link Sessions}); without, by that context itself, once.
 */
export interface Sealed {
  enc: string;
  ct: string;
  n?: string;
}

export async function agreementKeyPair(): Promise<AgreementKeys> {
  const { privateRaw, publicRaw } = generateRawKeyPair('x25519');
  return { publicRaw: publicRaw.toString('base64'), privateRaw: privateRaw.toString('base64') };
}

/** The private half, raw, base64 (kept with the public half in the identity file). */
export async function exportAgreementKeys(keys: AgreementKeys): Promise<string> {
  return keys.privateRaw;
}

export async function importAgreementKeys(
  privateRaw: string,
  publicRaw: string,
): Promise<AgreementKeys> {
  if (
    Buffer.from(privateRaw, 'base64').byteLength !== 32 ||
    Buffer.from(publicRaw, 'base64').byteLength !== 32
  ) {
    throw new Error('not an X25519 key pair');
  }
  return { privateRaw, publicRaw };
}

/** Seals `plaintext` to `recipient` (raw base64 X25519), in Auth mode with `sender`'s keys when given. */
export async function seal(
  plaintext: Uint8Array,
  recipient: string,
  aad: Uint8Array,
  sender?: AgreementKeys,
): Promise<Sealed> {
  const suite = await hpke();
  const context = await suite.createSenderContext({
    recipientPublicKey: await suite.kem.deserializePublicKey(bytes(recipient)),
    info: INFO,
    ...(sender ? { senderKey: await keyPairOf(sender) } : {}),
  });
  const ct = await context.seal(plaintext, aad);
  return { enc: b64(context.enc), ct: b64(ct) };
}

/** Opens what `seal` made; with `sender` (raw base64), only if that key sealed it. Throws otherwise. */
export async function open(
  sealed: Sealed,
  recipient: AgreementKeys,
  aad: Uint8Array,
  sender?: string,
): Promise<Uint8Array> {
  const suite = await hpke();
  const context = await suite.createRecipientContext({
    recipientKey: await keyPairOf(recipient),
    enc: toArrayBuffer(sealed.enc),
    info: INFO,
    ...(sender ? { senderPublicKey: await suite.kem.deserializePublicKey(bytes(sender)) } : {}),
  });
  return new Uint8Array(await context.open(bytes(sealed.ct), aad));
}

/** The exporter label of udpchat's session keys (RFC 9180 §5.3). */
const SESSION_LABEL = new TextEncoder().encode('udpchat session key v1');
/** The exporter label of the key that authenticates a session's datagrams (see signing.ts). */
const DATAGRAM_LABEL = new TextEncoder().encode('udpchat datagram key v1');
/** A sending session is renewed after this many messages or this long. */
const SESSION_MESSAGES = 1 << 20;
const SESSION_MS = 60 * 60 * 1000;
/** Receiving sessions kept (least recently made go first). */
const SESSIONS_KEPT = 4096;

interface Outgoing {
  enc: string;
  key: Buffer;
  /** Authenticates this session's datagrams, once the recipient is known to hold it. */
  mac: DatagramMac;
  confirmed: boolean;
  uses: number;
  until: number;
}

/** Whether a sending session may still seal (it is renewed after so many messages, or so long). */
const usable = (session: Outgoing): boolean =>
  session.uses < SESSION_MESSAGES && Date.now() < session.until;

interface Incoming {
  key: Buffer;
  mac: DatagramMac;
  /** The sender's X25519 key, raw base64. */
  sender: string;
}

/** A session's short public name: the first 12 bytes of SHA-256 of its `enc`, base64 (16 characters). */
export function sessionId(enc: string): string {
  return createHash('sha256').update(enc).digest().subarray(0, 12).toString('base64');
}

/**
 * Sealing between users without a public-key operation per message: the first message to
 * a recipient sets up an HPKE Auth-mode context as `seal` does, and both sides take a
 * 32-byte key from its exporter (RFC 9180 §5.3, the interface HPKE gives for exactly this);
 * every message is then ChaCha20-Poly1305 (node:crypto) under that key, its 96-bit nonce
 * the message's number in the session, with the same associated data. The recipient derives the key once per `enc`
 * and keeps it. A context is renewed after SESSION_MESSAGES messages or SESSION_MS.
 */
export class Sessions {
  readonly #keys: AgreementKeys;
  readonly #outgoing = new Map<string, Promise<Outgoing>>();
  /** The same sessions once made, for the synchronous look-ups. */
  readonly #current = new Map<string, Outgoing>();
  readonly #incoming = new Map<string, Promise<Incoming>>();
  /** Incoming sessions by id, once derived: for the datagram keys. */
  readonly #bySid = new Map<string, Incoming>();

  constructor(keys: AgreementKeys) {
    this.#keys = keys;
  }

  /** Seals `plaintext` to `recipient` (raw base64 X25519) in the session with it. */
  async seal(plaintext: Uint8Array, recipient: string, aad: Uint8Array): Promise<Sealed> {
    // The session in use while it is good, taken as it is: waiting on its promise again cost
    // each message a chain of promises (see `#session`); a new or renewed one is made there.
    const current = this.#current.get(recipient);
    const session = current && usable(current) ? current : await this.#session(recipient);
    // The key is this session's alone and only this side seals with it: a counter is a
    // nonce never used twice under it (as HPKE's own sequence numbers are).
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(session.uses++), 4);
    const cipher = createCipheriv('chacha20-poly1305', session.key, nonce, { authTagLength: 16 });
    cipher.setAAD(aad, { plaintextLength: plaintext.byteLength });
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { enc: session.enc, ct: ct.toString('base64'), n: nonce.toString('base64') };
  }

  /** Opens what `seal` (either kind) made; only if `sender`'s key (raw base64) sealed it. Throws otherwise. */
  async open(sealed: Sealed, aad: Uint8Array, sender: string): Promise<Uint8Array> {
    if (sealed.n === undefined) return open(sealed, this.#keys, aad, sender);
    const nonce = Buffer.from(sealed.n, 'base64');
    const data = Buffer.from(sealed.ct, 'base64');
    if (nonce.byteLength !== 12 || data.byteLength < 16)
      throw new Error('malformed sealed message');
    const id = incomingId(sender, sealed.enc);
    const session = await this.#incomingKey(id, sealed.enc, sender);
    const decipher = createDecipheriv('chacha20-poly1305', session.key, nonce, {
      authTagLength: 16,
    });
    decipher.setAAD(aad, { plaintextLength: data.byteLength - 16 });
    decipher.setAuthTag(data.subarray(data.byteLength - 16));
    const plaintext = new Uint8Array(
      Buffer.concat([decipher.update(data.subarray(0, data.byteLength - 16)), decipher.final()]),
    );
    // A message of it opened: the session is the sender's, and its datagram key may be used.
    if (this.#incoming.has(id)) this.#bySid.set(session.mac.sid, session); // still kept
    return plaintext;
  }

  /** The session with `recipient`, started or renewed when needed (a failed start is not kept). */
  async #session(recipient: string): Promise<Outgoing> {
    const current = this.#outgoing.get(recipient);
    const session = current && (await current.catch(() => undefined));
    if (session && usable(session)) return session;
    if (current && this.#outgoing.get(recipient) !== current) return this.#session(recipient); // renewed meanwhile
    const next = this.#startSession(recipient);
    this.#outgoing.set(recipient, next);
    next.then(
      (made) => this.#outgoing.get(recipient) === next && this.#current.set(recipient, made),
      () => this.#outgoing.delete(recipient),
    );
    return next;
  }

  async #startSession(recipient: string): Promise<Outgoing> {
    const suite = await hpke();
    const context = await suite.createSenderContext({
      recipientPublicKey: await suite.kem.deserializePublicKey(bytes(recipient)),
      info: INFO,
      senderKey: await keyPairOf(this.#keys),
    });
    const key = Buffer.from(await context.export(SESSION_LABEL, 32));
    const mac = {
      sid: sessionId(b64(context.enc)),
      key: Buffer.from(await context.export(DATAGRAM_LABEL, 32)),
    };
    return {
      enc: b64(context.enc),
      key,
      mac,
      confirmed: false,
      uses: 0,
      until: Date.now() + SESSION_MS,
    };
  }

  /**
   * The datagram key for a message sealed as `sealed` to `recipient`: only while that is
   * the current session and the recipient has shown it holds it (it answered a message of it).
   */
  macFor(recipient: string, sealed: Sealed): DatagramMac | undefined {
    const session = this.#current.get(recipient);
    return session && session.confirmed && session.enc === sealed.enc ? session.mac : undefined;
  }

  /** `recipient` answered a message sealed as `sealed` (so it holds the session), or stopped answering one. */
  confirm(recipient: string, sealed: Sealed, holds: boolean): void {
    const session = this.#current.get(recipient);
    if (session && session.enc === sealed.enc) session.confirmed = holds;
  }

  /** Whether a session with `recipient` is made already (so using it costs nothing more). */
  has(recipient: string): boolean {
    return this.#current.has(recipient);
  }

  /** Whether opening `sealed` from `sender` needs no new key agreement (an incoming session already made). */
  opensCheaply(sealed: Sealed, sender: string): boolean {
    return sealed.n !== undefined && this.#incoming.has(`${sender}|${sealed.enc}`);
  }

  /** The session with `recipient` (made if needed), for its `enc` and datagram key alone. */
  async datagramSession(recipient: string): Promise<{ enc: string; mac: DatagramMac }> {
    const session = await this.#session(recipient);
    return { enc: session.enc, mac: session.mac };
  }

  /**
   * The datagram key of the session `sender` (raw base64 X25519) set up with this party as
   * `enc`: derived in HPKE Auth mode, so it fails unless `sender`'s private key made it.
   */
  async incomingDatagramKey(enc: string, sender: string): Promise<DatagramMac> {
    return (await this.#incomingKey(incomingId(sender, enc), enc, sender)).mac;
  }

  /** The key of incoming session `sid`, if it is `sender`'s (raw base64 X25519). */
  incomingMac(sid: string, sender: string): Buffer | undefined {
    const session = this.#bySid.get(sid);
    return session && session.sender === sender ? session.mac.key : undefined;
  }

  /** The incoming session `enc` from `sender`, kept under `id` (`incomingId`). */
  #incomingKey(id: string, enc: string, sender: string): Promise<Incoming> {
    let session = this.#incoming.get(id);
    if (!session) {
      session = (async () => {
        const suite = await hpke();
        const context = await suite.createRecipientContext({
          recipientKey: await keyPairOf(this.#keys),
          enc: toArrayBuffer(enc),
          info: INFO,
          senderPublicKey: await suite.kem.deserializePublicKey(bytes(sender)),
        });
        const key = Buffer.from(await context.export(SESSION_LABEL, 32));
        const mac = {
          sid: sessionId(enc),
          key: Buffer.from(await context.export(DATAGRAM_LABEL, 32)),
        };
        return { key, mac, sender };
      })();
      this.#incoming.set(id, session);
      session.catch(() => this.#incoming.delete(id));
      if (this.#incoming.size > SESSIONS_KEPT) {
        const [oldest, gone] = this.#incoming.entries().next().value!;
        this.#incoming.delete(oldest);
        void gone.then(
          (made) => this.#bySid.get(made.mac.sid) === made && this.#bySid.delete(made.mac.sid),
          () => undefined,
        );
      }
    }
    return session;
  }
}

/** Where an incoming session is kept: its sender's key and its `enc`. */
const incomingId = (sender: string, enc: string) => `${sender}|${enc}`;
const b64 = (value: ArrayBuffer | Uint8Array) =>
  Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString('base64');
const bytes = (value: string) => new Uint8Array(Buffer.from(value, 'base64'));
const toArrayBuffer = (value: string) => {
  const view = bytes(value);
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
};

/**
 * What a password sealed to the registry is bound to: the nick, the keys it is to bind the
 * nick to, and whether it logs in or makes the account. A captured one cannot be replayed
 * with other keys or for another nick.
 */
export function passwordAad(nick: string, sk: string, ek: string, account: string): Uint8Array {
  return encodeUtf8(`udpchat-password|${nick}|${sk}|${ek}|${account}`);
}

/** What a message is sealed to besides the recipient's key: who sent it to whom, under which id. */
export function messageAad(from: string, to: string, mid: string): Uint8Array {
  return encodeUtf8(`udpchat-message|${from}|${to}|${mid}`);
}
