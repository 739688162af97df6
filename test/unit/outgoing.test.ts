import t from 'tap';
import { settle } from '../helpers/settle.js';
import { WireError } from '../../src/protocol/constants.js';
import { isUdpchatError } from '../../src/protocol/errors.js';
import type { Reply } from '../../src/protocol/messages.js';
import type { Address } from '../../src/transport/address.js';
import type { DatagramMac } from '../../src/crypto/signing.js';
import {
  OutgoingRequests,
  type OutgoingCounters,
  type RequestOptions,
  type Resealable,
} from '../../src/transport/outgoing.js';

const BOB: Address = { address: '127.0.0.1', port: 4000 };
const EVE: Address = { address: '127.0.0.1', port: 4001 };

/** The outgoing requests over a fake endpoint: the sends made (with when), the counters kept. */
function setup(authOn = false) {
  const counters: OutgoingCounters = { retried: 0, timeouts: 0, strayReplies: 0 };
  const sends: Array<{ to: Address; datagram: Buffer; via: number | undefined; at: number }> = [];
  let onSend: (() => void) | undefined;
  // Sealing under a session key marks the bytes with a number, and with a request's tries the
  // numbers before it (`<0,1`), as DatagramAuth's does; signing, with a mark of its own (`~0`),
  // so bytes signed again would show. Without authentication, the bytes as they are.
  let sealed = 0;
  let signed = 0;
  const seal = (inner: Buffer, mac?: DatagramMac, tries?: number[]): Buffer => {
    if (!authOn) return inner;
    if (!mac) return Buffer.from(`${inner.toString()}~${signed++}`);
    const n = sealed++;
    const prior = tries?.length ? `<${tries.join(',')}` : '';
    tries?.push(n);
    return Buffer.from(`${inner.toString()}#${n}${prior}`);
  };
  // The ends of requests under a session key, as told to DatagramAuth: their tries' numbers then.
  const settles: Array<{ tries: number[]; answered: boolean }> = [];
  const settled = (_mac: DatagramMac, tries: readonly number[], answered: boolean) => {
    settles.push({ tries: [...tries], answered });
  };
  const outgoing = new OutgoingRequests({
    counters,
    auth: { on: authOn, seal, settled },
    send: (to, datagram, via) => {
      sends.push({ to, datagram, via, at: performance.now() });
      onSend?.();
    },
  });
  /**
   * Request `id`: its bytes are its id, sealed once, and under `options.mac` given to be sealed
   * afresh for each retransmission, as the endpoint does.
   */
  const request = (id: string, options: RequestOptions, to = BOB): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const inner = Buffer.from(id);
      const reseal: Resealable | undefined = options.mac && { inner, mac: options.mac, tries: [] };
      const datagram = seal(inner, options.mac, reseal?.tries);
      outgoing.start(id, to, datagram, options, resolve, reject, reseal);
    });
  /** Resolves once `count` sends were made in all. */
  const sent = (count: number) =>
    new Promise<void>((resolve) => {
      onSend = () => {
        if (sends.length >= count) resolve();
      };
    });
  return { outgoing, counters, sends, request, sent, settles };
}

const ack = (re: string): Reply => ({ v: 1, t: 'ack', re });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('the same datagram is sent `tries` times, then the request fails ERR_TIMEOUT', async (t) => {
  const { counters, sends, request } = setup();
  const error = await request('a', { timeoutMs: 5, tries: 3, via: 7 }).catch((e: unknown) => e);
  t.ok(isUdpchatError(error, 'ERR_TIMEOUT'));
  t.match((error as Error).message, /no reply from 127\.0\.0\.1:4000/);
  t.equal(sends.length, 3);
  t.ok(sends.every((s) => s.datagram.toString() === 'a' && s.via === 7 && s.to === BOB));
  t.same(counters, { retried: 2, timeouts: 1, strayReplies: 0 });
});

t.test(
  'under a session key each retransmission is sealed afresh; signed, the same bytes',
  async (t) => {
    const { sends, request } = setup(true);
    const mac = { sid: 'session-one-0001', key: Buffer.alloc(32) };
    await request('m', { timeoutMs: 5, tries: 3, mac }).catch(() => undefined);
    t.same(
      sends.map((s) => s.datagram.toString()),
      ['m#0', 'm#1<0', 'm#2<0,1'],
      'each try its own sealing, naming the numbers of the tries before it',
    );
    await request('s', { timeoutMs: 5, tries: 3 }).catch(() => undefined);
    t.same(
      sends.slice(3).map((s) => s.datagram.toString()),
      ['s~0', 's~0', 's~0'],
      'signed: the first bytes again',
    );
  },
);

t.test(
  'a request under a session key tells its end once, with its tries, answered or not',
  async (t) => {
    const { outgoing, settles, request, sent } = setup(true);
    const mac = { sid: 'session-one-0001', key: Buffer.alloc(32) };
    const answered = request('a', { timeoutMs: 1000, tries: 3, mac });
    outgoing.receive(ack('a'), BOB, 'bob');
    await answered;
    outgoing.receive(ack('a'), BOB, 'bob'); // a second reply settles nothing more
    // Its second and last try waits out the budget: the ACK below answers it, however late.
    const retried = request('b', { timeoutMs: 10, tries: 2, totalMs: 60_000, mac });
    await sent(3); // b's first try and its retransmission
    outgoing.receive(ack('b'), BOB, 'bob');
    await retried;
    await request('c', { timeoutMs: 5, tries: 2, mac }).catch(() => undefined);
    const controller = new AbortController();
    const aborted = request('d', { timeoutMs: 1000, tries: 2, mac, signal: controller.signal });
    controller.abort(new Error('stop'));
    await aborted.catch(() => undefined);
    const closed = request('e', { timeoutMs: 1000, tries: 2, mac });
    outgoing.close();
    await closed.catch(() => undefined);
    await request('s', { timeoutMs: 5, tries: 1 }).catch(() => undefined); // signed: nothing to tell
    t.same(settles, [
      { tries: [0], answered: true },
      { tries: [1, 2], answered: true },
      { tries: [3, 4], answered: false },
      { tries: [5], answered: false },
      { tries: [6], answered: false },
    ]);
  },
);

t.test(
  'backoff: each wait longer than the one before; totalMs: the last waits out the budget',
  async (t) => {
    // The waits the requests' timers are set for, as asked of setTimeout (not as measured: a
    // loaded machine fires timers late, or early against a clock read mid-tick).
    const waits: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = ((callback: () => void, ms?: number) => {
      if (new Error().stack?.includes('outgoing.ts')) waits.push(ms ?? 0);
      return realSetTimeout(callback, ms);
    }) as unknown as typeof setTimeout;
    t.teardown(() => {
      globalThis.setTimeout = realSetTimeout;
    });
    const { sends, request } = setup();
    const error = await request('a', { timeoutMs: 10, tries: 3, backoff: 3, totalMs: 200 }).catch(
      (e: unknown) => e,
    );
    t.ok(isUdpchatError(error, 'ERR_TIMEOUT'));
    t.equal(sends.length, 3);
    t.same(waits.slice(0, 2), [10, 30], 'timeoutMs, then timeoutMs × backoff');
    // Its own wait would be 10 × min(8, 3²) = 80; the budget leaves 200 less the two before.
    t.ok(waits[2] > 80 && waits[2] <= 160, `the last try waits out the budget (${waits[2]} ms)`);
  },
);

t.test('a reply from another address, or signed by another party, is stray', async (t) => {
  const { outgoing, counters, sends, request } = setup(true);
  const reply = request('a', { timeoutMs: 50, tries: 2, signer: 'bob' });
  outgoing.receive(ack('a'), EVE, 'bob');
  outgoing.receive(ack('a'), BOB, 'eve');
  outgoing.receive(ack('b'), BOB, 'bob');
  t.equal(counters.strayReplies, 3);
  outgoing.receive(ack('a'), BOB, 'bob');
  t.same(await reply, ack('a'));
  outgoing.receive(ack('a'), BOB, 'bob');
  t.equal(counters.strayReplies, 4, 'a second reply to a settled request is stray too');
  await sleep(120);
  t.equal(sends.length, 1, 'settled: no retry after');
});

/** A merged ACK of `ids`, in order. */
const acks = (...ids: string[]): Reply => ({ v: 1, t: 'acks', re: ids[0], more: ids.slice(1) });

t.test('a merged ACK settles each request it names, each as its own ack would', async (t) => {
  const { outgoing, counters, request } = setup(true);
  const options = { timeoutMs: 1000, tries: 1, signer: 'bob' };
  const replies = ['a', 'b', 'c'].map((id) => request(id, options));
  const toCarol = request('d', options, EVE);
  outgoing.receive(acks('a', 'b', 'c', 'd', 'x'), BOB, 'bob');
  t.same(await Promise.all(replies), [ack('a'), ack('b'), ack('c')], 'each settled as acked');
  t.equal(counters.strayReplies, 2, 'one sent elsewhere and one unknown are each stray');
  outgoing.receive(acks('d', 'a'), EVE, 'eve');
  t.equal(counters.strayReplies, 4, 'signed by another party: stray, and a settled one too');
  outgoing.receive(acks('d'), EVE, 'bob');
  t.same(await toCarol, ack('d'), 'from where it went, by its signer: settled');
});

t.test('under a session key, a merged ACK settles only the requests of that session', async (t) => {
  const { outgoing, counters, request } = setup(true);
  const one = { sid: 'session-one-0001', key: Buffer.alloc(32, 1) };
  const two = { sid: 'session-two-0002', key: Buffer.alloc(32, 2) };
  const settled: string[] = [];
  const track = (id: string, options: Partial<RequestOptions>) =>
    void request(id, { timeoutMs: 200, tries: 1, ...options }).then(
      () => settled.push(id),
      () => undefined,
    );
  track('m1', { mac: one });
  track('set-up', { replyMac: one });
  track('m2', { mac: two });
  track('signed', {});
  outgoing.receive(acks('m1', 'set-up', 'm2', 'signed'), BOB, undefined, one.sid);
  await settle();
  t.same(settled, ['m1', 'set-up'], "the session's requests, and the one that set it up");
  t.equal(counters.strayReplies, 2, 'the other session and the signed request: stray');
  outgoing.receive(acks('m2', 'signed'), BOB, undefined);
  await settle();
  t.same(settled, ['m1', 'set-up', 'm2', 'signed'], 'a signed merged ACK settles any of them');
});

t.test('without authentication, the signer asked is not checked', async (t) => {
  const { outgoing, counters, request } = setup(false);
  const reply = request('a', { timeoutMs: 1000, tries: 1, signer: 'bob' });
  outgoing.receive(ack('a'), BOB, undefined);
  t.same(await reply, ack('a'));
  t.equal(counters.strayReplies, 0);
});

t.test('an err reply rejects with its code', async (t) => {
  const { outgoing, request } = setup();
  const reply = request('a', { timeoutMs: 1000, tries: 1 });
  outgoing.receive(
    { v: 1, t: 'err', re: 'a', code: WireError.BAD_REQUEST, message: 'no' },
    BOB,
    undefined,
  );
  const error = await reply.catch((e: unknown) => e);
  t.ok(isUdpchatError(error, 'ERR_BAD_REQUEST'));
  t.equal((error as Error).message, 'no');
});

t.test("Karn's rule: a round trip only for a reply to the only send made", async (t) => {
  const { outgoing, request, sent } = setup();
  const trips: number[] = [];
  const onRoundTrip = (ms: number) => trips.push(ms);
  const first = request('a', { timeoutMs: 1000, tries: 3, onRoundTrip });
  outgoing.receive(ack('a'), BOB, undefined);
  await first;
  t.equal(trips.length, 1);
  t.ok(trips[0] >= 0 && trips[0] < 1000);

  const resentOnce = sent(3); // 'a' once, 'b' twice
  const resent = request('b', { timeoutMs: 5, tries: 3, onRoundTrip });
  await resentOnce;
  outgoing.receive(ack('b'), BOB, undefined);
  await resent;
  t.equal(trips.length, 1, 'none after a resend: the reply could answer either copy');
});

t.test('an abort rejects with its reason and sends no more', async (t) => {
  const { sends, request } = setup();
  const controller = new AbortController();
  const reply = request('a', { timeoutMs: 20, tries: 5, signal: controller.signal });
  const reason = new Error('stop');
  controller.abort(reason);
  t.equal(await reply.catch((e: unknown) => e), reason);
  await sleep(60);
  t.equal(sends.length, 1);
});

t.test('close rejects every request under way with ERR_CLOSED', async (t) => {
  const { outgoing, counters, sends, request } = setup();
  const replies = [
    request('a', { timeoutMs: 20, tries: 3 }),
    request('b', { timeoutMs: 20, tries: 3 }),
  ];
  outgoing.close();
  for (const reply of replies) {
    const error = await reply.catch((e: unknown) => e);
    t.ok(isUdpchatError(error, 'ERR_CLOSED'));
  }
  await sleep(60);
  t.equal(sends.length, 2, 'no retry after');
  t.same(counters, { retried: 0, timeouts: 0, strayReplies: 0 });
});

t.test(
  "replyMac: the request's mac or replyMac with that sid, while it is under way",
  async (t) => {
    const { outgoing, request } = setup(true);
    const mac = { sid: 's1', key: Buffer.alloc(32, 1) };
    const replyMac = { sid: 's2', key: Buffer.alloc(32, 2) };
    const reply = request('a', { timeoutMs: 1000, tries: 1, mac, replyMac });
    t.equal(outgoing.replyMac('a', 's1'), mac);
    t.equal(outgoing.replyMac('a', 's2'), replyMac);
    t.equal(outgoing.replyMac('a', 's3'), undefined);
    t.equal(outgoing.replyMac('b', 's1'), undefined);
    outgoing.receive(ack('a'), BOB, 'bob');
    await reply;
    t.equal(outgoing.replyMac('a', 's1'), undefined, 'settled: forgotten');
  },
);
