import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DurableJSONFile } from '../../src/store/durable-json-file.js';

t.test('reads what it wrote, as lowdb writes JSON; nothing there reads as null', async (t) => {
  const path = join(t.testdir(), 'store.json');
  const file = new DurableJSONFile<{ n: number }>(path);
  t.equal(await file.read(), null);
  await file.write({ n: 1 });
  t.same(await file.read(), { n: 1 });
  t.equal(readFileSync(path, 'utf8'), JSON.stringify({ n: 1 }, null, 2));
  t.same(readdirSync(join(path, '..')), ['store.json'], 'no temporary file left');
});

t.test(
  'writes made while one is under way all resolve once the latest data is written',
  async (t) => {
    const path = join(t.testdir(), 'store.json');
    const file = new DurableJSONFile<{ n: number }>(path);
    const settled: number[] = [];
    const writes = Array.from({ length: 20 }, (_, n) =>
      file.write({ n }).then(() => {
        settled.push(n);
        // Whatever was written by the time a write resolves holds its data or later data.
        const onDisk = (JSON.parse(readFileSync(path, 'utf8')) as { n: number }).n;
        t.ok(onDisk >= n, `write ${n} resolved with ${onDisk} on disk`);
      }),
    );
    await Promise.all(writes);
    t.equal(settled.length, 20, 'every write resolved');
    t.same(await file.read(), { n: 19 }, 'the latest data is what stays');
    await file.write({ n: 20 });
    t.same(await file.read(), { n: 20 }, 'and a write after them all is written too');
  },
);

t.test('a write that fails rejects, and the file takes writes again after it', async (t) => {
  const dir = join(t.testdir(), 'gone');
  mkdirSync(dir);
  const file = new DurableJSONFile<{ n: number }>(join(dir, 'store.json'));
  rmSync(dir, { recursive: true });
  const failing = file.write({ n: 1 });
  const waiting = file.write({ n: 2 });
  await t.rejects(failing, { code: 'ENOENT' });
  await t.rejects(waiting, { code: 'ENOENT' }, 'the one waiting behind it, in the same folder');
  mkdirSync(dir);
  await file.write({ n: 3 });
  t.same(await file.read(), { n: 3 });
});
