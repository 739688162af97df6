import dgram from 'node:dgram';
import t, { type Test } from 'tap';
import { Sockets } from '../../src/transport/sockets.js';
import { isBundle, unbundle } from '../../src/transport/bundle.js';
import { opened } from '../helpers/bundles.js';
import type { Address } from '../../src/transport/address.js';
import { SILENT_LOG } from '../../src/util/silent-log.js';
import { eventually } from '../helpers/testnet.js';

interface Seen {
  text: string;
  from: number;
  via: number | undefined;
}

const noCounts = () => ({ bundlesSent: 0, bundled: 0, bundlesReceived: 0, bundlesRefused: 0 });

/** Sockets on 127.0.0.1 that record what comes in; a bare peer socket that records the source port of what it gets. */
async function setup(t: Test, coalesce = false) {
  const received: Seen[] = [];
  const sendErrors: Error[] = [];
  const counters = noCounts();
  const sockets = new Sockets(
    'udp4',
    {
      onDatagram: (datagram, rinfo, via) =>
        received.push({ text: datagram.toString(), from: rinfo.port, via }),
      afterSend: (error) => void (error && sendErrors.push(error)),
      counters,
    },
    SILENT_LOG,
    coalesce,
  );
  const main = await sockets.listen(0, '127.0.0.1');
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  const peerAddress: Address = { address: '127.0.0.1', port: peer.address().port };
  const atPeer: Array<{ text: string; from: number; bytes: Buffer }> = [];
  peer.on('message', (datagram, rinfo) =>
    atPeer.push({ text: datagram.toString(), from: rinfo.port, bytes: datagram }),
  );
  t.teardown(async () => {
    peer.close();
    await sockets.closeAll();
  });
  const until = (test: () => boolean) => eventually(test, 10_000, 'the datagrams awaited');
  return { sockets, main, peer, peerAddress, atPeer, received, sendErrors, until, counters };
}

t.test('what each socket receives is told with the port of the socket it came in on', async (t) => {
  const { sockets, main, peer, received, until } = await setup(t);
  const other = await sockets.open();
  t.not(other, main.port);
  t.equal(sockets.others, 1);
  peer.send('to main', main.port, '127.0.0.1');
  peer.send('to other', other, '127.0.0.1');
  await until(() => received.length === 2);
  t.same(
    received.map(({ text, via }) => ({ text, via })).sort((a, b) => a.text.localeCompare(b.text)),
    [
      { text: 'to main', via: undefined },
      { text: 'to other', via: other },
    ],
  );
});

t.test(
  'a route sends what goes to its address from the other socket, until that socket closes',
  async (t) => {
    const { sockets, main, peerAddress, atPeer, until } = await setup(t);
    const other = await sockets.open();
    sockets.send(peerAddress, Buffer.from('1'));
    await until(() => atPeer.length === 1);
    t.equal(atPeer[0].from, main.port, 'no route: from the main socket');
    sockets.route(peerAddress, other);
    sockets.send(peerAddress, Buffer.from('2'));
    await until(() => atPeer.length === 2);
    t.equal(atPeer[1].from, other, 'routed: from the other socket');
    sockets.sendFrom(peerAddress, Buffer.from('3'), undefined);
    await until(() => atPeer.length === 3);
    t.equal(
      atPeer[2].from,
      main.port,
      'an answer leaves the way its request came, whatever the route',
    );
    sockets.close(other);
    t.equal(sockets.others, 0);
    sockets.send(peerAddress, Buffer.from('4'));
    await until(() => atPeer.length === 4);
    t.equal(atPeer[3].from, main.port, 'the socket closed: its route is gone');
    sockets.route(peerAddress, 12345);
    sockets.send(peerAddress, Buffer.from('5'));
    await until(() => atPeer.length === 5);
    t.equal(atPeer[4].from, main.port, 'a route through no open socket is not kept');
  },
);

t.test('a port in use is ERR_PORT_IN_USE; after closing, no socket opens', async (t) => {
  const { sockets, main } = await setup(t);
  await t.rejects(sockets.open(main.port), { code: 'ERR_PORT_IN_USE' });
  t.equal(sockets.others, 0, 'the socket that could not bind is not kept');
  const second = new Sockets(
    'udp4',
    { onDatagram: () => undefined, afterSend: () => undefined, counters: noCounts() },
    SILENT_LOG,
  );
  await t.rejects(second.listen(main.port, '127.0.0.1'), { code: 'ERR_PORT_IN_USE' });
  await second.closeAll();
  await sockets.closeAll();
  await t.rejects(sockets.open(), { code: 'ERR_CLOSED' });
});

t.test(
  'with coalesce, what follows the first datagram to an address in one turn leaves bundled',
  async (t) => {
    const { sockets, main, peerAddress, atPeer, until, counters } = await setup(t, true);
    const other = await sockets.open();
    for (const text of ['{1', '{2', '{3']) sockets.send(peerAddress, Buffer.from(text));
    sockets.send(peerAddress, Buffer.from('{6'), undefined, 'again');
    sockets.send(peerAddress, Buffer.from('{4'));
    sockets.sendFrom(peerAddress, Buffer.from('{5'), other);
    await until(() => atPeer.length === 4);
    const bundles = atPeer.filter(({ bytes }) => isBundle(bytes));
    t.equal(bundles.length, 1, 'one bundle');
    t.same(
      unbundle(bundles[0].bytes)?.map(String),
      ['{2', '{3', '{4'],
      'the three that followed the first, in order',
    );
    t.same(
      atPeer
        .filter(({ bytes }) => !isBundle(bytes))
        .map(({ text, from }) => ({ text, from }))
        .sort((a, b) => a.text.localeCompare(b.text)),
      [
        { text: '{1', from: main.port },
        { text: '{5', from: other },
        { text: '{6', from: main.port },
      ],
      'the first alone, one sent again alone, and what leaves another socket is never held',
    );
    t.equal(bundles[0].from, main.port);
    t.same(counters, { bundlesSent: 1, bundled: 3, bundlesReceived: 0, bundlesRefused: 0 });
  },
);

t.test(
  'a bundle that comes in is taken a datagram at a time; a malformed one is dropped whole',
  async (t) => {
    const { main, peer, received, until, counters } = await setup(t);
    const bundle = Buffer.from([0, 1, 0, 2, 0x7b, 0x61, 0, 2, 0x7b, 0x62]); // {a and {b
    peer.send(bundle, main.port, '127.0.0.1');
    await until(() => received.length === 2);
    t.same(
      received.map(({ text }) => text),
      ['{a', '{b'],
    );
    t.equal(counters.bundlesReceived, 1);
    peer.send(Buffer.from([0, 1, 0, 9, 0x7b]), main.port, '127.0.0.1'); // a length past its end
    peer.send(Buffer.from('{c'), main.port, '127.0.0.1');
    await until(() => received.length === 3);
    await until(() => counters.bundlesRefused === 1);
    t.equal(received[2].text, '{c', 'nothing of the malformed one was taken');
    t.equal(counters.bundlesReceived, 1);
  },
);

t.test('closing sends what waits for the end of the turn first', async (t) => {
  const { sockets, peerAddress, atPeer, until } = await setup(t, true);
  sockets.send(peerAddress, Buffer.from('{1'));
  sockets.send(peerAddress, Buffer.from('{2'));
  await sockets.closeAll();
  await until(() => atPeer.length === 2);
  t.same(opened(atPeer.map(({ bytes }) => bytes)).map(String), ['{1', '{2']);
});
