import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { FileOutbox } from '../../src/client/outbox.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { scriptedPeer, sealAs } from '../helpers/peer.js';
import type { ChatClientOptions } from '../../src/client/options.js';
import { createTestnet, eventually, nextEvent, record, type Testnet } from '../helpers/testnet.js';

const quickRetry = { outboxRetryMs: 50, serverTimeoutMs: 30, serverTries: 2 };

/**
 * `nick` with `quickRetry` (and `options`), registered. The quick budget is for the registry
 * down below, not for registering on a loaded machine: a registration it lets time out is
 * asked again.
 */
async function quickClient(net: Testnet, nick: string, options: Partial<ChatClientOptions> = {}) {
  const client = await net.openClient(nick, { ...quickRetry, ...options });
  for (let tries = 1; ; tries++) {
    try {
      await client.register();
      break;
    } catch (error) {
      if (tries >= 20 || (error as { code?: string }).code !== 'ERR_TIMEOUT') throw error;
    }
  }
  await client.registrySessionShared();
  return client;
}

t.test(
  'registry down: the message is kept, retried, and ends with one honest outcome, in order',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await quickClient(net, 'alice');
    const bob = await net.client('bob');
    await bob.deregister();
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && !e.online));
    await net.registry.close();
    const events = record(alice);
    t.equal(await alice.send('bob', 'first'), 'queued');
    const second = alice.send('bob', 'second'); // waits behind the first
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.same(
      events.map(([name]) => name),
      ['fallback', 'server-not-responding', 'queued'],
      'told once, however many retries',
    );
    await net.restartRegistry();
    // The second's send() resolves at its first outcome: saved, or queued again when the
    // restarted registry (on a loaded machine) outlasts the client's 2 × 30 ms budget; either
    // way it is kept until saved. What must hold: each ends saved, once, in the order typed.
    t.match(await second, /^(saved|queued)$/, 'the second settles after the first');
    const saved = () =>
      events.filter(([name]) => name === 'saved').map(([, p]) => (p as { mid: string }).mid);
    await eventually(() => saved().length >= 2, 30_000, 'both saved');
    t.equal(saved().length, 2, 'one final outcome each');
    t.equal(new Set(saved()).size, 2, 'each message saved once');
    t.notOk(
      events.some(([name]) => name === 'send-failed'),
      'never given up on',
    );
    const back = record(bob);
    await bob.register();
    await eventually(() => back.filter(([name]) => name === 'saved-message').length === 2);
    t.same(
      back.filter(([n]) => n === 'saved-message').map(([, p]) => (p as { text: string }).text),
      ['first', 'second'],
    );
  },
);

t.test(
  'a full outbox: the message past it is refused at once and nothing is kept; room again as they settle',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await quickClient(net, 'alice', { outboxMessages: 2 });
    const bob = await net.client('bob');
    await bob.deregister();
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && !e.online));
    await net.registry.close();
    t.equal(await alice.send('bob', 'first'), 'queued');
    t.equal(await alice.send('bob', 'second'), 'queued');
    t.match(alice.checkSend('bob', 'third'), { code: 'ERR_OUTBOX_FULL' }, 'checkSend says so');
    await t.rejects(alice.send('bob', 'third'), {
      code: 'ERR_OUTBOX_FULL',
      message: '2 messages wait to be sent, the most kept at once',
    });
    t.equal(alice.unsettled, 2, 'the refused one is not kept');
    const events = record(alice);
    await net.restartRegistry();
    await eventually(
      () => events.filter(([name]) => name === 'saved').length === 2,
      30_000,
      'both kept ones saved',
    );
    t.equal(alice.unsettled, 0);
    t.equal(alice.checkSend('bob', 'third'), undefined, 'room again');
    t.equal(await alice.send('bob', 'third'), 'saved');
    const back = record(bob);
    await bob.register();
    await eventually(() => back.filter(([name]) => name === 'saved-message').length === 3);
    t.same(
      back.filter(([n]) => n === 'saved-message').map(([, p]) => (p as { text: string }).text),
      ['first', 'second', 'third'],
    );
  },
);

t.test('the outbox survives the client: a restart sends what was left', async (t) => {
  const net = await createTestnet(t);
  const path = join(dirname(net.dbPath), 'alice', 'outbox.json'); // beside the registry's files (a second t.testdir() would empty them)
  const options = { ...quickRetry, serverTries: 25 }; // 750 ms: outlasts the registry's probe of the dead holder (600 ms)
  const bob = await net.client('bob');
  await bob.deregister();
  const alice = await net.client('alice', options, { outbox: new FileOutbox(path) });
  await net.registry.close();
  t.equal(await alice.send('bob', 'kept on disk'), 'queued');
  await alice.close(); // the process dies with it unsent
  t.match(await new FileOutbox(path).load(), [{ to: 'bob', text: 'kept on disk' }], 'on disk');

  await net.restartRegistry();
  const again = await net.openClient('alice', options, { outbox: new FileOutbox(path) });
  const events = record(again);
  const saved = nextEvent(again, 'saved');
  await again.register();
  await saved;
  t.same(
    events.map(([name]) => name).filter((name) => name !== 'table' && name !== 'server-key'),
    ['registered', 'resumed', 'fallback', 'saved'],
  );
  const resumed = events.find(([name]) => name === 'resumed');
  t.match(resumed, ['resumed', { count: 1, messages: [{ to: 'bob', text: 'kept on disk' }] }]);
  t.equal(
    (events.find(([name]) => name === 'saved')?.[1] as { mid: string }).mid,
    (resumed?.[1] as { messages: Array<{ mid: string }> }).messages[0]?.mid,
    'the outcome names the message resumed',
  );
  await eventually(
    async () => (await new FileOutbox(path).load()).length === 0,
    15_000,
    'the outbox emptied',
  );
  t.pass('settled, so gone from the outbox');
});

t.test('after reg, live messages wait behind the saved ones', async (t) => {
  const net = await createTestnet(t, { registry: { deliverTimeoutMs: 150 } });
  const alice = await net.client('alice');
  let dropFirstDelivery = true;
  const proxy = await createProxy(net.registry.address(), {
    drop(datagram, direction) {
      if (direction === 'back' && peek(datagram)?.t === 'deliver' && dropFirstDelivery) {
        dropFirstDelivery = false;
        return true;
      }
      return false;
    },
  });
  t.teardown(() => proxy.close());
  const bob = await net.client('bob', { server: { host: '127.0.0.1', port: proxy.address.port } });
  await bob.deregister();
  t.equal(await alice.send('bob', 'older, saved'), 'saved');
  const shown = record(bob);
  await bob.register(); // the delivery of the saved one is lost once and resent 150 ms later
  await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
  const live = alice.send('bob', 'newer, live');
  await eventually(
    () => shown.filter(([n]) => n === 'message' || n === 'saved-message').length === 2,
    15_000,
  );
  await live;
  t.same(
    shown
      .filter(([n]) => n === 'message' || n === 'saved-message')
      .map(([, p]) => (p as { text: string }).text),
    ['older, saved', 'newer, live'],
  );
});

/** bob, a real client (holding out-of-order messages up to `holdTimeoutMs`), and alice, scripted by the test. */
async function scriptedAliceAndBob(t: Test, holdTimeoutMs: number) {
  const net = await createTestnet(t);
  const bob = await net.client('bob', { holdTimeoutMs });
  const peer = await scriptedPeer(t, net, 'alice');
  await peer.meet(bob);
  return {
    net,
    bob,
    alice: peer.endpoint,
    options: { timeoutMs: 60, tries: 5 },
    shown: record(bob),
  };
}

t.test(
  'a message naming an earlier one as `after` waits for it; a missing one only delays it',
  async (t) => {
    const { net, bob, alice, options, shown } = await scriptedAliceAndBob(t, 300);
    const texts = () =>
      shown.filter(([n]) => n === 'message').map(([, p]) => (p as { text: string }).text);
    // m2 arrives directly first, naming m1 (still on its way through the registry)
    const sealed = (mid: string, text: string) => sealAs(net, 'alice', 'bob', mid, text);
    await alice.request(
      bob.address(),
      { t: 'chat', from: 'alice', mid: 'm2', after: 'm1', sealed: await sealed('m2', 'second') },
      options,
    );
    // m3 names m2, which bob acknowledged, as a sender does
    await alice.request(
      bob.address(),
      {
        t: 'chat',
        from: 'alice',
        mid: 'm3',
        after: 'm2',
        afterTaken: true,
        sealed: await sealed('m3', 'third'),
      },
      options,
    );
    t.same(texts(), [], 'held, and m3 behind it');
    await alice.request(
      net.registry.address(),
      { t: 'save', from: 'alice', to: 'bob', mid: 'm1', sealed: await sealed('m1', 'first') },
      options,
    );
    await eventually(() => texts().length === 3);
    t.same(texts(), ['first', 'second', 'third'], 'in the order sent');

    await alice.request(
      bob.address(),
      {
        t: 'chat',
        from: 'alice',
        mid: 'm5',
        after: 'm4-lost',
        sealed: await sealed('m5', 'fifth'),
      },
      options,
    );
    t.same(texts().length, 3, 'waits for m4');
    await eventually(() => texts().length === 4, 15_000, 'shown after the hold timeout');
    t.equal(texts()[3], 'fifth');
  },
);

t.test(
  'live messages still waiting when the recipient left come out right behind the saved one they wait for',
  async (t) => {
    const { net, bob, alice, options, shown } = await scriptedAliceAndBob(t, 5000);
    const texts = () =>
      shown
        .filter(([n]) => n === 'message' || n === 'saved-message')
        .map(([, p]) => (p as { text: string }).text);
    const sealed = (mid: string, text: string) => sealAs(net, 'alice', 'bob', mid, text);
    // m2 reaches bob directly, naming m1, which is still on its way through the registry
    await alice.request(
      bob.address(),
      { t: 'chat', from: 'alice', mid: 'm2', after: 'm1', sealed: await sealed('m2', 'second') },
      options,
    );
    await bob.deregister();
    // m1 is saved, then m3 is saved while bob is away
    await alice.request(
      net.registry.address(),
      { t: 'save', from: 'alice', to: 'bob', mid: 'm1', sealed: await sealed('m1', 'first') },
      options,
    );
    await alice.request(
      net.registry.address(),
      { t: 'save', from: 'alice', to: 'bob', mid: 'm3', sealed: await sealed('m3', 'third') },
      options,
    );
    t.same(texts(), [], 'nothing shown while away');
    await bob.register();
    await eventually(() => texts().length === 3);
    t.same(texts(), ['first', 'second', 'third'], 'in the order sent');
  },
);
