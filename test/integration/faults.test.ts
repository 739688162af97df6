import t from 'tap';
import { Endpoint } from '../../src/transport/endpoint.js';
import { endpoints } from '../helpers/endpoints.js';
import { createProxy, type Fault } from '../helpers/proxy.js';
import { createTestnet, eventually, record } from '../helpers/testnet.js';

/** A seeded generator, so a failure can be replayed. */
function random(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

t.test(
  'duplicates, delays and reordering both ways: every request handled once, every one answered',
  async (t) => {
    const [sender, receiver] = (await endpoints(t, 2)) as [Endpoint, Endpoint];
    const handled = new Map<string, number>();
    receiver.onRequest((request, _from, respond) => {
      if (request.t === 'group_msg') handled.set(request.mid, (handled.get(request.mid) ?? 0) + 1);
      respond({ t: 'ack' });
    });
    const next = random(42);
    const proxy = await createProxy(receiver.address(), {
      fault(): Fault {
        const roll = next();
        if (roll < 0.15) return 'drop';
        if (roll < 0.35) return 'duplicate';
        if (roll < 0.6) return { delayMs: Math.floor(next() * 40) }; // later ones overtake
        return 'pass';
      },
    });
    t.teardown(() => proxy.close());
    const texts = Array.from({ length: 80 }, (_, i) =>
      i % 10 === 0 ? `long ${i} `.repeat(400) : `short ${i}`,
    );
    const replies = await Promise.all(
      texts.map((text, i) =>
        sender.request(
          proxy.address,
          { t: 'group_msg', group: 'g', from: 'alice', mid: `m${i}`, text },
          { timeoutMs: 60, tries: 12 },
        ),
      ),
    );
    t.equal(replies.length, 80, 'all answered');
    t.same(
      [...handled.values()].filter((n) => n !== 1),
      [],
      'each handled exactly once',
    );
    t.equal(handled.size, 80);
    t.ok(
      proxy.counts.duplicated > 0 && proxy.counts.delayed > 0 && proxy.counts.dropped > 0,
      'every fault happened',
    );
    t.ok(
      receiver.stats.deduplicated > 0,
      `duplicates recognised and answered from the window (${receiver.stats.deduplicated})`,
    );
    t.ok(sender.stats.retried > 0, `losses repaired by retries (${sender.stats.retried})`);
    t.ok(
      sender.stats.strayReplies > 0,
      'late or doubled replies counted as stray, not taken twice',
    );
  },
);

t.test(
  'the same faults between a client and the registry: saved once each, delivered in order',
  async (t) => {
    const net = await createTestnet(t);
    const next = random(7);
    const proxy = await createProxy(net.registry.address(), {
      fault(): Fault {
        const roll = next();
        if (roll < 0.15) return 'drop';
        if (roll < 0.35) return 'duplicate';
        if (roll < 0.55) return { delayMs: Math.floor(next() * 50) };
        return 'pass';
      },
    });
    t.teardown(() => proxy.close());
    const alice = await net.client('alice', {
      server: { host: '127.0.0.1', port: proxy.address.port },
      serverTimeoutMs: 60,
      serverTries: 10,
    });
    const bob = await net.client('bob');
    await bob.deregister();
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && !e.online));
    const outcomes = await Promise.all(
      Array.from({ length: 25 }, (_, i) => alice.send('bob', `n${i}`)),
    );
    t.same([...new Set(outcomes)], ['saved'], 'each one saved');
    const shown = record(bob);
    await bob.register();
    await eventually(() => shown.filter(([n]) => n === 'saved-message').length >= 25, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const texts = shown
      .filter(([n]) => n === 'saved-message')
      .map(([, p]) => (p as { text: string }).text);
    t.same(
      texts,
      Array.from({ length: 25 }, (_, i) => `n${i}`),
      'once each, in the order sent',
    );
    t.ok(net.registry.stats.deduplicated > 0, 'the registry recognised duplicates');
    t.ok(alice.stats.retried > 0, 'alice repaired losses');
  },
);
