import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { encodeRequest } from '../../src/protocol/codec.js';
import { isBundle } from '../../src/transport/bundle.js';
import type { RequestBody } from '../../src/protocol/messages.js';
import { REGISTRY_NAME, signDatagram } from '../../src/crypto/signing.js';
import { scriptedPeer, sealAs } from '../helpers/peer.js';
import { endpoints } from '../helpers/endpoints.js';
import { Endpoint, type EndpointStats, type RequestOptions } from '../../src/transport/endpoint.js';
import type { ChatClientOptions } from '../../src/client/options.js';
import { generateIdentity, signingKeyFrom } from '../../src/crypto/identity.js';
import type { Address } from '../../src/transport/address.js';
import { cookieFor, createTestnet, eventually, nextEvent, record } from '../helpers/testnet.js';

/** A raw socket that speaks (or mangles) the protocol by hand. */
/** A raw socket; by default on 127.0.0.2, another host as far as the rate limit is concerned. */
async function rawSocket(t: Test, host = '127.0.0.2') {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  const received: Buffer[] = [];
  socket.on('message', (datagram) => received.push(datagram));
  const send = (to: Address, datagram: Buffer) =>
    new Promise<void>((resolve) => socket.send(datagram, to.port, to.address, () => resolve()));
  return { socket, received, send, port: () => socket.address().port };
}

/** Random bytes that never start as a bundle does (those are the sample after it). */
function randomNonBundle(): Buffer {
  const bytes = randomBytes(1 + Math.floor(Math.random() * 300));
  if (isBundle(bytes)) bytes[1] = 0x02;
  return bytes;
}

function hostileDatagrams(count: number): Buffer[] {
  const samples = [
    randomNonBundle,
    // A bundle whose first datagram runs past its end: refused whole (bundlesRefused).
    () => Buffer.from([0x00, 0x01, 0xff, 0xff, 0x7b]),
    () => Buffer.from('{"v":1,"t":"register","id":"x"'),
    () => Buffer.from(JSON.stringify({ v: 9, t: 'register', id: 'x', nick: 'mallory' })),
    () =>
      Buffer.from(JSON.stringify({ v: 1, t: 'chat', id: 'x', from: 'alice', mid: 7, text: 'x' })),
    () => Buffer.from(JSON.stringify({ v: 1, t: 'nope', id: randomBytes(4).toString('hex') })),
    () => Buffer.from(JSON.stringify({ v: 1, t: 'ack', re: 'no-such-request' })),
    () => Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
    () => Buffer.from('[]'),
  ];
  return Array.from({ length: count }, (_, i) => samples[i % samples.length]());
}

t.test(
  'thousands of hostile datagrams at the registry and a client: both keep working',
  async (t) => {
    // No heartbeats and no probes while the flood is counted: every datagram the registry and
    // bob receive then is the attacker's (a heartbeat landing in the window, on a loaded
    // machine, was a datagram received with no refusal to match it).
    const quiet = { heartbeatIntervalMs: 3_600_000 };
    const net = await createTestnet(t, { registry: quiet });
    const alice = await net.client('alice', quiet);
    const bob = await net.client('bob', quiet);
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    const attacker = await rawSocket(t);
    const flood = hostileDatagrams(3000);
    // Every hostile datagram is unsigned, so dropped (a reason counted) before any reply is
    // matched; a malformed bundle is refused whole before it is a datagram received, and
    // counted apart (`bundlesRefused`). Stray replies are left out: under load a legitimate late
    // reply (a push ACKed after its retry went out, say) lands in the window as one, and is no
    // refusal of the flood.
    const refused = (stats: EndpointStats) =>
      Object.values(stats.dropped).reduce((a, b) => a + b, 0) + stats.bundlesRefused;
    const came = (stats: EndpointStats) => stats.received + stats.bundlesRefused;
    const before = [net.registry.stats, bob.stats].map((stats) => ({
      received: came(stats),
      refused: refused(stats),
    }));
    const targets = [net.registry, bob] as const;
    const arrived = (i: number) => came(targets[i].stats) - before[i].received;
    // In rounds the receivers' socket buffers hold, each waited for (counted, not timed): the
    // kernel drops nothing, so every datagram sent is one received.
    const ROUND = 100;
    for (let i = 0; i < flood.length; i++) {
      await attacker.send(targets[i % 2].address(), flood[i]);
      if (i % ROUND === ROUND - 1 || i === flood.length - 1) {
        const sent = i + 1;
        await eventually(
          () => arrived(0) >= Math.ceil(sent / 2) && arrived(1) >= Math.floor(sent / 2),
          10_000,
          `round ${sent / ROUND} arrived`,
        );
      }
    }
    // The registry's admission (rate limit) is asynchronous: let every verdict come in. What
    // arrived may hold a legitimate datagram or two besides the flood (an ACK of the change
    // that brought bob, still on its way to the registry when counting began): those are
    // received and never refused, so the flood is counted by its refusals.
    const refusedSince = (i: number) => refused(targets[i].stats) - before[i].refused;
    const half = flood.length / 2;
    await eventually(
      () => refusedSince(0) >= half && refusedSince(1) >= half,
      10_000,
      () =>
        `every hostile datagram refused (${[0, 1].map((i) => `${refusedSince(i)} of ${arrived(i)}`).join(', ')})`,
    );
    targets.forEach((_, i) => {
      t.ok(arrived(i) >= half, 'the whole flood arrived');
      t.equal(refusedSince(i), half, 'every hostile datagram refused and counted, nothing else');
    });
    const { dropped: atBob } = bob.stats;
    const { dropped: atRegistry } = net.registry.stats;
    t.ok(atBob.unsigned > 1000, 'unsigned, so dropped at bob before anything else');
    t.ok(
      atRegistry.unsigned + atRegistry['rate-limited'] > 1000,
      'and at the registry, most already at the rate limit',
    );

    const shown = nextEvent(bob, 'message');
    t.equal(await alice.send('bob', 'still fine?'), 'delivered');
    t.match(await shown, { from: 'alice', text: 'still fine?' });
    const carol = await net.client('carol');
    t.equal(carol.state, 'online', 'the registry still registers');
    // Nothing unsigned is answered: a flood gets no replies to amplify or learn from.
    t.equal(attacker.received.length, 0, 'no answer went back to the flood');
  },
);

t.test(
  'impostors: no key, the wrong key, speaking for another nick, replaying from elsewhere',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    const bob = await net.client('bob');
    await eventually(() => bob.table().some((e) => e.nick === 'alice'));
    const events = record(bob);
    const mallory = await rawSocket(t);
    const malloryKeys = await net.identityOf('mallory');
    const forged = (
      id: string,
      body: RequestBody,
      by: string,
      key = malloryKeys.signing.privateKey,
    ) => signDatagram(encodeRequest(id, body), by, key);
    const chat: RequestBody = {
      t: 'chat',
      from: 'alice',
      mid: 'forged',
      sealed: await sealAs(net, 'mallory', 'bob', 'forged', 'send me money'),
    };

    await mallory.send(bob.address(), encodeRequest('x1', chat)); // no signature
    await mallory.send(bob.address(), forged('x2', chat, 'alice')); // alice's name, mallory's key
    await mallory.send(
      bob.address(),
      forged(
        'x3',
        { t: 'table', table: { epoch: 'evil', version: 1, entries: [] } },
        REGISTRY_NAME,
      ),
    );
    await mallory.send(
      net.registry.address(),
      forged('x4', { t: 'deregister', nick: 'alice' }, 'alice'),
    );
    // mallory registers properly, then speaks for alice under her own name
    const peer = await scriptedPeer(t, net, 'mallory');
    await peer.register();
    await eventually(() => bob.table().some((e) => e.nick === 'mallory'));
    peer.endpoint.send(bob.address(), forged('x5', chat, 'mallory'));
    peer.endpoint.send(
      net.registry.address(),
      forged('x6', { t: 'deregister', nick: 'alice' }, 'mallory'),
    );
    // a genuine signed datagram (carol's heartbeat), taken by the registry, then replayed from elsewhere
    const carol = await scriptedPeer(t, net, 'carol');
    await carol.register();
    const carolKeys = await net.identityOf('carol');
    const captured = forged(
      'x7',
      { t: 'heartbeat', nick: 'carol', sk: carolKeys.public.sk },
      'carol',
      carolKeys.signing.privateKey,
    );
    // Counted from here: under load a late answer to carol's own registration is stray too.
    const strayBefore = carol.endpoint.stats.strayReplies;
    carol.endpoint.send(net.registry.address(), captured);
    await eventually(
      () => carol.endpoint.stats.strayReplies > strayBefore,
      15_000,
      'the genuine one was answered',
    );
    await mallory.send(net.registry.address(), captured);

    await eventually(
      () => net.registry.stats.dropped.replayed >= 1,
      15_000,
      'the replay was recognised',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.same(
      events.filter(([name]) => name !== 'joined' && name !== 'table'),
      [],
      'bob showed nothing',
    );
    t.ok(
      bob.stats.dropped.unsigned >= 1 &&
        bob.stats.dropped['bad-signature'] >= 2 &&
        bob.stats.dropped['unknown-signer'] >= 1,
      'each counted',
    );
    t.ok(
      net.registry.stats.dropped['bad-signature'] >= 1 &&
        net.registry.stats.dropped['unknown-signer'] >= 1,
    );
    t.equal(mallory.received.length, 0, 'and nobody answered the forgeries');
    t.ok(
      bob.table().some((e) => e.nick === 'alice' && e.online),
      'alice is still online',
    );
    t.equal(alice.state, 'online');
  },
);

t.test('a retransmitted chat (its ACK lost) is shown once and ACKed each time', async (t) => {
  const net = await createTestnet(t);
  const bob = await net.client('bob');
  // "alice" is driven by hand, so the test controls every datagram.
  const alice = await scriptedPeer(t, net, 'alice');
  await alice.meet(bob);
  const events = record(bob);
  const key = alice.identity.signing.privateKey;
  const sealed = await sealAs(net, 'alice', 'bob', 'm-1', 'only once');
  const chat = signDatagram(
    encodeRequest('m-1', { t: 'chat', from: 'alice', mid: 'm-1', sealed }),
    'alice',
    key,
  );
  // Sent, then sent again twice as a sender whose ACK was lost would (after its timeout).
  // Stray replies are counted from here: under load, a late answer to one of alice's own
  // requests before (a retry's) is stray too.
  const strayBefore = alice.endpoint.stats.strayReplies;
  for (let i = 1; i <= 3; i++) {
    alice.endpoint.send(bob.address(), chat);
    await eventually(
      () =>
        alice.endpoint.stats.strayReplies >= strayBefore + i && bob.stats.deduplicated === i - 1,
      15_000,
      `ACK ${i} (nobody waits for them here)`,
    );
  }
  t.same(events.filter(([name]) => name === 'message').length, 1, 'shown once');
  t.equal(bob.stats.deduplicated, 2);

  // the same message id arriving by the server (relayed) after the direct one is not shown again
  const relayed = nextEvent(bob, 'message', () => true, 300).catch(() => 'none');
  await alice.request(net.registry.address(), {
    t: 'save',
    from: 'alice',
    to: 'bob',
    mid: 'm-1',
    sealed,
  });
  t.equal(await relayed, 'none', 'the relayed copy was recognised');
});

t.test(
  'a flood from one address is cut to its rate; users at other addresses are served meanwhile',
  async (t) => {
    const net = await createTestnet(t, { registry: { rateLimitPerSecond: 200 } });
    const alice = await net.client('alice');
    const bob = await net.client('bob');
    await bob.deregister();
    const flooder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => flooder.bind(0, '127.0.0.2', () => resolve())); // another source address
    t.teardown(() => new Promise<void>((resolve) => flooder.close(() => resolve())));
    const junk = encodeRequest('j', {
      t: 'heartbeat',
      nick: 'alice',
      sk: (await net.identityOf('alice')).public.sk,
    });
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        for (let i = 0; i < 50; i++) flooder.send(junk, net.registry.address().port, '127.0.0.1');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const started = Date.now();
    const outcomes = [];
    for (let i = 0; i < 10; i++) outcomes.push(await alice.send('bob', `during the flood ${i}`));
    // Flooding on until the limit has plainly been at work (however fast this machine floods).
    await eventually(
      () => net.registry.stats.dropped['rate-limited'] > 2000,
      10_000,
      'the flood cut at the door (over 2,000 dropped before any decoding)',
    );
    flooding = false;
    await flood;
    // A save not answered within alice's retry budget would be 'queued', not 'saved'.
    t.same(
      [...new Set(outcomes)],
      ['saved'],
      'every save went through, each answered within the client budget',
    );
    t.ok(
      net.registry.stats.dropped.unsigned <= 200 * ((Date.now() - started) / 1000 + 2),
      'only about the rate got past it',
    );
  },
);

t.test('a captured password cannot be replayed with other keys', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice', { password: 'hunter2', account: 'create' });
  await alice.close();
  // the attacker has the sealed password (it crossed the network) but other keys
  const aliceKeys = await net.identityOf('alice');
  const { seal, passwordAad } = await import('../../src/crypto/sealing.js');
  const sealed = await seal(
    new TextEncoder().encode('hunter2'),
    net.registry.publicKeys.ek,
    passwordAad('alice', aliceKeys.public.sk, aliceKeys.public.ek, 'login'),
  );
  const thief = await generateIdentity();
  const [endpoint] = (await endpoints(t, 1, {
    auth: {
      name: 'alice',
      privateKey: thief.signing.privateKey,
      keyFor: () => signingKeyFrom(net.registry.publicKeys.sk),
    },
  })) as [Endpoint];
  const cookie = await cookieFor(endpoint, net.registry.address(), 'alice', thief.public.sk);
  const attempt = endpoint.request(
    net.registry.address(),
    { t: 'register', nick: 'alice', ...thief.public, password: sealed, account: 'login', cookie },
    { timeoutMs: 200, tries: 3 },
  );
  await t.rejects(
    attempt,
    { code: 'ERR_BAD_REQUEST' },
    'the password does not open for these keys',
  );
  t.equal(
    net.registry.snapshot().entries.find((e) => e.nick === 'alice')?.sk,
    aliceKeys.public.sk,
    'the nick stays with its keys',
  );
});

t.test('saved messages reach a registrant whose first table comes in fragments', async (t) => {
  const net = await createTestnet(t);
  const others = await Promise.all(Array.from({ length: 12 }, (_, i) => net.client(`user${i}`)));
  const alice = others[0];
  const bob = await net.client('bob');
  await bob.deregister();
  t.equal(await alice.send('bob', 'kept for bob'), 'saved');
  const events = record(bob);
  await bob.register();
  await eventually(() =>
    events.some(([name]) => name === 'saved-message' || name === 'unreadable'),
  );
  t.match(
    events.filter(([name]) => name === 'saved-message' || name === 'unreadable'),
    [['saved-message', { text: 'kept for bob' }]],
  );
});

/**
 * bob with `budget` (client options), a scripted mallory he knows, and `count` chats from
 * her, each sealed on its own (a one-shot seal: a key agreement for the receiver each time),
 * sent one after another with `request` options; then the outcome of each, what bob showed,
 * and a check that another peer, alice, still gets through.
 */
async function chatsAtBob(
  t: Test,
  budget: Partial<ChatClientOptions>,
  count: number,
  request: Partial<RequestOptions> = {},
) {
  const net = await createTestnet(t);
  const bob = await net.client('bob', budget);
  const mallory = await scriptedPeer(t, net, 'mallory');
  await mallory.meet(bob);
  const events = record(bob);
  const outcomes: string[] = [];
  for (let i = 0; i < count; i++) {
    const sealed = await sealAs(net, 'mallory', 'bob', `k-${i}`, `chat ${i}`);
    outcomes.push(
      await mallory
        .request(
          bob.address(),
          { t: 'chat', from: 'mallory', mid: `k-${i}`, sealed },
          { signer: 'bob', ...request },
        )
        .then(
          () => 'ack',
          (error: { code?: string }) => error.code ?? 'error',
        ),
    );
  }
  const shown = events.filter(([name]) => name === 'message').length;
  const othersGetThrough = async () => {
    const alice = await net.client('alice');
    await eventually(() => alice.table().some((e) => e.nick === 'bob'));
    t.equal(await alice.send('bob', 'hello'), 'delivered', 'another peer has a budget of its own');
  };
  return { bob, outcomes, shown, othersGetThrough };
}

t.test(
  'a peer that makes a client agree on keys again and again is held to its budget; others are not',
  async (t) => {
    // A budget of 3 key agreements in 10 minutes: counted, not timed.
    const { bob, outcomes, shown, othersGetThrough } = await chatsAtBob(
      t,
      { peerSessions: 3, peerSessionWindowMs: 600_000 },
      10,
    );
    t.same(outcomes.slice(0, 3), ['ack', 'ack', 'ack'], 'the budget opened');
    t.same([...new Set(outcomes.slice(3))], ['ERR_BAD_REQUEST'], 'the rest refused, not opened');
    t.equal(bob.stats.sessionBudgetRefusals, 7);
    t.equal(shown, 3, 'three shown');
    await othersGetThrough();
  },
);

t.test('a peer flooding a client with chats is held to its budget; others are not', async (t) => {
  // A budget of 5 chats in 10 minutes (and key agreements to spare): counted, not timed.
  const budget = {
    peerChats: 5,
    peerChatWindowMs: 600_000,
    peerSessions: 100,
    peerSessionWindowMs: 600_000,
  };
  const { bob, outcomes, shown, othersGetThrough } = await chatsAtBob(t, budget, 12, {
    timeoutMs: 100,
    tries: 1,
  });
  t.same(outcomes.slice(0, 5), ['ack', 'ack', 'ack', 'ack', 'ack'], 'the budget taken');
  t.same(
    [...new Set(outcomes.slice(5))],
    ['ERR_TIMEOUT'],
    'the rest dropped unanswered, not opened',
  );
  t.equal(bob.stats.chatBudgetRefusals, 7);
  t.equal(shown, 5, 'five shown');
  await othersGetThrough();
});
