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
  t.same(['a', 'b', 'c', 'd', 'e'].map((key) => window.has(key)), [false, false, true, true, true]);
  window.delete('e');
  window.clear();
  t.equal(window.size, 0);
});
