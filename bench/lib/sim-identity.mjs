// What every simulated client is made of: its own Ed25519 and X25519 keys (as a ChatClient's
// identity), its Sessions, and a bare Endpoint that signs as its nick and checks the registry's
// signature, or the key of the session it set up with the registry (as ChatClient does); and,
// as ChatClient, its session shared with the registry and its requests under it from then on.
import { Endpoint } from '../../dist/index.js';
import { generateRawKeyPair, privateKeyObject } from '../../dist/crypto/key-pairs.js';
import { Sessions } from '../../dist/crypto/sealing.js';

export const REGISTRY = '@registry';

/** A simulated client `nick`; `registryKey()` gives the registry's signing key once known; set `registryMac` once a session is up. */
export function simClient(nick, registryKey) {
  // Raw pairs, never generateKeyPairSync's key objects (see key-pairs.ts).
  const signing = generateRawKeyPair('ed25519');
  const agreement = generateRawKeyPair('x25519');
  const ek = agreement.publicRaw.toString('base64');
  const client = {
    nick,
    sk: signing.publicRaw.toString('base64'),
    ek,
    sessions: new Sessions({ publicRaw: ek, privateRaw: agreement.privateRaw.toString('base64') }),
    registryMac: undefined,
    /** The registry answered under `registryMac`: requests go under it (see `options`). */
    upstream: false,
    endpoint: new Endpoint({
      auth: {
        name: nick,
        privateKey: privateKeyObject('ed25519', signing),
        keyFor: (by) => (by === REGISTRY ? registryKey() : undefined),
        macKeyFor: (by, sid) =>
          by === REGISTRY && client.registryMac?.sid === sid ? client.registryMac.key : undefined,
      },
    }),
  };
  return client;
}

/** A request's options for `client`: `base`, under its session once the registry holds it. */
export function options(client, base) {
  return client.upstream ? { ...base, mac: client.registryMac } : base;
}

/**
 * As ChatClient after its first registration: a session with the registry (whose X25519 key
 * is `ek`); its pushes and their ACKs, and this client's requests, then go under its key.
 * Best effort: on failure its datagrams stay signed.
 */
export async function shareSession(client, registry, ek, base) {
  if (client.sharing) return;
  client.sharing = true;
  try {
    const session = await client.sessions.datagramSession(ek);
    client.registryMac = session.mac;
    await client.endpoint.request(
      registry,
      { t: 'session', nick: client.nick, session: session.enc },
      { ...base, replyMac: session.mac },
    );
    client.upstream = true;
  } catch {
    // its datagrams stay signed
  }
}
