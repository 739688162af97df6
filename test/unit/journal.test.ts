import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Journal } from '../../src/store/journal.js';

/** A journal in the test's folder that counts its writes (`due` is asked once per write) and compacts into `compacted`. */
function journal(t: Test, dueAt = Infinity) {
  const path = join(t.testdir(), 'j.jsonl');
  const seen = { writes: 0, compactions: 0, compacted: [] as string[][] };
  const made = new Journal(path, {
    due: (lines) => {
      seen.writes++;
      return lines >= dueAt;
    },
    compact: async () => {
      seen.compactions++;
      seen.compacted.push(await made.read());
    },
  });
  return { path, journal: made, seen };
}

t.test('lines are appended, one a line, and read back in order', async (t) => {
  const { path, journal: j } = journal(t);
  await j.start();
  await j.append('{"a":1}');
  await j.append('{"b":2}');
  t.equal(await readFile(path, 'utf8'), '{"a":1}\n{"b":2}\n');
  t.same(await j.read(), ['{"a":1}', '{"b":2}']);
  t.equal(j.lines, 2);
  await j.close();
});

t.test(
  'at most one write in flight: lines added meanwhile go together in the next, and each append waits for its own',
  async (t) => {
    const { path, journal: j, seen } = journal(t);
    await j.start();
    const first = j.append('1');
    const rest = ['2', '3', '4', '5'].map((line) => j.append(line));
    await Promise.all([first, ...rest]);
    t.equal(seen.writes, 1, 'all five in one write (added before it started)');
    const a = j.append('6');
    await Promise.resolve(); // the write of 6 may be under way now
    const b = j.append('7');
    const c = j.append('8');
    t.equal(b, c, 'lines added while one write is pending share the next write');
    await Promise.all([a, b, c]);
    t.ok(seen.writes <= 3, `at most two more writes for three lines (${seen.writes - 1})`);
    t.same(await j.read(), ['1', '2', '3', '4', '5', '6', '7', '8'], 'in order');
    t.equal((await readFile(path, 'utf8')).split('\n').length, 9);
    await j.close();
  },
);

t.test(
  'a line cut short by a kill (no newline after it) is left out; a missing file reads as empty',
  async (t) => {
    const { path, journal: j } = journal(t);
    t.same(await j.read(), [], 'no file yet');
    await writeFile(path, '{"a":1}\n{"b":2}\n{"c":');
    t.same(await j.read(), ['{"a":1}', '{"b":2}']);
    await j.start();
    t.same(await j.read(), [], 'start empties it');
    await j.close();
  },
);

t.test(
  'once due, the journal is compacted (whole state written elsewhere) and starts again empty',
  async (t) => {
    const { path, journal: j, seen } = journal(t, 3);
    await j.start();
    await j.append('1');
    await j.append('2');
    t.equal(seen.compactions, 0);
    await j.append('3');
    t.equal(seen.compactions, 1);
    t.same(
      seen.compacted[0],
      ['1', '2', '3'],
      'compact runs with every line written, before the journal is emptied',
    );
    t.equal(await readFile(path, 'utf8'), '');
    t.equal(j.lines, 0);
    await j.append('4');
    t.equal(
      await readFile(path, 'utf8'),
      '4\n',
      'the next line goes at the start of the emptied file',
    );
    await j.close();
  },
);

t.test(
  'close waits for the writes under way, leaves the lines for the next read, and is idempotent',
  async (t) => {
    const { path, journal: j, seen } = journal(t);
    await j.start();
    const pending = j.append('1');
    await j.close();
    await pending;
    t.equal(seen.compactions, 0, 'closing writes nothing more');
    t.equal(await readFile(path, 'utf8'), '1\n');
    await j.close();
    await t.rejects(j.append('2'), /not open/, 'nothing is written after close');
    t.same(await j.read(), ['1']);
  },
);
