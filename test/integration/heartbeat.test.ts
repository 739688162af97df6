import t, { type Test } from 'tap';
import {
  createTestnet,
  eventually,
  nextEvent,
  PATIENT_PROBE,
  record,
  type Testnet,
} from '../helpers/testnet.js';
import { createProxy, peek } from '../helpers/proxy.js';

const beats = { heartbeatIntervalMs: 40 };

t.test(
  'a crashed client is taken for offline after missed heartbeats; live ones stay',
  async (t) => {
    const net = await createTestnet(t, {
      registry: { heartbeatIntervalMs: 40, missedHeartbeats: 25 },
    });
    const alice = await net.client('alice', beats);
    const bob = await net.client('bob', beats);
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    await new Promise((resolve) => setTimeout(resolve, 300)); // several sweeps with both alive
    t.same(
      net.registry
        .snapshot()
        .entries.filter((e) => e.online)
        .map((e) => e.nick)
        .sort(),
      ['alice', 'bob'],
      'beating clients stay online',
    );
    await bob.close(); // crash: no dereg
    await eventually(
      () => alice.table().some((e) => e.nick === 'bob' && !e.online),
      15_000,
      'bob shown offline to alice',
    );
    t.equal(
      await alice.send('bob', 'for later'),
      'saved',
      "the crashed client's messages are saved",
    );
  },
);

t.test(
  'a client silent past its heartbeats that answers its probe stays online, and in its group',
  async (t) => {
    const net = await createTestnet(t, {
      registry: { heartbeatIntervalMs: 40, missedHeartbeats: 5, ...PATIENT_PROBE },
    });
    const alice = await net.client('alice', beats);
    const bob = await net.client('bob', { heartbeatIntervalMs: 600_000 }); // alive, but says nothing
    await alice.createGroup('g');
    for (const client of [alice, bob]) t.equal(await client.joinGroup('g'), 'joined');
    const removed = record(bob);
    const probed = bob.stats.received;
    // Silent for 200 ms, swept every 40: probed each sweep he is still found silent at.
    await eventually(() => bob.stats.received - probed >= 5, 15_000, 'bob probed several times');
    t.equal(
      net.registry.snapshot().entries.find((e) => e.nick === 'bob')?.online,
      true,
      'bob is still online',
    );
    t.same(
      removed.filter(([name]) => name === 'removed-from-group'),
      [],
      'and was never taken out of his group',
    );
    t.same(await alice.listMembers(), ['alice', 'bob']);
    await bob.close(); // now gone: the next probe goes unanswered
    await eventually(
      () => alice.table().some((e) => e.nick === 'bob' && !e.online),
      15_000,
      'bob taken for offline once a probe fails',
    );
  },
);

t.test(
  'a registry that lost its store: heartbeats bring the registration back by themselves',
  async (t) => {
    const net = await createTestnet(t, {
      registry: { heartbeatIntervalMs: 40, missedHeartbeats: 25 },
    });
    const alice = await net.client('alice', beats);
    const { rm } = await import('node:fs/promises');
    await net.registry.close();
    // The table file and the journal of changes beside it (see lowdb-store.ts): the whole table.
    await rm(net.dbPath);
    await rm(net.dbPath.replace(/\.json$/, '.clients.jsonl'), { force: true });
    const events = record(alice);
    await net.restartRegistry();
    await nextEvent(alice, 'registered', () => true, 15_000);
    t.ok(
      net.registry.snapshot().entries.some((e) => e.nick === 'alice' && e.online),
      'alice is in the new table',
    );
    t.ok(events.some(([name]) => name === 'registered'));
  },
);

t.test('server down: said once; back: said once', async (t) => {
  const net = await createTestnet(t, {
    registry: { heartbeatIntervalMs: 40, missedHeartbeats: 25 },
  });
  const alice = await net.client('alice', { ...beats, serverTimeoutMs: 20, serverTries: 4 }); // 80 ms a request: quick, with tries to spare
  const events = record(alice);
  await net.registry.close();
  await nextEvent(alice, 'server-not-responding', (e) => e.action === 'heartbeat', 15_000);
  await new Promise((resolve) => setTimeout(resolve, 250)); // several more failed beats
  t.equal(
    events.filter(([name]) => name === 'server-not-responding').length,
    1,
    'one line per outage',
  );
  await net.restartRegistry();
  await nextEvent(alice, 'server-back', () => true, 15_000);
  t.equal(alice.state, 'online');
});

t.test(
  'a restarted registry still serves the clients it had: a crash after the restart is noticed',
  async (t) => {
    const net = await createTestnet(t, {
      registry: { heartbeatIntervalMs: 40, missedHeartbeats: 25 },
    });
    const alice = await net.client('alice', beats);
    const bob = await net.client('bob', beats);
    await net.restartRegistry();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await bob.close();
    await eventually(
      () => alice.table().some((e) => e.nick === 'bob' && !e.online),
      15_000,
      'bob taken for offline by the restarted registry',
    );
    t.pass('the restarted registry pushed the change to alice');
  },
);

/** A proxy to the registry that holds back (150 ms) the requests of `type` while `holding(true)`. */
async function holdBack(t: Test, net: Testnet, type: string) {
  let hold = false;
  const proxy = await createProxy(net.registry.address(), {
    fault: (datagram, direction) =>
      hold && direction === 'forward' && peek(datagram)?.t === type ? { delayMs: 150 } : 'pass',
  });
  t.teardown(() => proxy.close());
  return { proxy, holding: (on: boolean) => void (hold = on) };
}

t.test('a heartbeat answered only after dereg does not bring the client back online', async (t) => {
  const net = await createTestnet(t);
  const { proxy, holding } = await holdBack(t, net, 'heartbeat');
  const bob = await net.client('bob', {
    server: { host: '127.0.0.1', port: proxy.address.port },
    heartbeatIntervalMs: 40,
    serverTimeoutMs: 400,
    serverTries: 2,
  });
  holding(true);
  await eventually(() => proxy.counts.delayed > 0, 15_000, 'a heartbeat is on its way');
  holding(false);
  await bob.deregister(); // lands before that heartbeat, which the registry then answers NOT_REGISTERED
  const registered = record(bob);
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.same(
    registered.filter(([name]) => name === 'registered'),
    [],
    'bob did not register again by himself',
  );
  t.equal(
    net.registry.snapshot().entries.find((e) => e.nick === 'bob')?.online,
    false,
    'the registry has him offline',
  );
});

t.test(
  'heartbeats while a dereg waits for its answer do not bring the client back online',
  async (t) => {
    const net = await createTestnet(t);
    let slow = false;
    // The registry's answer to the dereg comes late: heartbeats meanwhile would be told "not registered".
    const proxy = await createProxy(net.registry.address(), {
      fault: (datagram, direction) =>
        slow && direction === 'back' && peek(datagram)?.t === 'ack' ? { delayMs: 200 } : 'pass',
    });
    t.teardown(() => proxy.close());
    const bob = await net.client('bob', {
      server: { host: '127.0.0.1', port: proxy.address.port },
      heartbeatIntervalMs: 20,
      serverTimeoutMs: 400,
      serverTries: 2,
    });
    const events = record(bob);
    slow = true;
    await bob.deregister();
    slow = false;
    t.ok(
      proxy.counts.delayed > 0,
      "the registry's ACKs were held back meanwhile (a precondition: the dereg's is one)",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.same(
      events.map(([name]) => name).filter((name) => name === 'registered'),
      [],
      'bob did not register again by himself',
    );
    t.equal(bob.state, 'offline');
    t.equal(
      net.registry.snapshot().entries.find((e) => e.nick === 'bob')?.online,
      false,
      'the registry has him offline',
    );
  },
);

t.test('a message typed just before dereg is saved once, and the dereg holds', async (t) => {
  const net = await createTestnet(t);
  const { proxy, holding } = await holdBack(t, net, 'save');
  const carol = await net.client('carol');
  await carol.deregister();
  const bob = await net.client('bob', {
    server: { host: '127.0.0.1', port: proxy.address.port },
    serverTimeoutMs: 400,
    serverTries: 2,
  });
  await eventually(() => bob.table().some((e) => e.nick === 'carol' && !e.online));
  holding(true);
  const sent = bob.send('carol', 'typed just before dereg');
  await eventually(() => proxy.counts.delayed > 0, 15_000, 'the save is on its way');
  holding(false);
  await bob.deregister();
  const events = record(bob);
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.same(
    events.filter(([name]) => name === 'registered'),
    [],
    'bob did not register again by himself',
  );
  t.equal(await sent, 'saved', 'the registry kept it (it came from where bob was)');
  const back = nextEvent(carol, 'saved-message');
  await carol.register();
  t.equal((await back).text, 'typed just before dereg');
});
