import t from 'tap';
import { WindowBudget, windowSeconds } from '../../src/util/rate-limiter.js';

t.test('a budget per key: so many uses a window, spent at once', async (t) => {
  // A window far longer than the test runs: what is asserted never depends on how fast it runs.
  const budget = new WindowBudget({ points: 2, windowMs: 60_000 });
  t.same(
    [budget.spend('bob'), budget.spend('bob'), budget.spend('bob'), budget.spend('bob')],
    [true, true, false, false],
    'two uses, then refused for the rest of the window',
  );
  t.equal(budget.spend('carol'), true, "another key's budget is its own");
});

t.test('a new window once the last has passed', async (t) => {
  const budget = new WindowBudget({ points: 1, windowMs: 1000 });
  t.equal(budget.spend('bob'), true);
  // Only that the window has ended once more than its length has passed (however late this wakes).
  await new Promise((resolve) => setTimeout(resolve, 1200));
  t.equal(budget.spend('bob'), true, 'the window that refused it is over');
});

t.test('windows are whole seconds, at least one', async (t) => {
  t.same([0, 400, 1000, 1499, 1500, 60_000].map(windowSeconds), [1, 1, 1, 1, 2, 60]);
});
