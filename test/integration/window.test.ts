import t from 'tap';
import type { MessageOf } from '../../src/protocol/messages.js';
import { scriptedPeer } from '../helpers/peer.js';
import { createTestnet, eventually, record } from '../helpers/testnet.js';

t.test(
  'messages to one peer go several at a time, each naming the one before it; shown in order when they overtake',
  async (t) => {
    const net = await createTestnet(t);
    const bob = await scriptedPeer(t, net, 'bob');
    await bob.know('alice');
    await bob.register();
    const alice = await net.client('alice', { sendWindow: 4, ackTimeoutMs: 3000 }); // the held first must not fall back
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    const arrived: Array<MessageOf<'chat'>> = [];
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    bob.endpoint.onRequest(async (request, _from, respond) => {
      if (request.t !== 'chat') return;
      await bob.open(request); // as a client does before it answers (and so it holds the session)
      if (!arrived.some((m) => m.mid === request.mid)) arrived.push(request);
      await released; // nothing is answered until the test says so
      respond({ t: 'ack' });
    });
    const sends = ['one', 'two', 'three', 'four', 'five', 'six'].map((text) =>
      alice.send('bob', text),
    );
    await eventually(
      () => arrived.length === 4,
      15_000,
      'four on their way before any is answered',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(arrived.length, 4, 'and no more than the window');
    t.same(
      arrived.slice(1).map((m) => m.after),
      arrived.slice(0, 3).map((m) => m.mid),
      'each names the one before it',
    );
    release();
    t.same(await Promise.all(sends), Array(6).fill('delivered'), 'all delivered, settled in order');
    t.equal(arrived.length, 6);
  },
);

t.test(
  'a slow message does not hold up the ones behind it past the window; all still settle in order',
  async (t) => {
    const net = await createTestnet(t);
    const bob = await scriptedPeer(t, net, 'bob');
    await bob.know('alice');
    await bob.register();
    const alice = await net.client('alice', { sendWindow: 2, ackTimeoutMs: 3000 });
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    let releaseFirst: () => void = () => undefined;
    const firstReleased = new Promise<void>((resolve) => (releaseFirst = resolve));
    const arrived: string[] = [];
    bob.endpoint.onRequest(async (request, _from, respond) => {
      if (request.t !== 'chat') return;
      const text = await bob.open(request);
      if (!arrived.includes(text)) arrived.push(text);
      if (text === 'm0') await firstReleased;
      respond({ t: 'ack' });
    });
    const texts = Array.from({ length: 6 }, (_, i) => `m${i}`);
    const settled: string[] = [];
    const sends = texts.map((text) =>
      alice.send('bob', text).then((outcome) => settled.push(text) && outcome),
    );
    await eventually(() => arrived.length === 6, 15_000, 'the others went past the slow first one');
    t.same(settled, [], 'none settled ahead of the first');
    releaseFirst();
    t.same(await Promise.all(sends), Array(6).fill('delivered'));
    t.same(settled, texts, 'settled in the order sent');
  },
);

t.test('a window of messages between real clients: each shown once, in order', async (t) => {
  const net = await createTestnet(t);
  const bob = await net.client('bob');
  const alice = await net.client('alice', { sendWindow: 16 });
  await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
  const shown = record(bob);
  const texts = Array.from({ length: 200 }, (_, i) => `m${i}`);
  const outcomes = await Promise.all(texts.map((text) => alice.send('bob', text)));
  t.same(new Set(outcomes), new Set(['delivered']));
  await eventually(() => shown.filter(([n]) => n === 'message').length === texts.length, 15_000);
  t.same(
    shown.filter(([n]) => n === 'message').map(([, p]) => (p as { text: string }).text),
    texts,
  );
});
