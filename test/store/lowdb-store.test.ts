import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { storeCompliance } from './compliance.js';

storeCompliance(t, (t) => {
  const path = join(t.testdir(), 'nested', 'store.json');
  return async () => new LowdbStore(path);
});

t.test('a file that is not a udpchat store is refused with a clear error', async (t) => {
  const dir = t.testdir({ 'garbage.json': '{not json', 'other.json': '{"something":"else"}' });
  await t.rejects(new LowdbStore(join(dir, 'garbage.json')).open(), /is not a udpchat store/);
  await t.rejects(new LowdbStore(join(dir, 'other.json')).open(), /is not a udpchat store/);
  await writeFile(join(dir, 'other.json'), '{"format":1}');
  const store = new LowdbStore(join(dir, 'other.json'));
  await store.open();
  t.same(await store.loadClients(), [], 'missing sections are filled in');
});

const message = (from: string, mid: string) => ({ from, mid, ts: 1, sealed: { enc: 'e', ct: 'c' } });

t.test('each mailbox is a file of its own: a save rewrites its recipient\'s mailbox only', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'registry.json');
  const store = new LowdbStore(path);
  await store.open();
  await store.putClient({ nick: 'bob', ip: '127.0.0.1', port: 1, online: false, sk: 's', ek: 'e' });
  await store.saveMessage('bob', message('alice', 'm1'));
  await store.saveMessage('..', message('alice', 'm2')); // a nick may be '..': still one plain file
  // lowdb writes through a temporary file and a rename: every write makes a new inode.
  const before = { main: (await stat(path)).ino, bob: await readFile(join(dir, 'registry.mailboxes', 'm-bob.json'), 'utf8') };
  await store.saveMessage('carol', message('alice', 'm3'));
  t.equal((await stat(path)).ino, before.main, 'the table file is not written');
  t.equal(await readFile(join(dir, 'registry.mailboxes', 'm-bob.json'), 'utf8'), before.bob, "nor bob's mailbox");
  t.same((await readdir(join(dir, 'registry.mailboxes'))).sort(), ['m-...json', 'm-bob.json', 'm-carol.json']);
  t.same((await store.mailboxNicks()).sort(), ['..', 'bob', 'carol']);
  t.same(JSON.parse(await readFile(path, 'utf8')).mailboxes, undefined, 'no messages in the table file');
});

t.test('a store of format 1 (mailboxes in the main file) is moved to mailbox files on open, nothing lost', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'old.json');
  const old = {
    format: 1,
    clients: { bob: { nick: 'bob', ip: '127.0.0.1', port: 1, online: false, sk: 's', ek: 'e' } },
    mailboxes: { bob: [message('alice', 'm1'), message('carol', 'm1')] },
    groups: { g: ['bob'] },
  };
  await writeFile(path, JSON.stringify(old));
  const store = new LowdbStore(path);
  await store.open();
  t.same(await store.pendingMessages('bob'), old.mailboxes.bob, 'the messages, in order');
  t.same(await store.loadGroups(), old.groups);
  const main = JSON.parse(await readFile(path, 'utf8'));
  t.equal(main.format, 2);
  t.notOk('mailboxes' in main, 'moved out of the main file');
  const again = new LowdbStore(path);
  await again.open();
  t.equal(await again.countMessages('bob'), 2, 'and still there after a restart');
});
