import { readFileSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { FileOutbox, MemoryOutbox } from '../../src/client/outbox.js';

const entry = (n: number) => ({ mid: `m${n}`, to: 'bob', text: `text ${n}`, at: n });

for (const [name, make] of [
  ['file', (dir: string) => new FileOutbox(join(dir, 'nick', 'outbox.json'))],
  ['memory', () => new MemoryOutbox()],
] as const) {
  t.test(
    `${name} outbox: concurrent adds keep every entry in call order; remove by id`,
    async (t) => {
      const dir = t.testdir();
      const outbox = make(dir);
      await Promise.all([1, 2, 3, 4, 5].map((n) => outbox.add(entry(n))));
      t.same(
        (await outbox.load()).map((e) => e.mid),
        ['m1', 'm2', 'm3', 'm4', 'm5'],
      );
      await Promise.all([outbox.remove('m2'), outbox.remove('m4'), outbox.remove('none')]);
      t.same(
        (await outbox.load()).map((e) => e.mid),
        ['m1', 'm3', 'm5'],
      );
      if (name === 'file') {
        const again = make(dir);
        t.same(
          (await again.load()).map((e) => e.mid),
          ['m1', 'm3', 'm5'],
          'on disk',
        );
      }
    },
  );
}

t.test('a file that is not an outbox is refused', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'outbox.json'), '{"something":1}');
  await t.rejects(new FileOutbox(join(dir, 'outbox.json')).load(), /is not a udpchat outbox/);
});

t.test(
  'file outbox: a journal of appends, a torn last line ignored, compacted as removals pile up',
  async (t) => {
    const path = join(t.testdir(), 'outbox.json');
    const outbox = new FileOutbox(path);
    await outbox.add(entry(1));
    await outbox.add(entry(2));
    await outbox.remove('m1');
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    t.same(
      lines.map((line) => JSON.parse(line) as unknown),
      [{ 'udpchat-outbox': 2 }, { add: entry(1) }, { add: entry(2) }, { remove: 'm1' }],
      'one line per change',
    );
    await appendFile(path, '{"add":{"mid":"m3","to":"bo'); // the process died mid-append
    t.same(await new FileOutbox(path).load(), [entry(2)], 'the torn line is dropped');
    await outbox.close();

    const busy = new FileOutbox(path);
    for (let i = 10; i < 400; i++) {
      await busy.add(entry(i));
      await busy.remove(`m${i}`);
    }
    t.ok(
      (await readFile(path, 'utf8')).trim().split('\n').length < 300,
      'rewritten once the removals pile up',
    );
    t.same(await new FileOutbox(path).load(), [entry(2)], 'and still exactly what is pending');
    await busy.close();
  },
);

t.test(
  'file outbox: with nothing pending it is cut back to its header, and goes on from there',
  async (t) => {
    const path = join(t.testdir(), 'outbox.json');
    const outbox = new FileOutbox(path);
    for (let i = 0; i < 100; i++) {
      await outbox.add(entry(i));
      await outbox.remove(`m${i}`);
    }
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    t.ok(lines.length < 64, `a few lines at most (${lines.length}), not one per change`);
    t.same(JSON.parse(lines[0]) as unknown, { 'udpchat-outbox': 2 }, 'the header kept');
    t.same(await new FileOutbox(path).load(), [], 'nothing pending');
    await outbox.add(entry(200));
    t.same(await new FileOutbox(path).load(), [entry(200)], 'an add after it is kept');
    await outbox.close();
  },
);

t.test('file outbox: a file of the earlier format is read and kept', async (t) => {
  const path = join(t.testdir(), 'outbox.json');
  const old = { mid: 'm1', to: 'bob', text: 'typed before the upgrade', at: 1 };
  await writeFile(path, JSON.stringify({ format: 1, pending: [old] }));
  const outbox = new FileOutbox(path);
  t.same(await outbox.load(), [old]);
  await outbox.close();
  t.match(await readFile(path, 'utf8'), /^\{"udpchat-outbox":2\}\n/, 'rewritten as a journal');
});

t.test(
  'file outbox: once read, an add or a remove made while nothing is queued is on disk when the call returns',
  async (t) => {
    const path = join(t.testdir(), 'outbox.json');
    const outbox = new FileOutbox(path);
    await outbox.load();
    const added = outbox.add(entry(1));
    t.match(readFileSync(path, 'utf8'), /"mid":"m1"/, 'written before the promise settles');
    await added;
    const removed = outbox.remove('m1');
    t.match(readFileSync(path, 'utf8'), /\{"remove":"m1"\}/, 'the removal too');
    await removed;
    await outbox.close();
  },
);

t.test(
  'file outbox: adds and removes called without waiting, across rewrites, end as their order says',
  async (t) => {
    const dir = t.testdir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ add: fc.boolean(), n: fc.integer({ min: 0, max: 8 }), wait: fc.boolean() }),
          { minLength: 300, maxLength: 700 },
        ),
        async (steps) => {
          const path = join(dir, `outbox-${run++}.json`);
          const outbox = new FileOutbox(path);
          // One entry stays pending throughout: the file is then rewritten as removals pile up
          // (with nothing pending it would be cut back to its header instead).
          await outbox.add(entry(99));
          const model = new Map([['m99', entry(99)]]);
          const calls: Array<Promise<void>> = [];
          for (const { add, n, wait } of steps) {
            const call = add ? outbox.add(entry(n)) : outbox.remove(`m${n}`);
            if (add) model.set(`m${n}`, entry(n));
            else model.delete(`m${n}`);
            if (wait) await call;
            else calls.push(call);
          }
          await Promise.all(calls);
          const mids = (entries: Array<{ mid: string }>) => entries.map((e) => e.mid).sort();
          t.same(mids(await outbox.load()), mids([...model.values()]), 'as the calls left it');
          t.same(mids(await new FileOutbox(path).load()), mids([...model.values()]), 'on disk');
          await outbox.close();
        },
      ),
      { numRuns: 40 },
    );
  },
);
