import type { Address } from '../transport/address.js';

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
 * Each budget is a fixed window per key, opened by its first use, as rate-limiter-flexible's
 * `RateLimiterMemory` counts (which this replaced, to take a clock): a use past the budget is
 * refused, and still spends. A nick refused by its address's budget spends nothing of the
 * others; one refused by the burst budget spends nothing of the overall one.
 */
export class NewNickAdmission {
  /** Nicks refused so far (the registry's `stats.newNicksRefused`). */
  refused = 0;
  readonly #perAddress: FixedWindows;
  readonly #burst: FixedWindows;
  readonly #overall: FixedWindows;

  constructor(options: NewNickOptions, parts: { now?: () => number } = {}) {
    const now = parts.now ?? Date.now;
    const seconds = Math.max(1, Math.round(options.windowMs / 1000));
    this.#perAddress = new FixedWindows(options.perAddress, seconds * 1000, now);
    this.#overall = new FixedWindows(options.overall, seconds * 1000, now);
    this.#burst = new FixedWindows(Math.max(1, Math.ceil(options.overall / 10)), Math.max(1, Math.round(seconds / 10)) * 1000, now);
  }

  /** Spends one new nick from `from`; says which budget it would overspend (and counts it refused), or nothing when admitted. */
  admit(from: Address): NewNickBudget | undefined {
    const refused = this.#perAddress.spend(from.address) ? undefined : 'address';
    const verdict = refused ?? (this.#burst.spend(ALL) && this.#overall.spend(ALL) ? undefined : 'overall');
    if (verdict) this.refused++;
    return verdict;
  }

  /** Source addresses with a window open (expired ones are dropped as time goes on). */
  get addressesTracked(): number {
    return this.#perAddress.size;
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

/** Up to `points` uses per key in a window of `windowMs` opened by the key's first use. */
class FixedWindows {
  readonly #windows = new Map<string, { used: number; endsAt: number }>();
  /** When expired windows are next dropped: once per window length, so memory stays bounded by the keys of about two windows. */
  #nextPurge = 0;

  constructor(
    readonly points: number,
    readonly windowMs: number,
    readonly now: () => number,
  ) {}

  /** Spends one use of `key`: true while within its budget. */
  spend(key: string): boolean {
    const now = this.now();
    this.#purge(now);
    const window = this.#windows.get(key);
    if (window && now < window.endsAt) return ++window.used <= this.points;
    this.#windows.set(key, { used: 1, endsAt: now + this.windowMs });
    return 1 <= this.points;
  }

  get size(): number {
    return this.#windows.size;
  }

  #purge(now: number): void {
    if (now < this.#nextPurge) return;
    this.#nextPurge = now + this.windowMs;
    for (const [key, window] of this.#windows) if (now >= window.endsAt) this.#windows.delete(key);
  }
}
