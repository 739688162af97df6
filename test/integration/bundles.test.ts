import dgram from 'node:dgram';
import t, { type Test } from 'tap';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/codec.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { signDatagram } from '../../src/crypto/signing.js';
import type { Address } from '../../src/transport/address.js';
import { BUNDLE_MAX_DATAGRAMS, isBundle } from '../../src/transport/bundle.js';
import { onTheWire } from '../helpers/bundles.js';
import type { Endpoint } from '../../src/transport/endpoint.js';
import { endpoints } from '../helpers/endpoints.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { createTestnet, eventually, record } from '../helpers/testnet.js';

t.test(
  'a stream to a peer goes in bundles and its ACKs come back merged; each message shown once',
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
    t.ok(sent > 0, `alice sent bundles (${sent})`);
    t.ok(alice.stats.bundled - before.alice.bundled >= 2 * sent, 'each carried two chats or more');
    // Taken as bundles at the other end (the kernel may drop one; its datagrams then go again, alone).
    const taken = bob.stats.bundlesReceived - before.bob.bundlesReceived;
    t.ok(taken > 0 && taken <= sent, 'bob took them as bundles');
    // Each bundle's chats are ACKed in one turn: the first alone, the rest in one merged ACK.
    const merged = bob.stats.mergedAcks - before.bob.mergedAcks;
    const replies = bob.stats.sent - before.bob.sent;
    t.ok(merged > 0, `bob's ACKs went back merged (${merged})`);
    t.ok(replies < texts.length, `in fewer datagrams than the chats (${replies})`);
    // A reply to no request under way comes only as the second answer to a chat sent twice.
    const strays = alice.stats.strayReplies - before.alice.strayReplies;
    const resent = alice.stats.retried - before.alice.retried;
    t.ok(strays <= resent, `each ACK matched its chat (${strays} stray, ${resent} sent again)`);
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
    const wire = onTheWire(junk);
    t.ok(wire.length < junk.length, 'the junk fits in few bundles');
    const before = { ...net.registry.stats, dropped: { ...net.registry.stats.dropped } };
    for (const bundle of wire) sender.send(bundle, net.registry.address().port, '127.0.0.1');
    await eventually(
      () => net.registry.stats.received - before.received === junk.length,
      15_000,
      'each datagram of the bundles counted as received',
    );
    t.equal(
      net.registry.stats.bundlesReceived - before.bundlesReceived,
      wire.filter(isBundle).length,
    );
    const limited = net.registry.stats.dropped['rate-limited'] - before.dropped['rate-limited'];
    // 10 a second from one address: at most two windows' worth get past, whatever the timing.
    t.ok(limited >= junk.length - 20, `the rest cut at the door (${limited} of ${junk.length})`);
  },
);

t.test('a registry answers a bundle of requests a datagram at a time, never bundled', async (t) => {
  const net = await createTestnet(t);
  const asker = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => asker.bind(0, '127.0.0.2', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => asker.close(() => resolve())));
  const answers: Buffer[] = [];
  asker.on('message', (datagram) => answers.push(datagram));
  const keys = await generateIdentity();
  // Ten hellos, each answered with a server_hello: ten datagrams to one address in one turn.
  const hellos = Array.from({ length: 10 }, (_, i) =>
    signDatagram(
      encodeRequest(`h${i}`, {
        t: 'hello',
        nick: `asker${i}`,
        sk: keys.public.sk,
        pad: '.'.repeat(HELLO_PAD_CHARS),
      }),
      `asker${i}`,
      keys.signing.privateKey,
    ),
  );
  const wire = onTheWire(hellos);
  t.ok(wire.some(isBundle), 'nine of them in a bundle');
  for (const one of wire) asker.send(one, net.registry.address().port, '127.0.0.1');
  await eventually(() => answers.length === 10, 15_000, 'ten answers');
  t.same(
    answers.map((answer) => (isBundle(answer) ? 'bundle' : peek(answer)?.t)),
    Array(10).fill('server_hello'),
    'each alone',
  );
  t.equal(net.registry.stats.bundlesSent, 0);
});

/** A server endpoint behind a proxy that drops bundles one way (as a peer that takes none would), and a client endpoint. */
async function behindBundleDropper(
  t: Test,
  coalescing: 'client' | 'server',
  dropped: 'forward' | 'back',
) {
  const [server] = await endpoints(t, 1, { coalesce: coalescing === 'server' });
  const [client] = await endpoints(t, 1, { coalesce: coalescing === 'client' });
  const proxy = await createProxy(server.address(), {
    bundles: 'whole',
    drop: (datagram, direction) => direction === dropped && isBundle(datagram),
  });
  t.teardown(() => proxy.close());
  return { server, client, proxy };
}

const requests = (client: Endpoint, to: Address, n: number) =>
  Promise.all(
    Array.from({ length: n }, (_, i) =>
      client.request(to, { t: 'probe', nick: `n${i}` }, { timeoutMs: 100, tries: 4 }),
    ),
  );

t.test(
  'a retransmission leaves alone: requests bundled to a peer that drops bundles get through at their second send',
  async (t) => {
    const { server, client, proxy } = await behindBundleDropper(t, 'client', 'forward');
    const handled = new Set<string>();
    server.onRequest((request, _from, respond) => {
      if (request.t === 'probe') handled.add(request.nick);
      respond({ t: 'ack' });
    });
    const replies = await requests(client, proxy.address, 10);
    t.same(new Set(replies.map((reply) => reply.t)), new Set(['ack']), 'all ten answered');
    t.equal(handled.size, 10);
    t.ok(client.stats.bundlesSent >= 1, 'the nine after the first went bundled');
    t.ok(proxy.counts.dropped >= 1, 'and were dropped');
    t.ok(client.stats.retried >= client.stats.bundled, 'each of them sent again, alone');
  },
);

t.test(
  'an answer repeated to a retransmission leaves alone: ACKs bundled to a peer that drops bundles get through at its second send',
  async (t) => {
    const { server, client, proxy } = await behindBundleDropper(t, 'server', 'back');
    const waiting: Array<() => void> = [];
    server.onRequest((_request, _from, respond) => {
      // All ten answered in one turn, once all are in: the nine after the first go bundled.
      waiting.push(() => respond({ t: 'ack' }));
      if (waiting.length === 10) for (const answer of waiting) answer();
    });
    const replies = await requests(client, proxy.address, 10);
    t.same(new Set(replies.map((reply) => reply.t)), new Set(['ack']), 'all ten answered');
    t.ok(server.stats.bundlesSent >= 1, 'the answers after the first went bundled');
    t.ok(proxy.counts.dropped >= 1, 'and were dropped');
    t.ok(
      server.stats.deduplicated >= server.stats.bundled,
      'each answered again, alone, from the window',
    );
  },
);
