// What every simulated client is made of: its own Ed25519 and X25519 keys (as a ChatClient's
// identity), its Sessions, and a bare Endpoint that signs as its nick and checks the registry's
// signature, or the key of the session it set up with the registry (as ChatClient does).
import { generateKeyPairSync } from 'node:crypto';
import { Endpoint } from '../../dist/index.js';
import { Sessions } from '../../dist/crypto/sealing.js';

export const REGISTRY = '@registry';
const b64 = (b64url) => Buffer.from(b64url, 'base64url').toString('base64');

/** A simulated client `nick`; `registryKey()` gives the registry's signing key once known; set `registryMac` once a session is up. */
export function simClient(nick, registryKey) {
  const signing = generateKeyPairSync('ed25519');
  const agreement = generateKeyPairSync('x25519');
  const ek = b64(agreement.publicKey.export({ format: 'jwk' }).x);
  const client = {
    nick,
    sk: b64(signing.publicKey.export({ format: 'jwk' }).x),
    ek,
    sessions: new Sessions({
      publicRaw: ek,
      privateRaw: b64(agreement.privateKey.export({ format: 'jwk' }).d),
    }),
    registryMac: undefined,
    endpoint: new Endpoint({
      auth: {
        name: nick,
        privateKey: signing.privateKey,
        keyFor: (by) => (by === REGISTRY ? registryKey() : undefined),
        macKeyFor: (by, sid) =>
          by === REGISTRY && client.registryMac?.sid === sid ? client.registryMac.key : undefined,
      },
    }),
  };
  return client;
}
