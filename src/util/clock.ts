// The time and timers a module waits with, handed in so that unit tests pass a fake one that
// moves only when the test moves it. Each module takes the part it uses (`Timeouts`,
// `Intervals`, `Clock`).

export interface Timeouts {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface Intervals {
  setInterval(run: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface Clock extends Timeouts, Intervals {
  now(): number;
}

/** `Date.now` and node's timers; `unref`: a timer keeps no process alive. */
export function nodeClock({ unref }: { unref: boolean }): Clock {
  const held = <T extends NodeJS.Timeout>(timer: T) => (unref ? timer.unref() : timer);
  return {
    now: () => Date.now(),
    setTimeout: (run, ms) => held(setTimeout(run, ms)),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    setInterval: (run, ms) => held(setInterval(run, ms)),
    clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  };
}

/**
 * Settles when `work` does (either way), or after `ms`, whichever comes first; the timer is
 * cleared when `work` wins. Never rejects.
 */
export function settleWithin(work: Promise<unknown>, ms: number, timers: Timeouts): Promise<void> {
  return new Promise<void>((done) => {
    const timer = timers.setTimeout(done, ms);
    const finish = () => {
      timers.clearTimeout(timer);
      done();
    };
    work.then(finish, finish);
  });
}
