import dgram from 'node:dgram';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/codec.js';
import type { RequestBody } from '../../src/protocol/messages.js';
import { signDatagram } from '../../src/crypto/signing.js';
import { scriptedPeer, sealAs } from '../helpers/peer.js';
import { spoof, spoofingTest } from '../helpers/spoofer.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

// A registry is a public UDP service: nothing it sends an address that has not shown it
// receives may be larger than what came "from" there. Each request type is forged from a
// victim's address (a socket of the test's, so every byte that reaches it is counted).
spoofingTest('per request type, a forged source gets at most the bytes it sent', async (t) => {
  const net = await createTestnet(t);
  // A crowd, so that a table or a mailbox would be large if it went to the victim.
  for (let i = 0; i < 12; i++) await net.client(`user${i}`);
  const bob = await net.client('bob');
  await bob.deregister();
  const mallory = await scriptedPeer(t, net, 'mallory'); // a registered user, at her own address
  await mallory.register();
  const keys = mallory.identity;
  for (let i = 0; i < 5; i++) {
    const sealed = await sealAs(net, 'mallory', 'bob', `kept-${i}`, 'x'.repeat(400));
    await mallory.request(
      net.registry.address(),
      { t: 'save', from: 'mallory', to: 'bob', mid: `kept-${i}`, sealed },
      { timeoutMs: 500 },
    );
  }
  const victim = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => victim.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => victim.close(() => resolve())));
  const received: Buffer[] = [];
  victim.on('message', (datagram) => received.push(datagram));
  const from = { address: '127.0.0.1', port: victim.address().port };
  const sealed = await sealAs(net, 'mallory', 'bob', 'forged', 'x'.repeat(400));
  const forgeries: Array<[string, RequestBody]> = [
    [
      'hello',
      { t: 'hello', nick: 'mallory', sk: keys.public.sk, pad: '.'.repeat(HELLO_PAD_CHARS) },
    ],
    ['register of a fresh nick', { t: 'register', nick: 'mallet', ...keys.public }],
    [
      'register of mallory (at her own address elsewhere)',
      { t: 'register', nick: 'mallory', ...keys.public },
    ],
    [
      'register of bob (a full mailbox)',
      { t: 'register', nick: 'bob', ...(await net.identityOf('bob')).public },
    ],
    [
      'register with a made-up cookie',
      { t: 'register', nick: 'mallet', ...keys.public, cookie: 'zz.AAAAAAAAAAAAAAAAAAAAAA' },
    ],
    ['heartbeat', { t: 'heartbeat', nick: 'mallory', sk: keys.public.sk }],
    ['deregister', { t: 'deregister', nick: 'mallory' }],
    ['save', { t: 'save', from: 'mallory', to: 'bob', mid: 'forged', sealed }],
    ['table_sync', { t: 'table_sync', nick: 'mallory' }],
    ['session', { t: 'session', nick: 'mallory', session: 'A'.repeat(43) }],
    ['group list', { t: 'group', from: 'mallory', op: 'list' }],
    ['group_send', { t: 'group_send', from: 'mallory', group: 'g', mid: 'm', text: 'hi' }],
    ['nat_probe', { t: 'nat_probe', from: 'mallory', pad: '' }],
    ['nat_probe, padded', { t: 'nat_probe', from: 'mallory', pad: '.'.repeat(64) }],
  ];
  let sentTotal = 0;
  for (const [i, [what, body]] of forgeries.entries()) {
    // Signed as the nick it names: mallory's own key; for a registration, the key it carries.
    const by = body.t === 'register' ? body.nick : 'mallory';
    const signer =
      by === 'bob' ? (await net.identityOf('bob')).signing.privateKey : keys.signing.privateKey;
    const datagram = signDatagram(encodeRequest(`forged-${i}`, body), by, signer);
    const before = received.length;
    const { withheld, unvalidated } = net.registry.stats;
    spoof([from, net.registry.address(), datagram]);
    sentTotal += datagram.byteLength;
    // Every forgery here is handled one of three ways, each seen: the answer reaches the
    // victim, or is withheld (counted), or, for a registration without a cookie for the
    // victim's address, the request is dropped before its signature is checked (counted).
    await eventually(
      () =>
        received.length > before ||
        net.registry.stats.withheld > withheld ||
        net.registry.stats.unvalidated > unvalidated,
      15_000,
      `${what} answered, withheld or dropped`,
    );
    const bytes = received.slice(before).reduce((sum, d) => sum + d.byteLength, 0);
    t.ok(
      bytes <= datagram.byteLength,
      `${what}: ${bytes} bytes back for ${datagram.byteLength} (${(bytes / datagram.byteLength).toFixed(2)}×)`,
    );
  }
  // Nothing later either: no table, no mailbox, no retry ever goes to the victim.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const total = received.reduce((sum, d) => sum + d.byteLength, 0);
  t.ok(total <= sentTotal, `in all ${total} bytes back for ${sentTotal}`);
  t.notOk(
    net.registry.snapshot().entries.some((e) => e.nick === 'mallet'),
    'no state for the forged nick',
  );
  t.equal(
    net.registry.snapshot().entries.find((e) => e.nick === 'bob')?.online,
    false,
    'bob was not brought online at the victim',
  );
});
