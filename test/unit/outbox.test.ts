import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { FileOutbox, MemoryOutbox } from '../../src/client/outbox.js';

const entry = (n: number) => ({ mid: `m${n}`, to: 'bob', text: `text ${n}`, at: n });

for (const [name, make] of [
  ['file', (dir: string) => new FileOutbox(join(dir, 'nick', 'outbox.json'))],
  ['memory', () => new MemoryOutbox()],
] as const) {
  t.test(`${name} outbox: concurrent adds keep every entry in call order; remove by id`, async (t) => {
    const dir = t.testdir();
    const outbox = make(dir);
    await Promise.all([1, 2, 3, 4, 5].map((n) => outbox.add(entry(n))));
    t.same((await outbox.load()).map((e) => e.mid), ['m1', 'm2', 'm3', 'm4', 'm5']);
    await Promise.all([outbox.remove('m2'), outbox.remove('m4'), outbox.remove('none')]);
    t.same((await outbox.load()).map((e) => e.mid), ['m1', 'm3', 'm5']);
    if (name === 'file') {
      const again = make(dir);
      t.same((await again.load()).map((e) => e.mid), ['m1', 'm3', 'm5'], 'on disk');
    }
  });
}

t.test('a file that is not an outbox is refused', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'outbox.json'), '{"something":1}');
  await t.rejects(new FileOutbox(join(dir, 'outbox.json')).load(), /is not a udpchat outbox/);
});
