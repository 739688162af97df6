import t from 'tap';
import type { ChatClient } from '../../src/client/client.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

t.test(
  'a change costs one datagram per online client, whatever the size of the table',
  async (t) => {
    const net = await createTestnet(t);
    const clients: ChatClient[] = [];
    for (let i = 0; i < 100; i++)
      clients.push(await net.client(`user${i}`, { heartbeatIntervalMs: 60_000 }));
    const everyoneKnows = () => clients.every((c) => c.table().length === 100);
    await eventually(everyoneKnows, 15_000, 'every client has the whole table');
    await new Promise((resolve) => setTimeout(resolve, 400)); // quiet
    // First transmissions only: with a hundred clients in one process, some retries are timing.
    const firstSends = () => net.registry.stats.sent - net.registry.stats.retried;
    const before = firstSends();
    await clients[0].deregister();
    await eventually(
      () =>
        clients.slice(1).every((c) => c.table().find((e) => e.nick === 'user0')?.online === false),
      15_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sent = firstSends() - before;
    // 99 online clients get one table_delta each, plus the ACK of the dereg itself.
    t.ok(
      sent <= 99 + 2,
      `${sent} datagrams for one change with 100 in the table (a whole table each would be ~${99 * 23})`,
    );
    t.ok(sent >= 99, 'and every online client was told');
  },
);

t.test('a client that missed a version asks for the whole table and catches up', async (t) => {
  const net = await createTestnet(t);
  // Every try of the change that brings bob is lost on its way to alice.
  const bringsBob = (datagram: Buffer) => {
    const message = peek(datagram);
    return message?.t === 'table_delta' && message.entries.some((entry) => entry.nick === 'bob');
  };
  const proxy = await createProxy(net.registry.address(), {
    drop: (datagram, direction) => direction === 'back' && bringsBob(datagram),
  });
  t.teardown(() => proxy.close());
  const alice = await net.client('alice', {
    server: { host: '127.0.0.1', port: proxy.address.port },
    serverTimeoutMs: 40,
    serverTries: 4,
  }); // quick to ask again, with tries to spare on a busy machine
  await net.client('bob');
  await net.client('carol'); // the next one does not follow alice's version: she asks for the whole table
  await eventually(
    () =>
      alice
        .table()
        .map((e) => e.nick)
        .sort()
        .join() === 'alice,bob,carol',
    15_000,
    'alice caught up',
  );
  t.ok(alice.stats.resyncs >= 1, `she asked for the whole table (${alice.stats.resyncs})`);
});

t.test(
  'a client that let a change go unanswered is caught up when next heard from, with no further change',
  async (t) => {
    const net = await createTestnet(t);
    // Every try of the change that brings bob is lost on its way to alice: the registry takes
    // her for deaf and pushes nothing more to her until she is heard from again.
    const proxy = await createProxy(net.registry.address(), {
      drop: (datagram, direction) => {
        const message = peek(datagram);
        return (
          direction === 'back' &&
          message?.t === 'table_delta' &&
          message.entries.some((entry) => entry.nick === 'bob')
        );
      },
    });
    t.teardown(() => proxy.close());
    const alice = await net.client('alice', {
      server: { host: '127.0.0.1', port: proxy.address.port },
      heartbeatIntervalMs: 100,
    });
    await net.client('bob');
    // Nothing changes after bob: only catching alice up on her next heartbeat brings him.
    await eventually(
      () => alice.table().some((e) => e.nick === 'bob' && e.online),
      15_000,
      'alice learnt of bob',
    );
    t.ok(proxy.counts.dropped >= 1, `the change was lost (${proxy.counts.dropped} tries)`);
  },
);

t.test(
  'a burst of registrations: past the first rounds, changes go out paced, several to a round',
  async (t) => {
    const rounds = async (pushIntervalMs: number) => {
      const net = await createTestnet(t, { registry: { pushIntervalMs } });
      const before = net.registry.snapshot().version;
      const clients: ChatClient[] = [];
      const started = Date.now();
      for (let i = 0; i < 30; i++)
        clients.push(await net.client(`burst${i}`, { heartbeatIntervalMs: 60_000 }));
      const elapsed = Date.now() - started;
      await eventually(
        () => clients.every((c) => c.table().filter((e) => e.online).length === 30),
        15_000,
        'every table complete',
      );
      return { rounds: net.registry.snapshot().version - before, elapsed };
    };
    const unpaced = await rounds(0);
    t.equal(unpaced.rounds, 30, 'unpaced: a round per registration');
    // An interval far above what a registration takes, so that pacing, not speed, decides.
    const paced = await rounds(1000);
    t.ok(paced.rounds < 30, `paced: ${paced.rounds} rounds for 30 registrations`);
    t.ok(
      paced.rounds <= 10 + Math.ceil(paced.elapsed / 1000) + 1,
      `at most 10 at once, then one per second (${paced.elapsed} ms)`,
    );
  },
);
