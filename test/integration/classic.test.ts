import t from 'tap';
import { readFile } from 'node:fs/promises';
import { createProxy, peek } from '../helpers/proxy.js';
import {
  createTestnet,
  eventually,
  nextEvent,
  PATIENT_PROBE,
  PATIENT_SERVER,
  record,
} from '../helpers/testnet.js';

const online = (entries: { nick: string; online: boolean }[]) =>
  entries
    .filter((entry) => entry.online)
    .map((entry) => entry.nick)
    .sort();

t.test('three clients: registration, table pushes, direct chat with ACKs', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  const aliceEvents = record(alice);
  const bob = await net.client('bob');
  const carol = await net.client('carol');
  await eventually(
    () => online(alice.table()).join() === 'alice,bob,carol',
    15_000,
    'alice sees all three',
  );
  t.ok(
    aliceEvents.filter(([name]) => name === 'table').length >= 2,
    'alice was told of each change',
  );

  const shown = nextEvent(bob, 'message');
  t.equal(await alice.send('bob', 'hi bob'), 'delivered');
  t.match(await shown, { from: 'alice', text: 'hi bob' });
  t.equal(net.registry.stats.received >= 3, true, 'the registry saw registrations');

  const carolShown = nextEvent(carol, 'message');
  t.equal(await bob.send('carol', 'hello carol'), 'delivered');
  t.match(await carolShown, { from: 'bob', text: 'hello carol' });
});

t.test('dereg, offline save, reg delivers in order with timestamps', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  const bob = await net.client('bob');
  await eventually(() => online(alice.table()).includes('bob'));

  await bob.deregister();
  t.equal(bob.state, 'offline');
  await eventually(() => !online(alice.table()).includes('bob'), 15_000, 'alice sees bob offline');

  const events = record(alice);
  const before = Date.now();
  t.equal(await alice.send('bob', 'first'), 'saved');
  t.equal(await alice.send('bob', 'second'), 'saved');
  t.equal(await alice.send('bob', 'third'), 'saved');
  t.same(
    events.map(([name]) => name),
    ['fallback', 'saved', 'fallback', 'saved', 'fallback', 'saved'],
    'offline in the table: straight to the server, then saved',
  );

  const bobEvents = record(bob);
  const third = nextEvent(bob, 'saved-message', (m) => m.text === 'third');
  await bob.register();
  await third;
  const saved = bobEvents
    .filter(([name]) => name === 'saved-message')
    .map(([, payload]) => payload as { text: string; ts: number });
  t.same(
    saved.map((m) => m.text),
    ['first', 'second', 'third'],
    'oldest first',
  );
  t.ok(
    saved.every((m) => m.ts >= before - 5 && m.ts <= Date.now()),
    'stamped with the time the server got them',
  );
  t.same(
    bobEvents
      .map(([name]) => name)
      .filter((name) => name !== 'table')
      .slice(0, 2),
    ['registered', 'saved-messages'],
    '"You have messages" comes after the welcome, before the messages',
  );
  // deleted once ACKed: the mailbox file empties, and a second reg brings nothing
  const mailbox = net.dbPath.replace(/\.json$/, '.mailboxes/m-bob.json');
  await eventually(
    async () =>
      (JSON.parse(await readFile(mailbox, 'utf8')) as { messages: unknown[] }).messages.length ===
      0,
    15_000,
    'the mailbox emptied',
  );
  await bob.deregister();
  const again = record(bob);
  await bob.register();
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.notOk(
    again.some(([name]) => name === 'saved-message'),
    'delivered messages are gone from the mailbox',
  );
});

t.test(
  'a peer that is silent but online in the table: server probes, finds it gone, saves',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    const bob = await net.client('bob');
    await eventually(() => online(alice.table()).includes('bob'));
    await bob.close(); // a crash: no dereg
    const events = record(alice);
    t.equal(await alice.send('bob', 'are you there?'), 'saved');
    const notices = new Set(['table', 'joined', 'left']); // table pushes may land at any moment
    t.same(
      events.map(([name]) => name).filter((name) => !notices.has(name)),
      ['fallback', 'saved'],
    );
    t.match(events[0], ['fallback', { to: 'bob', reason: 'no-ack' }]);
    await eventually(
      () => !online(alice.table()).includes('bob'),
      15_000,
      'the probe marked bob offline for everyone',
    );
  },
);

t.test(
  'the probe finds the peer online: "exists", fresh table, and the message still arrives',
  async (t) => {
    const net = await createTestnet(t, { registry: PATIENT_PROBE });
    // alice's table goes stale: the changes to her are lost while `stale` holds.
    let stale = false;
    const proxy = await createProxy(net.registry.address(), {
      drop: (d, direction) => stale && direction === 'back' && peek(d)?.t === 'table_delta',
    });
    t.teardown(() => proxy.close());
    const alice = await net.client('alice', {
      server: { host: '127.0.0.1', port: proxy.address.port },
      ...PATIENT_SERVER,
    });
    const bob = await net.client('bob');
    await eventually(() => online(alice.table()).includes('bob'));
    stale = true;
    await bob.close(); // bob crashes and comes back on another port; alice does not hear of it
    const bob2 = await net.client('bob', PATIENT_SERVER); // its registration waits out the probe of its old port
    const oldPort = alice.table().find((e) => e.nick === 'bob')!.port;
    t.not(oldPort, bob2.address().port, "alice's table still has bob's old port");
    const events = record(alice);
    const shown = nextEvent(bob2, 'message');
    t.equal(
      await alice.send('bob', 'still there?'),
      'relayed',
      'no ACK at the old port; the registry found bob and relayed it',
    );
    t.match(await shown, { from: 'alice', text: 'still there?' });
    t.same(
      events.map(([name]) => name).filter((name) => !['table', 'joined', 'left'].includes(name)),
      ['fallback', 'exists', 'delivered'],
    );
    await eventually(
      () => alice.table().find((e) => e.nick === 'bob')?.port === bob2.address().port,
      15_000,
      'the fresh table has bob where he is',
    );
  },
);
