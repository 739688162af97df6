import t from 'tap';
import { DedupWindow } from '../../src/transport/dedup.js';

t.test('a key is a duplicate until it ages out', async (t) => {
  let now = 0;
  const window = new DedupWindow<string>({ ttlMs: 100, now: () => now });
  t.equal(window.add('a', 'reply-a'), true, 'first time: new');
  t.equal(window.add('a', 'other'), false, 'second time: duplicate');
  t.equal(window.get('a'), 'reply-a', 'keeps the first value');
  window.update('a', 'reply-a2');
  t.equal(window.get('a'), 'reply-a2');
  now = 101;
  t.equal(window.has('a'), false, 'forgotten after the ttl');
  t.equal(window.add('a', 'again'), true);
});

t.test('memory is bounded: the oldest keys go first', async (t) => {
  const window = new DedupWindow({ maxEntries: 3, ttlMs: 1e9 });
  for (const key of ['a', 'b', 'c', 'd', 'e']) window.add(key, true);
  t.equal(window.size, 3);
  t.same(
    ['a', 'b', 'c', 'd', 'e'].map((key) => window.has(key)),
    [false, false, true, true, true],
  );
  window.clear();
  t.equal(window.size, 0);
});

t.test(
  'property: against a model, within ttl and capacity nothing seen is new and nothing new is seen',
  async () => {
    const { default: fc } = await import('fast-check');
    fc.assert(
      fc.property(
        // Up to 3,000 operations: the window's queue of keys lets go of its head past 1,024.
        fc.array(
          fc.tuple(fc.constantFrom('add', 'add', 'tick', 'has'), fc.integer({ min: 0, max: 30 })),
          { maxLength: 3000 },
        ),
        fc.integer({ min: 1, max: 20 }),
        (operations, capacity) => {
          let now = 0;
          const ttl = 50;
          const window = new DedupWindow({ ttlMs: ttl, maxEntries: capacity, now: () => now });
          const model: Array<{ key: string; at: number }> = []; // insertion order, like the window
          for (const [operation, value] of operations) {
            if (operation === 'tick') {
              now += value;
              continue;
            }
            const key = `k${value}`;
            const live = model.filter((e) => now - e.at <= ttl);
            // A look-up drops a key past its time: its place in the window's queue goes stale.
            if (operation === 'has') {
              if (window.has(key) !== live.some((e) => e.key === key)) return false;
              continue;
            }
            const expected = !live.some((e) => e.key === key);
            if (window.add(key, true) !== expected) return false;
            if (expected) {
              model.splice(0, model.length, ...live, { key, at: now });
              while (model.length > capacity) model.shift();
              // An add first lets go of every entry past its time: what is left is the model.
              if (window.size !== model.length) return false;
            }
          }
          return window.size <= capacity;
        },
      ),
      { numRuns: 300 },
    );
  },
);

t.test(
  'whenFull refuse: a full window keeps every key for its time and refuses new ones',
  async (t) => {
    let now = 0;
    const window = new DedupWindow({
      ttlMs: 100,
      maxEntries: 2,
      whenFull: 'refuse',
      now: () => now,
    });
    t.equal(window.admit('a', true), 'added');
    t.equal(window.admit('b', true), 'added');
    t.equal(window.admit('c', true), 'full', 'no room: refused');
    t.equal(window.admit('a', true), 'seen', 'a is still remembered');
    now = 101;
    t.equal(window.admit('c', true), 'added', 'once a and b expired, room again');
    const evicting = new DedupWindow({ ttlMs: 100, maxEntries: 2, now: () => 0 });
    evicting.add('a', true);
    evicting.add('b', true);
    t.equal(evicting.admit('c', true), 'added', 'the default evicts the oldest');
    t.notOk(evicting.has('a'));
  },
);

t.test('with weigh, the values weigh at most maxWeight: the oldest go first', async (t) => {
  let now = 0;
  const window = new DedupWindow<string | null>({
    ttlMs: 100,
    maxWeight: 10,
    weigh: (value) => value?.length ?? 0,
    now: () => now,
  });
  t.equal(window.add('a', null), true, 'a key without its value yet weighs nothing');
  window.update('a', 'aaaa');
  t.equal(window.add('b', 'bbbb'), true);
  t.equal(window.weight, 8);
  t.equal(window.add('c', 'cccc'), true, 'room made for it');
  t.same(
    ['a', 'b', 'c'].map((key) => window.has(key)),
    [false, true, true],
    'the oldest went',
  );
  t.equal(window.weight, 8);
  window.update('b', 'bbbbbbbbb');
  t.same(
    ['b', 'c'].map((key) => window.has(key)),
    [true, false],
    'an update makes room too, by the oldest other',
  );
  t.equal(window.weight, 9);
  t.equal(window.add('d', 'dddddddddddd'), true, 'heavier than the whole budget: kept alone');
  t.same(
    ['b', 'd'].map((key) => window.has(key)),
    [false, true],
  );
  t.equal(window.weight, 12);
  now = 101;
  t.equal(window.has('d'), false, 'aged out');
  t.equal(window.weight, 0, 'and its weight with it');
  window.add('e', 'ee');
  window.clear();
  t.equal(window.weight, 0);
});

t.test(
  'a bare key and a key with a value change into each other; times count from any clock',
  async (t) => {
    let now = 1_700_000_000_000; // Date.now()-sized: entries count from the window's making
    const window = new DedupWindow<string | true>({ ttlMs: 100, now: () => now });
    t.equal(window.add('a', true), true);
    t.equal(window.get('a'), true);
    window.update('a', 'reply');
    t.equal(window.get('a'), 'reply');
    window.update('a', true);
    t.equal(window.get('a'), true);
    now += 50;
    t.equal(window.add('a', 'again'), false, 'still within its time');
    now += 51;
    t.equal(window.has('a'), false, 'aged out from when it was added, not updated');
  },
);

t.test(
  'a window that has evicted thousands of keys still goes oldest first, each key once',
  async (t) => {
    let now = 0;
    const window = new DedupWindow({ maxEntries: 3, ttlMs: 1e9, now: () => now });
    for (let i = 0; i < 5000; i++) {
      now++;
      window.add(`k${i}`, true);
    }
    t.equal(window.size, 3);
    const kept = Array.from({ length: 5000 }, (_, i) => `k${i}`).filter((key) => window.has(key));
    t.same(kept, ['k4997', 'k4998', 'k4999'], 'the last three, and no key left behind');
    window.add('k5000', true);
    t.notOk(window.has('k4997'), 'then the oldest of them goes');
    t.ok(window.has('k4998'));
    const weighed = new DedupWindow<string>({ maxWeight: 4, weigh: (v) => v.length, now: () => 0 });
    for (let i = 0; i < 3000; i++) weighed.add(`w${i}`, 'ab');
    t.same(
      ['w2997', 'w2998', 'w2999'].map((key) => weighed.has(key)),
      [false, true, true],
      'by weight too',
    );
    t.equal(weighed.weight, 4);
  },
);
