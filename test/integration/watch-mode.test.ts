import t from 'tap';
import { dirname, join } from 'node:path';
import { FileContacts, type Contact, type ContactsStore } from '../../src/client/contacts.js';
import type { ChatClient } from '../../src/client/client.js';
import { LIST_PAGE } from '../../src/protocol/constants.js';
import { createProxy, peek } from '../helpers/proxy.js';
import {
  createTestnet,
  eventually,
  nextEvent,
  PATIENT_PROBE,
  PATIENT_SERVER,
  record,
} from '../helpers/testnet.js';

// Beyond the registry's table limit a client holds only the nicks it watches (its contacts,
// those it looks up), hears only of their changes, and lists users in pages asked of the
// registry. A limit of 3 makes a handful of clients a large table.
const LIMIT = { tableLimit: 3, ...PATIENT_PROBE };
/** No heartbeats during a test: the registry's datagram counter then counts what a change costs. */
const QUIET = { ...PATIENT_SERVER, heartbeatIntervalMs: 3_600_000 };

t.test(
  'past the limit: the newcomer gets no table, holders of the whole table are told, a send looks its recipient up',
  async (t) => {
    const net = await createTestnet(t, { registry: LIMIT });
    const ann = await net.client('ann', QUIET);
    await net.client('bob', QUIET);
    await net.client('cat', QUIET);
    t.notOk(ann.watchMode, 'within the limit: the whole table');
    await eventually(() => ann.table().length === 3, 15_000, 'ann holds the whole table');
    const dan = await net.client('dan', QUIET);
    t.ok(dan.watchMode, 'the fourth nick: beyond the limit');
    t.same(
      dan.table().map((e) => e.nick),
      [],
      'no table came (its own entry is not pushed either)',
    );
    await eventually(() => ann.watchMode, 15_000, 'ann told the table outgrew the limit');
    t.same(
      ann.table().map((e) => e.nick),
      ['ann'],
      'ann now holds only herself: she has no contacts yet',
    );

    const annHears = nextEvent(ann, 'message', (m) => m.from === 'dan');
    t.match(
      await dan.send('ann', 'hello from dan'),
      /^(delivered|relayed)$/,
      'ann looked up, then written to',
    );
    t.match(
      await annHears,
      { text: 'hello from dan' },
      'ann, who did not hold dan, looked him up and opened it',
    );
    t.ok(
      dan.table().some((e) => e.nick === 'ann' && e.online),
      'dan holds ann now (watched)',
    );
    await eventually(
      () => ann.table().some((e) => e.nick === 'dan'),
      15_000,
      'ann holds dan (heard from: a contact)',
    );
    await t.rejects(
      dan.send('nobody', 'hi'),
      { code: 'ERR_UNKNOWN_NICK' },
      'a nick the registry does not know',
    );
    t.same(dan.watching().contacts.sort(), ['ann'], 'the contacts: whom dan wrote to');
  },
);

t.test(
  'one presence change costs at most watchers + 1 datagrams, and only watchers hear of it',
  async (t) => {
    const net = await createTestnet(t, { registry: LIMIT });
    const clients: ChatClient[] = [];
    for (const nick of ['ann', 'bob', 'cat', 'dan', 'eve', 'fay'])
      clients.push(await net.client(nick, QUIET));
    const [ann, bob, cat, dan, eve, fay] = clients as [
      ChatClient,
      ChatClient,
      ChatClient,
      ChatClient,
      ChatClient,
      ChatClient,
    ];
    await eventually(() => clients.every((c) => c.watchMode), 15_000, 'everyone beyond the limit');
    t.equal(await ann.watch('bob'), 'watching');
    t.equal(await cat.watch('bob'), 'watching');
    t.equal(await dan.watch('nobody'), 'no-such-user');
    const seen = new Map(clients.map((c) => [c.nick, record(c)]));
    const annHears = nextEvent(ann, 'left', (e) => e.nick === 'bob');
    const catHears = nextEvent(cat, 'left', (e) => e.nick === 'bob');
    const before = net.registry.stats.sent;
    await bob.deregister();
    await Promise.all([annHears, catHears]);
    // bob's dereg is answered (1), then each watcher gets one presence (2). bob left with dereg: not told.
    await eventually(() => net.registry.stats.sent - before >= 3, 15_000, 'the presences sent');
    await new Promise((resolve) => setTimeout(resolve, 300)); // anything more would have gone by now
    t.ok(
      net.registry.stats.sent - before <= 1 + 2 + 1,
      `at most the reply and watchers + 1 (sent ${net.registry.stats.sent - before})`,
    );
    for (const other of [dan, eve, fay]) {
      t.notOk(
        seen.get(other.nick)!.some(([name]) => name === 'left' || name === 'table'),
        `${other.nick}, who does not watch bob, heard nothing`,
      );
    }
    t.equal(ann.table().find((e) => e.nick === 'bob')?.online, false, 'ann holds bob offline');
    t.equal(await ann.unwatch('bob'), true);
    t.notOk(
      ann.table().some((e) => e.nick === 'bob'),
      'unwatched: no longer held',
    );
    t.equal(await ann.unwatch('bob'), false, 'not watched twice');
  },
);

t.test(
  'a watcher that lost a presence notice catches up at its next heartbeat, and is told what changed',
  async (t) => {
    const net = await createTestnet(t, { registry: LIMIT });
    // The notice that takes bob offline is lost on its way to ann, and nothing changes after:
    // her next heartbeat's answer says which notice the registry sent last, she sees she missed
    // it and watches her contacts again.
    const proxy = await createProxy(net.registry.address(), {
      drop: (datagram, direction) => {
        const message = peek(datagram);
        return (
          direction === 'back' &&
          message?.t === 'presence' &&
          !message.watch &&
          message.entries.some((entry) => entry.nick === 'bob')
        );
      },
    });
    t.teardown(() => proxy.close());
    const ann = await net.client('ann', {
      ...PATIENT_SERVER,
      server: { host: '127.0.0.1', port: proxy.address.port },
      heartbeatIntervalMs: 100, // heard from often
    });
    const bob = await net.client('bob', QUIET);
    for (const nick of ['cat', 'dan']) await net.client(nick, QUIET);
    await eventually(() => ann.watchMode, 15_000, 'ann beyond the limit');
    t.equal(await ann.watch('bob'), 'watching');
    t.equal(ann.table().find((e) => e.nick === 'bob')?.online, true);
    const hears = nextEvent(ann, 'left', (e) => e.nick === 'bob', 15_000);
    await bob.deregister();
    await hears;
    t.equal(proxy.counts.dropped, 1, 'the notice was lost; it is sent once, never again');
    t.equal(ann.table().find((e) => e.nick === 'bob')?.online, false, 'caught up: bob is offline');
  },
);

t.test(
  'a registry restarted on its store forgets what each client watches: the watcher says it again at its next heartbeat',
  async (t) => {
    const net = await createTestnet(t, { registry: LIMIT });
    const ann = await net.client('ann', { ...PATIENT_SERVER, heartbeatIntervalMs: 100 });
    const bob = await net.client('bob', QUIET);
    for (const nick of ['cat', 'dan']) await net.client(nick, QUIET);
    await eventually(() => ann.watchMode, 15_000, 'ann beyond the limit');
    t.equal(await ann.watch('bob'), 'watching');
    await net.restartRegistry(); // the same table (its store), nobody's watches
    t.ok(net.registry.watchMode, 'still beyond the limit');
    // ann's next heartbeat's answer names another epoch: she says whom she watches again, and
    // hears of bob's leaving (as a notice, or in the answer if she says it after he left).
    const hears = nextEvent(ann, 'left', (e) => e.nick === 'bob', 15_000);
    await bob.deregister();
    await hears;
    t.equal(ann.table().find((e) => e.nick === 'bob')?.online, false, 'ann holds bob offline');
  },
);

t.test('users in pages, asked of the registry', async (t) => {
  const net = await createTestnet(t, { registry: LIMIT });
  const count = LIST_PAGE + 3;
  const clients = [];
  for (let i = 0; i < count; i++)
    clients.push(await net.client(`u${String(i).padStart(2, '0')}`, QUIET));
  const asker = clients.at(-1)!;
  await clients[1].deregister();
  const first = await asker.users(false, 0);
  t.equal(first.pages, 2, `${count} users: two pages`);
  t.equal(first.entries.length, LIST_PAGE);
  const second = await asker.users(false, 1);
  t.equal(second.entries.length, 3);
  const everyone = [...first.entries, ...second.entries].map((e) => e.nick).sort();
  t.same(everyone, clients.map((c) => c.nick).sort(), 'every user once, across the pages');
  t.equal(first.entries.find((e) => e.nick === 'u01')?.online, false, 'u01 shown offline');
  const online = await asker.users(true, 0);
  t.equal(online.pages, 2);
  t.notOk(
    online.entries.some((e) => e.nick === 'u01'),
    'online: u01 left out',
  );
});

t.test(
  'close() settles only once a contact changed just before is kept (the CLI exits right after it)',
  async (t) => {
    const net = await createTestnet(t, { registry: LIMIT });
    await net.client('cat', QUIET);
    let release: () => void = () => undefined;
    const saves: Contact[][] = [];
    const store: ContactsStore = {
      load: () => Promise.resolve([]),
      save: (contacts) => {
        saves.push(contacts);
        return new Promise<void>((resolve) => (release = resolve));
      },
    };
    const dan = await net.client('dan', QUIET, { contacts: store });
    t.equal(await dan.watch('cat'), 'watching');
    t.same(saves, [[{ nick: 'cat', pinned: true }]], 'the save is under way');
    let closed = false;
    const closing = dan.close().then(() => (closed = true));
    // Every turn of the event loop for a while: close() must still be waiting for the save.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    t.notOk(closed, 'not closed while the save is under way');
    release();
    await closing;
    t.ok(closed);
  },
);

t.test(
  'contacts are kept across restarts and watched again at registration; saved messages from a stranger open',
  async (t) => {
    const net = await createTestnet(t, { registry: LIMIT });
    for (const nick of ['ann', 'bob', 'cat']) await net.client(nick, QUIET);
    const file = join(dirname(net.dbPath), 'dan-contacts.json'); // beside the registry's files (a second t.testdir() would empty them)
    const dan = await net.client('dan', QUIET, { contacts: new FileContacts(file) });
    t.ok(dan.watchMode);
    t.equal(await dan.watch('cat'), 'watching');
    t.match(await dan.send('bob', 'hi bob'), /^(delivered|relayed)$/);
    await dan.close();

    const again = await net.client('dan', QUIET, { contacts: new FileContacts(file) });
    t.same(
      again
        .table()
        .map((e) => e.nick)
        .sort(),
      ['bob', 'cat'],
      'bob (written to) and cat (watched), held right after registering',
    );
    t.same(again.watching(), { pinned: ['cat'], contacts: ['bob'] });

    // eve, a stranger to ann, writes while ann is offline; ann comes back and opens it.
    const annClient = await net.client('ann2', QUIET);
    await annClient.deregister();
    const eve = await net.client('eve', QUIET);
    const ev = record(eve);

    t.teardown(() => t.comment(JSON.stringify(ev)));
    t.equal(await eve.send('ann2', 'saved for you'), 'saved');
    const shown = nextEvent(annClient, 'saved-message', (m) => m.from === 'eve');
    await annClient.register();
    t.match(await shown, { text: 'saved for you' }, 'the sender looked up, the message opened');
  },
);
