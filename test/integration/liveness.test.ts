import dgram from 'node:dgram';
import t, { type Test } from 'tap';
import { generateIdentity } from '../../src/crypto/identity.js';
import { signDatagram, splitSigned } from '../../src/crypto/signing.js';
import { decode, encodeRequest } from '../../src/protocol/codec.js';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import type { RequestBody } from '../../src/protocol/messages.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

// What keeps a registered nick online between heartbeats: a request checked as that nick's
// (its bound key, or its session) from its registered address. Not a hello (not checked), and
// not a registration claiming the nick under another key (it proves only that key), even from
// the nick's own address with a cookie made for it.

/**
 * bob, registered and then silent (closed, no deregistration), with short heartbeats; his
 * address, now free, bound by the test; requests signed as bob by another key sent from there
 * every 50 ms, each made by `next` from what came back (undefined: a hello).
 */
async function silentBob(
  t: Test,
  next: (
    answer: { t: string; cookie?: string },
    keys: { public: { sk: string; ek: string } },
  ) => RequestBody | undefined,
) {
  const net = await createTestnet(t, {
    registry: { heartbeatIntervalMs: 300, missedHeartbeats: 2, probeTimeoutMs: 200, probeTries: 1 },
  });
  const bob = await net.client('bob');
  const at = net.registry.snapshot().entries.find((e) => e.nick === 'bob')!;
  let offline = false;
  net.registry.on('marked-offline', (e) => void (e.nick === 'bob' && (offline = true)));
  await bob.close();
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(at.port, at.ip, resolve));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  const keys = await generateIdentity();
  let sent = 0;
  const send = (body: RequestBody) =>
    socket.send(
      signDatagram(encodeRequest(`r${++sent}`, body), 'bob', keys.signing.privateKey),
      net.registry.address().port,
      '127.0.0.1',
    );
  const answers: string[] = [];
  socket.on('message', (datagram) => {
    const decoded = decode(splitSigned(datagram)?.inner ?? datagram);
    if (!decoded.ok) return;
    const answer = decoded.message as { t: string; cookie?: string };
    answers.push(answer.t);
    const body = next(answer, keys);
    if (body) send(body);
  });
  const hello = () =>
    send({ t: 'hello', nick: 'bob', sk: keys.public.sk, pad: '.'.repeat(HELLO_PAD_CHARS) });
  const timer = setInterval(hello, 50);
  t.teardown(() => clearInterval(timer));
  return { net, keys, answers, offline: () => offline };
}

t.test('hellos naming a silent client, from its own address, do not keep it online', async (t) => {
  const { net, answers, offline } = await silentBob(t, () => undefined);
  await eventually(offline, 15_000, 'bob taken for offline');
  t.ok(offline(), 'bob taken for offline all the same');
  t.ok(answers.includes('server_hello'), 'while the hellos were answered');
  t.ok(net.registry.stats.unchecked > 0, 'unchecked');
});

t.test(
  "registrations claiming a silent client's nick under another key, from its own address, do not keep it online",
  async (t) => {
    const made = await silentBob(t, (answer, keys) =>
      answer.t === 'server_hello' && answer.cookie
        ? { t: 'register', nick: 'bob', ...keys.public, cookie: answer.cookie }
        : undefined,
    );
    await eventually(made.offline, 15_000, 'bob taken for offline');
    t.ok(made.offline(), 'bob taken for offline all the same');
    t.ok(
      made.answers.some((type) => type !== 'server_hello'),
      `the registrations were answered (${[...new Set(made.answers)].join(', ')})`,
    );
    t.notOk(
      made.net.registry
        .snapshot()
        .entries.some((e) => e.nick === 'bob' && e.sk === made.keys.public.sk),
      'and bob is not bound to the other key',
    );
  },
);
