import t from 'tap';
import { eachAtMost } from '../../src/util/at-most.js';
import { settle } from '../helpers/settle.js';

/** Work whose steps wait for the test: `started` in order, each ended by hand. */
function held() {
  const started: number[] = [];
  const ends = new Map<number, { resolve(): void; reject(error: Error): void }>();
  const work = (item: number) =>
    new Promise<void>((resolve, reject) => {
      started.push(item);
      ends.set(item, { resolve, reject });
    });
  const end = (item: number) => ends.get(item)!.resolve();
  const fail = (item: number) => ends.get(item)!.reject(new Error(`step ${item} failed`));
  return { started, work, end, fail };
}

t.test('in order, never more than atMost under way, each as a place frees', async (t) => {
  const { started, work, end } = held();
  let done = false;
  const all = eachAtMost([0, 1, 2, 3, 4], 2, work).then(() => (done = true));
  await settle();
  t.same(started, [0, 1], 'two at once');
  end(1);
  await settle();
  t.same(started, [0, 1, 2], 'the next as one ends, whichever');
  end(0);
  end(2);
  await settle();
  t.same(started, [0, 1, 2, 3, 4]);
  t.notOk(done, 'not done while a step is under way');
  end(3);
  end(4);
  await all;
  t.ok(done);
  await eachAtMost([], 3, work); // nothing to do: done at once
  t.same(started, [0, 1, 2, 3, 4]);
});

t.test('a step that fails: no more start, and the whole rejects with its error', async (t) => {
  const { started, work, end, fail } = held();
  const all = eachAtMost([0, 1, 2, 3], 2, work);
  await settle();
  fail(0);
  await t.rejects(all, /step 0 failed/);
  end(1);
  await settle();
  t.same(started, [0, 1], 'nothing started after the failure');
});

t.test('stop(): no more start, and the whole resolves once those under way end', async (t) => {
  const { started, work, end } = held();
  let stopped = false;
  const all = eachAtMost([0, 1, 2, 3], 2, work, () => stopped);
  await settle();
  stopped = true;
  end(0);
  end(1);
  await all;
  t.same(started, [0, 1]);
});

t.test('atMost below one still works through the list, one at a time', async (t) => {
  const { started, work, end } = held();
  const all = eachAtMost([0, 1], 0, work);
  await settle();
  t.same(started, [0]);
  end(0);
  await settle();
  end(1);
  await all;
  t.same(started, [0, 1]);
});
