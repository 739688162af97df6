import t from 'tap';
import pino from 'pino';
import { Presence, SWEEP_STEP_MS } from '../../src/registry/presence.js';
import { UdpchatError } from '../../src/protocol/errors.js';
import type { ClientRecord } from '../../src/store/store.js';
import { fakeClock } from '../helpers/fake-clock.js';

const record = (nick: string, more: Partial<ClientRecord> = {}): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port: 4000,
  online: true,
  deregistered: false,
  sk: `sk-${nick}`,
  ek: `ek-${nick}`,
  ...more,
});

/**
 * Presence over a table of `records`; probes answered by those in `alive`; each delivery ends
 * once `delivered` has settled (as it settles); every call to the context recorded.
 */
function setup(
  records: ClientRecord[],
  alive: Set<string>,
  serves: (r: ClientRecord) => boolean = () => true,
  sweepProbesPerSecond = 1000,
  delivered: Promise<void> = Promise.resolve(),
) {
  const time = fakeClock(1_000_000);
  const calls: string[] = [];
  const work: Array<Promise<void>> = [];
  const presence = new Presence(
    {
      heartbeatIntervalMs: 10_000,
      missedHeartbeats: 3,
      sweepProbesPerSecond,
      log: pino({ level: 'silent' }),
      records: () => records,
      serves,
      probe: async (r) => {
        calls.push(`probe ${r.nick}`);
        if (!alive.has(r.nick)) throw new UdpchatError('ERR_TIMEOUT', 'no answer');
      },
      forgetSession: (nick) => void calls.push(`forget session ${nick}`),
      write: async (rs) =>
        void calls.push(`write ${rs.map((r) => `${r.nick}:${r.online ? 'on' : 'off'}`).join(',')}`),
      publish: (rs) => void calls.push(`publish ${rs.map((r) => r.nick).join(',')}`),
      removeFromGroups: async (nick) => void calls.push(`out of groups ${nick}`),
      deliver: async (nick) => {
        calls.push(`deliver ${nick}`);
        await delivered;
      },
      tellChanges: () => void calls.push('tell'),
      background: (w) => void work.push(w),
      markedOffline: (nick) => void calls.push(`offline ${nick}`),
      catchUp: (nick) => void calls.push(`catch up ${nick}`),
    },
    time.clock,
  );
  return { presence, time, calls, settled: async () => void (await Promise.all(work.splice(0))) };
}

t.test(
  'the sweep takes for offline only those silent for the missed heartbeats and deaf to a probe',
  async (t) => {
    const ann = record('ann');
    const bob = record('bob');
    const cat = record('cat');
    const elsewhere = record('dan', { node: 'other' });
    const { presence, time, calls, settled } = setup(
      [ann, bob, cat, elsewhere],
      new Set(['bob']),
      (r) => r.node !== 'other',
    );
    for (const r of [ann, bob, cat, elsewhere]) presence.heard(r.nick);
    presence.start();
    time.advance(25_000);
    presence.heard('cat'); // cat keeps beating
    time.advance(20_000); // the sweep at 40 s: ann and bob silent for over 30 s
    await settled();
    t.same(
      calls.filter((c) => c.startsWith('probe')).sort(),
      ['probe ann', 'probe bob'],
      "the silent ones this node serves are probed (dan is another node's)",
    );
    t.equal(ann.online, false, 'ann did not answer: offline');
    t.equal(bob.online, true, 'bob answered: online, on silence alone never');
    t.ok(
      calls.includes('write ann:off') &&
        calls.includes('publish ann') &&
        calls.includes('out of groups ann') &&
        calls.includes('offline ann'),
    );
    t.ok(presence.unresponsive('ann'), 'no more pushes for ann until she proves she receives');
    t.ok(calls.includes('forget session ann'), 'and what goes to her is signed');
    presence.heard('ann');
    t.notOk(presence.unresponsive('ann'), 'heard from: pushes again');
    presence.stop();
    t.equal(time.pending, 0, 'no sweep after stop');
  },
);

t.test('marked online: the mailbox first, then the others are told', async (t) => {
  const ann = record('ann', { online: false });
  let deliveredNow = () => {};
  const delivered = new Promise<void>((resolve) => (deliveredNow = resolve));
  const { presence, calls, settled } = setup([ann], new Set(), () => true, 1_000, delivered);
  await presence.markOnline(ann);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(calls, ['write ann:on', 'deliver ann'], 'written, not published while her mail goes');
  deliveredNow();
  await settled();
  t.same(calls, ['write ann:on', 'deliver ann', 'publish ann', 'tell']);
  calls.length = 0;
  await presence.markOnline(ann);
  await settled();
  t.same(calls, ['deliver ann'], 'already online: only its mailbox, no change');
});

t.test('marked online, her mailbox not delivered: the others are told all the same', async (t) => {
  const ann = record('ann', { online: false });
  const failed = Promise.reject(new UdpchatError('ERR_TIMEOUT', 'no answer'));
  failed.catch(() => undefined); // rejected before anyone awaits it
  const { presence, calls, settled } = setup([ann], new Set(), () => true, 1_000, failed);
  await presence.markOnline(ann);
  await t.rejects(settled(), { code: 'ERR_TIMEOUT' });
  t.same(calls, ['write ann:on', 'deliver ann', 'publish ann', 'tell']);
});

t.test('a probe cut short by closing says nothing about the client', async (t) => {
  const { presence } = setup([], new Set());
  const closing = new Presence({
    heartbeatIntervalMs: 1,
    missedHeartbeats: 1,
    sweepProbesPerSecond: 1000,
    log: pino({ level: 'silent' }),
    records: () => [],
    serves: () => true,
    probe: async () => {
      throw new UdpchatError('ERR_CLOSED', 'closed');
    },
    forgetSession: () => undefined,
    write: async () => undefined,
    publish: () => undefined,
    removeFromGroups: async () => undefined,
    deliver: async () => undefined,
    tellChanges: () => undefined,
    background: () => undefined,
    markedOffline: () => undefined,
    catchUp: () => undefined,
  });
  await t.rejects(closing.probe(record('ann')), { code: 'ERR_CLOSED' });
  t.notOk(presence.unresponsive('ann'));
});

t.test(
  'a client that let a push go unanswered is caught up once heard from again, and only then',
  async (t) => {
    const ann = record('ann');
    const bob = record('bob');
    const { presence, calls } = setup([ann, bob], new Set(['bob']));
    presence.heard('ann');
    t.same(calls, [], 'heard while receiving: nothing to catch up');
    presence.unanswered('ann');
    t.ok(presence.unresponsive('ann'), 'no pushes to ann now');
    presence.heard('ann');
    t.notOk(presence.unresponsive('ann'));
    presence.heard('ann');
    t.same(
      calls,
      ['forget session ann', 'catch up ann'],
      'heard again: caught up once, not at every heartbeat',
    );
    calls.length = 0;
    presence.unanswered('ann');
    presence.registered('ann');
    t.notOk(presence.unresponsive('ann'));
    t.same(calls, ['forget session ann'], 'a registration brings its own table');
    calls.length = 0;
    presence.unanswered('bob');
    t.equal(await presence.probe(bob), true);
    t.same(calls, ['forget session bob', 'probe bob', 'catch up bob'], 'a probe answered too');
  },
);

/** Lets the promises the clock's timers resolved run on. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

t.test('a sweep that finds many silent starts its probes a step at a time', async (t) => {
  const records = Array.from({ length: 120 }, (_, i) => record(`u${i}`));
  const { presence, time, calls, settled } = setup(records, new Set(['u7']));
  const probes = () => calls.filter((c) => c.startsWith('probe')).length;
  presence.start();
  time.advance(10_000); // the first sweep: all 120 silent since ever
  t.equal(probes(), 50, 'a thousand a second: 50 in the first step of 50 ms');
  presence.heard('u119'); // heard before its turn
  time.advance(SWEEP_STEP_MS);
  await flush();
  t.equal(probes(), 100, 'the next 50 one step later');
  time.advance(SWEEP_STEP_MS);
  await flush();
  t.equal(probes(), 119, 'then the rest, less the one heard from meanwhile');
  t.notOk(calls.includes('probe u119'));
  await settled();
  t.same(
    records.filter((r) => r.online).map((r) => r.nick),
    ['u7', 'u119'],
    'u7 answered and u119 was heard: the rest are offline',
  );
  t.equal(calls.filter((c) => c.startsWith('write')).length, 1, 'in one batch of writes');
  presence.stop();
});

t.test('a sweep longer than the interval is not doubled; stopped, it starts no more', async (t) => {
  // 300 silent at 20 a second: a sweep of 15 s, across the next interval.
  const records = Array.from({ length: 300 }, (_, i) => record(`u${i}`));
  const { presence, time, calls, settled } = setup(records, new Set(), () => true, 20);
  const probes = () => calls.filter((c) => c.startsWith('probe'));
  presence.start();
  for (let ms = 0; ms < 26_000; ms += SWEEP_STEP_MS) {
    time.advance(SWEEP_STEP_MS);
    await flush();
  }
  t.equal(probes().length, 300, 'every silent client probed');
  t.equal(new Set(probes()).size, 300, 'each once: the sweep at 20 s found one under way');
  await settled();
  t.equal(records.filter((r) => r.online).length, 0);
  presence.stop();

  const again = Array.from({ length: 300 }, (_, i) => record(`v${i}`));
  const second = setup(again, new Set(), () => true, 20);
  second.presence.start();
  second.time.advance(10_000);
  for (let ms = 0; ms < 1000; ms += SWEEP_STEP_MS) {
    second.time.advance(SWEEP_STEP_MS);
    await flush();
  }
  const started = second.calls.filter((c) => c.startsWith('probe')).length;
  t.equal(started, 21, 'one a step: the first and 20 more over a second');
  second.presence.stop();
  await flush();
  await second.settled();
  t.equal(second.calls.filter((c) => c.startsWith('probe')).length, started, 'none after stop');
  t.equal(second.time.pending, 0, 'no timer left');
  t.equal(again.filter((r) => !r.online).length, started, 'those probed and silent: offline');
});
