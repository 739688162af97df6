import t from 'tap';
import { WindowBudget } from '../../src/util/rate-limiter.js';

t.test(
  'a budget per key: so many uses a window, spent at once, and a new window later',
  async (t) => {
    const budget = new WindowBudget({ points: 2, seconds: 1 });
    t.same(
      [budget.spend('bob'), budget.spend('bob'), budget.spend('bob'), budget.spend('bob')],
      [true, true, false, false],
      'two uses, then refused for the rest of the window',
    );
    t.equal(budget.spend('carol'), true, "another key's budget is its own");
    // Only that the window has ended once more than its length has passed (however late this wakes).
    await new Promise((resolve) => setTimeout(resolve, 1200));
    t.same([budget.spend('bob'), budget.spend('bob'), budget.spend('bob')], [true, true, false]);
  },
);
