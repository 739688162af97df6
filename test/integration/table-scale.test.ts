import { generateRawKeyPair, privateKeyObject } from '../../src/crypto/key-pairs.js';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { signingKeyFrom } from '../../src/crypto/identity.js';
import { REGISTRY_NAME } from '../../src/crypto/signing.js';
import { MAX_PAGE_ENTRIES } from '../../src/protocol/constants.js';
import type { MessageOf } from '../../src/protocol/messages.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { Endpoint } from '../../src/transport/endpoint.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

/**
 * Many online clients without the cost of many ChatClients: each is a bare endpoint with
 * a key of its own that acknowledges (signed) the registry's table changes and counts them.
 * They are put in the store as online before the registry starts, as a registry restarted
 * under its clients finds them: registering 2,000 through the protocol would send every
 * newcomer the whole table, O(N²) bytes in all (measured in bench/, not here).
 */
/** Whole tables and changes to everyone, past the default table limit: what these tests are about. */
const WHOLE_TABLES = 100_000;

async function simulatedClients(t: Test, dbPath: string, count: number) {
  const store = new LowdbStore(dbPath);
  await store.open();
  let registryKey: ReturnType<typeof signingKeyFrom> | undefined;
  const ek = 'A'.repeat(43) + '=';
  const clients: Array<{
    nick: string;
    endpoint: Endpoint;
    deltas: Array<MessageOf<'table_delta'>>;
  }> = [];
  for (let i = 0; i < count; i++) {
    const nick = `sim${i}`;
    const keys = generateRawKeyPair('ed25519');
    const privateKey = privateKeyObject('ed25519', keys);
    const deltas: Array<MessageOf<'table_delta'>> = [];
    const endpoint = new Endpoint({
      auth: {
        name: nick,
        privateKey,
        keyFor: (by) => (by === REGISTRY_NAME ? registryKey : undefined),
      },
    });
    endpoint.onRequest((request, _from, respond) => {
      if (request.t === 'table_delta') deltas.push(request);
      respond({ t: 'ack' });
    });
    await endpoint.listen(0, '127.0.0.1');
    clients.push({ nick, endpoint, deltas });
    await store.putClient({
      nick,
      ip: '127.0.0.1',
      port: endpoint.address().port,
      online: true,
      sk: keys.publicRaw.toString('base64'),
      ek,
    });
  }
  await store.close();
  t.teardown(() => Promise.all(clients.map((client) => client.endpoint.close())));
  return { clients, trust: (sk: string) => (registryKey = signingKeyFrom(sk)) };
}

t.test(
  '2,000 online clients: a newcomer gets the whole table in pages, and each change costs one datagram per online client',
  async (t) => {
    const dbPath = join(t.testdir(), 'registry.json');
    const count = 2_000;
    const sims = await simulatedClients(t, dbPath, count);
    // Every simulated client lives in this process too: pushes get the default patience.
    const net = await createTestnet(t, {
      dbPath,
      registry: {
        heartbeatIntervalMs: 60_000,
        pushTimeoutMs: 1_000,
        pushTries: 3,
        tableLimit: WHOLE_TABLES,
      },
    });
    sims.trust(net.registry.publicKeys.sk);
    const firstSends = () => net.registry.stats.sent - net.registry.stats.retried;

    let before = firstSends();
    const alice = await net.client('alice', { heartbeatIntervalMs: 60_000, serverTimeoutMs: 500 });
    await eventually(
      () => alice.table().length === count + 1,
      30_000,
      'alice holds the whole table',
    );
    t.ok(
      alice.table().every((entry) => entry.online),
      'everyone in it online',
    );
    await eventually(
      () => sims.clients.every((sim) => sim.deltas.length === 1),
      30_000,
      'every simulated client heard of alice',
    );
    const told = sims.clients.map((sim) => sim.deltas[0]);
    t.ok(
      told.every((delta) => delta.entries.length === 1 && delta.entries[0].nick === 'alice'),
      'the change is alice alone',
    );
    const pages = Math.ceil((count + 1) / MAX_PAGE_ENTRIES);
    const joined = firstSends() - before;
    // The change: one datagram per simulated client. alice's table: a few hundred fragments
    // (about 170 bytes an entry), perhaps twice if this busy process made her ask again.
    t.ok(
      joined >= count + pages,
      `${joined} datagrams for alice's arrival (she asked again ${alice.stats.resyncs} times)`,
    );
    t.ok(
      joined <= 2 * count,
      `${joined} datagrams: O(N), not a whole table to everyone (that would be ~${count * 200})`,
    );
    // Settled: nothing more sent over 100 ms (alice's session request, a late retry), so the next count is the change alone.
    let last = -1;
    await eventually(
      () => {
        const quiet = net.registry.stats.sent === last;
        last = net.registry.stats.sent;
        return quiet;
      },
      15_000,
      'the registry is quiet',
      100,
    );
    before = firstSends();
    await alice.deregister();
    await eventually(
      () => sims.clients.every((sim) => sim.deltas.length === 2),
      30_000,
      'every simulated client heard alice left',
    );
    t.ok(
      sims.clients.every((sim) => sim.deltas[1].entries[0].online === false),
      'as offline',
    );
    const left = firstSends() - before;
    t.ok(
      left >= count && left <= count + 2,
      `${left} datagrams for one change with ${count} online (one each, plus the reply to dereg)`,
    );
  },
);

t.test('a change of more than one page goes as several deltas, applied in order', async (t) => {
  const dbPath = join(t.testdir(), 'registry.json');
  const count = MAX_PAGE_ENTRIES + 50;
  await simulatedClients(t, dbPath, count); // they never send a heartbeat
  // Changes are gathered for 2 s: the sweep that takes every silent client offline lands in one.
  const net = await createTestnet(t, {
    dbPath,
    registry: { heartbeatIntervalMs: 200, pushDelayMs: 2_000, tableLimit: WHOLE_TABLES },
  });
  // A delta that comes ahead of the one before it (the first, of 250 entries, goes in many
  // fragments) is held 2 × serverTimeoutMs: a patient client (5 s), so a busy machine does
  // not turn that wait into a resync.
  const alice = await net.client('alice', { heartbeatIntervalMs: 100, serverTimeoutMs: 2500 });
  await eventually(() => alice.table().length === count + 1, 15_000);
  const resyncs = alice.stats.resyncs;
  const version = net.registry.snapshot().version;
  await eventually(
    () => alice.table().filter((e) => e.online).length === 1,
    30_000,
    'alice sees every silent client go offline',
  );
  t.ok(net.registry.snapshot().version >= version + 2, 'in more than one delta');
  t.equal(alice.stats.resyncs, resyncs, 'each applied in turn, without asking for the whole table');
});

t.test('a table page lost on every try: the newcomer asks again and gets it whole', async (t) => {
  const dbPath = join(t.testdir(), 'registry.json');
  const count = 2 * MAX_PAGE_ENTRIES;
  await simulatedClients(t, dbPath, count);
  const net = await createTestnet(t, {
    dbPath,
    registry: { heartbeatIntervalMs: 60_000, tableLimit: WHOLE_TABLES },
  });
  let lost: string | undefined;
  let dropped = 0;
  const proxy = await createProxy(net.registry.address(), {
    drop(datagram, direction) {
      const message = peek(datagram);
      if (direction !== 'back' || message?.t !== 'frag') return false;
      lost ??= message.of; // the first page to arrive in fragments is lost, every piece, every try
      if (message.of === lost) dropped++;
      return message.of === lost;
    },
  });
  t.teardown(() => proxy.close());
  const alice = await net.client('alice', {
    server: { host: '127.0.0.1', port: proxy.address.port },
    serverTimeoutMs: 50,
    serverTries: 2,
  });
  await eventually(() => alice.table().length === count + 1, 15_000, 'alice holds the whole table');
  t.ok(dropped > 0, `${dropped} fragments of one page lost`);
  t.ok(alice.stats.resyncs >= 1, 'she asked for the table again');
});
