import type { Clock } from '../../src/util/clock.js';

/**
 * A clock whose time moves, and whose timeouts and intervals run, only when the test moves it
 * on; `log` records each interval started (`start <ms>`) and stopped (`stop`).
 */
export function fakeClock(start = 0) {
  let now = start;
  let next = 0;
  const due = new Map<number, { at: number; every?: number; run: () => void }>();
  const log: string[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: (run, ms) => {
      due.set(++next, { at: now + ms, run });
      return next;
    },
    clearTimeout: (handle) => void due.delete(handle as number),
    setInterval: (run, every) => {
      due.set(++next, { at: now + every, every, run });
      log.push(`start ${every}`);
      return next;
    },
    clearInterval: (handle) => {
      if (due.delete(handle as number)) log.push('stop');
    },
  };
  return {
    clock,
    log,
    get now(): number {
      return now;
    },
    /** Runs, in time order, every timer that falls due within the next `ms`. */
    advance(ms: number): void {
      const until = now + ms;
      for (;;) {
        let first: [number, { at: number; every?: number; run: () => void }] | undefined;
        for (const timer of due)
          if (timer[1].at <= until && (!first || timer[1].at < first[1].at)) first = timer;
        if (!first) break;
        const [handle, timer] = first;
        now = timer.at;
        if (timer.every === undefined) due.delete(handle);
        else timer.at += timer.every;
        timer.run();
      }
      now = until;
    },
    /** Timeouts and intervals armed. */
    get pending(): number {
      return due.size;
    },
    /** The period of each interval running. */
    get intervals(): number[] {
      return [...due.values()].flatMap((timer) => (timer.every === undefined ? [] : [timer.every]));
    },
  };
}
