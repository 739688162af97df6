import t from 'tap';
import { Introductions } from '../../src/registry/introductions.js';
import type { ClientRecord } from '../../src/store/store.js';

const record = (nick: string, ip: string, port: number, online = true): ClientRecord => ({
  nick,
  ip,
  port,
  online,
  sk: 'k'.repeat(44),
  ek: 'e'.repeat(44),
});

function harness(records: ClientRecord[]) {
  let now = 0;
  const told: Array<{ to: string; body: unknown }> = [];
  const table = new Map(records.map((r) => [r.nick, r]));
  const introductions = new Introductions(
    {
      online: (nick) => (table.get(nick)?.online ? table.get(nick) : undefined),
      tell: (to, body) => void told.push({ to: to.nick, body }),
      now: () => now,
    },
    { intervalMs: 2_000, relayMessages: 3, relayBytes: 1_000, relayWindowMs: 60_000 },
  );
  return { introductions, told, table, later: (ms: number) => (now += ms) };
}

t.test('both learn where the other is seen; the other is told once per interval', (t) => {
  const alice = record('alice', '198.18.1.1', 1000);
  const h = harness([alice, record('bob', '198.18.2.1', 2000)]);
  h.introductions.registered('bob', [{ ip: '10.0.2.2', port: 5000 }]);
  h.introductions.registered('alice', [{ ip: '10.0.1.2', port: 5000 }]);
  t.same(
    h.introductions.introduce(alice, 'bob'),
    { t: 'introduced', peer: 'bob', ip: '198.18.2.1', port: 2000, local: [] },
    'no local addresses across NATs',
  );
  t.same(h.told, [
    {
      to: 'bob',
      body: { t: 'introduction', peer: 'alice', ip: '198.18.1.1', port: 1000, local: [] },
    },
  ]);
  h.introductions.introduce(alice, 'bob');
  t.equal(h.told.length, 1, 'asked again at once: bob is not told again');
  h.later(2_000);
  h.introductions.introduce(alice, 'bob');
  t.equal(h.told.length, 2, 'after the interval, he is');
  t.equal(h.introductions.counters.introductions, 2);
  t.end();
});

t.test('behind one public address, the local addresses too', (t) => {
  const alice = record('alice', '198.18.1.1', 1000);
  const h = harness([alice, record('bob', '198.18.1.1', 1001)]);
  h.introductions.registered('bob', [{ ip: '10.0.1.3', port: 5000 }]);
  h.introductions.registered('alice', [{ ip: '10.0.1.2', port: 5000 }]);
  t.same(h.introductions.introduce(alice, 'bob'), {
    t: 'introduced',
    peer: 'bob',
    ip: '198.18.1.1',
    port: 1001,
    local: [{ ip: '10.0.1.3', port: 5000 }],
  });
  t.same(h.told[0]?.body, {
    t: 'introduction',
    peer: 'alice',
    ip: '198.18.1.1',
    port: 1000,
    local: [{ ip: '10.0.1.2', port: 5000 }],
  });
  t.end();
});

t.test('no introduction to a nick offline or unknown, nor to oneself', (t) => {
  const alice = record('alice', '198.18.1.1', 1000);
  const h = harness([alice, record('bob', '198.18.2.1', 2000, false)]);
  t.match(h.introductions.introduce(alice, 'bob'), { t: 'err' });
  t.match(h.introductions.introduce(alice, 'carol'), { t: 'err' });
  t.match(h.introductions.introduce(alice, 'alice'), { t: 'err' });
  t.same(h.told, []);
  t.end();
});

t.test('relays are bounded per pair and direction, in messages and bytes, per window', (t) => {
  const h = harness([]);
  t.ok(h.introductions.mayRelay('alice', 'bob', 100));
  t.ok(h.introductions.mayRelay('alice', 'bob', 100));
  t.ok(h.introductions.mayRelay('alice', 'bob', 100));
  t.notOk(
    h.introductions.mayRelay('alice', 'bob', 100),
    'a fourth message in the window is refused',
  );
  t.ok(h.introductions.mayRelay('bob', 'alice', 900), 'the other direction has its own budget');
  t.notOk(h.introductions.mayRelay('bob', 'alice', 200), 'past the bytes');
  t.equal(h.introductions.counters.relaysRefused, 2);
  h.later(60_000);
  t.ok(h.introductions.mayRelay('alice', 'bob', 100), 'a new window');
  t.end();
});

t.test(
  'how each NAT maps, as its probe showed, goes with the introduction while it is registered where it probed from',
  (t) => {
    const alice = record('alice', '198.18.1.1', 1000);
    const h = harness([alice, record('bob', '198.18.2.1', 2000)]);
    h.introductions.mapped('alice', { address: '198.18.1.1', port: 1000 }, 'symmetric');
    h.introductions.mapped('bob', { address: '198.18.2.1', port: 2000 }, 'consistent');
    t.match(
      h.introductions.introduce(alice, 'bob'),
      { t: 'introduced', nat: 'consistent' },
      "the asker learns the peer's",
    );
    t.match(h.told[0]?.body, { t: 'introduction', nat: 'symmetric' }, "the peer the asker's");
    // Bob registers again elsewhere: what his probe showed held for his old address.
    h.table.set('bob', record('bob', '198.18.2.1', 2001));
    const answer = h.introductions.introduce(alice, 'bob');
    t.notOk('nat' in answer, 'not said for an address it was not probed from');
    t.end();
  },
);
