import t from 'tap';
import {
  BUNDLE_MAX_BYTES,
  BUNDLE_MAX_DATAGRAMS,
  Coalescer,
  isBundle,
  unbundle,
} from '../../src/transport/bundle.js';
import type { Address } from '../../src/transport/address.js';
import { onTheWire, opened } from '../helpers/bundles.js';

/** A datagram as udpchat makes them: JSON, so its first byte is `{`. */
const datagram = (bytes: number, fill = 'x') => Buffer.from(`{${fill.repeat(bytes - 1)}`);
/** A bundle written by hand: the magic, then each datagram after its two-byte length. */
const handMade = (parts: Array<{ length: number; bytes: Buffer }>, magic = [0, 1]) =>
  Buffer.concat([
    Buffer.from(magic),
    ...parts.flatMap(({ length, bytes }) => {
      const header = Buffer.alloc(2);
      header.writeUInt16BE(length);
      return [header, bytes];
    }),
  ]);

t.test(
  'what one turn puts on the wire is what was given, in order: the first alone, then bounded bundles',
  async (t) => {
    const { default: fc } = await import('fast-check');
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 1_400 })), {
          maxLength: 300,
        }),
        (sizes) => {
          const given = sizes.map((size, i) => datagram(size, String.fromCharCode(97 + (i % 26))));
          const wire = onTheWire(given);
          const back = opened(wire);
          if (back.length !== given.length) return false;
          if (!back.every((one, i) => one?.equals(given[i]))) return false;
          if (given.length > 0 && wire[0] !== given[0]) return false; // the first, at once
          for (const one of wire) {
            if (!isBundle(one)) continue;
            const inside = unbundle(one) ?? [];
            if (one.byteLength > BUNDLE_MAX_BYTES) return false;
            if (inside.length < 2 || inside.length > BUNDLE_MAX_DATAGRAMS) return false;
          }
          // After the first, two that went alone side by side would not have fitted one bundle.
          for (let i = 2; i < wire.length; i++) {
            const [a, b] = [wire[i - 1], wire[i]];
            if (
              !isBundle(a) &&
              !isBundle(b) &&
              2 + 4 + a.byteLength + b.byteLength <= BUNDLE_MAX_BYTES
            )
              return false;
          }
          return true;
        },
      ),
      { numRuns: 500 },
    );
    t.pass('500 lists of datagrams');
  },
);

t.test('bundles are cut by size and by count', async (t) => {
  const shape = (wire: Buffer[]) =>
    wire.map((one) => (isBundle(one) ? unbundle(one)?.length : 'alone'));
  const hundred = Array.from({ length: 101 }, () => datagram(10));
  t.same(
    shape(onTheWire(hundred)),
    ['alone', BUNDLE_MAX_DATAGRAMS, 100 - BUNDLE_MAX_DATAGRAMS],
    'at most 64 a bundle',
  );
  const large = onTheWire(Array.from({ length: 6 }, () => datagram(500)));
  t.same(shape(large), ['alone', 2, 2, 'alone']);
  t.ok(large.every((one) => one.byteLength <= BUNDLE_MAX_BYTES));
  const tooLarge = datagram(BUNDLE_MAX_BYTES);
  t.same(
    onTheWire([datagram(10), tooLarge, datagram(10)]),
    [datagram(10), tooLarge, datagram(10)],
    'one too large to share goes alone',
  );
  t.same(onTheWire([datagram(10)]), [datagram(10)], 'one datagram is never bundled');
  t.same(onTheWire([]), []);
});

t.test('a malformed bundle is refused whole', async (t) => {
  const one = datagram(20);
  t.same(
    unbundle(
      handMade([
        { length: 20, bytes: one },
        { length: 20, bytes: one },
      ]),
    ),
    [one, one],
  );
  t.equal(unbundle(Buffer.from([0, 1])), undefined, 'nothing in it');
  t.equal(unbundle(handMade([{ length: 21, bytes: one }])), undefined, 'a length past its end');
  t.equal(
    unbundle(
      handMade([
        { length: 20, bytes: one },
        { length: 0, bytes: Buffer.alloc(0) },
      ]),
    ),
    undefined,
    'an empty datagram',
  );
  t.equal(
    unbundle(Buffer.concat([handMade([{ length: 20, bytes: one }]), Buffer.from([0])])),
    undefined,
    'a length cut short',
  );
  const tooMany = Array.from({ length: BUNDLE_MAX_DATAGRAMS + 1 }, () => ({
    length: 1,
    bytes: Buffer.from('{'),
  }));
  t.equal(unbundle(handMade(tooMany)), undefined, 'more than 64');
  t.equal(unbundle(handMade(tooMany.slice(1)))?.length, BUNDLE_MAX_DATAGRAMS, '64 are taken');
  t.equal(unbundle(handMade([{ length: 20, bytes: one }], [0, 2])), undefined, 'another magic');
  t.notOk(isBundle(one), 'a JSON datagram is not a bundle');
  t.notOk(isBundle(Buffer.from([0])));
});

t.test(
  'the coalescer: the first datagram to an address at once, the rest of the turn bundled',
  async (t) => {
    const sent: Array<{ to: string; datagram: Buffer }> = [];
    let deferred: Array<() => void> = [];
    const counters = { bundlesSent: 0, bundled: 0 };
    const coalescer = new Coalescer({
      send: (to, datagram) => sent.push({ to: `${to.address}:${to.port}`, datagram }),
      defer: (flush) => void deferred.push(flush),
      counters,
    });
    const bob: Address = { address: '127.0.0.1', port: 4001 };
    const carol: Address = { address: '127.0.0.1', port: 4002 };
    const turn = () => {
      const flushes = deferred;
      deferred = [];
      for (const flush of flushes) flush();
    };

    coalescer.send(bob, datagram(10, '1'));
    t.equal(sent.length, 1, 'the first to bob leaves at once');
    t.equal(deferred.length, 1, 'and the end of the turn is awaited once');
    coalescer.send(bob, datagram(10, '2'));
    coalescer.send(carol, datagram(10, '3'));
    coalescer.send(bob, datagram(10, '4'));
    coalescer.send(carol, datagram(10, '5'));
    t.same(
      sent.map((s) => s.to),
      ['127.0.0.1:4001', '127.0.0.1:4002'],
      "carol's first leaves at once too; the others wait",
    );
    t.equal(deferred.length, 1, 'one flush for the turn');
    turn();
    t.same(
      sent
        .slice(2)
        .map((s) => ({ to: s.to, inside: opened([s.datagram]).map((one) => one?.toString()) })),
      [
        { to: '127.0.0.1:4001', inside: ['{222222222', '{444444444'] },
        { to: '127.0.0.1:4002', inside: ['{555555555'] },
      ],
      "bob's two in one bundle; carol's one alone",
    );
    t.ok(isBundle(sent[2].datagram));
    t.notOk(isBundle(sent[3].datagram));
    t.same(counters, { bundlesSent: 1, bundled: 2 });

    coalescer.send(bob, datagram(10, '6'));
    t.equal(sent.length, 5, 'a new turn: the first leaves at once again');
    t.notOk(isBundle(sent[4].datagram));
    turn();
    t.equal(sent.length, 5, 'nothing waited');
    t.equal(deferred.length, 0);
  },
);

t.test('a full bundle leaves at once; the rest of the turn waits for its end', async (t) => {
  const sent: Buffer[] = [];
  const deferred: Array<() => void> = [];
  const counters = { bundlesSent: 0, bundled: 0 };
  const coalescer = new Coalescer({
    send: (_to, datagram) => sent.push(datagram),
    defer: (flush) => void deferred.push(flush),
    counters,
  });
  const bob: Address = { address: '127.0.0.1', port: 4001 };
  const given = Array.from({ length: 8 }, (_, i) => datagram(500, String(i)));
  for (const one of given) coalescer.send(bob, one);
  // 500-byte datagrams: two fit a bundle of 1,232 bytes.
  t.same(
    sent.map((one) => (isBundle(one) ? unbundle(one)?.length : 'alone')),
    ['alone', 2, 2, 2],
    'the first alone, then each bundle as it filled, before the turn ended',
  );
  t.same(deferred.length, 1);
  const large = datagram(BUNDLE_MAX_BYTES);
  coalescer.send(bob, large);
  t.same(
    sent.slice(4).map((one) => (isBundle(one) ? unbundle(one)?.length : one.byteLength)),
    [500, BUNDLE_MAX_BYTES],
    'one too large to share: what waited leaves first, then it alone',
  );
  deferred.forEach((flush) => flush());
  t.same(opened(sent), [...given, large], 'all of it, in order');
  t.same(counters, { bundlesSent: 3, bundled: 6 });
});
