import t from 'tap';
import { MAX_NICK_LENGTH, SAFE_DATAGRAM_BYTES } from '../../src/protocol/constants.js';
import { REGISTRY_NAME } from '../../src/crypto/signing.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { scriptedPeer } from '../helpers/peer.js';
import { createTestnet, eventually, nextEvent, record } from '../helpers/testnet.js';

const fastGroups = { groupAckTimeoutMs: 120 };

t.test(
  'four clients: create, list, join, relay to every other member, members, leave',
  async (t) => {
    const net = await createTestnet(t, { registry: fastGroups });
    const [alice, bob, carol, dave] = await Promise.all(
      ['alice', 'bob', 'carol', 'dave'].map((nick) => net.client(nick)),
    );
    t.equal(await alice.createGroup('team'), 'created');
    t.equal(await bob.createGroup('team'), 'exists');
    await alice.createGroup('other');
    t.same(await dave.listGroups(), ['other', 'team']);
    t.equal(await dave.joinGroup('nope'), 'missing');
    t.equal(dave.group, undefined, 'not in group mode after a missing group');
    for (const client of [alice, bob, carol]) t.equal(await client.joinGroup('team'), 'joined');
    await t.rejects(alice.joinGroup('other'), { code: 'ERR_IN_GROUP' }, 'one group at a time');
    t.same(await bob.listMembers(), ['alice', 'bob', 'carol']);
    await t.rejects(dave.listMembers(), { code: 'ERR_NOT_IN_GROUP' });

    const got = [bob, carol].map((client) => nextEvent(client, 'group-message'));
    const aliceEvents = record(alice);
    const daveEvents = record(dave);
    await alice.sendGroup('hello team');
    for (const message of await Promise.all(got))
      t.match(message, { group: 'team', from: 'alice', text: 'hello team' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.notOk(
      aliceEvents.some(([name]) => name === 'group-message'),
      'not echoed to the sender',
    );
    t.same(daveEvents, [], 'nothing for a non-member');

    const gone = nextEvent(bob, 'group-member-gone');
    t.equal(await carol.leaveGroup(), 'team');
    t.match(await gone, { group: 'team', nick: 'carol', reason: 'left' });
    t.same(await bob.listMembers(), ['alice', 'bob']);
    await t.rejects(carol.sendGroup('x'), { code: 'ERR_NOT_IN_GROUP' });
  },
);

t.test('a member that dies is removed after the ACK timeout; the others are told', async (t) => {
  const net = await createTestnet(t, { registry: fastGroups });
  const [alice, bob, carol] = await Promise.all(
    ['alice', 'bob', 'carol'].map((nick) => net.client(nick)),
  );
  await alice.createGroup('g');
  for (const client of [alice, bob, carol]) await client.joinGroup('g');
  await carol.close(); // killed mid-group: no leave, no dereg
  const told = [alice, bob].map((client) => nextEvent(client, 'group-member-gone'));
  await alice.sendGroup('anyone there?');
  for (const notice of await Promise.all(told))
    t.match(notice, { group: 'g', nick: 'carol', reason: 'removed' });
  t.same(await alice.listMembers(), ['alice', 'bob']);
});

t.test(
  'private messages that arrive in group mode are held, then shown in order after leaving',
  async (t) => {
    const net = await createTestnet(t, { registry: fastGroups });
    const [alice, bob, carol] = await Promise.all(
      ['alice', 'bob', 'carol'].map((nick) => net.client(nick)),
    );
    await eventually(() => bob.table().filter((e) => e.online).length === 3);
    await alice.createGroup('g');
    await alice.joinGroup('g');
    const events = record(alice);
    t.equal(
      await bob.send('alice', 'one'),
      'delivered',
      'acknowledged while alice is in the group',
    );
    t.equal(await carol.send('alice', 'two'), 'delivered');
    t.equal(await bob.send('alice', 'three'), 'delivered');
    t.same(events, [], 'nothing shown in group mode');
    await alice.leaveGroup();
    t.same(
      events.map(([name, payload]) =>
        name === 'message' ? (payload as { text: string }).text : name,
      ),
      ['left-group', 'held-messages', 'one', 'two', 'three'],
    );
    t.same(events[1][1], { group: 'g', count: 3 }, 'how many were held, and where');
  },
);

t.test('broadcast reaches everyone online but the sender, and says how many', async (t) => {
  const net = await createTestnet(t);
  const [alice, bob, carol, dave] = await Promise.all(
    ['alice', 'bob', 'carol', 'dave'].map((nick) => net.client(nick)),
  );
  await dave.deregister();
  await eventually(() => alice.table().filter((e) => e.online).length === 3);
  const got = [bob, carol].map((client) => nextEvent(client, 'message'));
  t.same(
    await alice.broadcast('hello all'),
    { received: 2, total: 2 },
    'dave is offline: not counted',
  );
  for (const message of await Promise.all(got))
    t.match(message, { from: 'alice', text: 'hello all', all: true });
  await carol.close(); // gone without a word: still in alice's table as online
  t.same(await alice.broadcast('again'), { received: 1, total: 2 });
  await t.rejects(alice.broadcast('  '), { code: 'ERR_EMPTY_MESSAGE' });
});

t.test('join and leave notices come from the table pushes', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  const events = record(alice);
  const bob = await net.client('bob');
  await eventually(() => events.some(([name]) => name === 'joined'));
  await bob.deregister();
  await eventually(() => events.some(([name]) => name === 'left'));
  t.same(
    events.filter(([name]) => name === 'joined' || name === 'left'),
    [
      ['joined', { nick: 'bob' }],
      ['left', { nick: 'bob' }],
    ],
  );
});

t.test(
  'groups and their members survive a registry restart; a member that registers again is out',
  async (t) => {
    const net = await createTestnet(t, { registry: fastGroups });
    const alice = await net.client('alice');
    await alice.createGroup('kept');
    await alice.joinGroup('kept');
    await net.restartRegistry();
    t.same(await alice.listGroups(), ['kept']);
    t.same(await alice.listMembers(), ['alice']);
    const out = nextEvent(alice, 'removed-from-group');
    await alice.register(); // a fresh registration starts outside any group, on both sides
    t.match(await out, { group: 'kept' });
    t.equal(alice.group, undefined);
    t.same(await (await net.client('bob')).listGroups(), ['kept']);
    await t.rejects(alice.listMembers(), { code: 'ERR_NOT_IN_GROUP' });
  },
);

t.test(
  'leaving a group shows what it held even when the registry does not answer; NOT_IN_GROUP ends group mode',
  async (t) => {
    const net = await createTestnet(t, { registry: fastGroups });
    // Patient enough for a loaded machine (every request to a live registry is answered), short
    // enough that the closed registry's silence is found within a test's time.
    const alice = await net.client('alice', { serverTimeoutMs: 300, serverTries: 4 });
    const bob = await net.client('bob');
    await eventually(() => bob.table().some((e) => e.nick === 'alice'));
    await alice.createGroup('g');
    await alice.joinGroup('g');
    const events = record(alice);
    t.equal(await bob.send('alice', 'held'), 'delivered');
    await net.registry.close();
    await t.rejects(alice.leaveGroup(), { code: 'ERR_TIMEOUT' });
    t.equal(alice.group, undefined, 'out of group mode all the same');
    t.match(
      events.filter(([name]) => name === 'left-group' || name === 'message'),
      [
        ['left-group', { group: 'g' }],
        ['message', { text: 'held' }],
      ],
    );

    await net.restartRegistry();
    const other = await net.client('carol');
    await other.createGroup('h');
    await alice.joinGroup('h');
    await net.registry.close(); // the registry forgets nothing, but say it lost alice's membership:
    const { LowdbStore } = await import('../../src/store/lowdb-store.js');
    const store = new LowdbStore(net.dbPath);
    await store.open();
    await store.putGroup('h', []);
    await store.close();
    await net.restartRegistry();
    const out = nextEvent(alice, 'removed-from-group');
    await t.rejects(alice.sendGroup('anyone?'), { code: 'ERR_NOT_IN_GROUP' });
    t.match(await out, { group: 'h' });
    t.equal(alice.group, undefined);
  },
);

t.test('a full group refuses one more member with a clear error; its members stay', async (t) => {
  const net = await createTestnet(t, { registry: { ...fastGroups, maxGroupMembers: 2 } });
  const [alice, bob, carol] = await Promise.all(
    ['alice', 'bob', 'carol'].map((nick) => net.client(nick)),
  );
  await alice.createGroup('pair');
  t.equal(await alice.joinGroup('pair'), 'joined');
  t.equal(await bob.joinGroup('pair'), 'joined');
  await t.rejects(carol.joinGroup('pair'), {
    code: 'ERR_REGISTRY_FULL',
    message: /at most 2 members/,
  });
  t.equal(carol.group, undefined, 'carol is not in group mode');
  t.same(await alice.listMembers(), ['alice', 'bob']);
  t.equal(await bob.leaveGroup(), 'pair');
  t.equal(await carol.joinGroup('pair'), 'joined', 'a place freed is taken');
});

t.test(
  'listings longer than a datagram come in pages: every group and every member, no reply over 1,232 bytes',
  async (t) => {
    const net = await createTestnet(t, { registry: fastGroups });
    let largest = 0;
    const listed = new Set<string>(); // the ids of the group requests: a retry is not another page
    const proxy = await createProxy(net.registry.address(), {
      fault(datagram, direction) {
        const message = peek(datagram);
        if (direction === 'back') largest = Math.max(largest, datagram.byteLength);
        else if (message?.t === 'group') listed.add(message.id);
        return 'pass';
      },
    });
    t.teardown(() => proxy.close());
    const alice = await net.client('alice', {
      server: { host: '127.0.0.1', port: proxy.address.port },
    });
    // Names of the longest kind: 60 of them are about 2 KB of listing.
    const groups = Array.from({ length: 60 }, (_, i) =>
      `group-${String(i).padStart(2, '0')}-`.padEnd(MAX_NICK_LENGTH, 'x'),
    );
    for (const name of [...groups].reverse()) await alice.createGroup(name);
    listed.clear();
    t.same(await alice.listGroups(), groups, 'every group, in order');
    t.ok(listed.size >= 3, `in pages (${listed.size} requests)`);

    const members = Array.from({ length: 30 }, (_, i) =>
      `member-${String(i).padStart(2, '0')}-`.padEnd(MAX_NICK_LENGTH, 'm'),
    );
    for (const nick of members) {
      const peer = await scriptedPeer(t, net, nick);
      await peer.register();
      await peer.request(
        net.registry.address(),
        { t: 'group', from: nick, op: 'join', group: groups[0] },
        { signer: REGISTRY_NAME },
      );
    }
    t.equal(await alice.joinGroup(groups[0]), 'joined');
    listed.clear();
    t.same(
      await alice.listMembers(),
      [...members, 'alice'],
      'every member, in the order they joined',
    );
    t.ok(listed.size >= 2, `in pages (${listed.size} requests)`);
    t.ok(
      largest <= SAFE_DATAGRAM_BYTES,
      `the largest datagram from the registry: ${largest} bytes`,
    );
  },
);
