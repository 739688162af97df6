import t from 'tap';
import { setLatest } from '../../src/util/latest.js';
import fc from 'fast-check';

t.test(
  'a map kept to its latest entries: a key set again is the newest, the oldest go first',
  async (t) => {
    const map = new Map<string, number>();
    for (const [key, value] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      setLatest(map, key, value, 3);
    t.same(
      [...map],
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ],
      'within the bound: all kept, in order',
    );
    setLatest(map, 'a', 10, 3);
    t.same([...map.keys()], ['b', 'c', 'a'], 'set again: moved to the newest, nothing dropped');
    setLatest(map, 'd', 4, 3);
    t.same(
      [...map],
      [
        ['c', 3],
        ['a', 10],
        ['d', 4],
      ],
      'past the bound: the oldest dropped',
    );
    setLatest(map, 'e', 5, 1);
    t.same([...map], [['e', 5]], 'a smaller bound drops every older one');
  },
);

t.test('the oldest go first whatever else the map went through (against a list)', async (t) => {
  const key = fc.constantFrom(...'abcdefghij'.split(''));
  const step = fc.oneof(
    fc.record({ op: fc.constant('set' as const), key, kept: fc.integer({ min: 0, max: 6 }) }),
    fc.record({ op: fc.constant('delete' as const), key }),
    fc.record({ op: fc.constant('clear' as const) }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
      const map = new Map<string, number>();
      let model: string[] = [];
      steps.forEach((s, value) => {
        if (s.op === 'set') {
          setLatest(map, s.key, value, s.kept);
          model = [...model.filter((k) => k !== s.key), s.key];
          model = model.slice(Math.max(0, model.length - s.kept));
        } else if (s.op === 'delete') {
          map.delete(s.key);
          model = model.filter((k) => k !== s.key);
        } else {
          map.clear();
          model = [];
        }
        if ([...map.keys()].join() !== model.join())
          throw new Error(`${[...map.keys()].join()} ≠ ${model.join()}`);
      });
    }),
    { numRuns: 500 },
  );
  t.pass('500 runs of up to 200 steps');
});
