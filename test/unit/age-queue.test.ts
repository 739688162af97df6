import t from 'tap';
import { AgeQueue } from '../../src/util/age-queue.js';

/** A queue over a Map of key → time added, as a window keeps one. */
function setup() {
  const map = new Map<string, number>();
  const queue = new AgeQueue<number>((key, at) => map.get(key) === at);
  let clock = 0;
  const add = (key: string) => {
    map.set(key, ++clock);
    queue.push(key, clock);
  };
  return { map, queue, add };
}

t.test(
  'the oldest current key first; deleted keys and earlier places of re-added ones skipped',
  async (t) => {
    const { map, queue, add } = setup();
    t.equal(queue.oldest(), undefined, 'empty');
    for (const key of ['a', 'b', 'c']) add(key);
    t.equal(queue.oldest(), 'a');
    map.delete('a');
    t.equal(queue.oldest(), 'b', 'a deleted: skipped');
    map.delete('b');
    add('b'); // added again: now the newest
    t.equal(queue.oldest(), 'c', "b's first place is stale");
    map.delete('c');
    t.equal(queue.oldest(), 'b');
    t.equal(queue.firstToken(), 4, "the oldest place's token: b's second place, the head now");
    queue.clear();
    t.equal(queue.firstToken(), undefined, 'none once cleared');
    t.equal(queue.oldest(), undefined, 'cleared');
  },
);

t.test('visit goes oldest first over current keys while told to', async (t) => {
  const { map, queue, add } = setup();
  for (const key of ['a', 'b', 'c', 'd']) add(key);
  map.delete('b');
  const seen: string[] = [];
  queue.visit((key) => {
    seen.push(key);
    if (key === 'a') map.delete(key); // the visit may delete what it visits
    return key !== 'c';
  });
  t.same(seen, ['a', 'c'], 'b skipped, stopped after c');
  t.equal(queue.oldest(), 'c', 'the head moved past what the visit deleted');
});

t.test('property: against the Map itself, the oldest is always its first key', async () => {
  const { default: fc } = await import('fast-check');
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 4000 }),
      (operations) => {
        const { map, queue, add } = setup();
        for (const [adding, n] of operations) {
          const key = `k${n}`;
          if (adding) {
            map.delete(key); // re-added: to the back, as a Map moves a key deleted and set again
            add(key);
          } else map.delete(key);
          if (queue.oldest() !== map.keys().next().value) return false;
        }
        return true;
      },
    ),
    { numRuns: 200 },
  );
});

t.test('a long queue lets go of what is behind its head and keeps its order', async (t) => {
  const { map, queue, add } = setup();
  for (let i = 0; i < 5000; i++) {
    add(`k${i}`);
    if (i >= 3) map.delete(`k${i - 3}`); // three live at a time
  }
  t.equal(queue.oldest(), 'k4997');
  map.delete('k4997');
  t.equal(queue.oldest(), 'k4998');
});
