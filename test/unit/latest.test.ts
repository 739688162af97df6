import t from 'tap';
import { setLatest } from '../../src/util/latest.js';

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
