import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  macDatagram,
  signDatagram,
  splitSigned,
  type DatagramMac,
} from '../../src/crypto/signing.js';
import { encodeReply, encodeRequest } from '../../src/protocol/codec.js';
import {
  DatagramAuth,
  type AuthCounters,
  type Dropped,
  type Opened,
} from '../../src/transport/datagram-auth.js';

// The checks every datagram goes through, without a socket: who signed it, that the signature
// or session MAC holds, that it is fresh, and that a signed datagram is taken once.

const FROM = { address: '127.0.0.1', port: 4000 };
const alice = generateKeyPairSync('ed25519');
const mallory = generateKeyPairSync('ed25519');
/** A session id is 16 characters on the wire. */
const SESSION: DatagramMac = { sid: 'session-one-0001', key: randomBytes(32) };
const SK = Buffer.from(alice.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString(
  'base64',
);
const ping = () => encodeRequest('r1', { t: 'heartbeat', nick: 'alice', sk: SK });

function setup(replyMacs: Record<string, DatagramMac> = {}) {
  const counters = { sessionAuthenticated: 0, signaturesChecked: 0, unchecked: 0 };
  const auth = new DatagramAuth(
    {
      name: 'bob',
      privateKey: generateKeyPairSync('ed25519').privateKey,
      keyFor: (by) => (by === 'alice' ? alice.publicKey : undefined),
      macKeyFor: (by, sid) => (by === 'alice' && sid === SESSION.sid ? SESSION.key : undefined),
      unchecked: (message) => message.t === 'hello',
    },
    { counters, replyMac: (re, sid) => (replyMacs[re]?.sid === sid ? replyMacs[re] : undefined) },
  );
  return { auth, counters };
}

const dropped = (outcome: Opened | Dropped) => ('drop' in outcome ? outcome.drop : 'opened');

/**
 * Two ends of SESSION, alice's (`sender`) and bob's (`receiver`), each taking requests under it
 * and replies under `replyMac`'s key; `replayCacheEntries` bounds their cache of signed requests.
 */
function sessionEnds(options: { replyMac?: DatagramMac; replayCacheEntries?: number } = {}): {
  sender: DatagramAuth;
  receiver: DatagramAuth;
  counters: AuthCounters;
} {
  const counters = { sessionAuthenticated: 0, signaturesChecked: 0, unchecked: 0 };
  const end = (name: string) =>
    new DatagramAuth(
      {
        name,
        privateKey: alice.privateKey,
        keyFor: () => alice.publicKey,
        macKeyFor: (_by, sid) => (sid === SESSION.sid ? SESSION.key : undefined),
      },
      {
        counters,
        replyMac: () => options.replyMac,
        replayCacheEntries: options.replayCacheEntries,
      },
    );
  return { sender: end('alice'), receiver: end('bob'), counters };
}

t.test(
  'a signed datagram: opened with its signer, once; tampered, forged or stale: dropped',
  async (t) => {
    const { auth, counters } = setup();
    const datagram = signDatagram(ping(), 'alice', alice.privateKey);
    const opened = auth.open(datagram, FROM);
    t.match(opened, { by: 'alice', message: { t: 'heartbeat', id: 'r1' } });
    t.equal(counters.signaturesChecked, 1);
    const key = (opened as Opened).replayKey!;
    t.equal(auth.admitReplay({ replayKey: undefined }), 'added', 'no replay key: nothing to check');
    t.equal(auth.admitReplay({ replayKey: key }), 'added');
    t.equal(
      auth.admitReplay({ replayKey: key }),
      'seen',
      'the same signed datagram again: a replay',
    );

    // Another nick in the same bytes: still a valid request, but not what alice signed.
    const tampered = Buffer.from(datagram.toString().replace('"nick":"alice"', '"nick":"alicf"'));
    t.equal(dropped(auth.open(tampered, FROM)), 'bad-signature');
    t.equal(
      dropped(auth.open(signDatagram(ping(), 'alice', mallory.privateKey), FROM)),
      'bad-signature',
      "signed with another key than alice's",
    );
    t.equal(
      dropped(auth.open(signDatagram(ping(), 'carol', alice.privateKey), FROM)),
      'unknown-signer',
    );
    t.equal(
      dropped(
        auth.open(signDatagram(ping(), 'alice', alice.privateKey, Date.now() - 120_000), FROM),
      ),
      'stale',
    );
    t.equal(dropped(auth.open(ping(), FROM)), 'unsigned');
  },
);

t.test('under a session key: a request under one held, a reply under its request’s', async (t) => {
  const { auth, counters } = setup({ r9: SESSION });
  t.match(auth.open(macDatagram(ping(), 'alice', SESSION, 0), FROM), { by: 'alice', mac: SESSION });
  t.equal(counters.sessionAuthenticated, 1);
  const other = { sid: 'session-two-0002', key: randomBytes(32) };
  const unknown = auth.open(macDatagram(ping(), 'alice', other, 0), FROM);
  t.match(
    unknown,
    { drop: 'unknown-signer', noSession: { by: 'alice', request: { id: 'r1' } } },
    'a request under a session not held: its sender may be told to sign again',
  );
  const wrongKey = { sid: SESSION.sid, key: randomBytes(32) };
  t.equal(dropped(auth.open(macDatagram(ping(), 'alice', wrongKey, 0), FROM)), 'bad-signature');
  const reply = encodeReply('r9', { t: 'ack' });
  t.match(auth.open(macDatagram(reply, 'alice', SESSION, 0), FROM), { by: 'alice' });
  const stray = auth.open(macDatagram(encodeReply('r8', { t: 'ack' }), 'alice', SESSION, 0), FROM);
  t.equal(dropped(stray), 'unknown-signer', 'a reply to a request that went under no such key');
  t.notOk('noSession' in stray, 'a reply is never answered');
});

t.test(
  'under a session key: each number taken once, whatever the replay cache holds',
  async (t) => {
    const { sender, receiver, counters } = sessionEnds({ replayCacheEntries: 1 });
    const take = (datagram: Buffer) => {
      const opened = receiver.open(datagram, FROM) as Opened;
      return receiver.admitReplay(opened);
    };
    // A cache of one signed request: the session's requests do not go through it.
    t.equal(take(sender.seal(ping())), 'added', 'signed');
    t.equal(
      take(sender.seal(encodeRequest('r2', { t: 'heartbeat', nick: 'alice', sk: SK }))),
      'full',
      'the cache of one is full',
    );
    const first = sender.seal(ping(), SESSION);
    t.equal(take(first), 'added');
    t.equal(take(first), 'seen', 'the same datagram again: a replay');
    for (let i = 0; i < 50; i++)
      t.equal(take(sender.seal(ping(), SESSION)), 'added', `sealed again: ${i}`);
    t.equal(take(first), 'seen', 'still a replay');
    t.match(receiver.open(first, FROM), { n: 0, mac: SESSION }, 'numbered from 0 by its sender');
    t.equal(counters.signaturesChecked, 2, 'none of them checked as a signature');

    // A request's tries: each names the numbers before it, which its receiver takes too.
    const tries: number[] = [];
    const heldBack = sender.seal(ping(), SESSION, tries);
    const between = sender.seal(ping(), SESSION);
    const second = sender.seal(ping(), SESSION, tries);
    const third = sender.seal(ping(), SESSION, tries);
    t.same(tries, [51, 53, 54], 'the numbers of its three tries');
    t.match(receiver.open(third, FROM), { n: 54, prior: [51, 53] });
    t.equal(take(second), 'added', 'the second try');
    t.equal(take(heldBack), 'seen', 'the first, held back on the path until now: a replay');
    t.equal(take(between), 'added', 'another request between them, not named: taken');
    t.equal(take(third), 'added', 'the third try');
    t.equal(take(third), 'seen', 'and only once');
  },
);

t.test(
  'after a request that may have left a try behind, datagrams name `low`: such a try, held back, is refused',
  async (t) => {
    const { sender, receiver } = sessionEnds({ replyMac: SESSION });
    const open = (datagram: Buffer) => receiver.open(datagram, FROM) as Opened;
    const take = (datagram: Buffer) => receiver.admitReplay(open(datagram));
    // A reply's trailer (its receiver takes none of it for the replay check).
    const reply = () =>
      splitSigned(sender.seal(encodeReply('r1', { t: 'ack' }), SESSION))?.signature;

    // Answered at its only try: nothing left behind, nothing named.
    const once: number[] = [];
    t.equal(take(sender.seal(ping(), SESSION, once)), 'added');
    sender.settled(SESSION, once, true);
    const quiet: number[] = [];
    t.match(
      open(sender.seal(ping(), SESSION, quiet)),
      { n: 1, low: undefined },
      'nothing named after a request answered at once',
    );
    sender.settled(SESSION, quiet, true);

    // Taken at its first try, whose ACK came late: the second try, held back on the path.
    const tries: number[] = [];
    t.equal(take(sender.seal(ping(), SESSION, tries)), 'added');
    const heldBack = sender.seal(ping(), SESSION, tries);
    const other: number[] = [];
    const underWay = sender.seal(ping(), SESSION, other); // another request, not answered yet
    t.same([tries, other], [[2, 3], [4]]);
    t.match(open(underWay), { n: 4, low: undefined }, 'nothing named before a request ends so');
    sender.settled(SESSION, tries, true);
    const nextTries: number[] = [];
    const next = sender.seal(ping(), SESSION, nextTries);
    t.match(open(next), { n: 5, low: 4 }, 'the first number of the oldest request under way');
    t.equal(take(next), 'added');
    t.equal(take(heldBack), 'seen', 'the try held back, never taken, now refused');
    t.equal(take(underWay), 'added', 'a try of a request still under way is taken');
    t.match(
      reply(),
      { n: 6, low: undefined },
      'a reply names none (replies are not checked by number)',
    );
    sender.settled(SESSION, nextTries, true);
    sender.settled(SESSION, other, true);
    const alone: number[] = [];
    t.match(
      open(sender.seal(ping(), SESSION, alone)),
      { n: 7, low: 7 },
      'none under way: its own number',
    );
    sender.settled(SESSION, alone, true);

    // A later request given up (no reply to its only try): refused once `low` passes it.
    const lost: number[] = [];
    const unanswered = sender.seal(ping(), SESSION, lost);
    sender.settled(SESSION, lost, false);
    t.equal(take(sender.seal(ping(), SESSION, [])), 'added');
    t.equal(take(unanswered), 'seen', 'a try of a request its sender gave up on');
  },
);

t.test('a request the application takes unchecked carries no signer', async (t) => {
  const { auth, counters } = setup();
  const hello = encodeRequest('h1', { t: 'hello', nick: 'x', sk: SK, pad: '.'.repeat(200) });
  t.match(auth.open(signDatagram(hello, 'x', mallory.privateKey), FROM), {
    by: undefined,
    replayKey: undefined,
  });
  t.equal(counters.unchecked, 1);
  t.equal(counters.signaturesChecked, 0, 'its signature is not even checked');
  // Under a session key, never unchecked: its key is looked up (the sender is told if none).
  const underSession = auth.open(macDatagram(hello, 'mallory', SESSION, 0), FROM);
  t.equal(dropped(underSession), 'unknown-signer');
  t.ok('noSession' in underSession, 'told to sign again');
  t.equal(counters.unchecked, 1);
});

t.test('without authentication: decoded only, what leaves is not signed', async (t) => {
  const counters = { sessionAuthenticated: 0, signaturesChecked: 0, unchecked: 0 };
  const auth = new DatagramAuth(undefined, { counters, replyMac: () => undefined });
  t.notOk(auth.on);
  t.same(auth.seal(ping()), ping());
  t.match(auth.open(ping(), FROM), { by: undefined, message: { t: 'heartbeat' } });
  t.match(auth.open(Buffer.from('{"v":1,"t":"chat","id":"q"}'), FROM), {
    drop: 'schema',
    requestId: 'q',
  });
});
