import t from 'tap';
import { MAX_TEXT_BYTES, SAFE_DATAGRAM_BYTES } from '../../src/protocol/constants.js';
import type { MessageOf } from '../../src/protocol/messages.js';
import { Endpoint } from '../../src/transport/endpoint.js';
import { endpoints } from '../helpers/endpoints.js';
import { createProxy } from '../helpers/proxy.js';
import { scriptedPeer } from '../helpers/peer.js';
import { createTestnet, eventually, nextEvent } from '../helpers/testnet.js';

const longText = (bytes: number) => {
  const unit = 'a✓é🎉'; // 1 + 3 + 2 + 4 bytes
  return unit
    .repeat(Math.floor(bytes / 10))
    .padEnd(bytes - Math.floor(bytes / 10) * 10 + Math.floor(bytes / 10) * 4, 'z');
};

t.test(
  '60 KiB across 25% loss each way: every datagram small, the text arrives whole and once',
  async (t) => {
    const [sender, receiver] = (await endpoints(t, 2)) as [Endpoint, Endpoint];
    const received: string[] = [];
    receiver.onRequest((request, _from, respond) => {
      if (request.t === 'group_msg') received.push(request.text);
      respond({ t: 'ack' });
    });
    let biggest = 0;
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const proxy = await createProxy(receiver.address(), {
      drop(datagram) {
        biggest = Math.max(biggest, datagram.byteLength);
        return random() < 0.25;
      },
    });
    t.teardown(() => proxy.close());
    const text = longText(MAX_TEXT_BYTES);
    t.equal(Buffer.byteLength(text), MAX_TEXT_BYTES, 'exactly at the cap');
    const reply = await sender.request(
      proxy.address,
      { t: 'group_msg', group: 'g', from: 'alice', mid: 'm', text },
      { timeoutMs: 30, tries: 12 },
    );
    t.equal(reply.t, 'ack');
    t.same(received, [text], 'whole, in order, once');
    t.ok(
      biggest <= SAFE_DATAGRAM_BYTES,
      `no datagram over ${SAFE_DATAGRAM_BYTES} bytes (largest ${biggest})`,
    );
    t.ok(
      proxy.counts.dropped > 10 && sender.stats.retried > 0,
      `losses happened and were repaired (${proxy.counts.dropped} dropped)`,
    );
    t.equal(sender.stats.fragmented, 1);
  },
);

t.test(
  'clients: a long message directly, a long one saved and delivered on reg, one byte too many refused',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    const bob = await net.client('bob');
    await eventually(() => alice.table().some((e) => e.nick === 'bob'));
    const text = longText(MAX_TEXT_BYTES);
    const shown = nextEvent(bob, 'message');
    t.equal(await alice.send('bob', text), 'delivered');
    t.equal((await shown).text, text);

    await bob.deregister();
    t.equal(await alice.send('bob', `${text.slice(0, -10)}saved one!`), 'saved');
    const saved = nextEvent(bob, 'saved-message');
    await bob.register();
    t.equal(
      (await saved).text,
      `${text.slice(0, -10)}saved one!`,
      'the delivery came in fragments too',
    );

    t.match(alice.checkSend('bob', `${text}z`), { code: 'ERR_TEXT_TOO_LONG' });
    await t.rejects(alice.send('bob', `${text}z`), { code: 'ERR_TEXT_TOO_LONG' });
  },
);

t.test(
  'a hostile fragment stream: inconsistent, oversized, never-finished: refused and forgotten',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    // mallory is a registered user (her fragments are signed) who sends nonsense in them
    const mallory = await scriptedPeer(t, net, 'mallory');
    await mallory.meet(alice);
    const to = alice.address();
    const frag = (body: Omit<MessageOf<'frag'>, 'v' | 't' | 'id'>) =>
      mallory.request(to, { t: 'frag', ...body }, { tries: 1, timeoutMs: 50 });
    const piece = Buffer.alloc(600, 65).toString('base64');
    await t.resolves(frag({ of: 'x', i: 0, n: 3, data: piece }), 'a first piece is acknowledged');
    await t.rejects(
      frag({ of: 'x', i: 1, n: 4, data: piece }),
      { code: 'ERR_BAD_REQUEST' },
      'a changed count is refused',
    );
    await t.rejects(frag({ of: 'y', i: 7, n: 3, data: piece }), { code: 'ERR_BAD_REQUEST' });
    // a complete stream whose content is not a request
    await frag({ of: 'z', i: 0, n: 2, data: piece });
    await t.rejects(
      frag({ of: 'z', i: 1, n: 2, data: piece }),
      { code: 'ERR_BAD_REQUEST' },
      'garbage reassembled is refused',
    );
    t.ok(alice.stats.fragmentsRefused >= 3);
  },
);
