import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { signDatagram, splitSigned, type DatagramMac } from '../../src/crypto/signing.js';
import { encodeReply, decode } from '../../src/protocol/codec.js';
import {
  MAX_ID_LENGTH,
  MAX_MERGED_ACKS,
  MAX_NICK_LENGTH,
  SAFE_DATAGRAM_BYTES,
} from '../../src/protocol/constants.js';
import type { SendKind } from '../../src/transport/bundle.js';
import type { ReplyBody } from '../../src/protocol/messages.js';
import { ACKS_PER_MERGE, AckMerger } from '../../src/transport/ack-merge.js';
import type { Address } from '../../src/transport/address.js';

// The ACKs one turn owes each sender, without a socket: the turn's end is a flush called by hand.

const ALICE: Address = { address: '127.0.0.1', port: 4000 };
const CAROL: Address = { address: '127.0.0.1', port: 4001 };
const SESSION: DatagramMac = { sid: 'session-one-0001', key: Buffer.alloc(32, 1) };

interface Sent {
  to: Address;
  via: number | undefined;
  sid: string | undefined;
  re: string;
  body: ReplyBody;
  kind?: SendKind;
}

function setup() {
  const sent: Sent[] = [];
  const flushes: Array<() => void> = [];
  const counters = { mergedAcks: 0, acksMerged: 0 };
  const merger = new AckMerger({
    counters,
    defer: (flush) => flushes.push(flush),
    reply: (to, via, mac, re, body, kind) =>
      sent.push({ to, via, sid: mac?.sid, re, body, ...(kind === 'first' ? {} : { kind }) }),
  });
  /** The turn ends: what was deferred runs. */
  const endTurn = () => {
    for (const flush of flushes.splice(0)) flush();
  };
  return { merger, sent, counters, endTurn, flushes };
}

/** Every id a reply acknowledges, in order. */
const idsOf = (one: Sent) => [one.re, ...(one.body.t === 'acks' ? one.body.more : [])];

t.test(
  'the first ACK to a sender in a turn goes now; the rest leave as one at its end',
  async (t) => {
    const { merger, sent, counters, endTurn, flushes } = setup();
    t.equal(merger.hold(ALICE, undefined, SESSION, 'a1'), false, 'the first: its caller sends it');
    t.equal(flushes.length, 1, 'the end of the turn is planned once');
    for (const id of ['a2', 'a3', 'a4']) t.equal(merger.hold(ALICE, undefined, SESSION, id), true);
    t.equal(flushes.length, 1);
    t.same(sent, [], 'nothing before the end of the turn');
    endTurn();
    t.same(sent, [
      {
        to: ALICE,
        via: undefined,
        sid: SESSION.sid,
        re: 'a2',
        body: { t: 'acks', more: ['a3', 'a4'] },
      },
    ]);
    t.same(counters, { mergedAcks: 1, acksMerged: 3 });
    // A new turn: its first goes now again, and one held alone leaves as a plain ack.
    t.equal(merger.hold(ALICE, undefined, SESSION, 'a5'), false);
    t.equal(merger.hold(ALICE, undefined, SESSION, 'a6'), true);
    endTurn();
    t.same(sent[1], { to: ALICE, via: undefined, sid: SESSION.sid, re: 'a6', body: { t: 'ack' } });
    t.same(counters, { mergedAcks: 1, acksMerged: 3 }, 'a plain ack is not counted merged');
  },
);

t.test('each sender, socket and key has its own: never one reply for two', async (t) => {
  const { merger, sent, endTurn } = setup();
  const senders: Array<[Address, number | undefined, DatagramMac | undefined]> = [
    [ALICE, undefined, SESSION],
    [CAROL, undefined, SESSION],
    [ALICE, 5000, SESSION],
    [ALICE, undefined, undefined],
    [ALICE, undefined, { sid: 'session-two-0002', key: Buffer.alloc(32, 2) }],
  ];
  for (const [i, [to, via, mac]] of senders.entries()) {
    t.equal(merger.hold(to, via, mac, `first${i}`), false, `sender ${i}: its first goes now`);
    merger.hold(to, via, mac, `x${i}`);
    merger.hold(to, via, mac, `y${i}`);
  }
  endTurn();
  t.equal(sent.length, senders.length);
  for (const [i, [to, via, mac]] of senders.entries()) {
    const one = sent.find((s) => s.re === `x${i}`);
    t.same(one, { to, via, sid: mac?.sid, re: `x${i}`, body: { t: 'acks', more: [`y${i}`] } });
  }
});

t.test(
  'any turn: every ACK given exactly once, in order; every reply within one datagram, signed, with ids of any length',
  async (t) => {
    const { default: fc } = await import('fast-check');
    const key = generateKeyPairSync('ed25519').privateKey;
    const signer = 'n'.repeat(MAX_NICK_LENGTH);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: MAX_ID_LENGTH })), {
          maxLength: 400,
          size: 'max', // turns long enough to fill replies, not fast-check's small default
        }),
        (holds) => {
          const { merger, sent, endTurn } = setup();
          const now: Array<{ to: Address; id: string }> = [];
          const given = holds.map(([toCarol, length], i) => {
            const to = toCarol ? CAROL : ALICE;
            const id = `${i}.`.padEnd(length, 'x'); // unique, `length` long (or the few its number takes)
            if (!merger.hold(to, undefined, undefined, id)) now.push({ to, id });
            return { to, id };
          });
          endTurn();
          for (const to of [ALICE, CAROL]) {
            const ids = given.filter((one) => one.to === to).map((one) => one.id);
            const first = now.filter((one) => one.to === to).map((one) => one.id);
            const acknowledged = [...first, ...sent.filter((s) => s.to === to).flatMap(idsOf)];
            if (first.length > (ids.length > 0 ? 1 : 0)) return false; // one goes now, no more
            if (JSON.stringify(acknowledged) !== JSON.stringify(ids)) return false;
          }
          return sent.every((one) => {
            const ids = idsOf(one).length;
            if (ids > ACKS_PER_MERGE || ids > MAX_MERGED_ACKS) return false;
            if ((one.kind === 'alone') !== (ids === ACKS_PER_MERGE)) return false; // full: at once
            const wire = signDatagram(encodeReply(one.re, one.body), signer, key);
            const inner = splitSigned(wire)?.inner;
            return (
              wire.byteLength <= SAFE_DATAGRAM_BYTES && inner !== undefined && decode(inner).ok
            );
          });
        },
      ),
      { numRuns: 200 },
    );
    t.pass('held for 200 random turns');
  },
);

t.test(
  'a full reply leaves at once, alone (not in a bundle), without waiting for the end of the turn',
  async (t) => {
    const { merger, sent, endTurn } = setup();
    merger.hold(ALICE, undefined, SESSION, 'first');
    const ids = Array.from({ length: 2 * ACKS_PER_MERGE + 1 }, (_, i) => `m${i}`);
    for (const id of ids.slice(0, ACKS_PER_MERGE - 1)) merger.hold(ALICE, undefined, SESSION, id);
    t.equal(sent.length, 0, 'not full yet');
    for (const id of ids.slice(ACKS_PER_MERGE - 1)) merger.hold(ALICE, undefined, SESSION, id);
    t.same(
      sent.map((one) => [idsOf(one), one.kind]),
      [
        [ids.slice(0, ACKS_PER_MERGE), 'alone'],
        [ids.slice(ACKS_PER_MERGE, 2 * ACKS_PER_MERGE), 'alone'],
      ],
      'each as soon as it held ACKS_PER_MERGE',
    );
    endTurn();
    t.same(
      sent.at(-1),
      {
        to: ALICE,
        via: undefined,
        sid: SESSION.sid,
        re: ids.at(-1),
        body: { t: 'ack' },
      },
      'the one left over at the end of the turn, which may share a bundle',
    );
  },
);
