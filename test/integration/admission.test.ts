import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { generateRawKeyPair, privateKeyObject } from '../../src/crypto/key-pairs.js';
import t, { type Test } from 'tap';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/codec.js';
import { signDatagram } from '../../src/crypto/signing.js';
import { signingKeysCached } from '../../src/crypto/identity.js';
import { DEFAULT_REASSEMBLIES_PER_SOURCE } from '../../src/transport/fragments.js';
import { createTestnet, eventually } from '../helpers/testnet.js';
import { scriptedPeer } from '../helpers/peer.js';
import { uncheckedRequests } from '../helpers/unchecked.js';

// Admission control at the registry: what one host, or many, can make it keep.

async function socketOn(t: Test, host: string) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

/**
 * Sends every datagram to the registry, never more than 500 ahead of what it has handled
 * (`handled`, a counter of its), so no socket buffer overruns however slow the machine.
 */
async function sendPaced(
  socket: dgram.Socket,
  datagrams: Buffer[],
  port: number,
  handled: () => number,
): Promise<void> {
  const start = handled();
  for (let i = 0; i < datagrams.length; i++) {
    socket.send(datagrams[i], port, '127.0.0.1');
    if (i % 100 === 99)
      await eventually(() => handled() - start >= i + 1 - 500, 15_000, 'the registry keeps up');
  }
}

t.test(
  'nicks new to the table: a budget per address, another for everyone; known nicks always come back',
  async (t) => {
    // Windows of ten minutes (the spread-out part one minute): counted, not timed.
    const net = await createTestnet(t, {
      registry: { newNicksPerAddress: 3, newNicks: 50, newNickWindowMs: 600_000 },
    });
    const n1 = await net.client('n1');
    for (const nick of ['n2', 'n3']) await net.client(nick);
    await t.rejects(
      net.client('n4'),
      { code: 'ERR_TRY_LATER' },
      'a fourth new nick from 127.0.0.1 within the minute',
    );
    t.notOk(
      net.registry.snapshot().entries.some((e) => e.nick === 'n4'),
      'and nothing kept for it',
    );
    await n1.close();
    await net.client('n1'); // would reject if refused
    t.ok(
      net.registry.snapshot().entries.find((e) => e.nick === 'n1')?.online,
      'a nick already in the table registers again: the budget is for new ones',
    );
    await net.client('m1', { host: '127.0.0.3' });
    await net.client('m2', { host: '127.0.0.4' });
    await t.rejects(
      net.client('m3', { host: '127.0.0.5' }),
      { code: 'ERR_TRY_LATER' },
      'past the budget for everyone, from a fresh address too',
    );
    t.ok(net.registry.stats.newNicksRefused >= 2, 'both refusals counted');
  },
);

t.test(
  'hellos with fresh keys and bad signatures: answered unchecked, none of their keys kept',
  async (t) => {
    const net = await createTestnet(t);
    const socket = await socketOn(t, '127.0.0.2');
    const forger = privateKeyObject('ed25519', generateRawKeyPair('ed25519'));
    const count = 2_000;
    const hellos = Array.from({ length: count }, (_, i) => {
      const sk = generateRawKeyPair('ed25519').publicRaw.toString('base64'); // claimed, never used to sign
      const nick = `h${i}`;
      return signDatagram(
        encodeRequest(randomBytes(6).toString('hex'), {
          t: 'hello',
          nick,
          sk,
          pad: '.'.repeat(HELLO_PAD_CHARS),
        }),
        nick,
        forger,
      );
    });
    const cachedBefore = signingKeysCached();
    const { signaturesChecked } = net.registry.stats;
    const badBefore = net.registry.stats.dropped['bad-signature'];
    const taken = () => net.registry.stats.unchecked;
    await sendPaced(socket, hellos, net.registry.address().port, taken);
    await eventually(() => taken() === count, 15_000, `all ${count} taken`);
    // A hello's answer proves nothing and is no larger than it: its signature is not worth an
    // Ed25519 verification, the costliest step a flood could make the registry take.
    t.equal(net.registry.stats.signaturesChecked, signaturesChecked, 'no signature checked');
    t.equal(net.registry.stats.dropped['bad-signature'], badBefore, 'none refused for it');
    t.ok(
      signingKeysCached() - cachedBefore <= 0,
      `no key kept for them (cache ${cachedBefore} → ${signingKeysCached()})`,
    );
    await net.client('alice'); // would reject if refused
    t.ok(
      net.registry.snapshot().entries.find((e) => e.nick === 'alice')?.online,
      'a real user registers after the flood',
    );
  },
);

t.test(
  'a registered user flooding pieces of requests it never finishes: held to its share; from elsewhere, not even checked',
  async (t) => {
    const net = await createTestnet(t);
    const mallory = await scriptedPeer(t, net, 'mallory');
    await mallory.register();
    const keys = mallory.identity;
    const count = 3_000;
    // Each the first of two pieces of a request of its own; the second never comes.
    const pieces = (tag: string) =>
      Array.from({ length: count }, (_, i) =>
        signDatagram(
          encodeRequest(`${tag}${i}-${randomBytes(4).toString('hex')}`, {
            t: 'frag',
            of: `${tag}${i}`,
            i: 0,
            n: 2,
            data: 'AA==',
          }),
          'mallory',
          keys.signing.privateKey,
        ),
      );
    const registry = net.registry.address();
    // Every piece is refused, or held, or was held and given up on (on a slow machine the first
    // may time out before the last are in): a count that only grows.
    const seen = () =>
      net.registry.stats.fragmentsRefused +
      net.registry.stats.reassembling +
      net.registry.stats.reassembliesExpired;
    const start = seen();
    for (const [i, piece] of pieces('m').entries()) {
      mallory.endpoint.send(registry, piece);
      if (i % 100 === 99)
        await eventually(() => seen() - start >= i + 1 - 500, 15_000, 'the registry keeps up');
    }
    await eventually(() => seen() - start >= count, 15_000, 'every piece taken or refused');
    t.ok(
      net.registry.stats.reassembling <= DEFAULT_REASSEMBLIES_PER_SOURCE,
      `${net.registry.stats.reassembling} incomplete requests held for the one source`,
    );
    const { fragmentsRefused, reassembliesExpired } = net.registry.stats;
    t.ok(
      fragmentsRefused >= count - DEFAULT_REASSEMBLIES_PER_SOURCE - reassembliesExpired,
      'the rest refused (but for the places that timed-out ones freed)',
    );

    // The same from another address: mallory's pieces are taken only from where she is registered.
    const elsewhere = await socketOn(t, '127.0.0.2');
    const unknown = () => net.registry.stats.dropped['unknown-signer'];
    await sendPaced(elsewhere, pieces('x'), registry.port, unknown);
    await eventually(() => unknown() >= count, 15_000, 'every piece from elsewhere dropped');
    t.ok(
      net.registry.stats.dropped['bad-signature'] === 0,
      'none of them had its signature checked',
    );
    t.ok(net.registry.stats.reassembling <= DEFAULT_REASSEMBLIES_PER_SOURCE, 'and none held');
    await net.client('bob');
    t.ok(
      net.registry.snapshot().entries.find((e) => e.nick === 'bob')?.online,
      'others are served meanwhile',
    );
  },
);

/**
 * Sends `count` hellos (or heartbeats from nicks the table does not hold) from `host`; resolves
 * with how many were answered, once every one is answered or dropped.
 */
async function helloFlood(
  t: Test,
  registry: { address(): { port: number }; stats: { hellosDropped: number } },
  host: string,
  count: number,
  type: 'hello' | 'heartbeat' = 'hello',
): Promise<number> {
  const socket = await socketOn(t, host);
  let answered = 0;
  socket.on('message', () => answered++);
  const droppedBefore = registry.stats.hellosDropped;
  for (const datagram of uncheckedRequests(count, `${type[0]}${host.replaceAll('.', '')}x`, type))
    socket.send(datagram, registry.address().port, '127.0.0.1');
  await eventually(
    () => answered + registry.stats.hellosDropped - droppedBefore === count,
    15_000,
    `every ${type} from ${host} answered or dropped`,
  );
  return answered;
}

// Windows of ten minutes: counted, not timed.
t.test(
  'hellos past their address budget: dropped unanswered; other addresses keep their own',
  async (t) => {
    const net = await createTestnet(t, {
      registry: { hellosPerAddress: 5, hellos: 1_000_000, helloWindowMs: 600_000 },
    });
    t.equal(await helloFlood(t, net.registry, '127.0.0.2', 20), 5, '5 of 20 answered');
    t.equal(await helloFlood(t, net.registry, '127.0.0.3', 20), 5, 'another host: its own 5');
    t.equal(net.registry.stats.hellosDropped, 30, 'the rest dropped, counted');
    await net.client('alice'); // would reject if its hello went unanswered
    t.ok(
      net.registry.snapshot().entries.find((e) => e.nick === 'alice')?.online,
      'a user at another address registers meanwhile',
    );
  },
);

t.test(
  'hellos past the budget for everyone: dropped unanswered, whatever the address',
  async (t) => {
    const net = await createTestnet(t, {
      registry: { hellosPerAddress: 5, hellos: 12, helloWindowMs: 600_000 },
    });
    t.equal(await helloFlood(t, net.registry, '127.0.0.2', 20), 5);
    t.equal(await helloFlood(t, net.registry, '127.0.0.3', 20), 5);
    t.equal(await helloFlood(t, net.registry, '127.0.0.4', 20), 2, 'what is left of the 12');
    t.equal(await helloFlood(t, net.registry, '127.0.0.5', 20), 0, 'then none');
    t.equal(net.registry.stats.hellosDropped, 80 - 12);
  },
);

t.test(
  'heartbeats from nicks the table does not hold: no signature checked, answered within the hello budgets',
  async (t) => {
    const net = await createTestnet(t, {
      registry: { hellosPerAddress: 5, hellos: 1_000_000, helloWindowMs: 600_000 },
    });
    const { signaturesChecked } = net.registry.stats;
    t.equal(await helloFlood(t, net.registry, '127.0.0.2', 20, 'heartbeat'), 5, '5 of 20 answered');
    t.equal(net.registry.stats.signaturesChecked, signaturesChecked, 'none checked');
    t.equal(
      await helloFlood(t, net.registry, '127.0.0.2', 5, 'hello'),
      0,
      'the same budget as hellos',
    );
    // What brings a lost registration back (NOT_REGISTERED, then a registration): see
    // heartbeat.test.ts, 'a registry that lost its store'.
  },
);
