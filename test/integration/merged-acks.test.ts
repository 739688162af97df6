import t, { type Test } from 'tap';
import type { Reply } from '../../src/protocol/messages.js';
import { ACKS_PER_MERGE } from '../../src/transport/ack-merge.js';
import type { Address } from '../../src/transport/address.js';
import type { Endpoint } from '../../src/transport/endpoint.js';
import { endpoints } from '../helpers/endpoints.js';
import { createProxy, peek } from '../helpers/proxy.js';

// Merged ACKs between real endpoints: who gets them, and what a lost one costs.

/** One ACK alone, one merged ACK full, and one left over. */
const COUNT = ACKS_PER_MERGE + 2;

/**
 * A server that ACKs all COUNT requests in one turn, once all are in (as a receiver does with
 * a bundle of chats), behind a proxy that records (and may drop) what comes back.
 */
async function setup(
  t: Test,
  sides: { server: boolean; client: boolean },
  drop: (reply: Reply) => boolean = () => false,
) {
  const [server] = await endpoints(t, 1, { coalesce: sides.server });
  const [client] = await endpoints(t, 1, { coalesce: sides.client });
  const back: string[] = [];
  const proxy = await createProxy(server.address(), {
    drop: (datagram, direction) => {
      if (direction !== 'back') return false;
      const reply = peek(datagram) as Reply | undefined;
      back.push(reply?.t ?? 'unreadable');
      return reply !== undefined && drop(reply);
    },
  });
  t.teardown(() => proxy.close());
  const waiting: Array<() => void> = [];
  server.onRequest((_request, _from, respond) => {
    waiting.push(() => respond({ t: 'ack' }));
    if (waiting.length === COUNT) for (const answer of waiting.splice(0)) answer();
  });
  return { server, client, proxy, back };
}

/** COUNT requests at once; `timeoutMs` short enough to retry, else long enough for any machine. */
const requests = (client: Endpoint, to: Address, timeoutMs = 10_000) =>
  Promise.all(
    Array.from({ length: COUNT }, (_, i) =>
      client.request(to, { t: 'probe', nick: `n${i}` }, { timeoutMs, tries: 5 }),
    ),
  );

t.test(
  "a client's requests, ACKed in one turn, get the first ACK alone, the next ones merged",
  async (t) => {
    const { server, client, proxy, back } = await setup(t, { server: true, client: true });
    const replies = await requests(client, proxy.address);
    t.same(
      replies.map((reply) => reply.t),
      Array(COUNT).fill('ack'),
      'each request settled as acked',
    );
    t.same(back, ['ack', 'acks', 'ack'], `three replies for ${COUNT} requests`);
    t.same(
      { merged: server.stats.mergedAcks, acks: server.stats.acksMerged },
      { merged: 1, acks: ACKS_PER_MERGE },
    );
    t.equal(client.stats.strayReplies, 0);
  },
);

t.test(
  'requests not marked `acks` (a sender that does not coalesce) get an ACK each',
  async (t) => {
    const { server, client, proxy, back } = await setup(t, { server: true, client: false });
    await requests(client, proxy.address);
    t.same(back, Array(COUNT).fill('ack'));
    t.equal(server.stats.mergedAcks, 0);
  },
);

t.test('an endpoint that does not coalesce (a registry) never merges', async (t) => {
  const { server, client, proxy, back } = await setup(t, { server: false, client: true });
  await requests(client, proxy.address);
  t.same(back, Array(COUNT).fill('ack'));
  t.equal(server.stats.mergedAcks, 0);
});

t.test(
  'a merged ACK lost: each request it named, sent again, gets an ACK of its own from the window',
  async (t) => {
    const { server, client, proxy, back } = await setup(
      t,
      { server: true, client: true },
      (reply) => reply.t === 'acks',
    );
    const replies = await requests(client, proxy.address, 200);
    t.same(
      replies.map((reply) => reply.t),
      Array(COUNT).fill('ack'),
      'all acked in the end',
    );
    t.equal(proxy.counts.dropped, 1, 'the merged ACK was dropped');
    t.ok(client.stats.retried >= ACKS_PER_MERGE, 'the requests it named were sent again');
    t.ok(
      server.stats.deduplicated >= ACKS_PER_MERGE,
      'and answered from the window, not handled again',
    );
    t.same(
      back.slice(3).filter((type) => type !== 'ack'),
      [],
      'each answer again a plain ack',
    );
  },
);
