import t from 'tap';
import { Keyring, REGISTRY_SESSIONS_KEPT } from '../../src/client/keyring.js';
import { generateIdentity, cachedSigningKey, type Identity } from '../../src/crypto/identity.js';
import { open, passwordAad, sessionId } from '../../src/crypto/sealing.js';
import { REGISTRY_NAME } from '../../src/crypto/signing.js';
import type { Message } from '../../src/protocol/messages.js';
import type { TableEntry } from '../../src/protocol/fields.js';

function entry(nick: string, identity: Identity): TableEntry {
  return { nick, ip: '127.0.0.1', port: 4000, online: true, ...identity.public };
}

/** A keyring for `nick` over a table holding `peers`; the registry's keys as the test sets them. */
function keyring(
  nick: string,
  identity: Identity,
  peers: TableEntry[],
  options: { peerSessions?: number } = {},
) {
  const server = { known: undefined as string | undefined };
  const keys = new Keyring(identity, {
    nick,
    peerSessions: options.peerSessions ?? 20,
    peerSessionWindowMs: 60_000, // one window for the whole test, however slow the machine
    peer: (name) => peers.find((peer) => peer.nick === name),
    serverKey: () => server.known,
  });
  return { keys, server };
}

const chatFrom = (from: string) => ({ t: 'chat', from }) as Message;

t.test(
  'sealed by one peer, opened by the other; bound to sender, recipient and message id',
  async (t) => {
    const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
    const a = keyring('alice', alice, [entry('bob', bob)]).keys;
    const b = keyring('bob', bob, [entry('alice', alice)]).keys;
    const sealed = await a.seal(entry('bob', bob), 'm1', 'hi bob');
    t.equal(await b.open('alice', 'm1', sealed), 'hi bob');
    t.equal(await b.open('alice', 'm2', sealed), undefined, 'another message id: does not open');
    t.equal(await b.open('carol', 'm1', sealed), null, 'a sender the table does not know: not now');
    const stranger = keyring('bob', bob, [entry('alice', await generateIdentity())]).keys;
    t.equal(
      await stranger.open('alice', 'm1', sealed),
      undefined,
      'sealed by a key the table does not give alice',
    );
  },
);

t.test("past a peer's key-agreement budget its messages are not opened, and counted", async (t) => {
  const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
  const b = keyring('bob', bob, [entry('alice', alice)], { peerSessions: 1 }).keys;
  const first = keyring('alice', alice, [entry('bob', bob)]).keys;
  t.equal(await b.open('alice', 'm1', await first.seal(entry('bob', bob), 'm1', 'one')), 'one');
  t.equal(
    await b.open('alice', 'm2', await first.seal(entry('bob', bob), 'm2', 'two')),
    'two',
    'the same session costs nothing more',
  );
  const restarted = keyring('alice', alice, [entry('bob', bob)]).keys; // a new session: a new agreement
  t.equal(
    await b.open('alice', 'm3', await restarted.seal(entry('bob', bob), 'm3', 'three')),
    null,
  );
  t.equal(b.sessionBudgetRefusals, 1);
});

t.test(
  'a chat goes under the session key only once the peer answered one of that session; the peer takes it from that peer only',
  async (t) => {
    const [alice, bob, carol] = await Promise.all([
      generateIdentity(),
      generateIdentity(),
      generateIdentity(),
    ]);
    const a = keyring('alice', alice, [entry('bob', bob)]).keys;
    const b = keyring('bob', bob, [entry('alice', alice), entry('carol', carol)]).keys;
    const sealed = await a.seal(entry('bob', bob), 'm1', 'hi');
    t.equal(a.macFor(bob.public.ek, sealed), undefined, 'signed until bob answered');
    a.confirm(bob.public.ek, sealed, true);
    const mac = a.macFor(bob.public.ek, sealed);
    t.ok(mac);
    t.equal(
      b.macKeyFor('alice', mac!.sid, chatFrom('alice')),
      undefined,
      'bob has not opened a message of it yet',
    );
    await b.open('alice', 'm1', sealed);
    t.same(b.macKeyFor('alice', mac!.sid, chatFrom('alice')), mac!.key);
    t.same(b.macKeyFor('alice', mac!.sid, { t: 'frag' } as Message), mac!.key, 'its pieces too');
    t.equal(
      b.macKeyFor('alice', mac!.sid, chatFrom('carol')),
      undefined,
      'a chat speaking for another nick',
    );
    t.equal(
      b.macKeyFor('alice', mac!.sid, { t: 'probe' } as Message),
      undefined,
      'nothing but chats',
    );
    t.equal(
      b.macKeyFor('carol', mac!.sid, chatFrom('carol')),
      undefined,
      "another peer may not use alice's session",
    );
    a.confirm(bob.public.ek, sealed, false);
    t.equal(a.macFor(bob.public.ek, sealed), undefined, 'a miss: signed again');
  },
);

t.test(
  "keyFor: a peer's key from the table, for itself only; the registry's hello self-signed, the rest by the key it gave",
  async (t) => {
    const [alice, bob, registry] = await Promise.all([
      generateIdentity(),
      generateIdentity(),
      generateIdentity(),
    ]);
    const { keys, server } = keyring('alice', alice, [entry('bob', bob)]);
    t.equal(keys.keyFor('bob', chatFrom('bob')), cachedSigningKey(bob.public.sk));
    t.equal(
      keys.keyFor('bob', { t: 'ack' } as Message),
      cachedSigningKey(bob.public.sk),
      'a reply carries no from',
    );
    t.equal(keys.keyFor('bob', chatFrom('carol')), undefined, 'bob may speak only for himself');
    t.equal(keys.keyFor('carol', chatFrom('carol')), undefined, 'not in the table');
    const hello = { t: 'server_hello', sk: registry.public.sk } as Message;
    t.equal(
      keys.keyFor(REGISTRY_NAME, hello),
      cachedSigningKey(registry.public.sk),
      'self-signed: the server link holds its key against the pin',
    );
    t.equal(
      keys.keyFor(REGISTRY_NAME, { t: 'table' } as Message),
      undefined,
      'nothing else before a hello checked out',
    );
    server.known = registry.public.sk;
    t.equal(
      keys.keyFor(REGISTRY_NAME, { t: 'table' } as Message),
      cachedSigningKey(registry.public.sk),
    );
  },
);

t.test(
  `the registry may use the last ${REGISTRY_SESSIONS_KEPT} sessions set up with it, no older one`,
  async (t) => {
    const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
    const { keys } = keyring('alice', alice, [entry('bob', bob)]);
    const nodes = await Promise.all(
      Array.from({ length: REGISTRY_SESSIONS_KEPT + 1 }, () => generateIdentity()),
    );
    t.notOk(keys.hasSession(nodes[0].public.ek));
    const sids: string[] = [];
    for (const node of nodes)
      sids.push(sessionId((await keys.registrySession(node.public.ek)).enc));
    t.ok(keys.hasSession(nodes[0].public.ek));
    const usable = sids.map(
      (sid) => keys.macKeyFor(REGISTRY_NAME, sid, { t: 'table' } as Message) !== undefined,
    );
    t.same(
      usable,
      [false, ...Array<boolean>(REGISTRY_SESSIONS_KEPT).fill(true)],
      'the oldest forgotten',
    );
    t.equal(
      keys.macKeyFor('bob', sids.at(-1)!, chatFrom('bob')),
      undefined,
      "a peer may not use the registry's session",
    );
  },
);

t.test(
  "the password is sealed to the registry's key, bound to the nick, its keys and the account step",
  async (t) => {
    const [alice, registry] = await Promise.all([generateIdentity(), generateIdentity()]);
    const { keys } = keyring('alice', alice, []);
    const sealed = await keys.sealPassword('s3cret', registry.public.ek, 'create');
    const aad = (account: string) =>
      passwordAad('alice', alice.public.sk, alice.public.ek, account);
    t.equal(
      new TextDecoder().decode(await open(sealed, registry.agreement, aad('create'))),
      's3cret',
    );
    await t.rejects(open(sealed, registry.agreement, aad('login')), 'not for another step');
  },
);
