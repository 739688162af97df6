import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import {
  Contacts,
  FileContacts,
  type Contact,
  type ContactsStore,
} from '../../src/client/contacts.js';
import { Watches } from '../../src/registry/watches.js';

/** A store in memory that counts its writes. */
function memoryStore(initial: Contact[] = []) {
  const state = { saved: initial, writes: 0 };
  const store: ContactsStore = {
    load: async () => state.saved,
    save: async (contacts) => {
      state.writes++;
      state.saved = contacts.map((contact) => ({ ...contact }));
    },
  };
  return { store, state };
}

t.test(
  'contacts: most recent last; past the limit the least recent unpinned one is pushed out',
  async (t) => {
    const { store, state } = memoryStore();
    const contacts = new Contacts(3, store);
    t.same(contacts.touch('ann'), { added: true });
    t.same(contacts.pin('bob'), { added: true });
    t.same(contacts.touch('cat'), { added: true });
    t.same(contacts.touch('ann'), { added: false }, 'ann again: no longer the least recent');
    t.same(
      contacts.touch('dan'),
      { added: true, evicted: 'cat' },
      'cat, the least recent unpinned, goes (bob is pinned)',
    );
    t.same(contacts.list(), ['bob', 'ann', 'dan']);
    t.same(contacts.pinned(), ['bob']);
    t.ok(contacts.remove('bob'));
    t.notOk(contacts.remove('bob'), 'not there twice');
    await contacts.flush();
    t.same(
      state.saved.map((c) => c.nick),
      ['ann', 'dan'],
      'kept as they are now',
    );
  },
);

t.test('property: contacts against a model, touched, pinned, removed and loaded', async () => {
  const { default: fc } = await import('fast-check');
  const nick = fc.constantFrom('ann', 'bob', 'cat', 'dan', 'eve');
  const step = fc.oneof(
    fc.tuple(fc.constantFrom('touch', 'pin', 'remove'), nick),
    fc.tuple(fc.constant('load' as const), fc.array(nick, { maxLength: 3 })),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { maxLength: 60 }),
      fc.integer({ min: 1, max: 4 }),
      async (steps, limit) => {
        const saved: Contact[] = [];
        const contacts = new Contacts(limit, {
          load: async () => saved,
          save: async () => undefined,
        });
        let model: Contact[] = []; // least recent first
        for (const [operation, value] of steps) {
          if (operation === 'load') {
            // An earlier run's file, read after some touches (its contacts go after them).
            saved.splice(0, saved.length, ...value.map((nick) => ({ nick, pinned: false })));
            await contacts.load();
            for (const entry of saved.slice(-limit)) {
              const at = model.findIndex((contact) => contact.nick === entry.nick);
              if (at >= 0)
                model[at] = { ...entry }; // a Map keeps a key's place when set again
              else model.push({ ...entry });
            }
            continue;
          }
          const known = model.find((contact) => contact.nick === value);
          if (operation === 'remove') {
            contacts.remove(value);
            model = model.filter((contact) => contact !== known);
            continue;
          }
          const change = operation === 'pin' ? contacts.pin(value) : contacts.touch(value);
          if (known) {
            model = [...model.filter((contact) => contact !== known), known];
            if (operation === 'pin') known.pinned = true;
            if (change.added) return false;
            continue;
          }
          if (model.length >= limit) {
            const evicted = model.find((contact) => !contact.pinned);
            if (!evicted) {
              if (change.added) return false;
              continue;
            }
            model = model.filter((contact) => contact !== evicted);
            if (change.evicted !== evicted.nick) return false;
          }
          model.push({ nick: value, pinned: operation === 'pin' });
          if (!change.added) return false;
        }
        const order = model.map((contact) => contact.nick);
        const pinned = model.filter((contact) => contact.pinned).map((contact) => contact.nick);
        return (
          JSON.stringify(contacts.list()) === JSON.stringify(order) &&
          JSON.stringify(contacts.pinned()) === JSON.stringify(pinned)
        );
      },
    ),
    { numRuns: 500 },
  );
});

t.test('contacts: with every place pinned, nothing more is added', async (t) => {
  const contacts = new Contacts(2);
  contacts.pin('ann');
  contacts.pin('bob');
  t.same(contacts.touch('cat'), { added: false });
  t.same(contacts.pin('cat'), { added: false });
  t.same(contacts.list(), ['ann', 'bob']);
});

t.test(
  "contacts: an earlier run's are loaded, bad nicks left out, at most the limit",
  async (t) => {
    const { store } = memoryStore([
      { nick: 'ann', pinned: true },
      { nick: 'bad nick', pinned: false },
      { nick: 'bob', pinned: false },
      { nick: 'cat', pinned: false },
    ]);
    const contacts = new Contacts(2, store);
    await contacts.load();
    t.same(
      contacts.list(),
      ['bob', 'cat'],
      'the most recent two; the nick with a space is not one',
    );
  },
);

t.test(
  'FileContacts: written and read back; a missing file is no contacts; junk entries are skipped',
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, 'sub', 'contacts.json');
    const file = new FileContacts(path);
    t.same(await file.load(), []);
    await file.save([{ nick: 'ann', pinned: true }]);
    t.same(await new FileContacts(path).load(), [{ nick: 'ann', pinned: true }]);
    await writeFile(path, JSON.stringify([{ nick: 'bob', pinned: false }, { nick: 3 }, 'x', null]));
    t.same(await file.load(), [{ nick: 'bob', pinned: false }]);
    const contacts = new Contacts(5, new FileContacts(join(dir, 'broken.json')));
    await writeFile(join(dir, 'broken.json'), '{not json');
    await contacts.load();
    t.same(contacts.list(), [], 'an unreadable file gives none');
  },
);

t.test('Watches: both directions kept, bounded per watcher, cleared whole', async (t) => {
  const watches = new Watches(2);
  t.same(
    watches.add('ann', ['bob', 'cat', 'dan', 'ann']),
    ['dan'],
    'dan past the limit; ann never watches herself',
  );
  t.same([...watches.watchersOf('bob')], ['ann']);
  watches.add('eve', ['bob']);
  t.same([...watches.watchersOf('bob')].sort(), ['ann', 'eve']);
  watches.remove('ann', ['bob']);
  t.same([...watches.watchersOf('bob')], ['eve']);
  t.same([...watches.watchedBy('ann')], ['cat']);
  t.same(watches.add('ann', ['dan']), [], 'room again');
  watches.clear('ann');
  t.same([...watches.watchedBy('ann')], []);
  t.same([...watches.watchersOf('cat')], [], 'nothing left behind for cat');
  t.same([...watches.watchersOf('dan')], []);
});

t.test('Watches: a nick with many watchers keeps them all, removed one by one', async (t) => {
  const watches = new Watches(100);
  const many = Array.from({ length: 40 }, (_, i) => `w${i}`);
  for (const watcher of many) watches.add(watcher, ['bob', 'cat']);
  t.same([...watches.watchersOf('bob')].sort(), [...many].sort(), 'all 40, past the small list');
  for (const watcher of many.slice(0, 39)) watches.remove(watcher, ['bob']);
  t.same([...watches.watchersOf('bob')], ['w39']);
  t.same([...watches.watchedBy('w0')], ['cat']);
  watches.clear('w39');
  t.same([...watches.watchersOf('bob')], []);
  t.equal([...watches.watchersOf('cat')].length, 39);
});

t.test('property: Watches against a model, in both directions', async () => {
  const { default: fc } = await import('fast-check');
  const watcherArb = fc.integer({ min: 0, max: 49 }).map((i) => `w${i}`);
  const nickArb = fc.constantFrom('n0', 'n1', 'n2', 'n3', 'w0');
  const operation = fc.oneof(
    fc.tuple(fc.constant('add' as const), watcherArb, fc.array(nickArb, { maxLength: 4 })),
    fc.tuple(fc.constant('remove' as const), watcherArb, fc.array(nickArb, { maxLength: 4 })),
    fc.tuple(fc.constant('clear' as const), watcherArb, fc.constant([] as string[])),
  );
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 400 }), (operations) => {
      const limit = 3;
      const watches = new Watches(limit);
      const model = new Map<string, Set<string>>(); // watcher → what it watches
      for (const [kind, watcher, nicks] of operations) {
        const mine = model.get(watcher) ?? new Set<string>();
        if (kind === 'add') {
          const refused: string[] = [];
          for (const nick of nicks) {
            if (nick === watcher || mine.has(nick)) continue;
            if (mine.size >= limit) refused.push(nick);
            else mine.add(nick);
          }
          if (JSON.stringify(watches.add(watcher, nicks)) !== JSON.stringify(refused)) return false;
        } else if (kind === 'remove') {
          for (const nick of nicks) mine.delete(nick);
          watches.remove(watcher, nicks);
        } else {
          mine.clear();
          watches.clear(watcher);
        }
        model.set(watcher, mine);
      }
      for (const [watcher, mine] of model)
        if (
          JSON.stringify([...watches.watchedBy(watcher)].sort()) !==
          JSON.stringify([...mine].sort())
        )
          return false;
      for (const nick of ['n0', 'n1', 'n2', 'n3', 'w0']) {
        const expected = [...model].filter(([, mine]) => mine.has(nick)).map(([w]) => w);
        if (
          JSON.stringify([...watches.watchersOf(nick)].sort()) !== JSON.stringify(expected.sort())
        )
          return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
});
