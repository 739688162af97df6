import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { LowdbStore, readStoredClients } from '../../src/store/lowdb-store.js';
import type { ClientRecord } from '../../src/store/store.js';
import { storeCompliance } from './compliance.js';

/** The table file, read as JSON (format 1 also held the mailboxes). */
const tableFile = async (path: string) =>
  JSON.parse(await readFile(path, 'utf8')) as {
    format: number;
    clients: Record<string, ClientRecord>;
    mailboxes?: unknown;
  };

/** A client record with the fields these tests do not look at filled in. */
const client = (nick: string, fields: Partial<ClientRecord> = {}): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port: 1,
  online: true,
  sk: 's',
  ek: 'e',
  ...fields,
});

storeCompliance(t, (t) => {
  const path = join(t.testdir(), 'nested', 'store.json');
  return async () => new LowdbStore(path);
});

// The same contract with every write fsynced (`udpchat -s --fsync`): what is on disk is the
// same, only flushed (test/e2e/durable-files.test.ts watches the flushes).
t.test('with every write fsynced', async (t) => {
  storeCompliance(t, (t) => {
    const path = join(t.testdir(), 'nested', 'store.json');
    return async () => new LowdbStore(path, { durable: true });
  });
});

t.test('a file that is not a udpchat store is refused with a clear error', async (t) => {
  const dir = t.testdir({ 'garbage.json': '{not json', 'other.json': '{"something":"else"}' });
  await t.rejects(new LowdbStore(join(dir, 'garbage.json')).open(), /is not a udpchat store/);
  await t.rejects(new LowdbStore(join(dir, 'other.json')).open(), /is not a udpchat store/);
  await writeFile(join(dir, 'other.json'), '{"format":1}');
  const store = new LowdbStore(join(dir, 'other.json'));
  await store.open();
  t.same(await store.loadClients(), [], 'missing sections are filled in');
  await store.close();
});

const message = (from: string, mid: string) => ({
  from,
  mid,
  ts: 1,
  sealed: { enc: 'e', ct: 'c' },
});

t.test(
  "each mailbox is a file of its own: a save rewrites its recipient's mailbox only",
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, 'registry.json');
    const store = new LowdbStore(path);
    await store.open();
    await store.putClient(client('bob', { online: false }));
    await store.saveMessage('bob', message('alice', 'm1'));
    await store.saveMessage('..', message('alice', 'm2')); // a nick may be '..': still one plain file
    // lowdb writes through a temporary file and a rename: every write makes a new inode.
    const before = {
      main: (await stat(path)).ino,
      bob: await readFile(join(dir, 'registry.mailboxes', 'm-bob.json'), 'utf8'),
    };
    await store.saveMessage('carol', message('alice', 'm3'));
    t.equal((await stat(path)).ino, before.main, 'the table file is not written');
    t.equal(
      await readFile(join(dir, 'registry.mailboxes', 'm-bob.json'), 'utf8'),
      before.bob,
      "nor bob's mailbox",
    );
    t.same((await readdir(join(dir, 'registry.mailboxes'))).sort(), [
      'm-...json',
      'm-bob.json',
      'm-carol.json',
    ]);
    t.same((await store.mailboxNicks()).sort(), ['..', 'bob', 'carol']);
    t.same((await tableFile(path)).mailboxes, undefined, 'no messages in the table file');
    await store.close();
  },
);

t.test(
  'a store of format 1 (mailboxes in the main file) is moved to mailbox files on open, nothing lost',
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, 'old.json');
    const old = {
      format: 1,
      clients: { bob: client('bob', { online: false }) },
      mailboxes: { bob: [message('alice', 'm1'), message('carol', 'm1')] },
      groups: { g: ['bob'] },
    };
    await writeFile(path, JSON.stringify(old));
    const store = new LowdbStore(path);
    await store.open();
    t.same(await store.pendingMessages('bob'), old.mailboxes.bob, 'the messages, in order');
    t.same(await store.loadGroups(), old.groups);
    const main = await tableFile(path);
    t.equal(main.format, 2);
    t.notOk('mailboxes' in main, 'moved out of the main file');
    const again = new LowdbStore(path);
    await again.open();
    t.equal(await again.countMessages('bob'), 2, 'and still there after a restart');
    await again.close();
    await store.close();
  },
);

t.test(
  'a client record put is one line in the journal, not a rewrite of the table file; a restart reads both',
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, 'registry.json');
    const store = new LowdbStore(path);
    await store.open();
    const before = (await stat(path)).ino;
    const bob = client('bob');
    await store.putClient(bob);
    await store.putClient({ ...bob, online: false });
    t.equal((await stat(path)).ino, before, 'the table file is not written');
    t.equal(
      (await readFile(join(dir, 'registry.clients.jsonl'), 'utf8')).split('\n').length,
      3,
      'two lines',
    );
    t.same(
      (await readStoredClients(path)).bob,
      { ...bob, online: false },
      'read while the store is open: the last put',
    );
    // A restart without close (a kill): the journal is read over the table file.
    const again = new LowdbStore(path);
    await again.open();
    t.same(await again.loadClients(), [{ ...bob, online: false }]);
    t.equal(
      await readFile(join(dir, 'registry.clients.jsonl'), 'utf8'),
      '',
      'folded into the table file on open',
    );
    t.same((await tableFile(path)).clients.bob, { ...bob, online: false });
    await again.close();
    await store.close();
  },
);

t.test('a journal line cut short by a kill is left out; the lines before it count', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'registry.json');
  const store = new LowdbStore(path);
  await store.open();
  await store.putClient(client('bob'));
  await writeFile(
    join(dir, 'registry.clients.jsonl'),
    '{"nick":"carol","ip":"127.0.0.1","port":2,"online":true,"sk":"s","ek":"e"}\n{"nick":"dave","ip":"12',
    { flag: 'a' },
  );
  const again = new LowdbStore(path);
  await again.open();
  t.same((await again.loadClients()).map((record) => record.nick).sort(), ['bob', 'carol']);
  await again.close();
  await store.close();
});

t.test(
  'the journal is folded into the table file once it is as long as the table (at least 1,000 lines), and at the next open',
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, 'registry.json');
    const store = new LowdbStore(path);
    await store.open();
    const record = (n: number) => client(`c${n}`, { port: n });
    for (let n = 0; n < 999; n++) await store.putClient(record(n));
    t.equal(Object.keys((await tableFile(path)).clients).length, 0, 'not yet');
    await store.putClient(record(999));
    t.equal(
      Object.keys((await tableFile(path)).clients).length,
      1000,
      'the 1,000th line folds them in',
    );
    t.equal(await readFile(join(dir, 'registry.clients.jsonl'), 'utf8'), '');
    await store.putClient({ ...record(1), online: false });
    await store.close();
    t.equal((await tableFile(path)).clients.c1.online, true, 'close writes nothing more');
    const again = new LowdbStore(path);
    await again.open();
    t.equal((await tableFile(path)).clients.c1.online, false, 'the next open folds in the rest');
    t.equal(await readFile(join(dir, 'registry.clients.jsonl'), 'utf8'), '');
    await again.close();
  },
);

t.test(
  'a journal without its table file (the store was removed) is not read: the store starts empty',
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, 'registry.json');
    const store = new LowdbStore(path);
    await store.open();
    await store.putClient(client('bob'));
    await store.close();
    await rm(path);
    const again = new LowdbStore(path);
    await again.open();
    t.same(await again.loadClients(), []);
    t.equal(
      await readFile(join(dir, 'registry.clients.jsonl'), 'utf8'),
      '',
      'and the journal starts empty',
    );
    await again.close();
  },
);
