import t, { type Test } from 'tap';
import type { ChatClientOptions } from '../../src/client/options.js';
import { MAX_TEXT_BYTES } from '../../src/protocol/constants.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { Endpoint } from '../../src/transport/endpoint.js';
import { generateRawKeyPair, privateKeyObject } from '../../src/crypto/key-pairs.js';
import { signingKeyFrom } from '../../src/crypto/identity.js';
import { scriptedPeer } from '../helpers/peer.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { endpoints } from '../helpers/endpoints.js';
import {
  cookieFor,
  createTestnet,
  eventually,
  nextEvent,
  PATIENT_PROBE,
  PATIENT_SERVER,
  record,
} from '../helpers/testnet.js';

const isProbe = (datagram: Buffer) => peek(datagram)?.t === 'probe';
/** What a peer sends to bob's table address (the proxy's): the proxy carries only the registry's traffic. */
const isPeerTraffic = (datagram: Buffer) => ['chat', 'punch'].includes(peek(datagram)?.t ?? '');

/**
 * alice, and bob reaching the registry through a proxy that loses the registry's probes to
 * him until `letProbesThrough()`.
 */
async function aliceAndBobBehindProbeLoss(t: Test, bobOptions: Partial<ChatClientOptions> = {}) {
  const net = await createTestnet(t, { registry: PATIENT_PROBE });
  // No introductions: bob's table address is the proxy's, and a hole punch (bob answering
  // alice's introduction) would reach his own socket directly, past the proxy (docs/nat.md).
  const alice = await net.client('alice', { ...PATIENT_SERVER, introduceAfterMs: 3_600_000 });
  let eatProbes = true;
  const proxy = await createProxy(net.registry.address(), {
    drop: (d, direction) => (direction === 'back' && eatProbes && isProbe(d)) || isPeerTraffic(d),
  });
  t.teardown(() => proxy.close());
  const bob = await net.client('bob', {
    server: { host: '127.0.0.1', port: proxy.address.port },
    ...bobOptions,
  });
  return { net, alice, bob, letProbesThrough: () => void (eatProbes = false) };
}

t.test(
  'a client taken for offline by lost probes is asked again, and gets everything in order',
  async (t) => {
    const { net, alice, bob, letProbesThrough } = await aliceAndBobBehindProbeLoss(t);
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    const shown = record(bob);

    const markedOffline = new Promise((resolve) => net.registry.once('marked-offline', resolve));
    t.equal(await alice.send('bob', 'one'), 'saved', 'probes lost: saved');
    t.match(
      await markedOffline,
      { nick: 'bob' },
      'bob taken for offline (he says he is here at once, so it does not last)',
    );

    letProbesThrough();
    // Probed again (not deregistered): alive, so online again. Either 'one' still waits in
    // its mailbox, so 'two' queues behind it; or bob, told he was taken for offline, has
    // already said he is here and got 'one', so 'two' is relayed. Either way, in order.
    t.match(await alice.send('bob', 'two'), /^(saved|relayed)$/);
    await eventually(
      () => alice.table().some((e) => e.nick === 'bob' && e.online),
      15_000,
      'bob back online for everyone',
    );
    const texts = () =>
      shown
        .filter(([name]) => name === 'message' || name === 'saved-message')
        .map(([, payload]) => (payload as { text: string }).text);
    await eventually(() => texts().length === 2, 15_000, 'both delivered');
    t.same(texts(), ['one', 'two'], 'in the order sent');
    t.equal(
      await alice.send('bob', 'three'),
      'relayed',
      'mailbox empty: relayed at once (direct never reaches bob behind the proxy)',
    );
  },
);

t.test('a client that deregistered is not probed: straight to the mailbox', async (t) => {
  const net = await createTestnet(t, { registry: { probeTimeoutMs: 1000 } });
  const alice = await net.client('alice');
  const bob = await net.client('bob');
  await bob.deregister();
  const started = Date.now();
  t.equal(await alice.send('bob', 'hello'), 'saved');
  // Alice's table may still show bob online: a direct try (3 sends) and a punch beside it (5)
  // may reach him, besides the table's changes; a probe would add its tries and a second.
  t.ok(
    bob.stats.received < 24 && Date.now() - started < 900,
    `no probe wait for a user who left (${bob.stats.received} datagrams, ${Date.now() - started} ms)`,
  );
});

t.test('the table is bounded: one nick too many is refused with a clear code', async (t) => {
  const limit = 20;
  const net = await createTestnet(t, { registry: { pushTries: 1, maxClients: limit } });
  // One socket signing as one nick after another (each with keys of its own).
  const ek = (await net.identityOf('any')).public.ek;
  const auth = {
    name: '',
    privateKey: privateKeyObject('ed25519', generateRawKeyPair('ed25519')),
    keyFor: () => signingKeyFrom(net.registry.publicKeys.sk),
  };
  const [socket] = (await endpoints(t, 1, { auth })) as [Endpoint];
  const register = async (i: number) => {
    const keys = generateRawKeyPair('ed25519');
    auth.name = `user${i}`;
    auth.privateKey = privateKeyObject('ed25519', keys);
    const sk = keys.publicRaw.toString('base64');
    const cookie = await cookieFor(socket, net.registry.address(), auth.name, sk);
    return socket.request(
      net.registry.address(),
      { t: 'register', nick: auth.name, sk, ek, cookie },
      { timeoutMs: 500, tries: 3 },
    );
  };
  for (let i = 0; i < limit; i++)
    t.equal((await register(i)).t, 'registered', `user${i}`, { diagnostic: false });
  await t.rejects(register(limit), { code: 'ERR_REGISTRY_FULL' });
  t.equal(net.registry.snapshot().entries.length, limit);
});

t.test(
  'size is checked as encoded: text that escapes past the cap is refused before sending',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    await net.client('bob');
    await eventually(() => alice.table().some((e) => e.nick === 'bob'));
    // A backslash takes 2 bytes as JSON (control characters, which take 6, are not sent at all).
    const escaping = '\\'.repeat(MAX_TEXT_BYTES / 2 + 1); // 30 KiB raw, just over 60 KiB as JSON
    t.match(alice.checkSend('bob', escaping), { code: 'ERR_TEXT_TOO_LONG' });
    await t.rejects(alice.send('bob', escaping), { code: 'ERR_TEXT_TOO_LONG' });
    const fits = '\\'.repeat(MAX_TEXT_BYTES / 2);
    const delivered = nextEvent(alice, 'delivered');
    t.equal(await alice.send('bob', fits), 'delivered', 'right at the cap goes through');
    await delivered;
  },
);

t.test(
  'a registry stopped in the middle of a probe does not take the client for offline',
  async (t) => {
    const net = await createTestnet(t, { registry: { probeTimeoutMs: 2000, probeTries: 1 } });
    const alice = await net.client('alice', { serverTimeoutMs: 3000, serverTries: 1 });
    const bob = await net.client('bob');
    await eventually(() => alice.table().some((e) => e.nick === 'bob'));
    await bob.close(); // silent: the registry will probe it for 2 s
    const sending = alice.send('bob', 'hi').catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 400)); // well inside the probe
    await net.registry.close();
    const store = new LowdbStore(net.dbPath);
    await store.open();
    const records = await store.loadClients();
    t.equal(
      records.find((r) => r.nick === 'bob')?.online,
      true,
      'no verdict from a probe cut short',
    );
    t.same(await store.pendingMessages('bob'), [], 'and nothing was claimed as saved');
    await store.close();
    await alice.close();
    await sending;
  },
);

t.test(
  'a crafted save whose text escapes past the cap is refused, so no mailbox can be blocked',
  async (t) => {
    const net = await createTestnet(t);
    await net.client('bob').then((bob) => bob.deregister());
    // mallory speaks the protocol by hand (signed, as any client), bypassing the client's own check
    const peer = await scriptedPeer(t, net, 'mallory');
    const mallory = peer.endpoint;
    const registry = net.registry.address();
    const options = { timeoutMs: 100, tries: 3 };
    await peer.register();
    // a sealed payload larger than any text under the cap could seal to
    const crafted = { enc: 'e'.repeat(44), ct: 'A'.repeat(100 * 1024) };
    await t.rejects(
      mallory.request(
        registry,
        { t: 'save', from: 'mallory', to: 'bob', mid: 'm', sealed: crafted },
        options,
      ),
      {
        code: 'ERR_BAD_REQUEST',
      },
    );
    t.ok(mallory.stats.fragmented === 1, 'it came in fragments, and was refused once reassembled');
    t.notOk(MAX_TEXT_BYTES > 100 * 1024, 'and no text under the cap seals that large');
    const alice = await net.client('alice');
    t.equal(await alice.send('bob', 'normal'), 'saved');
    const store = new LowdbStore(net.dbPath);
    await store.open();
    t.equal((await store.pendingMessages('bob')).length, 1, 'only the sound message was kept');
    await store.close();
  },
);

t.test(
  'a client that sees itself offline in the table says it is here at once, not at its next heartbeat',
  async (t) => {
    // bob's next heartbeat is a minute away: only the correction can bring him back in this test.
    const { alice, bob, letProbesThrough } = await aliceAndBobBehindProbeLoss(t, {
      heartbeatIntervalMs: 60_000,
    });
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    const saved = nextEvent(bob, 'saved-message');
    t.equal(await alice.send('bob', 'one'), 'saved', 'probes lost: bob taken for offline');
    letProbesThrough();
    t.equal((await saved).text, 'one', 'bob said he is here, and got his mailbox');
    await eventually(
      () => alice.table().some((e) => e.nick === 'bob' && e.online),
      15_000,
      'and everyone sees him online again',
    );
  },
);
