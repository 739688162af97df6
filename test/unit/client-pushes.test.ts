import t from 'tap';
import pino from 'pino';
import { ClientPushes, TABLE_PAGES_IN_FLIGHT } from '../../src/registry/client-pushes.js';
import { MAX_PAGE_ENTRIES } from '../../src/protocol/constants.js';
import type { TableEntry, TableSnapshot } from '../../src/protocol/fields.js';
import type { ClientRecord } from '../../src/store/store.js';

const record = (nick: string, port = 4000): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port,
  online: true,
  sk: 'sk',
  ek: 'ek',
});
const entry = (i: number): TableEntry => ({
  nick: `u${i}`,
  ip: '127.0.0.1',
  port: 5000 + i,
  online: true,
  sk: 'sk',
  ek: 'ek',
});
const snapshotOf = (count: number): TableSnapshot => ({
  epoch: 'e',
  version: 7,
  entries: Array.from({ length: count }, (_, i) => entry(i)),
});

/** Pushes whose sends wait for the test: `answer(i)` ACKs the i-th, `miss(i)` leaves it unanswered. */
function setup(table = snapshotOf(3)) {
  const sent: Array<{ to: string; body: Record<string, unknown>; ack(): void; miss(): void }> = [];
  const unanswered: string[] = [];
  const state = { closed: false };
  const pushes = new ClientPushes({
    epoch: 'e',
    version: () => 9,
    snapshot: () => table,
    send: (to, body) =>
      new Promise((resolve, reject) =>
        sent.push({
          to: to.nick,
          body: body,
          ack: () => resolve(undefined),
          miss: () => reject(new Error('ERR_TIMEOUT')),
        }),
      ),
    unanswered: (nick) => void unanswered.push(nick),
    closed: () => state.closed,
    log: pino({ level: 'silent' }),
  });
  const turns = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return { pushes, sent, unanswered, state, turns };
}

t.test('a small table goes whole in one datagram, marked refresh when asked', async (t) => {
  const { pushes, sent, turns } = setup();
  const done = pushes.table(record('alice'), true);
  await turns();
  t.equal(sent.length, 1);
  t.same(sent[0].body, { t: 'table', table: snapshotOf(3), refresh: true });
  sent[0].ack();
  await done;
});

t.test(
  `a large table in pages, ${TABLE_PAGES_IN_FLIGHT} in flight; one unanswered page ends the push and is told`,
  async (t) => {
    const count = MAX_PAGE_ENTRIES * 6 + 1; // 7 pages
    const { pushes, sent, unanswered, turns } = setup(snapshotOf(count));
    const done = pushes.table(record('alice'), false);
    await turns();
    t.equal(sent.length, TABLE_PAGES_IN_FLIGHT, 'no more than that at once');
    t.same(
      sent.map((s) => [s.body.page, s.body.pages]),
      [
        [0, 7],
        [1, 7],
        [2, 7],
        [3, 7],
      ],
    );
    sent[0].ack();
    await turns();
    t.equal(sent.length, TABLE_PAGES_IN_FLIGHT + 1, 'an ACK frees a lane for the next page');
    sent[1].miss();
    await turns();
    for (const s of sent.slice(2)) s.ack();
    await done;
    t.equal(sent.length, TABLE_PAGES_IN_FLIGHT + 1, 'no page after the unanswered one');
    t.same(unanswered, ['alice']);
    const pagesSent = sent.map((s) => (s.body.table as TableSnapshot).entries.length);
    t.ok(
      pagesSent.every((n) => n === MAX_PAGE_ENTRIES),
      'each page full but the last',
    );
  },
);

t.test('asked again while a push to that client is on its way: not sent twice', async (t) => {
  const { pushes, sent, turns } = setup();
  const first = pushes.table(record('alice'), false);
  const again = pushes.table(record('alice'), true);
  const elsewhere = pushes.table(record('alice', 4001), false);
  await turns();
  t.equal(sent.length, 2, 'one for alice at 4000, one at her new address');
  for (const s of sent) s.ack();
  await Promise.all([first, again, elsewhere]);
  void pushes.table(record('alice'), false);
  await turns();
  t.equal(sent.length, 3, 'once settled, a new push goes');
});

t.test('presence: the entries, the version; unanswered told; nothing once closed', async (t) => {
  const { pushes, sent, unanswered, state, turns } = setup();
  const done = pushes.presence(record('alice'), [record('bob', 4100)], true);
  await turns();
  t.same(sent[0].body, {
    t: 'presence',
    epoch: 'e',
    version: 9,
    entries: [{ nick: 'bob', ip: '127.0.0.1', port: 4100, online: true, sk: 'sk', ek: 'ek' }],
    watch: true,
  });
  sent[0].miss();
  await done;
  t.same(unanswered, ['alice']);
  state.closed = true;
  await pushes.presence(record('alice'), [record('bob', 4100)]);
  await pushes.table(record('alice'), false);
  t.equal(sent.length, 1, 'closed: nothing more goes out');
});

t.test(
  'catching up: the table afresh, or beyond the limit the watched entries in pages, marked watch',
  async (t) => {
    const { pushes, sent, turns } = setup();
    void pushes.catchUp(record('alice'));
    await turns();
    t.equal(sent.length, 1);
    t.match(sent[0].body, { t: 'table', refresh: true, table: { version: 7 } });
    t.equal((sent[0].body.table as TableSnapshot).entries.length, 3);
    sent[0].ack();
    const watched = Array.from({ length: MAX_PAGE_ENTRIES + 1 }, (_, i) =>
      record(`w${i}`, 6000 + i),
    );
    const done = pushes.catchUp(record('alice'), watched);
    await turns();
    const presence = sent.slice(1);
    t.equal(presence.length, 2, 'two pages');
    t.same(
      presence.flatMap(({ body }) => (body.entries as TableEntry[]).map((e) => e.nick)),
      watched.map((r) => r.nick),
      'every watched entry, once',
    );
    t.ok(
      presence.every(({ body }) => body.t === 'presence' && body.watch === true),
      'each a presence push marked watch',
    );
    for (const push of presence) push.ack();
    await done;
  },
);
