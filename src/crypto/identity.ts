// A party's identity (a signing key pair and a key pair to seal to), its file format, and the
// cache of peers' signing keys that every received datagram is checked against.
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { link, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeFolder, readIfThere, syncFolder, writeFileSynced } from '../util/files.js';
import { generateRawKeyPair, privateKeyObject, publicKeyObject, rawOfPkcs8 } from './key-pairs.js';
import {
  agreementKeyPair,
  exportAgreementKeys,
  importAgreementKeys,
  type AgreementKeys,
} from './sealing.js';
import { setLatest } from '../util/latest.js';

/**
 * Who a party is: an Ed25519 key pair that signs every datagram it sends, and an X25519
 * key pair that messages to it are sealed to (HPKE). Public halves travel as base64 of
 * their raw 32 bytes.
 */
export interface Identity {
  signing: { privateKey: KeyObject; publicKey: KeyObject };
  agreement: AgreementKeys;
  /** The public keys as they go on the wire: `sk` (signing), `ek` (encryption). */
  public: { sk: string; ek: string };
}

interface IdentityFile {
  format: 1;
  /** PKCS#8 DER, base64. */
  signing: string;
  /**
   * The public half, raw, base64 (written since it was added; a file without it is read the
   * slow way): with it the private key is imported as a JWK, ten times faster than PKCS#8
   * (see key-pairs.ts), and every start imports it.
   */
  signingPublic?: string;
  /** Raw X25519 private and public keys, base64. */
  agreement: { private: string; public: string };
}

/** The identity as the text of an identity file (private keys included: keep it secret). */
export async function serializeIdentity(identity: Identity): Promise<string> {
  const file: IdentityFile = {
    format: 1,
    signing: identity.signing.privateKey
      .export({ format: 'der', type: 'pkcs8' })
      .toString('base64'),
    signingPublic: identity.public.sk,
    agreement: {
      private: await exportAgreementKeys(identity.agreement),
      public: identity.agreement.publicRaw,
    },
  };
  return JSON.stringify(file);
}

export async function parseIdentity(text: string, where: string): Promise<Identity> {
  const file = JSON.parse(text) as Partial<IdentityFile>;
  if (
    file.format !== 1 ||
    typeof file.signing !== 'string' ||
    typeof file.agreement?.private !== 'string'
  ) {
    throw new Error(`identity ${where} is not a udpchat identity`);
  }
  const der = Buffer.from(file.signing, 'base64');
  const privateRaw = rawOfPkcs8('ed25519', der);
  const publicRaw =
    typeof file.signingPublic === 'string' ? Buffer.from(file.signingPublic, 'base64') : undefined;
  const privateKey =
    privateRaw && publicRaw?.byteLength === 32
      ? privateKeyObject('ed25519', { privateRaw, publicRaw })
      : createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return assemble(
    { privateKey, publicKey: createPublicKey(privateKey) },
    await importAgreementKeys(file.agreement.private, file.agreement.public),
  );
}

export async function generateIdentity(): Promise<Identity> {
  const raw = generateRawKeyPair('ed25519');
  const signing = {
    privateKey: privateKeyObject('ed25519', raw),
    publicKey: publicKeyObject('ed25519', raw.publicRaw),
  };
  return assemble(signing, await agreementKeyPair());
}

/**
 * The identity kept in `path` (mode 0600), made on first use. The same file on the next
 * start is the same identity: that is what lets its owner back in.
 */
export async function loadOrCreateIdentity(path: string): Promise<Identity> {
  const text = await readIfThere(path);
  if (text !== undefined) return parseIdentity(text, `file ${path}`);
  const identity = await generateIdentity();
  await makeFolder(dirname(path), { durable: true });
  // Written whole to a file of its own, then linked to its name, which must not exist yet: a
  // crash leaves no half-written identity, and of two processes making one at once, the
  // second takes the first's rather than failing or replacing it. The file is fsynced before
  // it takes the name, and the folder after: a power cut cannot lose the key a nick is bound to.
  const contents = `${await serializeIdentity(identity)}\n`;
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFileSynced(temporary, contents, 0o600, 'wx');
  try {
    await link(temporary, path);
    await syncFolder(dirname(path));
    return identity;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return parseIdentity(await readFile(path, 'utf8'), `file ${path}`);
    // A file system without hard links: written in place, still never over another.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    await writeFileSynced(path, contents, 0o600, 'wx');
    await syncFolder(dirname(path));
    return identity;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function assemble(signing: Identity['signing'], agreement: AgreementKeys): Promise<Identity> {
  return {
    signing,
    agreement,
    public: { sk: rawSigningKey(signing.publicKey), ek: agreement.publicRaw },
  };
}

/** The raw 32 bytes of an Ed25519 public key, base64. */
export function rawSigningKey(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url').toString('base64');
}

/** Keys made by `cachedSigningKey`, most recently used last; bounded, the least recently used go first. */
const signingKeys = new Map<string, KeyObject | undefined>();
/**
 * A key object holds about 1.3 KB of OpenSSL's memory besides its JavaScript object, out of
 * V8's sight. A registry keeping one per client held 13 MB at 10,000 clients, though a client
 * with a session (as every client sets up) sends almost nothing signed; the keys in use now
 * stay, and one made again costs about 20 µs.
 */
export const SIGNING_KEYS_KEPT = 4_096;

/**
 * `signingKeyFrom`, kept for the keys in use (every signed datagram is checked against one,
 * so this is on the receive path); at most SIGNING_KEYS_KEPT keys are kept. `made`: the key
 * object of `raw` made already (kept instead of making another).
 */
export function cachedSigningKey(raw: string, made?: KeyObject): KeyObject | undefined {
  // Used again: kept the longest.
  const key = signingKeys.has(raw) ? signingKeys.get(raw) : (made ?? signingKeyFrom(raw));
  setLatest(signingKeys, raw, key, SIGNING_KEYS_KEPT);
  return key;
}

/** How many keys `cachedSigningKey` holds (for tests and metrics). */
export function signingKeysCached(): number {
  return signingKeys.size;
}

/** An Ed25519 public key from its raw base64 form; undefined when it is not one. */
export function signingKeyFrom(raw: string): KeyObject | undefined {
  try {
    const bytes = Buffer.from(raw, 'base64');
    if (bytes.byteLength !== 32) return undefined;
    return publicKeyObject('ed25519', bytes);
  } catch {
    return undefined;
  }
}
