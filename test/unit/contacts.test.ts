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
