import t from 'tap';
import {
  fitTries,
  MAX_FITTED_TRIES,
  MIN_RETRY_MS,
  spreadTries,
} from '../../src/transport/retry.js';
import { RoundTrip, RoundTrips } from '../../src/transport/round-trips.js';

t.test('RoundTrip: RFC 6298 smoothing, and its retransmission timeout', async (t) => {
  const trip = new RoundTrip();
  t.equal(trip.timeoutMs, undefined, 'nothing before the first sample');
  trip.sample(10);
  t.equal(trip.timeoutMs, 30, 'SRTT = R, RTTVAR = R/2: 10 + 4 × 5');
  trip.sample(20);
  // RTTVAR = 3/4 × 5 + 1/4 × |10 − 20| = 6.25; SRTT = 7/8 × 10 + 1/8 × 20 = 11.25
  t.equal(trip.timeoutMs, 11.25 + 4 * 6.25);
  for (let i = 0; i < 200; i++) trip.sample(4);
  const steady = trip.timeoutMs!;
  t.ok(
    steady >= 5 && steady < 5.01,
    'a steady path: SRTT converges on its round trip, RTTVAR on nothing (4 + G)',
  );
  trip.sample(-1);
  trip.sample(Number.NaN);
  t.equal(trip.timeoutMs, steady, 'a negative or non-number sample is ignored');
});

t.test(
  'RoundTrips: one estimate per path, at most maxPaths, the least recently sampled forgotten first',
  async (t) => {
    const trips = new RoundTrips(2);
    trips.sample('a', 10);
    trips.sample('b', 20);
    t.equal(trips.timeoutMs('a'), 30);
    t.equal(trips.timeoutMs('b'), 60);
    trips.sample('a', 10); // a is now the most recent
    trips.sample('c', 1);
    t.equal(trips.size, 2, 'bounded');
    t.equal(trips.timeoutMs('b'), undefined, 'the least recently sampled went');
    t.ok(trips.timeoutMs('a') !== undefined && trips.timeoutMs('c') !== undefined);
  },
);

t.test(
  'fitTries: the even share until a round trip is known, else resends fitted to it',
  async (t) => {
    t.same(fitTries(500, 3, undefined), spreadTries(500, 3), 'no round trip: as spreadTries');
    t.same(
      fitTries(500, 3, 400),
      spreadTries(500, 3),
      'a slow path: never later than the even share',
    );
    t.same(
      fitTries(500, 3, 166),
      spreadTries(500, 3),
      'one as long as the even share: the even share',
    );
    t.same(fitTries(500, 3, 150), { timeoutMs: 150, tries: 3, backoff: 2, totalMs: 500 });
    // A fast path: sends at 0, 30, 90, 210 and 450 ms (waits 30, 60, 120, 240), the last waiting to 500.
    t.same(fitTries(500, 3, 2), { timeoutMs: MIN_RETRY_MS, tries: 5, backoff: 2, totalMs: 500 });
    t.same(fitTries(500, 3, 45.2), { timeoutMs: 46, tries: 4, backoff: 2, totalMs: 500 });
    // A long budget: sends at 0, 30, 90, 210, 450, 690, 930 and 1,170 ms, then no more (the cap).
    t.same(fitTries(3000, 3, 2), {
      timeoutMs: MIN_RETRY_MS,
      tries: MAX_FITTED_TRIES,
      backoff: 2,
      totalMs: 3000,
    });
    for (const rto of [0, 1, 10, 29, 30, 31, 50, 80, 120, 166, 167, 500, 5000]) {
      const { timeoutMs, tries, backoff = 1 } = fitTries(500, 3, rto);
      let startedAt = 0;
      for (let k = 0; k < tries - 1; k++) startedAt += timeoutMs * Math.min(8, backoff ** k);
      t.ok(
        startedAt < 500,
        `rto ${rto}: every try starts within the budget (the last at ${startedAt} ms)`,
      );
      t.ok(tries >= 3, `rto ${rto}: never fewer tries than the even share (${tries})`);
      t.ok(timeoutMs >= MIN_RETRY_MS, `rto ${rto}: never sooner than MIN_RETRY_MS`);
    }
  },
);
