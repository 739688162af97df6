import dgram from 'node:dgram';
import t from 'tap';
import { encodeRequest } from '../../src/protocol/codec.js';
import { signDatagram } from '../../src/crypto/signing.js';
import { scriptedPeer } from '../helpers/peer.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

// The registry's second port (--nat-probe-port, see docs/nat.md): a client learns there whether
// its NAT maps it consistently. The address a probe comes from there has not proved it receives:
// the answer is never larger than the probe.
t.test(
  'the NAT probe port: a client learns its mapping; an unproven address gets no more than it sent; nothing else is answered there',
  async (t) => {
    const net = await createTestnet(t, { registry: { natProbePort: 0 } });
    const alice = await net.client('alice');
    await eventually(() => alice.natMapping !== undefined, 5_000, 'alice probed');
    t.equal(
      alice.natMapping,
      'consistent',
      'on loopback, no NAT: the same address from both ports',
    );

    const mallory = await scriptedPeer(t, net, 'mallory');
    const registered = await mallory.register();
    t.equal(registered.t, 'registered');
    const probePort = registered.t === 'registered' ? registered.natProbe : undefined;
    t.ok(
      probePort !== undefined && probePort !== net.registry.address().port,
      `registered names the second port (${probePort})`,
    );
    const probe = { address: '127.0.0.1', port: probePort! };

    // From a socket of the test's: not where mallory is registered.
    const other = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => other.close(() => resolve())));
    const received: Buffer[] = [];
    other.on('message', (datagram) => received.push(datagram));
    const send = (id: string, body: Parameters<typeof encodeRequest>[1]) => {
      const datagram = signDatagram(
        encodeRequest(id, body),
        'mallory',
        mallory.identity.signing.privateKey,
      );
      other.send(datagram, probe.port, probe.address);
      return datagram.byteLength;
    };
    const sent = send('p1', { t: 'nat_probe', from: 'mallory', pad: '.'.repeat(64) });
    await eventually(() => received.length > 0, 5_000, 'answered');
    t.ok(received[0].byteLength <= sent, `the answer: ${received[0].byteLength} bytes for ${sent}`);
    t.match(
      received[0].toString(),
      new RegExp(`"t":"nat_seen".*"port":${other.address().port}`),
      'the address it came from',
    );

    const { withheld } = net.registry.stats;
    send('p2', { t: 'nat_probe', from: 'mallory', pad: '' });
    await eventually(() => net.registry.stats.withheld > withheld, 5_000, 'withheld');
    t.equal(received.length, 1, 'an unpadded probe gets nothing: its answer would be larger');

    send('h1', { t: 'heartbeat', nick: 'mallory', sk: mallory.identity.public.sk });
    send('t1', { t: 'table_sync', nick: 'mallory' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.equal(received.length, 1, 'any other request at the probe port: no answer');
  },
);
