import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { LowdbStore } from '../../src/store/lowdb-store.js';

const message = (n: number, from = 'alice') => ({ from, mid: `m${n}`, sealed: { enc: 'e', ct: `ciphertext ${n}` }, ts: 1000 + n });

t.test('mailbox: oldest first, idempotent by sender and id, deleted only when asked', async (t) => {
  const path = join(t.testdir(), 'nested', 'store.json');
  const store = new LowdbStore(path);
  await store.open();
  for (const n of [1, 2, 3]) t.equal(await store.saveMessage('bob', message(n)), true);
  t.equal(await store.saveMessage('bob', message(2)), false, 'the same message twice is kept once');
  t.equal(await store.saveMessage('bob', message(2, 'carol')), true, 'same id from another sender is another message');
  t.same((await store.pendingMessages('bob')).map((m) => m.mid), ['m1', 'm2', 'm3', 'm2']);
  t.same((await store.pendingMessages('bob', 2)).map((m) => m.mid), ['m1', 'm2']);
  await store.deleteMessages('bob', [message(1), message(2)]);
  t.same(await store.pendingMessages('bob'), [message(3), message(2, 'carol')]);
  t.equal(await store.countMessages('bob'), 2);
  t.equal(await store.countMessages('nobody'), 0);
  await store.deleteMessages('nobody', [message(1)]);

  await store.putClient({ nick: 'bob', ip: '127.0.0.1', port: 4000, online: false, sk: 'k', ek: 'e' });
  await store.close();
  const reopened = new LowdbStore(path);
  await reopened.open();
  t.same(await reopened.pendingMessages('bob'), [message(3), message(2, 'carol')], 'survives a reopen');
  t.same(await reopened.loadClients(), [{ nick: 'bob', ip: '127.0.0.1', port: 4000, online: false, sk: 'k', ek: 'e' }]);
  await reopened.deleteMessages('bob', [message(3), message(2, 'carol')]);
  t.notMatch(await readFile(path, 'utf8'), /"bob":\s*\[/, 'an emptied mailbox is removed');
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
