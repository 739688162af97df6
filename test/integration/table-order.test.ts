import { readFile } from 'node:fs/promises';
import t from 'tap';
import type { TableEntry } from '../../src/protocol/fields.js';
import type { Message, MessageOf } from '../../src/protocol/messages.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { createTestnet, eventually, record } from '../helpers/testnet.js';

const online = (entries: TableEntry[]) =>
  entries
    .filter((entry) => entry.online)
    .map((entry) => entry.nick)
    .sort();

const brings = (message: Message | undefined, nick: string): message is MessageOf<'table_delta'> =>
  message?.t === 'table_delta' && message.entries.some((entry) => entry.nick === nick);

t.test(
  'a change that comes ahead of its predecessor is held, and both are applied in order when the late one comes',
  async (t) => {
    // The registry keeps trying the late change for 15 s: it is still waiting for its answer
    // when the relay lets the first try through.
    const net = await createTestnet(t, { registry: { pushTimeoutMs: 1_000, pushTries: 4 } });
    let watching = false;
    /** The first try of the change that brings bob, held by the relay; its other tries are lost. */
    let late: { delta: MessageOf<'table_delta'>; send: () => void } | undefined;
    let released = false;
    /** The change that brings carol, which overtakes it. */
    let ahead: MessageOf<'table_delta'> | undefined;
    /** alice's table once she had acknowledged (so taken) the change that came ahead. */
    let tableWhenAheadTaken: string[] | undefined;
    const requests: string[] = [];
    let wholeTables = 0;
    const proxy = await createProxy(net.registry.address(), {
      fault(datagram, direction) {
        const message = peek(datagram);
        if (direction === 'forward') {
          if (!watching || !message) return 'pass';
          requests.push(message.t);
          if (message.t !== 'ack' || !ahead || message.re !== ahead.id || !late || released)
            return 'pass';
          // alice took the change that came ahead: the one before it goes now.
          tableWhenAheadTaken = online(alice.table());
          released = true;
          late.send();
          return 'pass';
        }
        if (watching && message?.t === 'table') wholeTables++;
        if (!late && brings(message, 'bob')) {
          const delta = message;
          return { held: (send) => (late = { delta, send }) };
        }
        // Its other tries (the same id) are lost until it has gone.
        if (late && !released && message?.t === 'table_delta' && message.id === late.delta.id)
          return 'drop';
        if (brings(message, 'carol')) ahead ??= message;
        return 'pass';
      },
    });
    t.teardown(() => proxy.close());
    // A change held ahead of its predecessor waits 2 × serverTimeoutMs (10 s here) before alice
    // asks for the whole table: far longer than the relay takes to let the late one go.
    const alice = await net.client('alice', {
      server: { host: '127.0.0.1', port: proxy.address.port },
      serverTimeoutMs: 5_000,
      heartbeatIntervalMs: 60_000,
    });
    await eventually(
      () => online(alice.table()).join() === 'alice',
      10_000,
      'alice is in her table',
    );
    const resyncs = alice.stats.resyncs;
    const events = record(alice);
    watching = true;

    await net.client('bob', { heartbeatIntervalMs: 60_000 });
    await eventually(() => late !== undefined, 10_000, 'the change that brings bob is held');
    await net.client('carol', { heartbeatIntervalMs: 60_000 });
    await eventually(
      () => online(alice.table()).join() === 'alice,bob,carol',
      10_000,
      () => `alice sees bob and carol (she sees ${online(alice.table()).join()})`,
    );

    t.equal(
      ahead?.from,
      late?.delta.to,
      'the change that brings carol follows the one that brings bob',
    );
    t.same(
      tableWhenAheadTaken,
      ['alice'],
      'alice held the change that came ahead: neither was shown',
    );
    const tables = events.flatMap(([name, payload]) =>
      name === 'table' ? [online(payload.entries)] : [],
    );
    t.notOk(
      tables.some((nicks) => nicks.includes('carol') && !nicks.includes('bob')),
      `carol was never shown without bob (${JSON.stringify(tables)})`,
    );
    t.same(
      events.flatMap(([name, payload]) => (name === 'joined' ? [payload.nick] : [])),
      ['bob', 'carol'],
      'bob joined, then carol',
    );
    t.equal(alice.stats.resyncs, resyncs, 'alice did not ask for the whole table');
    t.notOk(requests.includes('table_sync'), `no table_sync went out (${requests.join()})`);
    t.equal(wholeTables, 0, 'no whole table came: the two changes made her table');
  },
);

t.test(
  "a newcomer's first table lost on every try: it goes on, asks for the table, and its saved message waits for it",
  async (t) => {
    const net = await createTestnet(t);
    const bob = await net.client('bob');
    // carol registers once so that bob knows her, then leaves: bob's message is saved for her.
    const before = await net.client('carol');
    await eventually(() => online(bob.table()).includes('carol'), 10_000, 'bob sees carol');
    await before.deregister();
    await before.close();
    await eventually(() => !online(bob.table()).includes('carol'), 10_000, 'bob sees carol leave');
    t.equal(await bob.send('carol', 'kept for you'), 'saved', "bob's message is saved for her");
    const mailbox = net.dbPath.replace(/\.json$/, '.mailboxes/m-carol.json');
    const saved = async () =>
      (JSON.parse(await readFile(mailbox, 'utf8')) as { messages: unknown[] }).messages.length;

    let dropping = true;
    let tablesLost = 0;
    let asked = 0;
    /** Deliveries of her mailbox while her table was lost: each try of one has the same id. */
    const deliveries = new Set<string>();
    const proxy = await createProxy(net.registry.address(), {
      drop(datagram, direction) {
        const message = peek(datagram);
        if (direction === 'forward') {
          if (message?.t === 'table_sync') asked++;
          return false;
        }
        if (!dropping) return false;
        if (message?.t === 'deliver') deliveries.add(message.id);
        // The change of her own arrival is lost too: only her going on asks for the table.
        if (message?.t === 'table_delta') return true;
        if (message?.t !== 'table') return false;
        tablesLost++;
        return true;
      },
    });
    t.teardown(() => proxy.close());

    // carol starts afresh, a newcomer with no table, through the proxy.
    const carol = await net.openClient('carol', {
      server: { host: '127.0.0.1', port: proxy.address.port },
      heartbeatIntervalMs: 200, // each heartbeat brings her mailbox again
    });
    const events = record(carol);
    let registered = false;
    const registering = carol.register();
    registering.then(
      () => (registered = true),
      () => {},
    );
    await eventually(() => registered, 10_000, 'carol went on without her first table');
    await registering;
    t.ok(tablesLost >= 1, `her first table was lost (${tablesLost} tries)`);
    t.equal(carol.state, 'online', 'she is online');
    t.same(carol.table(), [], 'with the table she had: none');

    await eventually(() => asked >= 1, 10_000, 'carol asked for the table');
    t.ok(carol.stats.resyncs >= 1, `she asked for the whole table (${carol.stats.resyncs} times)`);
    // Not acknowledged while bob is unknown to her: kept, and delivered again at a heartbeat.
    await eventually(
      () => deliveries.size >= 2,
      10_000,
      () => `her mailbox was delivered again (${deliveries.size} deliveries)`,
    );
    t.equal(await saved(), 1, 'the message is still in her mailbox');
    t.notOk(
      events.some(([name]) => name === 'saved-message'),
      'nothing was shown from a sender she does not know',
    );
    t.same(carol.table(), [], 'and her table was still lost');

    dropping = false;
    await eventually(
      () => online(carol.table()).join() === 'bob,carol',
      10_000,
      () => `carol's table is complete (${online(carol.table()).join()})`,
    );
    await eventually(
      () => events.some(([name]) => name === 'saved-message'),
      10_000,
      'the saved message is shown',
    );
    await eventually(async () => (await saved()) === 0, 10_000, 'her mailbox emptied');
    const shown = events.flatMap(([name, payload]) =>
      name === 'saved-message' ? [payload as { from: string; text: string }] : [],
    );
    t.same(
      shown.map(({ from, text }) => ({ from, text })),
      [{ from: 'bob', text: 'kept for you' }],
      'shown once',
    );
    const knewBob = events.findIndex(
      ([name, payload]) => name === 'table' && payload.entries.some((e) => e.nick === 'bob'),
    );
    const shownAt = events.findIndex(([name]) => name === 'saved-message');
    t.ok(knewBob >= 0 && knewBob < shownAt, 'after her table brought bob');
  },
);
