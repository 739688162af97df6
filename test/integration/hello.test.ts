import dgram from 'node:dgram';
import t from 'tap';
import { generateIdentity, signingKeyFrom } from '../../src/crypto/identity.js';
import { signDatagram, splitSigned, verifySignature } from '../../src/crypto/signing.js';
import { decode, encodeRequest } from '../../src/protocol/codec.js';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

// A hello is answered whoever sent it, and its signature is not checked: the answer (a cookie
// for the address it came from, the registry's public keys) proves nothing about anyone and is
// no larger than the hello. What it must not do: cost an Ed25519 verification, or count as
// anything a signed request would.
t.test('a hello is answered without its signature checked, and proves nothing', async (t) => {
  const net = await createTestnet(t);
  await net.client('alice');
  const sockets = [0, 1].map(() => dgram.createSocket('udp4'));
  for (const socket of sockets) {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  }
  const answers = sockets.map(() => [] as Buffer[]);
  sockets.forEach((socket, i) => socket.on('message', (datagram) => answers[i].push(datagram)));
  // Signed by one key, bringing another: a check would have dropped it as a bad signature.
  const signer = await generateIdentity();
  const brought = await generateIdentity();
  const hello = signDatagram(
    encodeRequest('h1', {
      t: 'hello',
      nick: 'alice', // a registered nick: the hello speaks for nobody all the same
      sk: brought.public.sk,
      pad: '.'.repeat(HELLO_PAD_CHARS),
    }),
    'alice',
    signer.signing.privateKey,
  );
  const registry = net.registry.address();
  const { signaturesChecked, unchecked, dropped, deduplicated } = net.registry.stats;
  const badBefore = dropped['bad-signature'];
  const replayedBefore = dropped.replayed;
  sockets[0].send(hello, registry.port, '127.0.0.1');
  await eventually(() => answers[0].length > 0, 15_000, 'an answer to the hello');
  // The same datagram from another address: not a replay to drop, a hello to answer there.
  sockets[1].send(hello, registry.port, '127.0.0.1');
  await eventually(() => answers[1].length > 0, 15_000, 'an answer to the same hello elsewhere');

  // The same datagram again from the first: answered afresh, not from a cache of replies.
  sockets[0].send(hello, registry.port, '127.0.0.1');
  await eventually(() => answers[0].length > 1, 15_000, 'an answer to the hello sent again');
  t.equal(net.registry.stats.deduplicated, deduplicated, 'no reply kept for it');

  for (const [i, [answer]] of answers.entries()) {
    const split = splitSigned(answer);
    t.ok(split, `answer ${i}: signed`);
    t.ok(
      verifySignature(split!.inner, split!.signature, signingKeyFrom(net.registry.publicKeys.sk)!),
      `answer ${i}: by the registry`,
    );
    const decoded = decode(split!.inner);
    t.match(
      decoded,
      { ok: true, message: { re: 'h1', t: 'server_hello' } },
      `answer ${i}: a server_hello`,
    );
    t.ok(answer.byteLength <= hello.byteLength, `answer ${i}: no larger than the hello`);
  }
  t.equal(net.registry.stats.signaturesChecked, signaturesChecked, 'no signature checked');
  t.equal(net.registry.stats.unchecked, unchecked + 3, 'each taken unchecked');
  t.equal(
    net.registry.stats.dropped['bad-signature'],
    badBefore,
    'nothing dropped as badly signed',
  );
  t.equal(net.registry.stats.dropped.replayed, replayedBefore, 'nor as a replay');
});
