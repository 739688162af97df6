import dgram from 'node:dgram';
import t from 'tap';
import { generateIdentity } from '../../src/crypto/identity.js';
import { signDatagram, splitSigned } from '../../src/crypto/signing.js';
import { decode, encodeRequest } from '../../src/protocol/codec.js';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import type { RequestBody } from '../../src/protocol/messages.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

// What counts as a sign of life from a registered nick: a request checked as signed by the key
// that nick is bound to (or under its session), from its address. Not a registration claiming
// the nick with another key, even from that address with a cookie made for it.
t.test(
  "registrations claiming a silent client's nick with another key, from its own address, do not keep it online",
  async (t) => {
    const net = await createTestnet(t, {
      registry: {
        heartbeatIntervalMs: 300,
        missedHeartbeats: 2,
        probeTimeoutMs: 200,
        probeTries: 1,
      },
    });
    const bob = await net.client('bob');
    const at = net.registry.snapshot().entries.find((e) => e.nick === 'bob')!;
    let offline = false;
    net.registry.on('marked-offline', (e) => void (e.nick === 'bob' && (offline = true)));
    await bob.close(); // silent: no deregistration
    // Its address, now anyone's: a hello there brings a cookie for it, and a registration of
    // bob under another key follows, again and again.
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
      const message = decoded.message as { t: string; cookie?: string; code?: number };
      answers.push(message.t);
      if (message.t === 'server_hello' && message.cookie)
        send({ t: 'register', nick: 'bob', ...keys.public, cookie: message.cookie });
    });
    const hello = () =>
      send({ t: 'hello', nick: 'bob', sk: keys.public.sk, pad: '.'.repeat(HELLO_PAD_CHARS) });
    const timer = setInterval(hello, 50);
    t.teardown(() => clearInterval(timer));
    await eventually(() => offline, 15_000, 'bob taken for offline');
    t.ok(offline, 'bob taken for offline all the same');
    t.ok(
      answers.filter((type) => type !== 'server_hello').length > 0,
      `the registrations were answered (${[...new Set(answers)].join(', ')})`,
    );
    t.notOk(
      net.registry.snapshot().entries.find((e) => e.nick === 'bob' && e.sk === keys.public.sk),
      'and bob is not bound to the other key',
    );
  },
);
