import dgram from 'node:dgram';
import t from 'tap';
import { encodeRequest } from '../../src/protocol/codec.js';
import { BUNDLE_MAX_DATAGRAMS, bundleAll } from '../../src/transport/bundle.js';
import { createTestnet, eventually, record } from '../helpers/testnet.js';

t.test(
  'a stream to a peer goes in bundles and its ACKs come back in bundles; each message shown once',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice', { ackTimeoutMs: 3000 });
    const bob = await net.client('bob');
    const shown = record(bob);
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    await t.resolveMatch(alice.send('bob', 'first'), 'delivered', 'the session is set up');
    const before = { alice: alice.stats, bob: bob.stats };
    const texts = Array.from({ length: 200 }, (_, i) => `m${i}`);
    const outcomes = await Promise.all(texts.map((text) => alice.send('bob', text)));
    t.same([...new Set(outcomes)], ['delivered']);
    await eventually(
      () => shown.filter(([event]) => event === 'message').length === texts.length + 1,
      15_000,
      'every message shown',
    );
    const messages = shown.flatMap(([event, payload]) =>
      event === 'message' ? [(payload as { text: string }).text] : [],
    );
    t.same(messages, ['first', ...texts], 'each once, in the order sent');
    const sent = alice.stats.bundlesSent - before.alice.bundlesSent;
    const acks = bob.stats.bundlesSent - before.bob.bundlesSent;
    t.ok(sent > 0, `alice sent bundles (${sent})`);
    t.ok(alice.stats.bundled - before.alice.bundled >= 2 * sent, 'each carried two chats or more');
    t.equal(bob.stats.bundlesReceived - before.bob.bundlesReceived, sent, 'bob took each of them');
    t.ok(acks > 0, `bob's ACKs went back in bundles (${acks})`);
    t.equal(alice.stats.bundlesReceived - before.alice.bundlesReceived, acks);
    t.equal(alice.stats.bundlesRefused + bob.stats.bundlesRefused, 0);
  },
);

t.test(
  'the registry takes each datagram of a bundle through its rate limit on its own',
  async (t) => {
    const net = await createTestnet(t, { registry: { rateLimitPerSecond: 10 } });
    const sender = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.2', () => resolve())); // a source of its own
    t.teardown(() => new Promise<void>((resolve) => sender.close(() => resolve())));
    const junk = Array.from({ length: BUNDLE_MAX_DATAGRAMS }, (_, i) =>
      encodeRequest(`j${i}`, { t: 'heartbeat', nick: 'nobody', sk: 'AAAA' }),
    );
    const wire = bundleAll(junk);
    t.ok(wire.length < junk.length, 'the junk fits in few bundles');
    const before = { ...net.registry.stats, dropped: { ...net.registry.stats.dropped } };
    for (const bundle of wire) sender.send(bundle, net.registry.address().port, '127.0.0.1');
    await eventually(
      () => net.registry.stats.received - before.received === junk.length,
      15_000,
      'each datagram of the bundles counted as received',
    );
    t.equal(net.registry.stats.bundlesReceived - before.bundlesReceived, wire.length);
    const limited = net.registry.stats.dropped['rate-limited'] - before.dropped['rate-limited'];
    // 10 a second from one address: at most two windows' worth get past, whatever the timing.
    t.ok(limited >= junk.length - 20, `the rest cut at the door (${limited} of ${junk.length})`);
    t.equal(net.registry.stats.bundlesSent, 0, 'a registry never bundles');
  },
);
