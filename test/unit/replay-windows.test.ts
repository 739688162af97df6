import fc from 'fast-check';
import t from 'tap';
import { REPLAY_WINDOW, ReplayWindows } from '../../src/transport/replay-windows.js';

// The replay window of each sender's session: every number taken once, in any order within the
// window; none older; windows forgotten only once all they took is stale.

const TTL = 121_000;

function windows(maxWindows = 10) {
  let now = 1_000_000;
  const set = new ReplayWindows({ ttlMs: TTL, maxWindows, now: () => now });
  return { set, advance: (ms: number) => void (now += ms) };
}

t.test('each number once, out of order within the window, none below it', async (t) => {
  const { set } = windows();
  t.equal(set.admit('alice|s1', 5), 'added');
  t.equal(set.admit('alice|s1', 5), 'seen', 'the same number again');
  t.equal(set.admit('alice|s1', 3), 'added', 'an earlier one not taken yet');
  t.equal(set.admit('alice|s1', 3), 'seen');
  t.equal(set.admit('alice|s1', 4), 'added');
  t.equal(set.admit('bob|s1', 5), 'added', "another sender's window");
  t.equal(set.admit('alice|s2', 5), 'added', 'another session');
  t.equal(set.admit('alice|s1', 5 + REPLAY_WINDOW), 'added', 'far ahead');
  t.equal(set.admit('alice|s1', 5), 'seen', 'taken, and now below the window');
  t.equal(set.admit('alice|s1', 1), 'seen', 'never taken, but too old to tell: refused');
  t.equal(set.admit('alice|s1', 6), 'added', 'the oldest the window still tells apart');
  t.equal(set.admit('alice|s1', 6), 'seen');
});

t.test('below the floor its sender names, a number not taken is refused too', async (t) => {
  const { set } = windows();
  for (const n of [0, 1, 4, 6]) t.equal(set.admit('a|s', n), 'added');
  set.raise('a|s', 5);
  t.equal(set.admit('a|s', 2), 'seen', 'never taken, but below the floor');
  t.equal(set.admit('a|s', 3), 'seen');
  t.equal(set.admit('a|s', 5), 'added', 'at the floor: still told apart');
  t.equal(set.admit('a|s', 7), 'added', 'above it');
  set.raise('a|s', 4);
  t.equal(set.admit('a|s', 8), 'added', 'a lower floor named later does not lower it');
  set.raise('a|s', 100);
  t.equal(set.admit('a|s', 8), 'seen', 'the floor never passes the highest number taken');
  t.equal(set.admit('a|s', 9), 'added', '(8 is that highest)');
  set.raise('b|s', 100);
  t.equal(set.admit('b|s', 0), 'added', 'no window yet: nothing to raise');
  t.equal(set.admit('a|s', 9), 'seen');
});

t.test('a jump past the window clears what the numbers skipped held', async (t) => {
  const { set } = windows();
  for (let n = 0; n < 10; n++) t.equal(set.admit('a|s', n), 'added');
  // Past the window: the bits of 0..9 are the bits of these numbers, and none of them was taken.
  t.equal(set.admit('a|s', 3 * REPLAY_WINDOW + 20), 'added');
  for (let n = 2 * REPLAY_WINDOW + 21; n < 2 * REPLAY_WINDOW + 31; n++)
    t.equal(set.admit('a|s', n), 'added', `number ${n} was never taken`);
});

t.test('property: the same answers as a set of every number taken', async () => {
  fc.assert(
    fc.property(
      // A sender's numbers as they could arrive: rising, some late (within the window and past
      // it), some again; long enough to wrap the window several times.
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 3 }),
          fc.oneof(
            fc.integer({ min: -8, max: 0 }),
            fc.integer({ min: -Math.round(1.2 * REPLAY_WINDOW), max: 0 }),
          ),
        ),
        { maxLength: 4000, size: 'max' },
      ),
      (steps) => {
        const { set } = windows();
        const taken = new Set<number>();
        let top = -1;
        let base = 0;
        for (const [step, late] of steps) {
          base += step;
          const n = Math.max(0, base + late);
          const expected = n > top || (top - n < REPLAY_WINDOW && !taken.has(n)) ? 'added' : 'seen';
          if (set.admit('a|s', n) !== expected) return false;
          if (expected === 'added') taken.add(n);
          top = Math.max(top, n);
        }
        return true;
      },
    ),
    { numRuns: 200 },
  );
});

t.test('a full set refuses new windows; one unused past its time is forgotten', async (t) => {
  const { set, advance } = windows(2);
  t.equal(set.admit('a|s', 0), 'added');
  t.equal(set.admit('b|s', 0), 'added');
  t.equal(set.admit('c|s', 0), 'full', 'no room: refused, none forgotten');
  t.equal(set.admit('a|s', 0), 'seen', 'the windows held still know what they took');
  t.equal(set.admit('a|s', 1), 'added', 'and take what is new');
  advance(TTL);
  t.equal(set.admit('a|s', 2), 'added', 'used again: its time starts over');
  advance(10_001);
  // b was unused for its time and the refresh margin; a was used 10 s ago.
  t.equal(set.admit('c|s', 0), 'added', 'room once an unused window is forgotten');
  t.equal(set.size, 2);
  t.equal(set.admit('a|s', 2), 'seen', 'the window in use was kept');
});

t.test('a window in steady use is never forgotten', async (t) => {
  const { set, advance } = windows(1);
  for (let n = 0; n < 100; n++) {
    t.equal(set.admit('a|s', n), 'added');
    advance(5_000);
  }
  t.equal(set.admit('b|s', 0), 'full', 'still in use after 500 s: the one window stays');
  t.equal(set.admit('a|s', 0), 'seen', 'and still refuses what it took long ago');
});

t.test('windows in steady use, with no new one for days, hold a few places each', async (t) => {
  const { set, advance } = windows(100);
  const keys = Array.from({ length: 50 }, (_, i) => `nick${i}|s`);
  // Three days of a request every 5 s from each: a place each time a window's moves.
  for (let n = 0; n < (3 * 86_400) / 5; n++) {
    for (const key of keys) set.admit(key, n);
    advance(5_000);
  }
  t.equal(set.size, 50);
  t.ok(set.places <= 2 * 1024 + 2 * keys.length, `${set.places} places held`);
});
