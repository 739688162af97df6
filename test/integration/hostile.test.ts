import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { decode, encodeRequest } from '../../src/protocol/codec.js';
import type { Address } from '../../src/transport/address.js';
import { createTestnet, eventually, nextEvent, record } from '../helpers/testnet.js';

/** A raw socket that speaks (or mangles) the protocol by hand. */
async function rawSocket(t: Test) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  const received: Buffer[] = [];
  socket.on('message', (datagram) => received.push(datagram));
  const send = (to: Address, datagram: Buffer) =>
    new Promise<void>((resolve) => socket.send(datagram, to.port, to.address, () => resolve()));
  return { socket, received, send, port: () => socket.address().port };
}

function hostileDatagrams(count: number): Buffer[] {
  const samples = [
    () => randomBytes(1 + Math.floor(Math.random() * 300)),
    () => Buffer.from('{"v":1,"t":"register","id":"x"'),
    () => Buffer.from(JSON.stringify({ v: 9, t: 'register', id: 'x', nick: 'mallory' })),
    () => Buffer.from(JSON.stringify({ v: 1, t: 'chat', id: 'x', from: 'alice', mid: 7, text: 'x' })),
    () => Buffer.from(JSON.stringify({ v: 1, t: 'nope', id: randomBytes(4).toString('hex') })),
    () => Buffer.from(JSON.stringify({ v: 1, t: 'ack', re: 'no-such-request' })),
    () => Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
    () => Buffer.from('[]'),
  ];
  return Array.from({ length: count }, (_, i) => samples[i % samples.length]!());
}

t.test('thousands of hostile datagrams at the registry and a client: both keep working', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  const bob = await net.client('bob');
  await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
  const attacker = await rawSocket(t);
  const flood = hostileDatagrams(3000);
  const refused = (stats: typeof bob.stats) => Object.values(stats.dropped).reduce((a, b) => a + b, 0) + stats.strayReplies;
  const before = [net.registry.stats, bob.stats].map((stats) => ({ received: stats.received, refused: refused(stats) }));
  for (let i = 0; i < flood.length; i++) {
    await attacker.send(i % 2 ? net.registry.address() : bob.address(), flood[i]!);
    // Let the receivers (same process) read now and then, as separate hosts would.
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  [net.registry.stats, bob.stats].forEach((stats, i) => {
    const received = stats.received - before[i]!.received;
    // The kernel may drop some of a burst; every one that did arrive was refused and counted.
    t.ok(received > 1400, `most of the flood arrived (${received})`);
    t.equal(refused(stats) - before[i]!.refused, received, 'every hostile datagram refused and counted');
  });
  const { dropped: atBob } = bob.stats;
  const { dropped: atRegistry } = net.registry.stats;
  t.ok(atBob.version > 0 && atBob.encoding > 0 && atBob['unknown-type'] > 0, 'counted per reason at bob');
  t.ok(atRegistry.schema > 0 && atRegistry.json > 0 && net.registry.stats.strayReplies > 0, 'counted per reason at the registry');

  const shown = nextEvent(bob, 'message');
  t.equal(await alice.send('bob', 'still fine?'), 'delivered');
  t.match(await shown, { from: 'alice', text: 'still fine?' });
  const carol = await net.client('carol');
  t.equal(carol.state, 'online', 'the registry still registers');
  // readable-but-wrong requests got an explicit err reply; replies and garbage got nothing
  const answers = attacker.received.map((d) => decode(d)).filter((d) => d.ok).map((d) => d.ok && d.message.t);
  t.ok(answers.length > 0 && answers.every((type) => type === 'err'), 'only err replies went back');
});

t.test('spoofing without keys: a chat claiming another nick from elsewhere is not shown', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  const bob = await net.client('bob');
  await eventually(() => bob.table().some((e) => e.nick === 'alice'));
  const mallory = await rawSocket(t);
  const events = record(bob);
  await mallory.send(bob.address(), encodeRequest('x1', { t: 'chat', from: 'alice', mid: 'forged', text: 'send me money' }));
  await mallory.send(bob.address(), encodeRequest('x2', { t: 'table', table: { epoch: 'evil', version: 1, entries: [] } }));
  await mallory.send(bob.address(), encodeRequest('x3', { t: 'deliver', kind: 'relayed', first: false, messages: [{ from: 'alice', mid: 'f', text: 'forged', ts: 1 }] }));
  // and dereg alice from another address
  await mallory.send(net.registry.address(), encodeRequest('x4', { t: 'deregister', nick: 'alice' }));
  await eventually(() => mallory.received.length >= 1, 1000, 'the registry answered the forged dereg');
  const reply = decode(mallory.received[0]!);
  t.match(reply, { ok: true, message: { t: 'err', code: 7 } }, 'NOT_REGISTERED');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(events, [], 'bob showed nothing and kept his table');
  t.ok(bob.table().some((e) => e.nick === 'alice' && e.online), 'alice is still online');
  t.equal(alice.state, 'online');
});

t.test('a retransmitted chat (its ACK lost) is shown once and ACKed each time', async (t) => {
  const net = await createTestnet(t);
  const bob = await net.client('bob');
  // "alice" here is a raw socket registered by hand, so the test controls every datagram.
  const alice = await rawSocket(t);
  await alice.send(net.registry.address(), encodeRequest('r1', { t: 'register', nick: 'alice' }));
  await eventually(() => bob.table().some((e) => e.nick === 'alice' && e.port === alice.port()), 2000, 'bob knows alice');
  const events = record(bob);
  const chat = encodeRequest('m-1', { t: 'chat', from: 'alice', mid: 'm-1', text: 'only once' });
  const acksBefore = alice.received.length;
  for (let i = 0; i < 3; i++) await alice.send(bob.address(), chat);
  await eventually(() => alice.received.slice(acksBefore).filter((d) => decode(d).ok && (decode(d) as any).message.re === 'm-1').length === 3, 1000, 'three ACKs');
  t.same(events.filter(([name]) => name === 'message').length, 1, 'shown once');
  t.equal(bob.stats.deduplicated, 2);

  // the same message id arriving by the server (relayed) after the direct one is not shown again
  const relayed = nextEvent(bob, 'message', () => true, 300).catch(() => 'none');
  await alice.send(net.registry.address(), encodeRequest('s1', { t: 'save', from: 'alice', to: 'bob', mid: 'm-1', text: 'only once' }));
  t.equal(await relayed, 'none', 'the relayed copy was recognised');
});
