// The budgets for nicks new to the table, per source address and for everyone, so one host cannot
// fill the table with junk nor many make the registry push whole tables to crowds of newcomers;
// the budgets for unchecked requests answered (hellos above all), so that a flood of them
// takes a bounded share of the CPU; and the rate of datagrams taken from each source address.
import type { Budget } from '../store/store.js';
import type { Address } from '../transport/address.js';
import { WindowBudget, windowSeconds } from '../util/rate-limiter.js';
import { localBudget, spent, type MakeBudget } from './budgets.js';

/** The budgets for nicks new to the table (the registry's `newNicksPerAddress`, `newNicks`, `newNickWindowMs`). */
export interface NewNickOptions {
  /** New nicks per window from one source address (all its ports together). */
  perAddress: number;
  /** New nicks per window from everyone; at most a tenth of it in any tenth of the window. */
  overall: number;
  /** The window, rounded to whole seconds (at least one). */
  windowMs: number;
}

/** Which budget a new nick would overspend. */
export type NewNickBudget = 'address' | 'overall';

/**
 * Admission of nicks new to the table: one budget per source address, and one for everyone,
 * spread out by a burst budget of a tenth of it per tenth of the window, so that a host
 * cannot fill the table with junk, nor many hosts make the registry push whole tables to
 * hundreds of newcomers at once. A nick the table holds always comes back: the registry
 * asks only for new ones.
 *
 * Each budget is a fixed window per key, opened by its first use, in whole seconds (a use past
 * the budget is refused and still spends). The per-address and overall ones are made by
 * `make`, so the nodes on one Redis spend from the same budgets (see budgets.ts): the table
 * they guard is theirs together. The burst budget is each node's: it spreads out the whole
 * tables that node pushes to its newcomers. A nick refused by its address's budget spends
 * nothing of the others; one refused by the burst budget spends nothing of the overall one.
 */
export class NewNickAdmission {
  /** Nicks refused so far (the registry's `stats.newNicksRefused`). */
  refused = 0;
  readonly #perAddress: Budget;
  readonly #burst: Budget;
  readonly #overall: Budget;

  constructor(options: NewNickOptions, make: MakeBudget = localBudget) {
    const seconds = windowSeconds(options.windowMs);
    this.#perAddress = make('new-nicks-address', options.perAddress, seconds);
    this.#overall = make('new-nicks', options.overall, seconds);
    // The burst budget spreads the newcomers each node pushes whole tables to: its own.
    this.#burst = localBudget(
      'new-nicks-burst',
      Math.max(1, Math.ceil(options.overall / 10)),
      Math.max(1, Math.round(seconds / 10)),
    );
  }

  /** Spends one new nick from `from`; says which budget it would overspend (and counts it refused), or nothing when admitted. */
  async admit(from: Address): Promise<NewNickBudget | undefined> {
    const verdict = (await spent(this.#perAddress, from.address))
      ? 'address'
      : (await spent(this.#burst, ALL)) || (await spent(this.#overall, ALL))
        ? 'overall'
        : undefined;
    if (verdict) this.refused++;
    return verdict;
  }
}

/** The hello budgets (the registry's `hellosPerAddress`, `hellos`, `helloWindowMs`). */
export interface HelloOptions {
  /** Hellos answered per window from one source address (all its ports together). */
  perAddress: number;
  /** Hellos answered per window from everyone. */
  overall: number;
  /** The window, rounded to whole seconds (at least one). */
  windowMs: number;
}

/**
 * Admission of the requests the registry answers unchecked: hellos, and heartbeats from nicks
 * the table does not hold (see request-keys.ts). Anyone may send one, from any source address,
 * and each answer costs an Ed25519 signature. Past its address's budget or everyone's, such a
 * request is dropped unanswered (its sender tries again, as after a loss): a flood of them
 * takes a bounded share of the registry's CPU, and one from a few hosts leaves every other
 * address its own budget. One refused by its address's budget spends nothing of everyone's.
 * Fixed windows (rate-limiter-flexible), of a second by default, kept by each node: what they
 * guard is its own CPU.
 */
export class HelloAdmission {
  /** Requests dropped so far (the registry's `stats.hellosDropped`). */
  dropped = 0;
  readonly #perAddress: Budget;
  readonly #overall: Budget;

  constructor(options: HelloOptions) {
    const seconds = windowSeconds(options.windowMs);
    this.#perAddress = localBudget('hellos-address', options.perAddress, seconds);
    this.#overall = localBudget('hellos', options.overall, seconds);
  }

  /** Spends one unchecked request from `from`: whether it is answered. */
  async admit(from: Address): Promise<boolean> {
    const over = (await spent(this.#perAddress, from.address)) || (await spent(this.#overall, ALL));
    if (over) this.dropped++;
    return !over;
  }
}

/** The refusal's text for each budget (the registry answers it as TRY_LATER). */
export function newNickRefusal(budget: NewNickBudget): string {
  return budget === 'address'
    ? 'too many new nicks from this address: wait a minute'
    : 'the registry takes few new nicks at the moment: try again in a minute';
}

/** The one key of the budgets everyone shares. */
const ALL = 'all';

/**
 * One budget per source address (all its ports together: a sender picks its port at will), so
 * a flood from one address cannot starve the others. Spent at once (`WindowBudget`, in
 * rate-limiter-flexible's storage): this is every datagram's path, and the endpoint goes on
 * with a datagram admitted without waiting on a promise.
 */
export function rateLimiter(perSecond: number): (from: Address) => boolean {
  const budget = new WindowBudget({ points: perSecond, windowMs: 1000 });
  return (from) => budget.spend(from.address);
}
