import { writeFile } from 'node:fs/promises';
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
