// Budgets of so many uses per fixed window, per key (rate-limiter-flexible): kept in this process,
// or, when the store offers it, in the store, so every node of a cluster spends from one budget.
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Budget, Store } from '../store/store.js';

/** A budget named `name` of `points` uses per fixed window of `seconds`, per key. */
export type MakeBudget = (name: string, points: number, seconds: number) => Budget;

/** A budget this process alone keeps. */
export const localBudget: MakeBudget = (_name, points, seconds) =>
  new RateLimiterMemory({ points, duration: seconds });

/** Budgets shared through `store` when it can keep them (the nodes on one Redis), else local ones. */
export function budgetsIn(store: Pick<Store, 'budget'>): MakeBudget {
  return (name, points, seconds) =>
    store.budget?.(name, points, seconds) ?? localBudget(name, points, seconds);
}

/** Whether `key` has overspent `budget` (it spends one point either way). */
export const spent = (budget: Budget, key: string): Promise<boolean> =>
  budget.consume(key).then(
    () => false,
    () => true,
  );
