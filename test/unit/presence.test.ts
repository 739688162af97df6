import t from 'tap';
import pino from 'pino';
import { Presence } from '../../src/registry/presence.js';
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

/** Presence over a table of `records`; probes answered by those in `alive`; every call to the context recorded. */
function setup(
  records: ClientRecord[],
  alive: Set<string>,
  serves: (r: ClientRecord) => boolean = () => true,
) {
  const time = fakeClock(1_000_000);
  const calls: string[] = [];
  const work: Array<Promise<void>> = [];
  const presence = new Presence(
    {
      heartbeatIntervalMs: 10_000,
      missedHeartbeats: 3,
      log: pino({ level: 'silent' }),
      records: () => records,
      serves,
      probe: async (r) => {
        calls.push(`probe ${r.nick}`);
        if (!alive.has(r.nick)) throw new UdpchatError('ERR_TIMEOUT', 'no answer');
      },
      forgetSession: (nick) => void calls.push(`forget session ${nick}`),
      persist: async (rs) =>
        void calls.push(
          `persist ${rs.map((r) => `${r.nick}:${r.online ? 'on' : 'off'}`).join(',')}`,
        ),
      removeFromGroups: async (nick) => void calls.push(`out of groups ${nick}`),
      deliver: async (nick) => void calls.push(`deliver ${nick}`),
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
      calls.includes('persist ann:off') &&
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
  const { presence, calls, settled } = setup([ann], new Set());
  await presence.markOnline(ann);
  await settled();
  t.same(calls, ['persist ann:on', 'deliver ann', 'tell']);
  calls.length = 0;
  await presence.markOnline(ann);
  await settled();
  t.same(calls, ['deliver ann'], 'already online: only its mailbox, no change');
});

t.test('a probe cut short by closing says nothing about the client', async (t) => {
  const { presence } = setup([], new Set());
  const closing = new Presence({
    heartbeatIntervalMs: 1,
    missedHeartbeats: 1,
    log: pino({ level: 'silent' }),
    records: () => [],
    serves: () => true,
    probe: async () => {
      throw new UdpchatError('ERR_CLOSED', 'closed');
    },
    forgetSession: () => undefined,
    persist: async () => undefined,
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
