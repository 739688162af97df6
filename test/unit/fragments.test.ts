import fc from 'fast-check';
import t from 'tap';
import { MAX_FRAGMENTS, MAX_MESSAGE_BYTES } from '../../src/protocol/constants.js';
import {
  DEFAULT_REASSEMBLIES_PENDING,
  FRAGMENT_BYTES,
  MESSAGE_COST,
  PIECE_COST,
  Reassembly,
  splitDatagram,
} from '../../src/transport/fragments.js';

t.test('property: any order, any repeats: reassembled once, byte for byte', async () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: FRAGMENT_BYTES + 1, maxLength: 70_000 }),
      fc.array(fc.nat(), { maxLength: 200 }),
      (bytes, noise) => {
        const pieces = splitDatagram(Buffer.from(bytes));
        // a delivery order: every piece at least once, some repeated, shuffled by `noise`
        const order = [...pieces.keys(), ...noise.map((n) => n % pieces.length)];
        for (let i = order.length - 1; i > 0; i--) {
          const j = (noise[i % Math.max(1, noise.length)] ?? i) % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        const reassembly = new Reassembly();
        const completed: Buffer[] = [];
        for (const index of order) {
          const result = reassembly.add('k', index, pieces.length, pieces[index]);
          if (result.status === 'complete') completed.push(result.datagram);
          if (result.status === 'refused') return false;
        }
        // a repeat after completion is recognised, never a second delivery
        return completed.length === 1 && Buffer.compare(completed[0], Buffer.from(bytes)) === 0;
      },
    ),
    { numRuns: 150 },
  );
});

t.test('bounds: inconsistent pieces, size, buffer, age', async (t) => {
  let now = 0;
  const held = (pieces: number, messages: number) =>
    pieces * (FRAGMENT_BYTES + PIECE_COST) + messages * MESSAGE_COST;
  const reassembly = new Reassembly({
    timeoutMs: 1000,
    maxBufferedBytes: held(3, 2) + 10,
    now: () => now,
  });
  const piece = Buffer.alloc(FRAGMENT_BYTES, 1).toString('base64');
  t.match(
    reassembly.add('a', 5, 3, piece),
    { status: 'refused', reason: 'inconsistent' },
    'index past the count',
  );
  t.match(
    reassembly.add('a', 0, 1, piece),
    { status: 'refused', reason: 'inconsistent' },
    'a single piece is no fragment',
  );
  t.match(reassembly.add('a', 0, MAX_FRAGMENTS + 1, piece), {
    status: 'refused',
    reason: 'inconsistent',
  });
  t.match(reassembly.add('a', 0, 3, 'not base64!'), { status: 'refused', reason: 'encoding' });
  t.match(reassembly.add('a', 0, 3, piece), { status: 'incomplete' });
  t.match(
    reassembly.add('a', 1, 4, piece),
    { status: 'refused', reason: 'inconsistent' },
    'the count cannot change',
  );
  t.match(reassembly.add('b', 0, 3, piece), { status: 'incomplete' });
  t.match(reassembly.add('b', 1, 3, piece), { status: 'incomplete' });
  t.match(
    reassembly.add('c', 0, 3, piece),
    { status: 'refused', reason: 'buffer-full' },
    'memory is bounded',
  );
  t.equal(reassembly.bufferedBytes, held(3, 2));
  now = 1001;
  t.match(
    reassembly.add('c', 0, 3, piece),
    { status: 'incomplete' },
    'old partial messages expire',
  );
  t.equal(reassembly.expired, 2);
  t.equal(reassembly.pending, 1);

  t.equal(reassembly.bufferedBytes, held(1, 1), 'what expired is let go');

  const big = new Reassembly();
  const huge = Buffer.alloc(Math.ceil(MAX_MESSAGE_BYTES / 4.5), 2).toString('base64'); // the 5th piece crosses the cap
  let result;
  for (let i = 0; i < 5 && result?.status !== 'refused'; i++) result = big.add('x', i, 6, huge);
  t.match(
    result,
    { status: 'refused', reason: 'too-large' },
    `a message is at most ${MAX_MESSAGE_BYTES} bytes`,
  );
  t.equal(big.bufferedBytes, 0, 'and its pieces are let go');
});

t.test('bounds: empty pieces cost too; incomplete messages per source and in all', async (t) => {
  const reassembly = new Reassembly({ maxPerSource: 3, maxPending: 5 });
  t.match(
    reassembly.add('e', 0, 2, ''),
    { status: 'refused', reason: 'inconsistent' },
    'an empty piece is no piece',
  );
  t.equal(reassembly.pending, 0, 'and leaves nothing behind');
  const piece = Buffer.from('x').toString('base64');
  for (let i = 0; i < 3; i++)
    t.match(reassembly.add(`a${i}`, 0, 2, piece, '10.0.0.1'), { status: 'incomplete' });
  t.match(
    reassembly.add('a3', 0, 2, piece, '10.0.0.1'),
    { status: 'refused', reason: 'too-many' },
    'a fourth from one source',
  );
  t.match(
    reassembly.add('a0', 1, 2, piece, '10.0.0.1'),
    { status: 'complete' },
    'its own messages go on',
  );
  t.match(
    reassembly.add('a3', 0, 2, piece, '10.0.0.1'),
    { status: 'incomplete' },
    'a finished one makes room',
  );
  for (let i = 0; i < 2; i++)
    t.match(reassembly.add(`b${i}`, 0, 2, piece, `10.0.1.${i}`), { status: 'incomplete' });
  t.match(
    reassembly.add('c', 0, 2, piece, '10.0.2.1'),
    { status: 'refused', reason: 'too-many' },
    'past the total',
  );
  t.equal(reassembly.pending, 5);
  t.equal(
    reassembly.bufferedBytes,
    5 * (1 + PIECE_COST + MESSAGE_COST),
    'each piece charged its fixed cost',
  );

  // 100,000 one-byte pieces, each a new message from a new source: held to the total.
  const flood = new Reassembly();
  for (let i = 0; i < 100_000; i++) flood.add(`f${i}`, 0, 2, piece, `src${i}`);
  t.ok(flood.pending <= DEFAULT_REASSEMBLIES_PENDING, `${flood.pending} incomplete messages held`);
});

t.test('after thousands put together, the oldest incomplete one still expires first', async (t) => {
  let now = 0;
  const reassembly = new Reassembly({ timeoutMs: 1000, now: () => now });
  const piece = Buffer.from('xy').toString('base64');
  const statuses = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    reassembly.add(`done${i}`, 0, 2, piece);
    statuses.add(reassembly.add(`done${i}`, 1, 2, piece).status);
    if (i === 1500) reassembly.add('old', 0, 2, piece); // started among them
  }
  t.same([...statuses], ['complete'], 'every one put together');
  now = 600;
  reassembly.add('young', 0, 2, piece);
  now = 1100; // 'old' is past its time, 'young' is not
  reassembly.add('another', 0, 2, piece);
  t.equal(reassembly.expired, 1, 'the old one expired');
  t.equal(reassembly.pending, 2, 'the young one and the new one are kept');
  t.equal(reassembly.add('young', 1, 2, piece).status, 'complete');
});
