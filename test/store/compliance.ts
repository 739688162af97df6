import type { Test } from 'tap';
import type { Store } from '../../src/store/store.js';

const message = (n: number, from = 'alice') => ({
  from,
  mid: `m${n}`,
  sealed: { enc: 'e', ct: `ciphertext ${n}` },
  ts: 1000 + n,
});
const record = (nick: string, online = true) => ({
  nick,
  ip: '127.0.0.1',
  port: 4000,
  online,
  sk: 'k'.repeat(44),
  ek: 'e'.repeat(44),
});

/**
 * What every Store must do, whatever keeps the data. `make` gives a store over the same
 * data each time it is called within one test (a second call is a restart).
 */
export function storeCompliance(t: Test, make: (t: Test) => () => Promise<Store>): void {
  t.test(
    'mailbox: oldest first, idempotent by sender and id, deleted only when asked',
    async (t) => {
      const open = make(t);
      const store = await open();
      await store.open();
      for (const n of [1, 2, 3]) t.equal(await store.saveMessage('bob', message(n)), true);
      t.equal(
        await store.saveMessage('bob', message(2)),
        false,
        'the same message twice is kept once',
      );
      t.equal(
        await store.saveMessage('bob', message(2, 'carol')),
        true,
        'the same id from another sender is another message',
      );
      t.same(
        (await store.pendingMessages('bob')).map((m) => m.mid),
        ['m1', 'm2', 'm3', 'm2'],
      );
      t.same(
        (await store.pendingMessages('bob', 2)).map((m) => m.mid),
        ['m1', 'm2'],
      );
      await store.deleteMessages('bob', [message(1), message(2)]);
      t.same(await store.pendingMessages('bob'), [message(3), message(2, 'carol')]);
      t.equal(await store.countMessages('bob'), 2);
      t.equal(await store.countMessages('nobody'), 0);
      await store.deleteMessages('nobody', [message(1)]);
      t.equal(
        await store.saveMessage('bob', message(1)),
        true,
        'a delivered id may come again later (a new message)',
      );
      await store.close();
    },
  );

  t.test(
    'mailbox: a delete takes exactly what it names, wherever it is, and twice is harmless',
    async (t) => {
      const open = make(t);
      const store = await open();
      await store.open();
      for (const n of [1, 2, 3, 4, 5]) await store.saveMessage('bob', message(n));
      await store.deleteMessages('bob', [message(1), message(2)]);
      await store.deleteMessages('bob', [message(1), message(2)]); // a second node delivered the same batch
      t.same(
        (await store.pendingMessages('bob')).map((m) => m.mid),
        ['m3', 'm4', 'm5'],
        'an old batch again removes nothing else',
      );
      await store.deleteMessages('bob', [message(3), message(5)]); // not all at the head
      t.same(
        (await store.pendingMessages('bob')).map((m) => m.mid),
        ['m4'],
      );
      t.equal(await store.saveMessage('bob', message(5)), true, 'its id is free again');
      t.equal(
        await store.saveMessage('bob', message(4)),
        false,
        'the one left still counts as saved',
      );
      await store.close();
    },
  );

  t.test('mailbox: counted per sender, through saves, repeats and deletes', async (t) => {
    const open = make(t);
    const store = await open();
    await store.open();
    for (const n of [1, 2, 3]) await store.saveMessage('bob', message(n));
    await store.saveMessage('bob', message(2)); // the same one again: not counted twice
    for (const n of [1, 2]) await store.saveMessage('bob', message(n, 'carol'));
    await store.saveMessage('dave', message(1));
    const counts = async () => ({
      all: await store.countMessages('bob'),
      alice: await store.countMessages('bob', 'alice'),
      carol: await store.countMessages('bob', 'carol'),
      nobody: await store.countMessages('bob', 'nobody'),
    });
    t.same(await counts(), { all: 5, alice: 3, carol: 2, nobody: 0 });
    t.equal(await store.countMessages('dave', 'alice'), 1, "another mailbox's are its own");
    // From the head, from the middle, one not saved, and one already gone: each counted once.
    await store.deleteMessages('bob', [message(1), message(2, 'carol'), message(9)]);
    await store.deleteMessages('bob', [message(1)]);
    t.same(await counts(), { all: 3, alice: 2, carol: 1, nobody: 0 });
    await store.deleteMessages('bob', [message(2), message(3), message(1, 'carol')]);
    t.same(await counts(), { all: 0, alice: 0, carol: 0, nobody: 0 });
    t.equal(await store.saveMessage('bob', message(2)), true);
    t.equal(await store.countMessages('bob', 'alice'), 1, 'and counted again from nothing');
    await store.close();
  });

  t.test('clients and groups survive a restart; mailboxes too', async (t) => {
    const open = make(t);
    const store = await open();
    await store.open();
    await store.putClient(record('bob', false));
    await store.putClient({ ...record('alice'), passwordHash: 'scrypt$1$a$b' });
    await store.putGroup('team', ['alice', 'bob']);
    await store.putGroup('empty', []);
    await store.saveMessage('bob', message(7));
    await store.close();
    const again = await open();
    await again.open();
    const clients = (await again.loadClients()).sort((a, b) => a.nick.localeCompare(b.nick));
    t.same(clients, [{ ...record('alice'), passwordHash: 'scrypt$1$a$b' }, record('bob', false)]);
    t.same(await again.loadGroups(), { team: ['alice', 'bob'], empty: [] });
    t.same(await again.pendingMessages('bob'), [message(7)]);
    await again.putClient(record('bob', true));
    t.same(
      (await again.loadClients()).find((c) => c.nick === 'bob'),
      record('bob', true),
      'a put replaces',
    );
    await again.close();
  });

  t.test('a key claimed is held for its seconds, across a restart, then free again', async (t) => {
    const open = make(t);
    const store = await open();
    await store.open();
    t.equal(typeof store.claim, 'function', 'a store of the registry keeps claims');
    t.equal(await store.claim!('alice|sig-1', 1), true, 'the first claim takes it');
    t.equal(await store.claim!('alice|sig-1', 1), false, 'held');
    t.equal(await store.claim!('alice|sig-2', 120), true, 'another key is another claim');
    await store.close();
    const again = await open();
    await again.open();
    t.equal(await again.claim!('alice|sig-2', 120), false, 'held across a restart');
    // Its second over (a clock a test cannot turn: the store's own, or Redis's).
    let free = false;
    for (let tries = 0; tries < 100 && !free; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      free = await again.claim!('alice|sig-1', 120);
    }
    t.ok(free, 'free again once its time is up');
    t.equal(await again.claim!('alice|sig-1', 120), false, 'and held anew');
    await again.close();
  });
}
