import t from 'tap';
import {
  BirthdayRound,
  SocketBudget,
  type BirthdayContext,
  type BirthdayTimings,
} from '../../src/client/birthday.js';
import type { RetryBudget } from '../../src/transport/retry.js';
import { fakeClock } from '../helpers/fake-clock.js';

const TIMINGS: BirthdayTimings = {
  birthdayMs: 3_000,
  birthdaySockets: 4,
  birthdayTries: 4,
  birthdayProbes: 8,
  birthdayBatch: 4,
  birthdayGapMs: 20,
};

/** A round for bob at `table`, on a fake clock: what it punches goes to `punch`, its sockets from `openSockets`. */
function roundOf(
  time: ReturnType<typeof fakeClock>,
  timings: BirthdayTimings,
  parts: Pick<BirthdayContext, 'punch' | 'openSockets'>,
  table = { address: '198.51.100.7', port: 4000 },
): BirthdayRound {
  return new BirthdayRound(
    {
      clock: time.clock,
      ...parts,
      closeSocket: () => {},
      budget: new SocketBudget(16),
      through: () => {},
      punched: () => {},
      timedOut: () => {},
    },
    timings,
    { nick: 'bob', table },
  );
}

t.test(
  "the symmetric side's punches are spread over the time left once its sockets are open, so the last one's answer lands within the round",
  async (t) => {
    const time = fakeClock(10_000);
    let opened: (ports: number[]) => void = () => {};
    const punches: RetryBudget[] = [];
    const round = roundOf(time, TIMINGS, {
      punch: async (_peer, _to, tries) => void punches.push(tries),
      openSockets: () => new Promise<number[]>((resolve) => (opened = resolve)),
    });
    round.start('sockets');
    time.advance(1_400); // opening the sockets took 1.4 s of the 3 s round (a loaded machine)
    opened([50_001, 50_002, 50_003, 50_004]);
    await new Promise((resolve) => setImmediate(resolve));
    t.equal(punches.length, 4, 'one punch per socket');
    // 1.6 s left over 4 tries: sends at 1.4, 1.8, 2.2 and 2.6 s; the last has 400 ms for its answer.
    // Spread over the whole 3 s (750 ms each), the last would go at 3.65 s, after the end.
    t.same(punches[0], { timeoutMs: 400, tries: 4 });
    const lastSentAt = 1_400 + punches[0].timeoutMs * (punches[0].tries - 1);
    t.ok(
      TIMINGS.birthdayMs - lastSentAt >= (TIMINGS.birthdayMs - 1_400) / 4,
      'a quarter of what was left',
    );
    round.end(undefined);
  },
);

t.test(
  "the consistent side's random ports never include the table's, which the round before punched in vain",
  async (t) => {
    const time = fakeClock(10_000);
    const ports = new Set<number>();
    const table = { address: '198.51.100.7', port: 4000 };
    // All but 512 of the 64,512 ports: a build that may pick the table's port picks it here
    // all but once in a million or so runs.
    const timings = { ...TIMINGS, birthdayProbes: 64_000, birthdayBatch: 64_000 };
    const round = roundOf(
      time,
      timings,
      {
        punch: async (_peer, to) => void ports.add(to.port),
        openSockets: () => Promise.resolve([]),
      },
      table,
    );
    round.start('probes');
    await new Promise((resolve) => setImmediate(resolve));
    t.equal(ports.size, 64_000, 'as many distinct ports as asked');
    t.notOk(ports.has(table.port), "not the table's port");
    round.end(undefined);
  },
);
