import t from 'tap';
import { TableReplica } from '../../src/client/table-replica.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { schemaOf, type MessageOf } from '../../src/protocol/messages.js';
import { type TableEntry } from '../../src/protocol/fields.js';
import { PROTOCOL_VERSION } from '../../src/protocol/constants.js';

const SERVER_TIMEOUT_MS = 100;
const SERVER_TRIES = 5;
/** How long a held change waits for its predecessor. */
const HOLD_MS = 2 * SERVER_TIMEOUT_MS;
/** How long a table in pages waits for its missing pages before asking again. */
const PAGES_MS = 2 * SERVER_TIMEOUT_MS * SERVER_TRIES;

const KEY = `${'A'.repeat(43)}=`;

function entry(nick: string, online = true, port = 4000): TableEntry {
  return { nick, ip: '127.0.0.1', port, online, sk: KEY, ek: KEY };
}

let ids = 0;

/** A `table` push as it comes off the wire (checked against its schema). */
function table(
  epoch: string,
  version: number,
  entries: TableEntry[],
  more: { page?: number; pages?: number; refresh?: true } = {},
): MessageOf<'table'> {
  return schemaOf('table').parse({
    v: PROTOCOL_VERSION,
    t: 'table',
    id: `t${++ids}`,
    table: { epoch, version, entries },
    ...more,
  });
}

/** A `table_delta` push as it comes off the wire (checked against its schema). */
function delta(
  epoch: string,
  from: number,
  to: number,
  entries: TableEntry[],
): MessageOf<'table_delta'> {
  return schemaOf('table_delta').parse({
    v: PROTOCOL_VERSION,
    t: 'table_delta',
    id: `d${++ids}`,
    epoch,
    from,
    to,
    entries,
  });
}

/** A replica for the nick `me`, its context recording every call as a line. */
function replica() {
  const clock = fakeClock();
  const calls: string[] = [];
  const tableReplica = new TableReplica(
    {
      nick: 'me',
      serverTimeoutMs: SERVER_TIMEOUT_MS,
      serverTries: SERVER_TRIES,
      resync: () => calls.push('resync'),
      changed: (entries) =>
        calls.push(`table ${entries.map((e) => `${e.nick}${e.online ? '' : '(off)'}`).join(',')}`),
      joined: (nick) => calls.push(`joined ${nick}`),
      left: (nick) => calls.push(`left ${nick}`),
      applied: () => calls.push('applied'),
      correctPresence: () => calls.push('correct presence'),
      watchModeStarted: () => calls.push('watch mode'),
    },
    clock.clock,
  );
  /** The calls made since the last look, and forgets them. */
  const take = () => calls.splice(0);
  const nicks = () => tableReplica.entries().map((e) => e.nick);
  return { replica: tableReplica, clock, take, nicks };
}

/** A replica that took `entries` as version `version` of epoch E as its registration's first table. */
async function registered(version: number, entries: TableEntry[]) {
  const r = replica();
  const first = r.replica.awaitFirstTable();
  r.replica.onTable(table('E', version, entries));
  await first;
  r.take();
  return r;
}

t.test(
  "a registration's first table is taken without notices, and settles the wait for it",
  async (t) => {
    const { replica: r, take, nicks } = replica();
    let arrived = false;
    void r.awaitFirstTable().then(() => (arrived = true));
    t.equal(r.awaitingFirstTable, true);
    r.onTable(table('E', 3, [entry('alice'), entry('me'), entry('bob', false)]));
    t.same(
      take(),
      ['table alice,me,bob(off)'],
      'no joined, no applied: everyone in it is simply there',
    );
    t.same(nicks(), ['alice', 'me', 'bob']);
    t.same(r.version, { epoch: 'E', version: 3 });
    t.equal(r.awaitingFirstTable, false);
    await Promise.resolve();
    t.equal(arrived, true);
  },
);

t.test(
  'no first table follows a registration that failed: the next table brings notices',
  async (t) => {
    const { replica: r, take } = replica();
    void r.awaitFirstTable();
    r.stopAwaiting();
    t.equal(r.awaitingFirstTable, false);
    r.onTable(table('E', 1, [entry('alice')]));
    t.same(take(), ['table alice', 'joined alice', 'applied']);
  },
);

t.test(
  'a whole table replaces an older one; an older or equal one is ignored unless it says refresh',
  async (t) => {
    const {
      replica: r,
      take,
      nicks,
    } = await registered(1, [entry('alice'), entry('bob'), entry('me')]);

    r.onTable(table('E', 3, [entry('alice', false), entry('carol'), entry('me')]));
    t.same(nicks(), ['alice', 'carol', 'me'], 'replaced, not merged: bob is gone');
    t.same(r.version, { epoch: 'E', version: 3 });
    t.same(
      take(),
      ['table alice(off),carol,me', 'left alice', 'joined carol', 'applied'],
      'notices only for the entries it brings',
    );

    r.onTable(table('E', 2, [entry('dave')]));
    r.onTable(table('E', 3, [entry('dave')]));
    t.same(take(), [], 'older and same versions change nothing');
    t.same(nicks(), ['alice', 'carol', 'me']);

    r.onTable(
      table('E', 3, [entry('alice', false), entry('carol'), entry('me')], { refresh: true }),
    );
    t.same(
      take(),
      ['table alice(off),carol,me', 'applied'],
      'a refresh is taken; nothing changed, so no notice',
    );

    r.onTable(table('F', 0, [entry('me'), entry('erin')]));
    t.same(r.version, { epoch: 'F', version: 0 }, 'another epoch is newer whatever its version');
    t.same(take(), ['table me,erin', 'joined erin', 'applied']);
  },
);

t.test(
  'a table showing this client offline asks to correct its presence; its own entry brings no notice',
  async (t) => {
    const { replica: r, take } = await registered(1, [entry('me')]);
    r.onTable(table('E', 2, [entry('me', false)]));
    t.same(take(), ['table me(off)', 'correct presence', 'applied']);
    r.onTable(table('E', 3, [entry('me')]));
    t.same(take(), ['table me', 'applied']);
  },
);

t.test(
  'the pages of one version are put together, in page order, whatever order they come in',
  async (t) => {
    const { replica: r, take, nicks, clock } = await registered(1, [entry('me')]);
    r.onTable(table('E', 5, [entry('carol')], { page: 2, pages: 3 }));
    r.onTable(table('E', 5, [entry('me'), entry('alice')], { page: 0, pages: 3 }));
    r.onTable(table('E', 5, [entry('mallory')], { page: 0, pages: 3 }));
    t.same(take(), [], 'nothing before every page is in (a page twice is taken once)');
    t.same(nicks(), ['me'], 'the table held is untouched meanwhile');
    r.onTable(table('E', 5, [entry('bob')], { page: 1, pages: 3 }));
    t.same(take(), [
      'table me,alice,bob,carol',
      'joined alice',
      'joined bob',
      'joined carol',
      'applied',
    ]);
    t.same(r.version, { epoch: 'E', version: 5 });
    t.equal(clock.pending, 0, 'no check left running');
  },
);

t.test("a newer version's pages start over; an older version's are dropped", async (t) => {
  const { replica: r, take, nicks } = await registered(1, [entry('me')]);
  r.onTable(table('E', 5, [entry('old5')], { page: 0, pages: 2 }));
  r.onTable(table('E', 6, [entry('alice')], { page: 0, pages: 2 }));
  r.onTable(table('E', 5, [entry('late5')], { page: 1, pages: 2 }));
  t.same(take(), [], "version 5's last page does not complete anything");
  r.onTable(table('E', 6, [entry('bob')], { page: 1, pages: 2 }));
  t.same(nicks(), ['alice', 'bob'], "only version 6's pages");
  t.same(r.version, { epoch: 'E', version: 6 });
  t.same(take(), ['table alice,bob', 'joined alice', 'joined bob', 'applied']);
});

t.test(
  'a table in pages still incomplete after the patience is asked for again, and again; the pages in hand are kept',
  async (t) => {
    const { replica: r, take, nicks, clock } = await registered(1, [entry('me')]);
    r.onTable(table('E', 5, [entry('alice')], { page: 0, pages: 2 }));
    clock.advance(PAGES_MS - 1);
    t.same(take(), []);
    clock.advance(1);
    t.same(take(), ['resync']);
    clock.advance(PAGES_MS);
    t.same(take(), ['resync'], 'asked again every patience');
    r.onTable(table('E', 5, [entry('bob')], { page: 1, pages: 2 }));
    t.same(nicks(), ['alice', 'bob'], 'the first page was kept');
    t.same(take(), ['table alice,bob', 'joined alice', 'joined bob', 'applied']);
    clock.advance(10 * PAGES_MS);
    t.same(take(), [], 'complete: no more asking');
  },
);

t.test('changes in order are applied, and say joined or left only for real changes', async (t) => {
  const {
    replica: r,
    take,
    nicks,
  } = await registered(1, [entry('alice'), entry('bob'), entry('me')]);
  r.onDelta(delta('E', 1, 2, [entry('bob', false)]));
  t.same(take(), ['table alice,bob(off),me', 'left bob', 'applied']);
  r.onDelta(delta('E', 2, 3, [entry('alice')]));
  t.same(take(), [], 'an entry as held already is no news');
  t.same(r.version, { epoch: 'E', version: 3 }, 'but the version moves on');
  r.onDelta(delta('E', 3, 4, [entry('alice', true, 5000), entry('carol')]));
  t.same(
    take(),
    ['table alice,bob(off),me,carol', 'joined carol', 'applied'],
    'a new address is a change, not a notice',
  );
  t.equal(r.get('alice')?.port, 5000);
  r.onDelta(delta('E', 4, 5, [entry('me', false), entry('bob')]));
  t.same(
    take(),
    ['table alice,bob,me(off),carol', 'joined bob', 'correct presence', 'applied'],
    'no notice for this client itself',
  );
  t.same(nicks(), ['alice', 'bob', 'me', 'carol']);
});

t.test('a change ahead of the version is held, and applied once the gap fills', async (t) => {
  const { replica: r, take, clock } = await registered(1, [entry('me')]);
  r.onDelta(delta('E', 3, 4, [entry('carol')]));
  r.onDelta(delta('E', 2, 3, [entry('bob')]));
  t.same(take(), []);
  t.equal(r.held, 2);
  r.onDelta(delta('E', 1, 2, [entry('alice')]));
  t.same(take(), [
    'table me,alice',
    'joined alice',
    'applied',
    'table me,alice,bob',
    'joined bob',
    'applied',
    'table me,alice,bob,carol',
    'joined carol',
    'applied',
  ]);
  t.same(r.version, { epoch: 'E', version: 4 });
  t.equal(r.held, 0);
  clock.advance(10 * HOLD_MS);
  t.same(take(), [], 'the gap filled: no resync');
});

t.test('a gap that stays asks for the whole table after the hold', async (t) => {
  const { replica: r, take, clock } = await registered(1, [entry('me')]);
  r.onDelta(delta('E', 3, 4, [entry('carol')]));
  clock.advance(HOLD_MS - 1);
  t.same(take(), []);
  clock.advance(1);
  t.same(take(), ['resync']);
  clock.advance(10 * HOLD_MS);
  t.same(take(), [], 'asked once per held change');
});

t.test(
  'while a table in pages comes in, a held change does not ask: the pages check does',
  async (t) => {
    const { replica: r, take, clock } = await registered(1, [entry('me')]);
    r.onTable(table('E', 5, [entry('alice')], { page: 0, pages: 2 }));
    r.onDelta(delta('E', 3, 4, [entry('carol')]));
    clock.advance(HOLD_MS);
    t.same(take(), []);
    clock.advance(PAGES_MS - HOLD_MS);
    t.same(take(), ['resync']);
  },
);

t.test(
  'a change of another epoch asks for the whole table at once and is not applied',
  async (t) => {
    const { replica: r, take, nicks } = await registered(4, [entry('me')]);
    r.onDelta(delta('F', 4, 5, [entry('alice')]));
    t.same(take(), ['resync']);
    t.same(nicks(), ['me']);
    t.same(r.version, { epoch: 'E', version: 4 });
    t.equal(r.held, 0);
  },
);

t.test('an old change is ignored', async (t) => {
  const { replica: r, take, nicks, clock } = await registered(4, [entry('me'), entry('alice')]);
  r.onDelta(delta('E', 2, 3, [entry('alice', false)]));
  r.onDelta(delta('E', 3, 4, [entry('alice', false)]));
  t.same(take(), []);
  t.same(nicks(), ['me', 'alice']);
  t.equal(r.get('alice')?.online, true);
  t.equal(r.held, 0, 'not held either');
  clock.advance(10 * HOLD_MS);
  t.same(take(), []);
});

t.test('a held change that a newer whole table covers is dropped', async (t) => {
  const { replica: r, take, clock } = await registered(1, [entry('me')]);
  r.onDelta(delta('E', 3, 4, [entry('carol')]));
  t.equal(r.held, 1);
  r.onTable(table('E', 5, [entry('me'), entry('alice')]));
  t.equal(r.held, 0);
  t.same(
    take(),
    ['table me,alice', 'joined alice', 'applied'],
    'carol only as the table has her: not at all',
  );
  clock.advance(10 * HOLD_MS);
  t.same(take(), [], 'and no resync for it');
});

t.test(
  'changes that come while the first table is on its way are held, and applied after it if they follow it',
  async (t) => {
    const { replica: r, take, nicks } = replica();
    const first = r.awaitFirstTable();
    r.onDelta(delta('E', 2, 3, [entry('bob')]));
    r.onDelta(delta('E', 4, 5, [entry('carol')]));
    r.onDelta(delta('E', 4, 5, [entry('dave')]));
    t.same(take(), [], 'held, whatever their version');
    t.equal(
      r.held,
      2,
      'by the version they follow: the second with from 4 took the place of the first',
    );
    r.onTable(table('E', 4, [entry('me'), entry('alice')]));
    await first;
    t.same(
      take(),
      ['table me,alice', 'table me,alice,dave', 'joined dave', 'applied'],
      'the one that follows the table; the older one is dropped',
    );
    t.same(nicks(), ['me', 'alice', 'dave']);
    t.same(r.version, { epoch: 'E', version: 5 });
    t.equal(r.held, 0);
  },
);

t.test("held changes of another epoch than a new whole table's are dropped", async (t) => {
  const { replica: r, take, nicks } = replica();
  const first = r.awaitFirstTable();
  r.onDelta(delta('E', 4, 5, [entry('carol')]));
  r.onDelta(delta('D', 5, 6, [entry('zed')]));
  r.onTable(table('D', 4, [entry('me')]));
  await first;
  t.same(take(), ['table me'], "epoch E's change from 4 is not applied to epoch D's version 4");
  t.equal(r.held, 1, "epoch D's change ahead of the table stays held");
  r.onDelta(delta('D', 4, 5, [entry('yan')]));
  t.same(take(), [
    'table me,yan',
    'joined yan',
    'applied',
    'table me,yan,zed',
    'joined zed',
    'applied',
  ]);
  t.same(nicks(), ['me', 'yan', 'zed']);
  t.same(r.version, { epoch: 'D', version: 6 });
});

t.test(
  'changes that come while the pages of a table do are applied after it, if they follow it',
  async (t) => {
    const { replica: r, take, nicks } = await registered(1, [entry('me')]);
    r.onTable(table('E', 5, [entry('alice')], { page: 0, pages: 2 }));
    r.onDelta(delta('E', 5, 6, [entry('carol')]));
    t.same(take(), []);
    r.onTable(table('E', 5, [entry('bob')], { page: 1, pages: 2 }));
    t.same(take(), [
      'table alice,bob',
      'joined alice',
      'joined bob',
      'table alice,bob,carol',
      'joined carol',
      'applied',
      'applied',
    ]);
    t.same(nicks(), ['alice', 'bob', 'carol']);
    t.same(r.version, { epoch: 'E', version: 6 });
  },
);

t.test('close() ends every wait, and nothing is taken after it', async (t) => {
  const { replica: r, take, nicks, clock } = await registered(1, [entry('me')]);
  r.onTable(table('E', 5, [entry('alice')], { page: 0, pages: 2 }));
  r.onDelta(delta('E', 3, 4, [entry('carol')]));
  t.equal(clock.pending, 2);
  r.close();
  r.close();
  t.equal(clock.pending, 0);
  clock.advance(10 * PAGES_MS);
  r.onTable(table('E', 6, [entry('dave')]));
  r.onDelta(delta('E', 1, 2, [entry('erin')]));
  t.same(take(), []);
  t.same(nicks(), ['me']);
  t.equal(r.awaitingFirstTable, false);
});

/** A `presence` push as it comes off the wire. */
function presence(
  epoch: string,
  version: number,
  entries: TableEntry[],
  watch?: true,
): MessageOf<'presence'> {
  return schemaOf('presence').parse({
    v: PROTOCOL_VERSION,
    t: 'presence',
    id: `p${++ids}`,
    epoch,
    version,
    entries,
    ...(watch ? { watch } : {}),
  });
}

/** A `watched` reply as it comes off the wire. */
function watched(
  epoch: string,
  version: number,
  entries: TableEntry[],
  missing: string[] = [],
): MessageOf<'watched'> {
  return schemaOf('watched').parse({
    v: PROTOCOL_VERSION,
    t: 'watched',
    re: `w${++ids}`,
    epoch,
    version,
    entries,
    missing,
  });
}

t.test(
  'watch mode: only the nicks kept stay; presence and look-ups take each entry newer than the one held',
  async (t) => {
    const r = await registered(3, [entry('me'), entry('ann'), entry('bob'), entry('cat')]);
    r.take();
    r.replica.onPresence(presence('E', 4, [], true));
    t.same(r.take(), ['watch mode'], 'a table holder is told the table outgrew the limit');
    r.replica.enterWatchMode((nick) => nick === 'ann');
    t.ok(r.replica.watchMode);
    t.same(r.nicks().sort(), ['ann', 'me'], 'only the contact (and itself) stay');
    r.replica.onWatched(watched('E', 5, [entry('bob', false)]));
    t.same(r.take(), ['applied'], 'a look-up brings no notice');
    t.equal(r.replica.get('bob')?.online, false);
    r.replica.onPresence(presence('E', 6, [entry('bob', true), entry('ann', false)]));
    t.same(
      r.take(),
      ['table me,ann(off),bob', 'joined bob', 'left ann', 'applied'],
      'changes of watched nicks bring their notices',
    );
    r.replica.onPresence(presence('E', 5, [entry('bob', false)]));
    t.same(r.take(), [], 'an entry older than the one held is ignored');
    t.equal(r.replica.get('bob')?.online, true);
    r.replica.onDelta(delta('E', 3, 4, [entry('cat', false)]));
    r.replica.onTable(table('E', 9, [entry('zed')]));
    t.same(
      r.nicks().sort(),
      ['ann', 'bob', 'me'],
      'whole tables and table changes are not taken in watch mode',
    );
    r.replica.forget('bob');
    t.notOk(r.replica.has('bob'), 'a nick no longer watched is not held');
    r.replica.onPresence(presence('F', 1, [entry('ann', true)]));
    t.equal(
      r.replica.get('ann')?.online,
      true,
      'another epoch (a restarted registry): taken whatever its version',
    );
  },
);

t.test(
  'watch mode: a registration waiting for its first table stops waiting when it enters watch mode',
  async (t) => {
    const r = replica();
    const first = r.replica.awaitFirstTable();
    r.replica.enterWatchMode(() => false);
    await first;
    t.notOk(r.replica.awaitingFirstTable);
    r.replica.enterTableMode();
    t.notOk(r.replica.watchMode, 'back to the whole table when a registration says so');
  },
);
