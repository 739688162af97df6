import t from 'tap';
import { createTestnet, eventually, nextEvent, record } from '../helpers/testnet.js';

const beats = { heartbeatIntervalMs: 40 };

t.test('a crashed client is taken for offline after missed heartbeats; live ones stay', async (t) => {
  const net = await createTestnet(t, { registry: { heartbeatIntervalMs: 40, missedHeartbeats: 3 } });
  const alice = await net.client('alice', beats);
  const bob = await net.client('bob', beats);
  await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
  await new Promise((resolve) => setTimeout(resolve, 300)); // several sweeps with both alive
  t.same(net.registry.snapshot().entries.filter((e) => e.online).map((e) => e.nick).sort(), ['alice', 'bob'], 'beating clients stay online');
  await bob.close(); // crash: no dereg
  await eventually(() => alice.table().some((e) => e.nick === 'bob' && !e.online), 2000, 'bob shown offline to alice');
  t.equal(await alice.send('bob', 'for later'), 'saved', "the crashed client's messages are saved");
});

t.test('a registry that lost its store: heartbeats bring the registration back by themselves', async (t) => {
  const net = await createTestnet(t, { registry: { heartbeatIntervalMs: 40 } });
  const alice = await net.client('alice', beats);
  const { rm } = await import('node:fs/promises');
  await net.registry.close();
  await rm(net.dbPath);
  const events = record(alice);
  await net.restartRegistry();
  await nextEvent(alice, 'registered', () => true, 3000);
  t.ok(net.registry.snapshot().entries.some((e) => e.nick === 'alice' && e.online), 'alice is in the new table');
  t.ok(events.some(([name]) => name === 'registered'));
});

t.test('server down: said once; back: said once', async (t) => {
  const net = await createTestnet(t, { registry: { heartbeatIntervalMs: 40 } });
  const alice = await net.client('alice', { ...beats, serverTimeoutMs: 20, serverTries: 2 });
  const events = record(alice);
  await net.registry.close();
  await nextEvent(alice, 'server-not-responding', (e) => e.action === 'heartbeat', 2000);
  await new Promise((resolve) => setTimeout(resolve, 250)); // several more failed beats
  t.equal(events.filter(([name]) => name === 'server-not-responding').length, 1, 'one line per outage');
  await net.restartRegistry();
  await nextEvent(alice, 'server-back', () => true, 2000);
  t.equal(alice.state, 'online');
});

t.test('a restarted registry still serves the clients it had: a crash after the restart is noticed', async (t) => {
  const net = await createTestnet(t, { registry: { heartbeatIntervalMs: 40, missedHeartbeats: 3 } });
  const alice = await net.client('alice', beats);
  const bob = await net.client('bob', beats);
  await net.restartRegistry();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await bob.close();
  await eventually(() => alice.table().some((e) => e.nick === 'bob' && !e.online), 2000, 'bob taken for offline by the restarted registry');
  t.pass('the restarted registry pushed the change to alice');
});
