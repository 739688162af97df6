import t, { type Test } from 'tap';
import { UdpchatError } from '../../src/protocol/errors.js';
import { Endpoint } from '../../src/transport/endpoint.js';
import { endpoints } from '../helpers/endpoints.js';
import { createProxy } from '../helpers/proxy.js';
import dgram from 'node:dgram';
import { encodeRequest } from '../../src/protocol/codec.js';
import { eventually } from '../helpers/testnet.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { signDatagram } from '../../src/crypto/signing.js';

async function pair(t: Test) {
  const [server, client] = (await endpoints(t, 2)) as [Endpoint, Endpoint];
  return { server, client };
}

t.test(
  'a lost reply: the request is retransmitted, handled once, answered again from the window',
  async (t) => {
    const { server, client } = await pair(t);
    let handled = 0;
    server.onRequest((_request, _from, respond) => {
      handled++;
      respond({ t: 'ack' });
    });
    const proxy = await createProxy(server.address(), {
      drop: (_d, direction, n) => direction === 'back' && n === 1,
    });
    t.teardown(() => proxy.close());
    const reply = await client.request(
      proxy.address,
      { t: 'probe', nick: 'bob' },
      { timeoutMs: 50, tries: 3 },
    );
    t.equal(reply.t, 'ack');
    t.equal(handled, 1, 'the handler ran once');
    t.equal(client.stats.retried, 1, 'the client resent once');
    t.equal(server.stats.deduplicated, 1, 'the server recognised the resend');
    t.equal(proxy.counts.dropped, 1);
  },
);

t.test(
  "round trips for the sender's estimate: a reply to the only send is one, a reply after a resend is not (Karn's rule)",
  async (t) => {
    const { server, client } = await pair(t);
    server.onRequest((_request, _from, respond) => respond({ t: 'ack' }));
    const sampled: number[] = [];
    const onRoundTrip = (ms: number) => void sampled.push(ms);
    await client.request(
      server.address(),
      { t: 'probe', nick: 'a' },
      { timeoutMs: 10_000, tries: 2, onRoundTrip },
    );
    t.equal(sampled.length, 1, 'answered at its only send: one sample');
    t.ok(sampled[0] >= 0 && sampled[0] < 10_000, `a round trip within the wait (${sampled[0]} ms)`);
    // The first copy lost on its way: the reply answers the resend, which could be either.
    const proxy = await createProxy(server.address(), {
      drop: (_d, direction, n) => direction === 'forward' && n === 1,
    });
    t.teardown(() => proxy.close());
    await client.request(
      proxy.address,
      { t: 'probe', nick: 'b' },
      { timeoutMs: 50, tries: 40, onRoundTrip },
    );
    t.equal(proxy.counts.dropped, 1);
    t.equal(sampled.length, 1, 'no sample from a reply after a resend');
  },
);

t.test(
  'totalMs: resends sooner, each wait twice the one before, and the last waits out the budget',
  async (t) => {
    const { server, client } = await pair(t);
    let heard = 0;
    server.onRequest(() => void heard++); // silent
    const startedAt = performance.now();
    await t.rejects(
      client.request(
        server.address(),
        { t: 'probe', nick: 'x' },
        { timeoutMs: 20, tries: 3, backoff: 2, totalMs: 400 },
      ),
      { code: 'ERR_TIMEOUT' },
    );
    const took = performance.now() - startedAt;
    // Sends at 0, 20 and 60 ms; without totalMs it would fail at 140 ms. (Node schedules a
    // timer from the loop's clock, which may lag the real one: a margin, not the 400 itself.)
    t.ok(took >= 300, `failed at the end of the budget, not at 140 ms (${Math.round(took)} ms)`);
    t.equal(client.stats.retried, 2);
    await eventually(() => heard === 1, 5000, 'the server took the request once');
    t.equal(server.stats.deduplicated, 2, 'and recognised both resends');
  },
);

t.test(
  'no reply at all: ERR_TIMEOUT after every try; close rejects what is under way',
  async (t) => {
    const { server, client } = await pair(t);
    server.onRequest(() => undefined); // silent
    await t.rejects(
      client.request(server.address(), { t: 'probe', nick: 'x' }, { timeoutMs: 20, tries: 3 }),
      { code: 'ERR_TIMEOUT' },
    );
    t.equal(client.stats.retried, 2);
    t.equal(client.stats.timeouts, 1);
    const underway = client.request(
      server.address(),
      { t: 'probe', nick: 'x' },
      { timeoutMs: 1000, tries: 1 },
    );
    await client.close();
    await t.rejects(underway, { code: 'ERR_CLOSED' });
    await client.close(); // idempotent
    await t.rejects(
      client.request(server.address(), { t: 'probe', nick: 'x' }, { timeoutMs: 10, tries: 1 }),
      { code: 'ERR_CLOSED' },
    );
  },
);

t.test(
  'an err reply rejects with its code; a handler that throws answers INTERNAL; aborts work',
  async (t) => {
    const { server, client } = await pair(t);
    server.onRequest((request, _from, respond) => {
      if (request.t === 'register') respond({ t: 'err', code: 5, message: 'nick alice is taken' });
      else if (request.t === 'probe') throw new Error('boom');
    });
    const error = await client
      .request(
        server.address(),
        { t: 'register', nick: 'alice', sk: 'k'.repeat(44), ek: 'k'.repeat(44) },
        { timeoutMs: 100, tries: 1 },
      )
      .catch((e: unknown) => e);
    t.ok(error instanceof UdpchatError);
    t.equal((error as UdpchatError).code, 'ERR_NICK_TAKEN');
    await t.rejects(
      client.request(server.address(), { t: 'probe', nick: 'a' }, { timeoutMs: 100, tries: 1 }),
      { code: 'ERR_INTERNAL' },
    );
    const controller = new AbortController();
    const aborted = client.request(
      server.address(),
      { t: 'deregister', nick: 'a' },
      { timeoutMs: 1000, tries: 1, signal: controller.signal },
    );
    controller.abort(new Error('stop'));
    await t.rejects(aborted, /stop/);
  },
);

t.test('a reply from the wrong address is ignored', async (t) => {
  const { server, client } = await pair(t);
  const [intruder] = (await endpoints(t, 1)) as [Endpoint];
  server.onRequest(() => undefined);
  const id = client.newId();
  const pending = client.request(
    server.address(),
    { t: 'probe', nick: 'a' },
    { timeoutMs: 80, tries: 1 },
    id,
  );
  const { encodeReply } = await import('../../src/protocol/codec.js');
  intruder.send(client.address(), encodeReply(id, { t: 'ack' }));
  await t.rejects(pending, { code: 'ERR_TIMEOUT' }, 'a guessed id from elsewhere does not count');
  t.equal(client.stats.strayReplies, 1);
});

t.test(
  'another socket: a reply leaves from the socket its request came in on; a route sends through it; closed, it is gone',
  async (t) => {
    const { server, client } = await pair(t);
    const seen: Array<{ port: number; via: number | undefined }> = [];
    server.onRequest((_request, from, respond, _by, _size, via) => {
      seen.push({ port: from.port, via });
      respond({ t: 'ack' });
    });
    const other = await server.openSocket();
    t.not(other, server.address().port, 'a port of its own');
    t.equal(server.otherSockets, 1);
    // Asked at the other socket: answered from there (the client takes replies only from where it asked).
    const reply = await client.request(
      { address: '127.0.0.1', port: other },
      { t: 'probe', nick: 'x' },
      { timeoutMs: 200, tries: 3 },
    );
    t.equal(reply.t, 'ack');
    t.same(
      seen.at(-1),
      { port: client.address().port, via: other },
      'the handler is told which socket',
    );
    // The client sends from another socket of its own; the server sees that port.
    const clientOther = await client.openSocket();
    await client.request(
      server.address(),
      { t: 'probe', nick: 'x' },
      { timeoutMs: 200, tries: 3, via: clientOther },
    );
    t.equal(seen.at(-1)?.port, clientOther, 'sent from the socket named');
    client.route(server.address(), clientOther);
    await client.request(server.address(), { t: 'probe', nick: 'x' }, { timeoutMs: 200, tries: 3 });
    t.equal(seen.at(-1)?.port, clientOther, 'routed through it');
    client.closeSocket(clientOther);
    await client.request(server.address(), { t: 'probe', nick: 'x' }, { timeoutMs: 200, tries: 3 });
    t.equal(
      seen.at(-1)?.port,
      client.address().port,
      'closed: the route is gone, the main socket again',
    );
    server.closeSocket(other);
    t.equal(server.otherSockets, 0);
    await t.rejects(
      client.request(
        { address: '127.0.0.1', port: other },
        { t: 'probe', nick: 'x' },
        { timeoutMs: 50, tries: 1 },
      ),
      { code: 'ERR_TIMEOUT' },
    );
  },
);

/**
 * `endpoint` with room for one of its replies (over a hundred bytes each) in its dedup window,
 * not two, answering every request; and a bare socket that sends it datagrams by hand.
 * `ask` sends one and waits for its answer; `handled` lists the requests carried out.
 */
async function oneReplyWindow(t: Test, endpoint: Endpoint) {
  const handled: string[] = [];
  endpoint.onRequest((request, _from, respond) => {
    handled.push(request.id);
    respond({ t: 'err', code: 1, message: `answer to ${request.id}`.padEnd(100, '.') });
  });
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  let replies = 0;
  socket.on('message', () => replies++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const send = (datagram: Buffer) => socket.send(datagram, endpoint.address().port, '127.0.0.1');
  const ask = async (datagram: Buffer, what: string) => {
    const before = replies;
    send(datagram);
    await eventually(() => replies === before + 1, 15_000, `the answer to ${what}`);
  };
  return { handled, send, ask };
}

const ROOM_FOR_ONE_REPLY = 200;

t.test(
  'the replies kept for retransmissions weigh at most replyCacheBytes: past it, the oldest unsigned request is carried out again',
  async (t) => {
    const [server] = (await endpoints(t, 1, { replyCacheBytes: ROOM_FOR_ONE_REPLY })) as [Endpoint];
    const { handled, ask } = await oneReplyWindow(t, server);
    const request = (id: string) => encodeRequest(id, { t: 'probe', nick: 'bob' });
    await ask(request('r1'), 'r1');
    await ask(request('r1'), 'r1 again');
    t.same(handled, ['r1'], 'a retransmission within the budget is answered from the window');
    await ask(request('r2'), 'r2');
    await ask(request('r2'), 'r2 again');
    t.same(handled, ['r1', 'r2'], 'the newest reply is kept');
    await ask(request('r1'), 'r1 once more');
    t.same(
      handled,
      ['r1', 'r2', 'r1'],
      'the oldest reply made room for it: r1 is carried out again',
    );
    t.equal(server.stats.deduplicated, 2);
  },
);

t.test(
  'a signed retransmission that comes after its reply left the window is dropped as a replay, not carried out again',
  async (t) => {
    const alice = await generateIdentity();
    const server = await generateIdentity();
    const [endpoint] = (await endpoints(t, 1, {
      replyCacheBytes: ROOM_FOR_ONE_REPLY,
      auth: {
        name: 'server',
        privateKey: server.signing.privateKey,
        keyFor: (by) => (by === 'alice' ? alice.signing.publicKey : undefined),
      },
    })) as [Endpoint];
    const { handled, send, ask } = await oneReplyWindow(t, endpoint);
    // Signed once each: a retransmission is the same datagram.
    const [r1, r2] = ['r1', 'r2'].map((id) =>
      signDatagram(
        encodeRequest(id, { t: 'probe', nick: 'bob' }),
        'alice',
        alice.signing.privateKey,
      ),
    ) as [Buffer, Buffer];
    await ask(r1, 'r1');
    await ask(r2, 'r2'); // its reply pushed r1's out of the window
    const replayedBefore = endpoint.stats.dropped.replayed;
    send(r1);
    await eventually(
      () => endpoint.stats.dropped.replayed > replayedBefore,
      15_000,
      'r1 again, dropped as a replay',
    );
    t.same(handled, ['r1', 'r2'], 'r1 was not carried out twice');
    await ask(r2, 'r2 again');
    t.same(handled, ['r1', 'r2'], 'r2, still in the window, answered from it');
  },
);
