import t from 'tap';
import { Pacer, type PacerContext } from '../../src/registry/pacer.js';
import { fakeClock } from '../helpers/fake-clock.js';

/**
 * A pacer over a fake clock, as the registry sets one up: `change()` is a change made (it joins
 * the next round, then asks for one); `rounds` holds, per round sent, when it went and the
 * changes it carried.
 */
function setup(
  settings: Partial<Pick<PacerContext, 'delayMs' | 'intervalMs' | 'burst'>> = {},
  served = 1,
) {
  const time = fakeClock(1_000_000);
  let changed: string[] = [];
  const rounds: Array<{ at: number; changes: string[] }> = [];
  const state = { served };
  const pacer = new Pacer(
    {
      delayMs: settings.delayMs ?? 0,
      intervalMs: settings.intervalMs ?? 50,
      burst: settings.burst ?? 10,
      served: () => state.served,
      pending: () => changed.length > 0,
      round: () => {
        rounds.push({ at: time.now, changes: changed });
        changed = [];
      },
    },
    time.clock,
  );
  const change = (what: string) => {
    changed.push(what);
    pacer.request();
  };
  return { pacer, time, rounds, change, state, start: time.now };
}

t.test(
  'a burst of rounds goes at once (each at the end of its turn), then rounds are spaced by the interval',
  async (t) => {
    const { time, rounds, change, start } = setup({ intervalMs: 50, burst: 10 });
    for (let i = 0; i < 12; i++) {
      change(`c${i}`);
      time.advance(0);
    }
    t.equal(rounds.length, 10, 'the burst: ten rounds, none held');
    t.ok(
      rounds.every((round) => round.at === start),
      'all at once',
    );
    t.equal(time.pending, 1, 'the eleventh is armed, waiting');
    time.advance(49);
    t.equal(rounds.length, 10, 'not before one interval');
    time.advance(1);
    t.equal(rounds.length, 11);
    t.same(
      rounds[10],
      { at: start + 50, changes: ['c10', 'c11'] },
      'the change made while it waited joined it',
    );
    change('c12');
    time.advance(49);
    t.equal(rounds.length, 11);
    time.advance(1);
    t.same(rounds[11], { at: start + 100, changes: ['c12'] }, 'the next, one interval later');
  },
);

t.test('changes made while a round waits join that one round', async (t) => {
  const { time, rounds, change, start } = setup({ intervalMs: 50, burst: 1 });
  change('a');
  time.advance(0);
  t.same(rounds, [{ at: start, changes: ['a'] }]);
  for (const what of ['b', 'c', 'd']) {
    change(what);
    time.advance(10);
  }
  t.equal(time.pending, 1, 'one round armed, however many changes');
  time.advance(100);
  t.same(rounds, [
    { at: start, changes: ['a'] },
    { at: start + 50, changes: ['b', 'c', 'd'] },
  ]);
  t.equal(time.pending, 0);
});

t.test('the interval grows with the clients a round goes to, at least once', async (t) => {
  const { pacer, state } = setup({ intervalMs: 50 }, 0);
  t.equal(pacer.interval(), 50, 'no clients: one interval');
  state.served = 100;
  t.equal(pacer.interval(), 50);
  state.served = 250;
  t.equal(pacer.interval(), 125, 'every 100 more, one interval more');
  state.served = 1000;
  t.equal(pacer.interval(), 500);
});

t.test('with more clients served, the rounds past the burst wait longer', async (t) => {
  const { time, rounds, change, start } = setup({ intervalMs: 50, burst: 1 }, 400);
  change('a');
  time.advance(0);
  change('b');
  time.advance(199);
  t.equal(rounds.length, 1, '400 clients: 4 intervals, 200 ms');
  time.advance(1);
  t.same(
    rounds.map((round) => round.at - start),
    [0, 200],
  );
});

t.test('the pace recovers: after a quiet spell a burst goes at once again', async (t) => {
  const { time, rounds, change, start } = setup({ intervalMs: 50, burst: 3 });
  for (let i = 0; i < 3; i++) {
    change(`a${i}`);
    time.advance(0);
  }
  t.equal(rounds.length, 3);
  time.advance(150);
  for (let i = 0; i < 3; i++) {
    change(`b${i}`);
    time.advance(0);
  }
  t.same(
    rounds.map((round) => round.at - start),
    [0, 0, 0, 150, 150, 150],
    'three intervals later, three at once',
  );
});

t.test('every round waits delayMs at least; an interval of 0 never spaces them', async (t) => {
  const { time, rounds, change, start } = setup({ delayMs: 20, intervalMs: 0, burst: 1 });
  for (let i = 0; i < 5; i++) {
    change(`c${i}`);
    time.advance(19);
    t.equal(rounds.length, i, 'held for delayMs');
    time.advance(1);
  }
  t.same(
    rounds.map((round) => round.at - start),
    [20, 40, 60, 80, 100],
  );
});

t.test('a round with nothing to carry is not sent and spends nothing of the pace', async (t) => {
  const time = fakeClock(1_000_000);
  let sent = 0;
  const pacer = new Pacer(
    {
      delayMs: 0,
      intervalMs: 50,
      burst: 1,
      served: () => 1,
      pending: () => sent === 0 || sent > 100,
      round: () => void sent++,
    },
    time.clock,
  );
  pacer.request();
  time.advance(0);
  t.equal(sent, 1);
  pacer.request(); // nothing pending when it falls due
  time.advance(1000);
  t.equal(sent, 1, 'skipped');
  t.equal(time.pending, 0);
});

t.test('close() stops the armed round and any later one, and may be called twice', async (t) => {
  const { pacer, time, rounds, change } = setup({ intervalMs: 50, burst: 1 });
  change('a');
  time.advance(0);
  change('b');
  t.equal(time.pending, 1);
  pacer.close();
  t.equal(time.pending, 0, 'the armed round is cleared');
  change('c');
  t.equal(time.pending, 0, 'nothing armed after close');
  time.advance(1000);
  t.equal(rounds.length, 1, 'only the round sent before close');
  pacer.close();
});
