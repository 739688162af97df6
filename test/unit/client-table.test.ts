import t from 'tap';
import fc from 'fast-check';
import { ClientTable } from '../../src/registry/client-table.js';
import type { ClientRecord } from '../../src/store/store.js';

const record = (nick: string, ip: string, port: number, online = true): ClientRecord => ({
  nick,
  ip,
  port,
  online,
  deregistered: false,
  sk: `sk-${nick}`,
  ek: `ek-${nick}`,
});
const nicks = (records: ClientRecord[]) => records.map((entry) => entry.nick).sort();

t.test('a Map by nick: get, has, size, values', async (t) => {
  const table = new ClientTable();
  const alice = record('alice', '10.0.0.1', 4000);
  t.equal(table.set('alice', alice), table);
  table.set('bob', record('bob', '10.0.0.2', 4000));
  t.equal(table.size, 2);
  t.equal(table.get('alice'), alice);
  t.ok(table.has('bob'));
  t.notOk(table.has('carol'));
  t.same(nicks([...table.values()]), ['alice', 'bob']);
});

t.test('at: the records at an address, by ip and port, online or not', async (t) => {
  const table = new ClientTable();
  table.set('alice', record('alice', '10.0.0.1', 4000));
  table.set('gone', record('gone', '10.0.0.1', 4000, false));
  table.set('bob', record('bob', '10.0.0.1', 4001));
  table.set('carol', record('carol', '10.0.0.2', 4000));
  t.same(nicks(table.at({ address: '10.0.0.1', port: 4000 })), ['alice', 'gone']);
  t.same(nicks(table.at({ address: '10.0.0.1', port: 4001 })), ['bob']);
  t.same(table.at({ address: '10.0.0.3', port: 4000 }), []);
});

t.test('at: an IPv4 address seen on a dual-stack socket is the same address', async (t) => {
  const table = new ClientTable();
  table.set('alice', record('alice', '::ffff:10.0.0.1', 4000));
  t.same(nicks(table.at({ address: '10.0.0.1', port: 4000 })), ['alice']);
  table.set('bob', record('bob', '10.0.0.2', 4000));
  t.same(nicks(table.at({ address: '::ffff:10.0.0.2', port: 4000 })), ['bob']);
});

t.test('a nick registered again from elsewhere leaves its old address', async (t) => {
  const table = new ClientTable();
  table.set('alice', record('alice', '10.0.0.1', 4000));
  table.set('alice', record('alice', '10.0.0.9', 5000));
  t.same(table.at({ address: '10.0.0.1', port: 4000 }), []);
  t.same(nicks(table.at({ address: '10.0.0.9', port: 5000 })), ['alice']);
  t.equal(table.size, 1);
  // The same address again, a new record: one entry, the new one.
  const again = record('alice', '10.0.0.9', 5000);
  table.set('alice', again);
  t.same(table.at({ address: '10.0.0.9', port: 5000 }), [again]);
});

t.test('delete: gone from both', async (t) => {
  const table = new ClientTable();
  table.set('alice', record('alice', '10.0.0.1', 4000));
  t.ok(table.delete('alice'));
  t.notOk(table.delete('alice'));
  t.equal(table.size, 0);
  t.same(table.at({ address: '10.0.0.1', port: 4000 }), []);
});

t.test('at returns a copy: the table may change while the caller walks it', async (t) => {
  const table = new ClientTable();
  table.set('alice', record('alice', '10.0.0.1', 4000));
  table.set('bob', record('bob', '10.0.0.1', 4000));
  const seen: string[] = [];
  for (const holder of table.at({ address: '10.0.0.1', port: 4000 })) {
    seen.push(holder.nick);
    table.set(holder.nick, record(holder.nick, '10.0.0.5', 4000));
  }
  t.same(seen.sort(), ['alice', 'bob']);
  t.same(table.at({ address: '10.0.0.1', port: 4000 }), []);
});

t.test('property: the index by address always agrees with the records by nick', async (t) => {
  const nickArb = fc.constantFrom('a', 'b', 'c', 'd', 'e');
  const portArb = fc.constantFrom(1, 2, 3); // few addresses: several nicks share one
  const op = fc.oneof(fc.record({ set: nickArb, port: portArb }), fc.record({ del: nickArb }));
  let checked = 0;
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const table = new ClientTable();
      const model = new Map<string, ClientRecord>();
      for (const o of ops) {
        if ('set' in o) {
          const entry = record(o.set, '10.0.0.1', o.port);
          table.set(o.set, entry);
          model.set(o.set, entry);
        } else if (table.delete(o.del) !== model.delete(o.del)) return false;
        for (const port of [1, 2, 3]) {
          const here = table.at({ address: '10.0.0.1', port });
          const expected = [...model.values()].filter((entry) => entry.port === port);
          if (here.length !== expected.length || !expected.every((entry) => here.includes(entry)))
            return false;
        }
      }
      checked++;
      return table.size === model.size;
    }),
  );
  t.ok(checked > 0);
});
