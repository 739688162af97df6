import { existsSync, readFileSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FileClaims } from '../../src/store/claims.js';

/** Claims in the test's folder on a clock the test turns; `open` makes them anew (a restart). */
function claims(t: Test, options: { max?: number } = {}) {
  const base = join(t.testdir(), 'registry');
  const clock = { now: 1_000_000 };
  const open = async () => {
    const made = new FileClaims(base, { now: () => clock.now, ...options });
    await made.open();
    t.teardown(() => made.close());
    return made;
  };
  return { base, clock, open };
}

t.test('a key is taken once, held for its seconds, then free again', async (t) => {
  const { base, clock, open } = claims(t);
  const held = await open();
  t.notOk(existsSync(`${base}.claims.jsonl`), 'a first start writes no snapshot: nothing held');
  t.equal(await held.claim('a', 10), true, 'the first claim takes it');
  t.equal(await held.claim('a', 10), false, 'held');
  t.equal(await held.claim('b', 10), true, 'another key');
  clock.now += 9_999;
  t.equal(await held.claim('a', 10), false, 'held to its last millisecond');
  clock.now += 1;
  t.equal(await held.claim('a', 10), true, 'free once its time is up, and taken again');
  t.equal(held.size, 1, 'b let go');
});

t.test(
  'what a process held, the next one holds: a restart, a kill, a torn last line',
  async (t) => {
    const { base, clock, open } = claims(t);
    const first = await open();
    await first.claim('old', 5);
    await first.claim('kept', 60);
    // Killed: not closed, so only what each claim wrote before it was confirmed is there.
    clock.now += 10_000;
    await appendFile(`${base}.claims-journal.jsonl`, '{"k":"torn","until":99999');
    const second = await open();
    t.equal(await second.claim('kept', 60), false, 'held across the restart');
    t.equal(await second.claim('old', 60), true, 'one whose time was up is not');
    t.equal(await second.claim('torn', 60), true, 'a torn line is no claim');
    // Opening wrote what it held into the snapshot and started the journal again.
    const snapshot = await readFile(`${base}.claims.jsonl`, 'utf8');
    t.match(snapshot, /"k":"kept"/);
    t.notMatch(snapshot, /"k":"old"/, 'the snapshot keeps only the keys still held');
    t.equal(
      (await readFile(`${base}.claims-journal.jsonl`, 'utf8')).trim().split('\n').length,
      2,
      'the journal has what was taken since: old and torn',
    );
  },
);

t.test('the journal is folded into the snapshot as it grows: the files stay bounded', async (t) => {
  const { base, clock, open } = claims(t);
  const held = await open();
  let taken = 0;
  for (let i = 0; i < 3_000; i++) {
    if (await held.claim(`k${i}`, 1)) taken++;
    clock.now += 10; // a hundred keys held at a time
  }
  t.equal(taken, 3_000);
  const journal = (await readFile(`${base}.claims-journal.jsonl`, 'utf8')).split('\n').length;
  t.ok(journal <= 1_001, `the journal was folded (${journal} lines)`);
  const snapshot = (await readFile(`${base}.claims.jsonl`, 'utf8')).trim().split('\n');
  t.ok(snapshot.length <= 101, `the snapshot holds the keys then held (${snapshot.length})`);
  // Each held 1 s, one taken every 10 ms: those of the last second (k2901 on) are held.
  t.equal(held.size, 99);
  // After the fold, a restart still holds them, and not the ones before.
  const again = await open();
  t.equal(await again.claim('k2999', 1), false);
  t.equal(await again.claim('k2901', 1), false);
  t.equal(await again.claim('k2900', 1), true);
});

t.test('full, a new key is refused and nothing is written; one held is still held', async (t) => {
  const { base, clock, open } = claims(t, { max: 2 });
  const held = await open();
  await held.claim('a', 10);
  await held.claim('b', 10);
  const before = await readFile(`${base}.claims-journal.jsonl`, 'utf8');
  t.equal(await held.claim('c', 10), false, 'refused');
  t.equal(await held.claim('a', 10), false);
  t.equal(await readFile(`${base}.claims-journal.jsonl`, 'utf8'), before);
  clock.now += 10_000;
  t.equal(await held.claim('c', 10), true, 'room again once the others let go');
});

t.test('claimNow decides at once and writes its line in the same turn', async (t) => {
  const { base, open } = claims(t);
  const held = await open();
  const failures: unknown[] = [];
  const failed = (error: unknown) => void failures.push(error);
  t.equal(held.claimNow('a', 10, failed), true);
  t.equal(held.claimNow('a', 10, failed), false, 'held, told at once');
  await Promise.resolve(); // one microtask on: no I/O has run, and the line is written
  t.match(readFileSync(`${base}.claims-journal.jsonl`, 'utf8'), /"k":"a"/);
  await held.close();
  const again = await open();
  t.equal(again.claimNow('a', 10, failed), false, 'held across a restart');
  t.same(failures, []);
});
