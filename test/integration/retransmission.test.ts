// A direct message's resends over real sockets: `Delivery` on a real `Endpoint`, the peer an
// endpoint behind a proxy that loses what it is told to. Before the path has answered, three
// sends spread over the ACK timeout; once it has, resends fitted to its round trips, more of
// them in the same time (see docs/reliability.md, "Timing defaults"). The ACK timeout is 3 s
// here, not 500 ms, and the path's round trip is given, not measured (transport.test.ts
// measures one): on a loaded machine a stalled event loop must not change the outcome.
import t from 'tap';
import { Delivery, type TriesMade } from '../../src/client/delivery.js';
import type { Reply } from '../../src/protocol/messages.js';
import type { TableEntry } from '../../src/protocol/fields.js';
import { formatAddress } from '../../src/transport/address.js';
import { RoundTrips } from '../../src/transport/round-trips.js';
import { endpoints } from '../helpers/endpoints.js';
import { createProxy } from '../helpers/proxy.js';

t.test(
  'once the path has answered, three lost sends in a row are still repaired directly, within the same ACK timeout',
  async (t) => {
    const [alice, bob] = await endpoints(t, 2);
    const taken: string[] = [];
    bob.onRequest((request, _from, respond) => {
      if (request.t === 'chat') taken.push(request.mid);
      respond({ t: 'ack' });
    });
    // Chats of message m2 lose their first three copies on the way to bob; nothing else is lost.
    let m2Copies = 0;
    const proxy = await createProxy(bob.address(), {
      drop: (datagram, direction) =>
        direction === 'forward' && datagram.includes('"mid":"m2"') && ++m2Copies <= 3,
    });
    t.teardown(() => proxy.close());
    const peer: TableEntry = {
      nick: 'bob',
      ip: proxy.address.address,
      port: proxy.address.port,
      online: true,
      sk: 'bob-sk',
      ek: 'bob-ek',
    };
    const events: string[] = [];
    const askedServer: string[] = [];
    const delivery = (roundTrips?: RoundTrips) =>
      new Delivery({
        nick: 'alice',
        ackTimeoutMs: 3000,
        peerTries: 3,
        ...(roundTrips ? { roundTrips } : {}),
        channel: alice,
        keys: {
          seal: async () => ({ enc: 'e', ct: 'c' }),
          macFor: () => undefined,
          confirm: () => {},
        },
        peer: () => peer,
        lookup: async () => undefined,
        server: () => ({ address: '127.0.0.1', port: 9 }),
        askServer: async (_server, body) => {
          askedServer.push(body.t);
          return { t: 'save_result', outcome: 'saved' } as Reply;
        },
        unanswered: () => {},
        registerAgain: () => {},
        emit: (event) => void events.push(event),
        debug: () => {},
      });
    const attempt = (subject: Delivery, mid: string) => {
      const made: TriesMade = { sends: 0, fallbacks: 0 };
      return subject.attempt({
        entry: { mid, to: 'bob', text: 'hi', at: 0 },
        after: {},
        made,
        fallingBack: () => {},
        heldBehind: () => {},
      });
    };

    const roundTrips = new RoundTrips();
    roundTrips.sample(formatAddress(proxy.address), 1); // the path answered in 1 ms: resends from 30 ms on
    const fitted = delivery(roundTrips);
    t.equal(await attempt(fitted, 'm2'), 'delivered', 'a later send of m2 got through');
    t.ok(m2Copies >= 4, `m2 went ${m2Copies} times`);
    t.same(askedServer, [], 'never to the registry');
    t.same(taken, ['m2'], 'bob took it once');

    // The same loss without round trips (three sends spread over 3 s): all three lost, the
    // message goes to the registry.
    m2Copies = 0;
    t.equal(await attempt(delivery(), 'm2'), 'saved');
    t.equal(m2Copies, 3, 'three sends, all lost');
    t.same(askedServer, ['save']);
    t.same(events, ['delivered', 'fallback', 'saved']);
  },
);
