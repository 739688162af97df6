import t from 'tap';
import { Keepalives, type KeptPeer } from '../../src/client/keepalives.js';
import type { Address } from '../../src/transport/address.js';
import type { RetryBudget } from '../../src/transport/retry.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { nextTurns } from '../helpers/settle.js';

const TIMINGS = { keepaliveMs: 15_000, idleMs: 300_000, punchTimeoutMs: 500, punchTries: 5 };
const BOB: Address = { address: '198.51.100.7', port: 4000 };

interface Settle {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Keepalives on a fake clock; each punch waits for the test to answer or refuse it. */
function harness() {
  const time = fakeClock(0);
  const punches: Array<{ peer: string; to: Address; tries: RetryBudget; settle: Settle }> = [];
  const closedStates: KeptPeer[] = [];
  const counters = { punches: 0 };
  let pathsClosed = false;
  const keepalives: Keepalives<KeptPeer> = new Keepalives<KeptPeer>({
    client: {
      clock: time.clock,
      punch: (peer, to, tries) =>
        new Promise<void>((resolve, reject) =>
          punches.push({ peer, to, tries, settle: { resolve, reject } }),
        ),
    },
    timings: TIMINGS,
    counters,
    closed: () => pathsClosed,
    close: (state) => {
      closedStates.push(state);
      state.open = undefined;
      keepalives.stop(state);
    },
  });
  return {
    time,
    punches,
    closedStates,
    counters,
    keepalives,
    closePaths: () => void (pathsClosed = true),
  };
}

t.test(
  'a punch every keepaliveMs while the path was used within idleMs; unused longer, it is closed',
  async (t) => {
    const h = harness();
    const state: KeptPeer = { open: { address: BOB, usedAt: 0 } };
    h.keepalives.start('bob', state);
    t.same(h.time.intervals, [TIMINGS.keepaliveMs]);
    h.time.advance(TIMINGS.keepaliveMs);
    t.equal(h.punches.length, 1, 'a keepalive punch');
    t.match(h.punches[0], { peer: 'bob', to: BOB, tries: { timeoutMs: 100, tries: 5 } });
    t.equal(h.counters.punches, 1, 'counted');
    for (const punch of h.punches) punch.settle.resolve();
    h.time.advance(TIMINGS.idleMs - TIMINGS.keepaliveMs); // at idleMs exactly: still kept
    t.equal(h.punches.length, TIMINGS.idleMs / TIMINGS.keepaliveMs);
    t.same(h.closedStates, [], 'not closed while used within idleMs');
    h.time.advance(TIMINGS.keepaliveMs);
    t.equal(h.punches.length, TIMINGS.idleMs / TIMINGS.keepaliveMs, 'no punch once idle');
    t.equal(h.closedStates.length, 1, 'the idle path is closed');
    t.same(h.time.intervals, [], 'and its keepalive stopped');
  },
);

t.test(
  'an unanswered keepalive closes the path it went on, not one opened since; a second start replaces the first',
  async (t) => {
    const h = harness();
    const state: KeptPeer = { open: { address: BOB, usedAt: 0 } };
    h.keepalives.start('bob', state);
    h.keepalives.start('bob', state);
    t.same(h.time.intervals, [TIMINGS.keepaliveMs], 'one keepalive per path');
    h.time.advance(TIMINGS.keepaliveMs);
    state.open = { address: { address: '203.0.113.9', port: 5000 }, usedAt: h.time.now };
    h.punches[0].settle.reject(new Error('unanswered'));
    await nextTurns();
    t.same(h.closedStates, [], 'another path opened meanwhile: it stays');
    h.time.advance(TIMINGS.keepaliveMs);
    t.same(h.punches[1].to, { address: '203.0.113.9', port: 5000 }, 'kept alive where it is now');
    h.punches[1].settle.reject(new Error('unanswered'));
    await nextTurns();
    t.same(h.closedStates, [state], 'unanswered on the path it went on: closed');
    t.same(h.time.intervals, []);
  },
);

t.test(
  'once the paths are closed, a keepalive stops at its next tick, punching nothing',
  async (t) => {
    const h = harness();
    const state: KeptPeer = { open: { address: BOB, usedAt: 0 } };
    h.keepalives.start('bob', state);
    h.closePaths();
    h.time.advance(TIMINGS.keepaliveMs);
    t.equal(h.punches.length, 0);
    t.same(h.time.intervals, []);
    t.equal(state.keepalive, undefined);
    t.same(h.closedStates, [], 'stopped, not closed');
  },
);
