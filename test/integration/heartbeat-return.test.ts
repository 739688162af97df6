import t, { type Test } from 'tap';
import { createProxy, peek, type Fault } from '../helpers/proxy.js';
import { createTestnet, eventually, PATIENT_SERVER, record } from '../helpers/testnet.js';

// A client taken for offline while its process still runs, and brought back by its next
// heartbeat rather than by answering a probe: its mailbox goes first, and only then are the
// others told it is back (docs/reliability.md, "Order per sender and recipient"). Every
// client and the registry run in this one process, so the order in which the test sees what
// happens is the order it happened.

t.test(
  'a client brought back by a heartbeat gets its mailbox, in order, before the others are told',
  (t) => heartbeatReturn(t, { anotherChange: false }),
);

t.test(
  'another change going out while the mailbox is delivered does not tell the others early',
  (t) => heartbeatReturn(t, { anotherChange: true }),
);

/**
 * bob taken for offline, three messages saved for him, then brought back by a heartbeat. The
 * first try of his mailbox's delivery is held back until the registry has sent another; with
 * `anotherChange`, dave registers meanwhile, and every try is held back until alice and carol
 * have been told of dave: a round of changes went out while bob's mailbox was on its way.
 */
async function heartbeatReturn(t: Test, { anotherChange }: { anotherChange: boolean }) {
  const net = await createTestnet(t, {
    registry: {
      // A delivery's tries outlast the ones held back below, however slow the machine.
      deliverTimeoutMs: 250,
      deliverTries: 40,
      // alice and carol hear of every change of bob's.
      pushTimeoutMs: 200,
      pushTries: 5,
    },
  });
  /** What happened, in the order the test saw it. */
  const order: string[] = [];
  const note = (what: string) => void (order.includes(what) || order.push(what));
  const othersToldOfDave = () =>
    order.includes('alice was told dave is online') &&
    order.includes('carol was told dave is online');

  let heartbeatsLost = true;
  let probesLost = 0;
  let heartbeatsPassed = 0;
  /** The delivery of bob's mailbox: each try of it has the same id. */
  let deliveryId: string | undefined;
  let deliveryTries = 0;
  let releaseFirstTry: (() => void) | undefined;
  const proxy = await createProxy(net.registry.address(), {
    fault(datagram, direction): Fault {
      const message = peek(datagram);
      // A peer's traffic to bob's table address (the proxy's) is not the registry's.
      if (message?.t === 'chat' || message?.t === 'punch') return 'drop';
      if (direction === 'back' && message?.t === 'probe') {
        probesLost++;
        return 'drop'; // bob never answers a probe: he can only come back by a heartbeat
      }
      if (direction === 'forward' && message?.t === 'heartbeat') {
        if (heartbeatsLost) return 'drop';
        heartbeatsPassed++;
        note('a heartbeat of bob reached the registry');
        return 'pass';
      }
      if (direction === 'back' && message?.t === 'deliver') {
        deliveryId ??= message.id;
        if (message.id !== deliveryId) return 'pass';
        deliveryTries++;
        note('the delivery of his mailbox went to bob');
        // The first try waits for the next: the registry, still waiting on bob's ACK
        // meanwhile, had time to tell the others first, were that its order.
        if (deliveryTries === 1) {
          if (anotherChange) void net.client('dave').then(() => note('dave registered'));
          return { held: (send) => void (releaseFirstTry = send) };
        }
        if (anotherChange && !othersToldOfDave()) return 'drop';
        releaseFirstTry?.();
        releaseFirstTry = undefined;
        return 'pass';
      }
      const re = (message as { re?: string } | undefined)?.re;
      if (direction === 'forward' && message?.t === 'ack' && re && re === deliveryId)
        note('bob acknowledged his mailbox');
      return 'pass';
    },
  });
  t.teardown(() => proxy.close());

  // No introductions: bob's table address is the proxy's, and a hole punch would reach his
  // own socket past it (docs/nat.md).
  const alice = await net.client('alice', { ...PATIENT_SERVER, introduceAfterMs: 3_600_000 });
  const carol = await net.client('carol');
  const bob = await net.client('bob', {
    server: { host: '127.0.0.1', port: proxy.address.port },
    heartbeatIntervalMs: 200,
  });
  const bobOnlineFor = (client: typeof alice) =>
    client.table().some((e) => e.nick === 'bob' && e.online);
  await eventually(
    () => bobOnlineFor(alice) && bobOnlineFor(carol),
    10_000,
    'alice and carol see bob',
  );
  const shown = record(bob);
  for (const [nick, client] of [
    ['alice', alice],
    ['carol', carol],
  ] as const)
    client.on('joined', (e) => {
      if (e.nick === 'bob' || e.nick === 'dave') note(`${nick} was told ${e.nick} is online`);
    });
  let delivered = 0;
  net.registry.on('delivered', (e) => void (e.to === 'bob' && (delivered += e.count)));

  // bob's process runs on, but neither his heartbeats nor the probes to him get through.
  const markedOffline = new Promise((resolve) => net.registry.once('marked-offline', resolve));
  t.equal(await alice.send('bob', 'one'), 'saved', 'bob does not answer: saved');
  t.match(await markedOffline, { nick: 'bob' }, 'bob taken for offline');
  t.equal(await alice.send('bob', 'two'), 'saved', 'saved while bob is taken for offline');
  t.equal(await alice.send('bob', 'three'), 'saved', 'saved while bob is taken for offline');
  await eventually(
    () => !bobOnlineFor(alice) && !bobOnlineFor(carol),
    10_000,
    'alice and carol see bob offline',
  );
  t.ok(probesLost > 0, `the probes to bob were lost (${probesLost})`);
  t.same(order, [], 'nothing of his return yet');

  heartbeatsLost = false; // probes are still lost: only a heartbeat can bring bob back
  await eventually(
    () =>
      net.registry.snapshot().entries.some((e) => e.nick === 'bob' && e.online) &&
      bobOnlineFor(alice) &&
      bobOnlineFor(carol),
    10_000,
    () => `bob online again for everyone (${order.join('; ')})`,
  );
  await eventually(
    () => delivered === 3,
    10_000,
    () => `his mailbox delivered (${delivered} of 3)`,
  );
  const texts = () =>
    shown
      .filter(([name]) => name === 'message' || name === 'saved-message')
      .map(([, payload]) => (payload as { text: string }).text);
  await eventually(
    () => texts().length >= 3,
    10_000,
    () => `all shown (${texts().join()})`,
  );

  t.ok(heartbeatsPassed > 0, 'a heartbeat of his reached the registry');
  t.ok(deliveryTries >= 2, `the first try of the delivery was held back (${deliveryTries} tries)`);
  const said = order.join('; ');
  if (anotherChange)
    t.ok(
      othersToldOfDave() &&
        order.indexOf('carol was told dave is online') <
          order.indexOf('bob acknowledged his mailbox'),
      `a change went out while his mailbox was on its way (${said})`,
    );
  // His heartbeat brought the delivery; he acknowledged it; only then were the others told
  // (which of them first is not said).
  const ofBob = order.filter((what) => !what.includes('dave'));
  t.same(
    ofBob.slice(0, 3),
    [
      'a heartbeat of bob reached the registry',
      'the delivery of his mailbox went to bob',
      'bob acknowledged his mailbox',
    ],
    `his mailbox went first (${said})`,
  );
  t.same(
    ofBob.slice(3).sort(),
    ['alice was told bob is online', 'carol was told bob is online'],
    `and only then were the others told (${said})`,
  );
  t.same(texts(), ['one', 'two', 'three'], 'each shown once, in the order sent');
}
