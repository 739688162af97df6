import t from 'tap';
import { PROTOCOL_VERSION } from '../../src/protocol/constants.js';
import type { MessageOf } from '../../src/protocol/messages.js';
import { Subscriptions } from '../../src/registry/subscriptions.js';
import type { ClientRecord } from '../../src/store/store.js';

const record = (nick: string, online = true): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port: 4000,
  online,
  deregistered: false,
  sk: 's',
  ek: 'e',
});

function setup(nicks: string[], maxWatch = 3) {
  const table = new Map(nicks.map((nick) => [nick, record(nick)]));
  const pushed: string[] = [];
  let version = 7;
  const subscriptions = new Subscriptions({
    maxWatch,
    epoch: 'E',
    version: () => version,
    record: (nick) => table.get(nick),
    records: () => table.values(),
    push: async (r, entries, watch) =>
      void pushed.push(`${r.nick} ${entries.length} ${watch ?? ''}`.trim()),
  });
  return { subscriptions, table, pushed, setVersion: (v: number) => (version = v) };
}

const watch = (nick: string, more: Partial<MessageOf<'watch'>>): MessageOf<'watch'> => ({
  v: PROTOCOL_VERSION,
  t: 'watch',
  id: 'w',
  nick,
  ...more,
});
const list = (nick: string, page = 0): MessageOf<'list'> => ({
  v: PROTOCOL_VERSION,
  t: 'list',
  id: 'l',
  nick,
  online: false,
  page,
});

t.test(
  'watch: entries of the nicks the table holds, as of its version; others named and watched all the same; past the limit, full',
  async (t) => {
    const { subscriptions } = setup(['ann', 'bob', 'cat']);
    const answer = subscriptions.watch(watch('ann', { add: ['bob', 'zed', 'ann'] }));
    t.match(answer, { t: 'watched', epoch: 'E', version: 7, missing: ['zed'] });
    t.same(
      (answer as MessageOf<'watched'>).entries.map((e) => e.nick),
      ['bob'],
      'never herself',
    );
    t.same(
      [...subscriptions.watches.watchersOf('zed')],
      ['ann'],
      'a nick not yet registered is watched',
    );
    const full = subscriptions.watch(watch('ann', { add: ['cat', 'dan'] })) as MessageOf<'watched'>;
    t.equal(full.full, true, 'three at most: dan refused');
    t.same(
      full.entries.map((e) => e.nick),
      ['cat'],
    );
    subscriptions.watch(watch('ann', { clear: true, add: ['cat'] }));
    t.same([...subscriptions.watches.watchedBy('ann')], ['cat'], 'clear first, then add');
    subscriptions.registered('ann', false);
    t.same([...subscriptions.watches.watchedBy('ann')], [], 'a new registration says it again');
  },
);

t.test(
  'holders of the whole table: taken once; told they now hold what they watch; a dereg is out',
  async (t) => {
    const { subscriptions, table, pushed } = setup(['ann', 'bob', 'cat']);
    subscriptions.registered('ann', true);
    subscriptions.registered('bob', true);
    subscriptions.registered('cat', true);
    subscriptions.left('cat');
    subscriptions.registered('bob', false);
    t.same(
      subscriptions.takeWholeTableHolders(),
      ['ann'],
      'bob registered again beyond the limit, cat left',
    );
    t.same(subscriptions.takeWholeTableHolders(), [], 'taken once');
    await subscriptions.tellWatchMode(table.get('bob')!);
    t.same(pushed, ['bob 0 true']);
  },
);

t.test('list: pages of the table, a budget of them per nick', async (t) => {
  const { subscriptions } = setup(['ann', 'bob']);
  t.match(await subscriptions.list(list('ann')), {
    t: 'listing',
    page: 0,
    pages: 1,
    entries: [{ nick: 'ann' }, { nick: 'bob' }],
  });
  for (let i = 1; i < 20; i++) await subscriptions.list(list('ann'));
  t.match(
    await subscriptions.list(list('ann')),
    { refuse: /too many pages/ },
    'the 21st within 10 s',
  );
  t.match(
    await subscriptions.list(list('bob')),
    { t: 'listing' },
    'another nick has its own budget',
  );
});

t.test('the records of whom a nick watches: those the table holds', async (t) => {
  const { subscriptions } = setup(['ann', 'bob', 'cat']);
  subscriptions.watch(watch('ann', { add: ['bob', 'zed'] }));
  t.same(
    subscriptions.watchedRecords('ann').map((r) => r.nick),
    ['bob'],
    'zed is watched but not in the table',
  );
  t.same(subscriptions.watchedRecords('cat'), [], 'cat watches nobody');
});
