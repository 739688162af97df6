import t from 'tap';
import pino from 'pino';
import { MAX_PAGE_ENTRIES, WATCH_BATCH } from '../../src/protocol/constants.js';
import type { ClientRecord } from '../../src/store/store.js';
import type { PacerClock } from '../../src/registry/pacer.js';
import {
  pages,
  PUSH_BURST,
  TableChanges,
  type PresenceBody,
  type TableDeltaBody,
} from '../../src/registry/push.js';

/** A clock whose time stands still: `run` runs the timers armed for now (0 ms), never a later one. */
function stillClock() {
  const due = new Map<number, { run: () => void; ms: number }>();
  let next = 0;
  const clock: PacerClock = {
    now: () => 0,
    setTimeout: (run, ms) => {
      due.set(++next, { run, ms });
      return next;
    },
    clearTimeout: (handle) => void due.delete(handle as number),
  };
  return {
    clock,
    /** Runs the timers armed for now (not those they arm). */
    run(): void {
      const now = [...due].filter(([, timer]) => timer.ms <= 0);
      for (const [handle, timer] of now) {
        due.delete(handle);
        timer.run();
      }
    },
    get pending(): number {
      return due.size;
    },
  };
}

const client = (nick: string, more: Partial<ClientRecord> = {}): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port: 1000 + nick.length,
  online: true,
  deregistered: false,
  sk: `sk-${nick}`,
  ek: `ek-${nick}`,
  ...more,
});

/** What a round sent: a table change, or a presence change (the fields of both, for the tests to read). */
type Sent = Omit<TableDeltaBody, 't'> & Omit<PresenceBody, 't'> & { t: string };

/** TableChanges over a table of `records`, a fake clock and a fake send that answers unless told (`silent`). */
function setup(
  records: ClientRecord[],
  options: {
    serves?: (record: ClientRecord) => boolean;
    unresponsive?: string[];
    silent?: string[];
    /** Beyond the table limit: who watches whom (nick → its watchers). */
    watchers?: Record<string, string[]>;
    /** Clients holding the whole table when it outgrew the limit. */
    holders?: string[];
  } = {},
) {
  const table = new Map(records.map((record) => [record.nick, record]));
  const time = stillClock();
  /** `notice`: sent as a presence notice (once, never answered), not as a request. */
  const sent: Array<{ to: string; body: Sent; notice?: true }> = [];
  const holders = [...(options.holders ?? [])];
  const unanswered: string[] = [];
  const changes = new TableChanges(
    {
      epoch: 'e1',
      delayMs: 0,
      intervalMs: 50,
      log: pino({ level: 'silent' }),
      record: (nick) => table.get(nick),
      records: () => table.values(),
      serves: options.serves ?? (() => true),
      unresponsive: (nick) => options.unresponsive?.includes(nick) ?? false,
      watchMode: () => options.watchers !== undefined,
      watchersOf: (nick) => options.watchers?.[nick] ?? [],
      takeWholeTableHolders: () => holders.splice(0),
      send: async (record, body) => {
        sent.push({ to: record.nick, body: body as Sent });
        if (options.silent?.includes(record.nick)) throw new Error('timed out');
      },
      notify: (record, body) =>
        void sent.push({ to: record.nick, body: body as Sent, notice: true }),
      unanswered: (nick) => void unanswered.push(nick),
    },
    time.clock,
  );
  return { changes, table, time, sent, unanswered };
}

t.test(
  'a round: one version, one table_delta with the changed entries to every online client served',
  async (t) => {
    const { changes, table, time, sent } = setup([
      client('ann'),
      client('bob'),
      client('cat', { online: false, deregistered: true }),
    ]);
    changes.add('bob');
    changes.add('ann');
    changes.tell();
    changes.tell();
    t.equal(sent.length, 0, 'not at once: at the end of the turn');
    time.run();
    t.same(
      sent.map((push) => push.to),
      ['ann', 'bob'],
      'online clients only',
    );
    t.same(sent[0].body, {
      t: 'table_delta',
      epoch: 'e1',
      from: 0,
      to: 1,
      entries: [
        { nick: 'bob', ip: '127.0.0.1', port: 1003, online: true, sk: 'sk-bob', ek: 'ek-bob' },
        { nick: 'ann', ip: '127.0.0.1', port: 1003, online: true, sk: 'sk-ann', ek: 'ek-ann' },
      ],
    });
    t.equal(changes.version, 1);
    table.get('ann')!.port = 2000;
    changes.add('ann');
    changes.tell();
    time.run();
    t.same(
      sent
        .slice(2)
        .map((push) => [push.to, push.body.from, push.body.to, push.body.entries[0].port]),
      [
        ['ann', 1, 2, 2000],
        ['bob', 1, 2, 2000],
      ],
      'the next version, with the entry as it is when the round goes',
    );
    t.equal(time.pending, 0);
  },
);

t.test('nothing changed: no round, no version', async (t) => {
  const { changes, time, sent } = setup([client('ann')]);
  changes.tell();
  time.run();
  t.equal(sent.length, 0);
  t.equal(changes.version, 0);
});

t.test(
  'a client taken for offline without a dereg hears of it; one that deregistered does not',
  async (t) => {
    const { changes, table, time, sent } = setup([client('ann'), client('bob'), client('cat')]);
    table.get('bob')!.online = false;
    Object.assign(table.get('cat')!, { online: false, deregistered: true });
    changes.add('bob');
    changes.add('cat');
    changes.tell();
    time.run();
    t.same(
      sent.map((push) => push.to),
      ['ann', 'bob'],
    );
  },
);

t.test('clients of other nodes, and unresponsive ones, get no changes', async (t) => {
  const { changes, time, sent } = setup(
    [client('ann'), client('bob', { node: 'other' }), client('cat')],
    {
      serves: (record) => record.node !== 'other',
      unresponsive: ['cat'],
    },
  );
  changes.add('ann');
  changes.tell();
  time.run();
  t.same(
    sent.map((push) => push.to),
    ['ann'],
  );
});

t.test('more than MAX_PAGE_ENTRIES changed entries go as pages, one version each', async (t) => {
  const many = Array.from({ length: MAX_PAGE_ENTRIES + 3 }, (_, i) =>
    client(`n${i}`, { online: i === 0 }),
  );
  const { changes, time, sent } = setup(many, { serves: (record) => record.nick === 'n0' });
  for (const record of many) changes.add(record.nick);
  changes.tell();
  time.run();
  t.same(
    sent.map((push) => [push.to, push.body.from, push.body.to, push.body.entries.length]),
    [
      ['n0', 0, 1, MAX_PAGE_ENTRIES],
      ['n0', 1, 2, 3],
    ],
  );
  t.equal(changes.version, 2);
});

t.test('a change unanswered is reported for that client only', async (t) => {
  const { changes, time, sent, unanswered } = setup([client('ann'), client('bob')], {
    silent: ['bob'],
  });
  changes.add('ann');
  changes.tell();
  time.run();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(sent.length, 2);
  t.same(unanswered, ['bob']);
});

t.test('rounds are paced: past the burst, the next one waits for the interval', async (t) => {
  const { changes, time, sent } = setup([client('ann')]);
  for (let i = 0; i < PUSH_BURST + 1; i++) {
    changes.add('ann');
    changes.tell();
    time.run();
  }
  t.equal(sent.length, PUSH_BURST, 'the time stands still: the round past the burst waits');
  t.equal(time.pending, 1);
  changes.close();
  t.equal(time.pending, 0, 'close() clears it');
  time.run();
  t.equal(sent.length, PUSH_BURST);
});

t.test('pages: runs of MAX_PAGE_ENTRIES; an empty table is one empty page', async (t) => {
  t.same(pages([]), [[]]);
  const entries = Array.from({ length: 2 * MAX_PAGE_ENTRIES + 1 }, (_, i) => ({
    nick: `n${i}`,
    ip: '',
    port: 1,
    online: true,
    sk: '',
    ek: '',
  }));
  t.same(
    pages(entries).map((page) => page.length),
    [MAX_PAGE_ENTRIES, MAX_PAGE_ENTRIES, 1],
  );
});

t.test(
  'beyond the table limit: a change goes to the watchers of the nick that changed, one presence each, and to no one else',
  async (t) => {
    const records = [
      client('ann'),
      client('bob'),
      client('cat'),
      client('dan'),
      client('eve', { online: false }),
    ];
    const { changes, table, time, sent } = setup(records, {
      watchers: { bob: ['ann', 'cat', 'eve'], dan: ['ann'] },
    });
    table.get('bob')!.online = false;
    changes.add('bob');
    changes.add('dan');
    changes.tell();
    time.run();
    const byClient = new Map(sent.map(({ to, body }) => [to, body]));
    t.same(
      [...byClient.keys()].sort(),
      ['ann', 'bob', 'cat'],
      'the online watchers, and bob taken for offline (eve is offline; dan watches no one)',
    );
    t.equal(sent.length, 3, 'one datagram each: at most watchers + 1');
    t.same(
      byClient
        .get('ann')!
        .entries.map((e) => e.nick)
        .sort(),
      ['bob', 'dan'],
      'both changes in one presence',
    );
    t.same(
      byClient.get('cat')!.entries.map((e) => e.nick),
      ['bob'],
    );
    t.same(
      byClient.get('bob')!.entries.map((e) => `${e.nick}${e.online ? '' : '(off)'}`),
      ['bob(off)'],
      'bob hears of itself',
    );
    t.same(
      sent.map(({ to, notice }) => `${to} ${notice ? 'notice' : 'request'}`).sort(),
      ['ann notice', 'bob request', 'cat notice'],
      'the watchers get notices (never answered); bob, taken for offline, a request (its answer shows it is alive)',
    );
    t.ok(
      sent.every(
        ({ body }) =>
          body.t === 'presence' && body.version === changes.version && body.epoch === 'e1',
      ),
      "presence of this round's version",
    );
    t.equal(changes.version, 1);
  },
);

t.test(
  'beyond the table limit: a watcher of many changed nicks gets them in notices of WATCH_BATCH entries, each one datagram',
  async (t) => {
    const others = Array.from({ length: WATCH_BATCH * 2 + 1 }, (_, i) => client(`u${i}`));
    const { changes, time, sent } = setup([client('ann'), ...others], {
      watchers: Object.fromEntries(others.map((record) => [record.nick, ['ann']])),
    });
    for (const record of others) changes.add(record.nick);
    changes.tell();
    time.run();
    t.same(
      sent.map(({ to, notice, body }) => `${to} ${notice} ${body.entries.length}`),
      [`ann true ${WATCH_BATCH}`, `ann true ${WATCH_BATCH}`, 'ann true 1'],
    );
    t.same(
      sent.flatMap(({ body }) => body.entries.map((e) => e.nick)).sort(),
      others.map((record) => record.nick).sort(),
      'every change once',
    );
  },
);

t.test(
  'beyond the table limit: clients that held the whole table are told once that they now hold what they watch',
  async (t) => {
    const { changes, time, sent } = setup(
      [client('ann'), client('bob'), client('cat', { online: false })],
      { watchers: {}, holders: ['ann', 'cat'] },
    );
    changes.add('bob');
    changes.tell();
    time.run();
    t.same(
      sent.map(({ to, body }) => `${to} ${body.t} ${body.watch} ${body.entries.length}`),
      ['ann presence true 0'],
      'the online holder, once (cat is offline)',
    );
    changes.add('bob');
    changes.tell();
    time.run();
    t.equal(sent.length, 1, 'not told again');
  },
);
