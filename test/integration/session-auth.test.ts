import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import t, { type Test } from 'tap';
import { generateIdentity, signingKeyFrom } from '../../src/crypto/identity.js';
import { Sessions } from '../../src/crypto/sealing.js';
import { macDatagram, signDatagram, splitSigned, verifyMac } from '../../src/crypto/signing.js';
import { SAFE_DATAGRAM_BYTES } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/codec.js';
import type { Endpoint, EndpointOptions } from '../../src/transport/endpoint.js';
import type { RequestOptions } from '../../src/transport/outgoing.js';
import type { EndpointAuth } from '../../src/transport/datagram-auth.js';
import { eachAtMost } from '../../src/util/at-most.js';
import { endpoints } from '../helpers/endpoints.js';
import { createProxy } from '../helpers/proxy.js';
import {
  cookieFor,
  createTestnet,
  eventually,
  nextEvent,
  onFreePort,
  onSamePort,
  record,
} from '../helpers/testnet.js';

const session = { sid: 'c2Vzc2lvbi1pZC0x', key: randomBytes(32) };

/**
 * Two authenticating endpoints: `a` signs as alice, `b` as bob; bob holds `session` as alice's
 * (or what `bobAuth` says of sessions), and their identities.
 */
async function pair(t: Test, bobAuth: Pick<EndpointAuth, 'macKeyFor' | 'noSession'> = {}) {
  const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
  const keys = { alice: alice.signing.publicKey, bob: bob.signing.publicKey } as const;
  const keyFor = (by: string) => keys[by as keyof typeof keys];
  const [a] = (await endpoints(t, 1, {
    auth: { name: 'alice', privateKey: alice.signing.privateKey, keyFor },
  })) as [Endpoint];
  const [b] = (await endpoints(t, 1, {
    auth: {
      name: 'bob',
      privateKey: bob.signing.privateKey,
      keyFor,
      macKeyFor: (by, sid) => (by === 'alice' && sid === session.sid ? session.key : undefined),
      ...bobAuth,
    },
  })) as [Endpoint];
  return { a, b, alice };
}

t.test(
  'datagram MACs: the trailer form, checked over the bytes, the name and the time',
  async (t) => {
    const inner = encodeRequest('r1', { t: 'probe', nick: 'bob' });
    const datagram = macDatagram(inner, 'alice', session, 7, 1_000);
    const split = splitSigned(datagram)!;
    t.match(
      split.signature,
      { by: 'alice', ts: 1_000, sid: session.sid, n: 7 },
      'by, ts, sid, n and mac; no signature',
    );
    t.equal(split.signature.sig, undefined);
    t.ok(verifyMac(split.inner, split.signature, session.key), 'checks under the key');
    t.notOk(verifyMac(split.inner, split.signature, randomBytes(32)), 'not under another');
    t.notOk(
      verifyMac(split.inner, { ...split.signature, by: 'mallory' }, session.key),
      'not for another name',
    );
    t.notOk(
      verifyMac(split.inner, { ...split.signature, ts: 1_001 }, session.key),
      'not at another time',
    );
    t.notOk(
      verifyMac(split.inner, { ...split.signature, n: 8 }, session.key),
      'not under another number',
    );
    t.notOk(
      verifyMac(Buffer.concat([split.inner, Buffer.from(' ')]), split.signature, session.key),
      'not over other bytes',
    );
  },
);

t.test(
  'a request under a session key the receiver holds is answered under the same key',
  async (t) => {
    const { a, b } = await pair(t);
    const seen: Array<{ by: string | undefined; signed: string | undefined }> = [];
    b.onRequest((_request, _from, respond, by, _size, _via, signed) => {
      seen.push({ by, signed });
      respond({ t: 'ack' });
    });
    // One try, long: no retry whose second reply could land as a stray one on a loaded machine.
    const once = { timeoutMs: 10_000, tries: 1, signer: 'bob' };
    t.match(await a.request(b.address(), { t: 'probe', nick: 'bob' }, { ...once, mac: session }), {
      t: 'ack',
    });
    t.same(seen, [{ by: 'alice', signed: undefined }], 'the handler learns who sent it');
    t.equal(a.stats.strayReplies, 0, 'the reply, under the session key, was taken');
    // Signed, it comes with its replay key (for receivers sharing a store), its signer's and
    // its signature's: another request's is another.
    await a.request(b.address(), { t: 'probe', nick: 'bob' }, once);
    await a.request(b.address(), { t: 'probe', nick: 'bob' }, once);
    t.match(seen.slice(1), [
      { by: 'alice', signed: /^alice\|.{22}$/ },
      { by: 'alice', signed: /^alice\|.{22}$/ },
    ]);
    t.not(seen[1].signed, seen[2].signed);
  },
);

t.test(
  'a session key the receiver does not hold, or a wrong one, is dropped; so is a replay',
  async (t) => {
    const { a, b } = await pair(t);
    b.onRequest((_request, _from, respond) => respond({ t: 'ack' }));
    const options = { timeoutMs: 60, tries: 1, signer: 'bob' };
    await t.rejects(
      a.request(
        b.address(),
        { t: 'probe', nick: 'bob' },
        { ...options, mac: { sid: 'dW5rbm93bi1zaWQt', key: session.key } },
      ),
      { code: 'ERR_TIMEOUT' },
    );
    t.equal(b.stats.dropped['unknown-signer'], 1, 'an unknown session');
    await t.rejects(
      a.request(
        b.address(),
        { t: 'probe', nick: 'bob' },
        { ...options, mac: { sid: session.sid, key: randomBytes(32) } },
      ),
      { code: 'ERR_TIMEOUT' },
    );
    t.equal(b.stats.dropped['bad-signature'], 1, 'a wrong key');

    // A datagram made under the right key, sent twice from two places: the second is a replay.
    const datagram = macDatagram(
      encodeRequest('replay-me', { t: 'probe', nick: 'bob' }),
      'alice',
      session,
      1_000_000,
    );
    const other = dgram.createSocket('udp4');
    t.teardown(() => other.close());
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', resolve));
    const send = (socket: dgram.Socket) =>
      new Promise((resolve) => socket.send(datagram, b.address().port, '127.0.0.1', resolve));
    const first = dgram.createSocket('udp4');
    t.teardown(() => first.close());
    await send(first);
    await send(other);
    await eventually(
      () => b.stats.dropped.replayed === 1,
      15_000,
      'the copy from elsewhere is a replay',
    );
  },
);

t.test(
  'between clients: after the first message, chats go under the session key; a peer that lost it still gets every message',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    // bob's port comes from outside the ephemeral range, where no other socket takes it while
    // bob restarts (see freePort)
    const bob = await onFreePort((port) => net.client('bob', { port }));
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    // (The counts also take the registry's pushes, under each client's own session with it.)
    const [atBob, atAlice] = [bob.stats.sessionAuthenticated, alice.stats.sessionAuthenticated];
    t.equal(await alice.send('bob', 'first, signed'), 'delivered');
    t.equal(bob.stats.sessionAuthenticated - atBob, 0, 'the first is signed');
    t.equal(await alice.send('bob', 'second, under the session key'), 'delivered');
    t.equal(await alice.send('bob', 'third'), 'delivered');
    t.equal(bob.stats.sessionAuthenticated - atBob, 2, 'the next two came under the session key');
    t.equal(alice.stats.sessionAuthenticated - atAlice, 2, 'and so did their ACKs');

    // bob's client restarts on the same port with the same identity: it holds no session now
    const port = bob.address().port;
    await bob.close();
    const again = await onSamePort(() => net.client('bob', { port }));
    const shown = record(again);
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    const fourth = nextEvent(again, 'message');
    t.match(
      await alice.send('bob', 'fourth'),
      /^(delivered|relayed)$/,
      'delivered, directly or through the registry',
    );
    t.equal((await fourth).text, 'fourth');
    t.equal(await alice.send('bob', 'fifth'), 'delivered', 'signed again, so directly');
    await eventually(() => shown.filter(([n]) => n === 'message').length === 2);
    t.same(
      shown.filter(([n]) => n === 'message').map(([, p]) => (p as { text: string }).text),
      ['fourth', 'fifth'],
    );
  },
);

t.test(
  "the registry's pushes go under the session each client sets up with it once registered",
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    await alice.registrySessionShared();
    t.equal(
      alice.stats.sessionAuthenticated,
      1,
      'the first table is signed (the session is set up after it, not to delay the start); ' +
        'the answer to the session comes under it',
    );
    const before = net.registry.stats.sessionAuthenticated;
    const bob = await net.client('bob');
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && e.online));
    await bob.deregister(); // a change once alice's session is surely in
    await eventually(() => alice.table().some((e) => e.nick === 'bob' && !e.online));
    await eventually(
      () => alice.stats.sessionAuthenticated > 0,
      15_000,
      "a later change came under alice's session",
    );
    t.ok(net.registry.stats.sessionAuthenticated > before, 'and her ACK under it too');
    t.equal(
      alice.stats.dropped['bad-signature'] + alice.stats.dropped['unknown-signer'],
      0,
      'nothing dropped on the way',
    );

    // Registering again, alice's session is made already: it goes with the registration.
    await alice.deregister();
    const again = alice.stats.sessionAuthenticated;
    await alice.register();
    t.ok(
      alice.stats.sessionAuthenticated > again,
      'the first table of a registration with the session came under it',
    );
  },
);

t.test(
  'a datagram claiming to be the registry under a session the client does not hold is dropped',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    const fake = macDatagram(
      encodeRequest('forged', { t: 'probe', nick: 'alice' }),
      '@registry',
      {
        sid: 'Zm9yZ2VkLXNlc3Np',
        key: randomBytes(32),
      },
      0,
    );
    const socket = dgram.createSocket('udp4');
    t.teardown(() => socket.close());
    await new Promise((resolve) => socket.send(fake, alice.address().port, '127.0.0.1', resolve));
    await eventually(
      () => alice.stats.dropped['unknown-signer'] === 1,
      15_000,
      'dropped as an unknown session',
    );
  },
);

t.test(
  'one session per registration: a second session request is answered but changes nothing',
  async (t) => {
    const net = await createTestnet(t);
    const carol = await net.identityOf('carol');
    const registryKey = signingKeyFrom(net.registry.publicKeys.sk);
    const sessions = new Sessions(carol.agreement);
    const first = await sessions.datagramSession(net.registry.publicKeys.ek);
    const second = await new Sessions((await generateIdentity()).agreement).datagramSession(
      net.registry.publicKeys.ek,
    );
    const [endpoint] = (await endpoints(t, 1, {
      auth: {
        name: 'carol',
        privateKey: carol.signing.privateKey,
        keyFor: (by) => (by === '@registry' ? registryKey : undefined),
        macKeyFor: (by, sid) =>
          by === '@registry' && sid === first.mac.sid ? first.mac.key : undefined,
      },
    })) as [Endpoint];
    const deltas: string[] = [];
    endpoint.onRequest((request, _from, respond) => {
      if (request.t === 'table_delta') deltas.push(request.entries.map((e) => e.nick).join());
      respond({ t: 'ack' });
    });
    const options = { timeoutMs: 100, tries: 3, signer: '@registry' };
    const cookie = await cookieFor(endpoint, net.registry.address(), 'carol', carol.public.sk);
    await endpoint.request(
      net.registry.address(),
      { t: 'register', nick: 'carol', ...carol.public, cookie },
      options,
    );
    // Its answer comes under the session it set up.
    await endpoint.request(
      net.registry.address(),
      { t: 'session', nick: 'carol', session: first.enc },
      { ...options, replyMac: first.mac },
    );
    // Another session for carol (with someone else's key): answered, and ignored.
    t.match(
      await endpoint.request(
        net.registry.address(),
        { t: 'session', nick: 'carol', session: second.enc },
        options,
      ),
      { t: 'ack' },
    );
    await net.client('alice');
    await eventually(
      () => deltas.includes('alice'),
      15_000,
      'the change bringing alice reached carol under her first session',
    );
    t.ok(endpoint.stats.sessionAuthenticated >= 1);
    t.equal(
      endpoint.stats.dropped['unknown-signer'] + endpoint.stats.dropped['bad-signature'],
      0,
      'nothing under the second',
    );
  },
);

t.test(
  'a full replay cache refuses new datagrams rather than forget one: a captured one stays a replay',
  async (t) => {
    const alice = await generateIdentity();
    const bob = await generateIdentity();
    const keyFor = (by: string) => signingKeyFrom((by === 'alice' ? alice : bob).public.sk);
    const [b] = (await endpoints(t, 1, {
      replayCacheEntries: 3,
      auth: { name: 'bob', privateKey: bob.signing.privateKey, keyFor },
    })) as [Endpoint];
    let taken = 0;
    b.onRequest((_request, _from, respond) => {
      taken++;
      respond({ t: 'ack' });
    });
    const signed = (id: string) =>
      signDatagram(
        encodeRequest(id, { t: 'probe', nick: 'bob' }),
        'alice',
        alice.signing.privateKey,
      );
    const socket = dgram.createSocket('udp4');
    t.teardown(() => socket.close());
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const send = (datagram: Buffer) =>
      new Promise((resolve) => socket.send(datagram, b.address().port, '127.0.0.1', resolve));
    const captured = signed('first');
    for (const id of ['first', 'second', 'third'])
      await send(id === 'first' ? captured : signed(id));
    await eventually(() => taken === 3, 15_000, 'three taken: the cache is full');
    await send(signed('fourth')); // new, but no room to remember it: refused, not taken
    await eventually(() => b.stats.dropped['rate-limited'] === 1, 15_000, 'the fourth refused');
    const elsewhere = dgram.createSocket('udp4');
    t.teardown(() => elsewhere.close());
    await new Promise<void>((resolve) => elsewhere.bind(0, '127.0.0.1', resolve));
    await new Promise((resolve) =>
      elsewhere.send(captured, b.address().port, '127.0.0.1', resolve),
    );
    await eventually(
      () => b.stats.dropped.replayed === 1,
      15_000,
      'the captured one, from elsewhere, is still a replay',
    );
    t.equal(taken, 3, 'nothing more was taken');
  },
);

/**
 * alice's endpoint and bob's (with `bobOptions`), both signing, bob holding `session` with alice;
 * and the ids of the requests bob took, each ACKed.
 */
async function sessionPair(t: Test, bobOptions: EndpointOptions) {
  const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
  const keyFor = (by: string) => signingKeyFrom((by === 'alice' ? alice : bob).public.sk);
  const [a] = (await endpoints(t, 1, {
    auth: { name: 'alice', privateKey: alice.signing.privateKey, keyFor },
  })) as [Endpoint];
  const [b] = (await endpoints(t, 1, {
    ...bobOptions,
    auth: {
      name: 'bob',
      privateKey: bob.signing.privateKey,
      keyFor,
      macKeyFor: (by, sid) => (by === 'alice' && sid === session.sid ? session.key : undefined),
    },
  })) as [Endpoint];
  const taken: string[] = [];
  b.onRequest((request, _from, respond) => {
    taken.push(request.id);
    respond({ t: 'ack' });
  });
  return { a, b, taken };
}

/**
 * The tries of request `id` (a probe) from `a` to `b` through a proxy that drops the first
 * datagram going `direction` (a first try, or its ACK): every datagram that went forward, in
 * order. The request must end ACKed, after more than one try.
 */
async function triesThrough(
  t: Test,
  a: Endpoint,
  b: Endpoint,
  id: string,
  options: RequestOptions,
  direction: 'forward' | 'back' = 'forward',
): Promise<Buffer[]> {
  const tries: Buffer[] = [];
  let dropped = false;
  const proxy = await createProxy(b.address(), {
    drop: (datagram, going) => {
      if (going === 'forward') tries.push(datagram);
      if (going !== direction || dropped) return false;
      dropped = true;
      return true;
    },
  });
  t.teardown(() => proxy.close());
  t.match(await a.request(proxy.address, { t: 'probe', nick: 'bob' }, options, id), {
    t: 'ack',
  });
  t.ok(tries.length >= 2, `${id}: the first try or its ACK dropped (${tries.length} tries)`);
  return tries;
}

t.test(
  'requests under a session key are checked by their numbers: a replay cache of three does not ' +
    'limit them; a retransmission is sealed afresh and taken once; a replay of any try is refused, ' +
    'a first try held back on the path among them',
  async (t) => {
    const { a, b, taken } = await sessionPair(t, { replayCacheEntries: 3 });
    const options = { timeoutMs: 10_000, tries: 1, signer: 'bob', mac: session };
    await eachAtMost(
      Array.from({ length: 300 }, (_, i) => i),
      16,
      (i) => a.request(b.address(), { t: 'probe', nick: 'bob' }, options, `many-${i}`),
    );
    t.equal(taken.length, 300, 'all 300 taken, past a replay cache of three');
    t.equal(b.stats.dropped['rate-limited'], 0, 'none refused');

    // Through a proxy that drops the first try: the second is sealed afresh (another number).
    const tries = await triesThrough(t, a, b, 'resent', { ...options, timeoutMs: 300, tries: 20 });
    const numbers = tries.map((datagram) => splitSigned(datagram)!.signature.n);
    t.equal(new Set(numbers).size, tries.length, 'each try its own number');
    t.same(
      taken.filter((id) => id === 'resent'),
      ['resent'],
      'taken once (a later try is answered from the dedup window)',
    );
    // Each try that reached bob (the first taken, the others answered again), sent again from
    // elsewhere: a replay. So is the first try, which never reached bob (held back on the path):
    // its number was never taken, but its request was.
    await eventually(
      () => b.stats.deduplicated === tries.length - 2,
      15_000,
      'every try in by now',
    );
    const elsewhere = dgram.createSocket('udp4');
    t.teardown(() => elsewhere.close());
    await new Promise<void>((resolve) => elsewhere.bind(0, '127.0.0.1', resolve));
    for (const datagram of tries.slice(1))
      await new Promise((resolve) =>
        elsewhere.send(datagram, b.address().port, '127.0.0.1', resolve),
      );
    await eventually(
      () => b.stats.dropped.replayed === tries.length - 1,
      15_000,
      () => `the tries that reached bob, from elsewhere, are replays (${b.stats.dropped.replayed})`,
    );
    await new Promise((resolve) =>
      elsewhere.send(tries[0], b.address().port, '127.0.0.1', resolve),
    );
    await eventually(
      () => b.stats.dropped.replayed === tries.length,
      15_000,
      () => `the held-back first try, from elsewhere, is a replay (${b.stats.dropped.replayed})`,
    );
    t.equal(taken.length, 301, 'nothing more was taken');
  },
);

t.test('a signed request is retransmitted as the same bytes, not signed again', async (t) => {
  const { a, b, taken } = await sessionPair(t, {});
  const tries = await triesThrough(t, a, b, 'signed', {
    timeoutMs: 300,
    tries: 20,
    signer: 'bob',
  });
  t.ok(
    tries.every((datagram) => datagram.equals(tries[0])),
    'every try the first one’s bytes',
  );
  t.same(taken, ['signed']);
});

/**
 * alice's endpoint and bob's, under `session`, with a dedup window of two at bob; probes to bob
 * (`probe`, one try each with `options`); `pushOut`, three more, which push a request out of
 * the window; and `sendFromElsewhere`, a datagram sent to bob from a socket of its own.
 */
async function pastDedupWindow(t: Test) {
  const { a, b, taken } = await sessionPair(t, { dedup: { maxEntries: 2 } });
  const probe = { t: 'probe', nick: 'bob' } as const;
  const options = { timeoutMs: 10_000, tries: 1, signer: 'bob', mac: session };
  let pushed = 0;
  const pushOut = async () => {
    for (let i = 0; i < 3; i++) await a.request(b.address(), probe, options, `push-${pushed++}`);
  };
  const elsewhere = dgram.createSocket('udp4');
  t.teardown(() => elsewhere.close());
  await new Promise<void>((resolve) => elsewhere.bind(0, '127.0.0.1', resolve));
  const sendFromElsewhere = (datagram: Buffer) =>
    new Promise((resolve) => elsewhere.send(datagram, b.address().port, '127.0.0.1', resolve));
  /** `datagram` (a try, `what`), once pushed out of the window, from elsewhere: a replay. */
  const replayedPastWindow = async (datagram: Buffer, what: string) => {
    const before = b.stats.dropped.replayed;
    await pushOut();
    await sendFromElsewhere(datagram);
    await eventually(
      () => b.stats.dropped.replayed === before + 1,
      15_000,
      () => `${what}, the request forgotten: a replay (${b.stats.dropped.replayed - before})`,
    );
  };
  return {
    a,
    b,
    taken,
    probe,
    options,
    pushOut,
    sendFromElsewhere,
    replayedPastWindow,
    pushed: () => pushed,
  };
}

t.test(
  'past the dedup window, a try under a session key is refused by its number: a first try held ' +
    'back on the path (the tries after it name it), and a try that was answered from the window',
  async (t) => {
    const { a, b, taken, options, pushOut, sendFromElsewhere, replayedPastWindow, pushed } =
      await pastDedupWindow(t);
    const retried = { ...options, timeoutMs: 300, tries: 20 };

    // The first try held back on the path: bob takes the second, which names the first's number.
    const held = await triesThrough(t, a, b, 'held', retried);
    t.same(
      splitSigned(held[1])!.signature.prior,
      [splitSigned(held[0])!.signature.n],
      'the second try names the first',
    );
    await replayedPastWindow(held[0], 'the held-back first try');

    // The first ACK lost: bob takes the first try and answers the second from the dedup window.
    const answered = await triesThrough(t, a, b, 'answered', retried, 'back');
    await eventually(() => b.stats.deduplicated >= 1, 15_000, 'a try answered from the window');
    await pushOut();
    for (const datagram of answered) await sendFromElsewhere(datagram);
    await eventually(
      () => b.stats.dropped.replayed === 1 + answered.length,
      15_000,
      () =>
        `each try, the request forgotten, a replay, the one answered from the window among them (${b.stats.dropped.replayed})`,
    );
    t.same(
      taken.filter((id) => id === 'held' || id === 'answered'),
      ['held', 'answered'],
      'each taken once',
    );
    t.equal(taken.length, 2 + pushed(), 'nothing more was taken');
  },
);

t.test(
  'a later try held back on the path, its request taken and answered meanwhile, is refused ' +
    'past the dedup window: the requests after it name `low`',
  async (t) => {
    const { a, b, taken, probe, options, replayedPastWindow } = await pastDedupWindow(t);
    // bob takes the first try; its ACK comes back 3 s late, long after the next try went (every
    // 100 ms), and every try after the first is held back here, never reaching bob.
    const held: Buffer[] = [];
    let forward = 0;
    let acks = 0;
    const proxy = await createProxy(b.address(), {
      fault: (datagram, going) => {
        if (going === 'back') return acks++ === 0 ? { delayMs: 3000 } : 'pass';
        if (forward++ === 0) return 'pass';
        held.push(datagram);
        return 'drop';
      },
    });
    t.teardown(() => proxy.close());
    const retried = { ...options, timeoutMs: 100, tries: 100 };
    t.match(await a.request(proxy.address, probe, retried, 'later'), { t: 'ack' });
    t.ok(held.length >= 1, `later tries held back (${held.length})`);
    t.same(taken, ['later'], 'the first try taken');
    // The requests that push it out of the dedup window name `low` past every try of it.
    await replayedPastWindow(held[0], 'the held-back later try');
    t.same(taken, ['later', 'push-0', 'push-1', 'push-2'], 'nothing more was taken');
  },
);

t.test(
  'a request sent in pieces under a session key is not left under way: the next request names ' +
    '`low` past it',
  async (t) => {
    const { a, b, taken } = await sessionPair(t, {});
    const options = { timeoutMs: 10_000, tries: 1, signer: 'bob', mac: session };
    // A first try dropped: for a while after, alice's requests under the session name `low`.
    await triesThrough(t, a, b, 'lossy', { ...options, timeoutMs: 300, tries: 20 });
    const text = 'x'.repeat(3 * SAFE_DATAGRAM_BYTES);
    const long = { t: 'group_msg', group: 'g', from: 'alice', mid: 'm', text } as const;
    t.match(await a.request(b.address(), long, options, 'long'), { t: 'ack' });
    t.equal(a.stats.fragmented, 1, 'sent in pieces');
    const seen: Buffer[] = [];
    const proxy = await createProxy(b.address(), {
      fault: (datagram, going) => {
        if (going === 'forward') seen.push(datagram);
        return 'pass';
      },
    });
    t.teardown(() => proxy.close());
    t.match(await a.request(proxy.address, { t: 'probe', nick: 'bob' }, options, 'next'), {
      t: 'ack',
    });
    const { n, low } = splitSigned(seen[0])!.signature;
    t.equal(low, n, 'nothing under way before it: its own number');
    t.same(taken.slice(0, 1), ['lossy']);
    t.ok(taken.includes('long') && taken.includes('next'));
  },
);

t.test(
  'password work past its share from one address is refused with TRY_LATER, at once',
  async (t) => {
    const net = await createTestnet(t, { registry: { passwordJobsPerAddress: 2 } });
    await net.client('acct1', { password: 'one', account: 'create' });
    await net.client('acct2', { password: 'two', account: 'create' });
    await t.rejects(net.client('acct3', { password: 'three', account: 'create' }), {
      code: 'ERR_TRY_LATER',
    });
    t.notOk(
      net.registry.snapshot().entries.some((e) => e.nick === 'acct3'),
      'and nothing kept for it',
    );
  },
);

t.test(
  'a request under a session the receiver does not hold: told NO_SESSION where the receiver ' +
    'says the address receives, elsewhere only in no more bytes than the request',
  async (t) => {
    let proven = true;
    const {
      a: sender,
      b: receiver,
      alice,
    } = await pair(t, { macKeyFor: () => undefined, noSession: (by) => by === 'alice' && proven });
    let handled = 0;
    receiver.onRequest((_request, _from, respond) => {
      handled++;
      respond({ t: 'ack' });
    });
    const options = { timeoutMs: 100, tries: 3, signer: 'bob', mac: session };
    await t.rejects(
      sender.request(receiver.address(), { t: 'probe', nick: 'alice' }, options),
      { code: 'ERR_NO_SESSION' },
      'an address said to receive is told, whatever the size',
    );
    proven = false;
    await t.rejects(
      sender.request(receiver.address(), { t: 'probe', nick: 'alice' }, options),
      { code: 'ERR_TIMEOUT' },
      'elsewhere a small request gets no larger answer',
    );
    t.ok(receiver.stats.withheld >= 1, 'the answer was withheld');
    await t.rejects(
      sender.request(
        receiver.address(),
        { t: 'heartbeat', nick: 'alice', sk: alice.public.sk },
        options,
      ),
      { code: 'ERR_NO_SESSION' },
      'one the answer does not outgrow is told',
    );
    t.equal(handled, 0, 'none reached the handler');
    // A signed request is checked as ever, and counted.
    const checked = receiver.stats.signaturesChecked;
    await sender.request(
      receiver.address(),
      { t: 'probe', nick: 'alice' },
      { ...options, mac: undefined },
    );
    t.equal(receiver.stats.signaturesChecked, checked + 1);
  },
);

t.test(
  'group messages go to each member under its session, and come back ACKed under it: the ' +
    'registry checks no signature',
  async (t) => {
    const net = await createTestnet(t);
    const members = await Promise.all(['alice', 'bob', 'carol'].map((nick) => net.client(nick)));
    const [alice, bob, carol] = members;
    await alice.createGroup('g');
    for (const member of members) await member.joinGroup('g');
    // Each has its session with the registry once an answer came under it.
    await eventually(
      () => members.every((member) => member.stats.sessionAuthenticated > 0),
      15_000,
      'every member under its session',
    );
    const checked = net.registry.stats.signaturesChecked;
    const underSession = net.registry.stats.sessionAuthenticated;
    const got = [bob, carol].map((member) => nextEvent(member, 'group-message'));
    await alice.sendGroup('under our sessions');
    for (const message of await Promise.all(got))
      t.match(message, { group: 'g', from: 'alice', text: 'under our sessions' });
    // Alice's group_send and both ACKs, none of them signed.
    await eventually(
      () => net.registry.stats.sessionAuthenticated >= underSession + 3,
      15_000,
      "the ACKs under the members' sessions",
    );
    t.equal(net.registry.stats.signaturesChecked, checked, 'no signature to check');
  },
);

/** A testnet where alice is online and sees bob away (he deregistered): her sends go to the registry. */
async function bobAway(t: Test) {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  const bob = await net.client('bob');
  await bob.deregister();
  await eventually(() => alice.table().some((e) => e.nick === 'bob' && !e.online));
  return { net, alice, bob };
}

t.test(
  "once the registry holds a client's session, the client's requests go under it: none of " +
    'its requests is signed',
  async (t) => {
    const { net, alice } = await bobAway(t);
    const checked = net.registry.stats.signaturesChecked;
    const underSession = net.registry.stats.sessionAuthenticated;
    t.equal(await alice.send('bob', 'kept for you'), 'saved');
    t.equal(await alice.send('bob', 'and this'), 'saved');
    t.equal(net.registry.stats.signaturesChecked, checked, 'no signature to check');
    t.ok(
      net.registry.stats.sessionAuthenticated >= underSession + 2,
      'the saves came under her session',
    );
  },
);

t.test(
  'a registry that lost the session (restarted) answers NO_SESSION: the client signs again, ' +
    'nothing is lost, and it shares a session anew',
  async (t) => {
    const { net, alice, bob } = await bobAway(t);
    const registry = await net.restartRegistry();
    t.equal(await alice.send('bob', 'after the restart'), 'saved', 'signed again, saved');
    t.ok(registry.stats.dropped['unknown-signer'] >= 1, 'the one under the old session dropped');
    await alice.registrySessionShared();
    const checked = registry.stats.signaturesChecked;
    t.equal(await alice.send('bob', 'under the new one'), 'saved');
    t.equal(registry.stats.signaturesChecked, checked, 'under the session shared anew');
    const got: string[] = [];
    bob.on('saved-message', (m) => got.push(m.text));
    await bob.register();
    await eventually(
      () => got.length === 2,
      15_000,
      () => `bob got ${got.join(', ')}`,
    );
    t.same(got, ['after the restart', 'under the new one'], 'both kept, once each, in order');
  },
);
