// What every simulated client is made of: its own Ed25519 and X25519 keys (as a ChatClient's
// identity), its Sessions, and a bare Endpoint that signs as its nick and checks the registry's
// signature, or the key of the session it set up with the registry (as ChatClient does); and,
// as ChatClient, its session offered with its registration and its requests under it from then on.
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
 * As ChatClient at each registration: a session with the registry (whose X25519 key is `ek`)
 * offered with it. Gives what `register` carries and the key its answer comes under; once it
 * is answered, `registered(client)`.
 */
export async function offerSession(client, ek) {
  const session = await client.sessions.datagramSession(ek);
  client.registryMac = session.mac;
  return { body: { session: session.enc }, replyMac: session.mac };
}

/** The registration that offered the session was answered: requests go under it from now on. */
export function registered(client) {
  if (client.registryMac) client.upstream = true;
}
