import t from 'tap';
import { LIST_PAGE } from '../../src/protocol/constants.js';
import { UserPages } from '../../src/registry/user-pages.js';
import type { ClientRecord } from '../../src/store/store.js';

const record = (nick: string, online: boolean): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port: 4000,
  online,
  deregistered: !online,
  sk: 's',
  ek: 'e',
});

t.test(
  'pages of LIST_PAGE in registration order; online ones alone; made again only after a change',
  async (t) => {
    const table = Array.from({ length: LIST_PAGE * 2 + 3 }, (_, i) => record(`n${i}`, i % 2 === 0));
    let reads = 0;
    const pages = new UserPages(() => {
      reads++;
      return table;
    });
    const first = pages.page(false, 0);
    t.equal(first.pages, 3);
    t.same(
      first.entries.map((e) => e.nick),
      table.slice(0, LIST_PAGE).map((r) => r.nick),
    );
    t.equal(pages.page(false, 2).entries.length, 3, 'the last page holds the rest');
    t.same(pages.page(false, 9).entries, [], 'past the end: empty');
    const online = pages.page(true, 0);
    t.ok(
      online.entries.every((e) => e.online),
      'online: those online only',
    );
    t.equal(online.pages, Math.ceil(Math.ceil(table.length / 2) / LIST_PAGE));
    t.equal(reads, 1, 'the table walked once for all those pages');
    table[0].online = false;
    t.ok(
      pages.page(true, 0).entries.some((e) => e.nick === 'n0'),
      'not told of the change: the lists kept',
    );
    pages.changed();
    t.notOk(
      pages.page(true, 0).entries.some((e) => e.nick === 'n0'),
      'told: made again',
    );
    t.equal(reads, 2);
  },
);
