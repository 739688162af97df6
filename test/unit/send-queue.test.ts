import t from 'tap';
import {
  SendQueue,
  AFTER_WINDOW_MS,
  SPAN_WINDOWS,
  type OutboxLimit,
} from '../../src/client/send-queue.js';
import type { SendOutcome, Try } from '../../src/client/delivery.js';
import { MemoryOutbox } from '../../src/client/outbox.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { settle } from '../helpers/settle.js';

const RETRY_MS = 5_000;

/** A try the test ends when it likes: `end(outcome)`, after `fallBack()` if it likes. */
interface OpenTry {
  job: Try;
  end(outcome: SendOutcome): void;
}

/** A send queue whose tries wait for the test; `tries` lists them in the order they began. */
function queue(options: { sendWindow?: number; outboxLimit?: OutboxLimit } = {}) {
  const clock = fakeClock(1_000_000);
  const outbox = new MemoryOutbox();
  const tries: OpenTry[] = [];
  let ids = 0;
  const state = { online: true };
  const sendQueue = new SendQueue(
    {
      sendWindow: options.sendWindow ?? 32,
      outboxLimit: options.outboxLimit ?? { messages: 10_000, bytes: 16 * 1024 * 1024 },
      outboxRetryMs: RETRY_MS,
      outbox,
      newId: () => `m${++ids}`,
      online: () => state.online,
      attempt: (job) => new Promise<SendOutcome>((end) => tries.push({ job, end })),
      warn: () => {},
    },
    clock.clock,
  );
  /** The text of each try begun since `from`. */
  const begun = (from = 0) => tries.slice(from).map((open) => open.job.entry.text);
  return { sendQueue, clock, outbox, tries, state, begun };
}

t.test(
  'tries run side by side; messages settle, leave the outbox and resolve in the order typed',
  async (t) => {
    const { sendQueue, outbox, tries, begun } = queue();
    const resolved: string[] = [];
    const sends = ['one', 'two', 'three'].map((text) =>
      sendQueue.push('bob', text).then((outcome) => resolved.push(`${text} ${outcome}`)),
    );
    t.equal(
      sendQueue.phaseOf('m1'),
      'direct',
      'launched at once (its first step: the copy on disk)',
    );
    await settle();
    t.same(begun(), ['one', 'two', 'three'], 'all three under way at once');
    t.equal(sendQueue.unsettled, 3);
    tries[2].end('delivered');
    tries[1].end('saved');
    await settle();
    t.same(resolved, [], 'nothing resolves ahead of the first');
    t.equal(sendQueue.phaseOf('m3'), 'settled');
    t.same(
      (await outbox.load()).map((entry) => entry.text),
      ['one', 'two', 'three'],
    );
    tries[0].end('delivered');
    await Promise.all(sends);
    t.same(resolved, ['one delivered', 'two saved', 'three delivered']);
    t.same(await outbox.load(), [], 'each removed at its final outcome');
    t.equal(sendQueue.unsettled, 0);
  },
);

t.test(
  'each message names the one before it; afterTaken once that one was acknowledged',
  async (t) => {
    const { sendQueue, tries } = queue();
    void sendQueue.push('bob', 'one');
    await settle();
    tries[0].end('delivered');
    await settle();
    void sendQueue.push('bob', 'two'); // the first has settled: named from memory
    void sendQueue.push('bob', 'three'); // the second is ahead of it in the queue
    await settle();
    t.same(tries[0].job.after, {}, 'the first message of a run names none');
    t.same(tries[1].job.after, { after: 'm1', afterTaken: true });
    t.same(tries[2].job.after, { after: 'm2' }, 'the second is not settled: not known taken');
    t.notOk(tries[1].job.ahead, 'the head waits on nothing');
    tries[1].end('saved');
    t.equal(
      await tries[2].job.ahead,
      'saved',
      'the third waits on the try at the second before the registry',
    );
    tries[2].end('saved');
    await settle();
    void sendQueue.push('bob', 'four');
    await settle();
    t.same(tries[3].job.after, { after: 'm3' }, 'a saved predecessor is named, not as taken');
  },
);

t.test('a failed message is never named; a settled one only within the after window', async (t) => {
  const { sendQueue, tries, clock } = queue();
  void sendQueue.push('bob', 'one');
  await settle();
  tries[0].end('saved');
  await settle();
  void sendQueue.push('bob', 'two');
  await settle();
  tries[1].end('failed');
  await settle();
  void sendQueue.push('bob', 'three');
  await settle();
  t.same(tries[2].job.after, { after: 'm1' }, 'the failed one is skipped');
  tries[2].end('delivered');
  await settle();
  clock.advance(AFTER_WINDOW_MS + 1);
  void sendQueue.push('bob', 'four');
  await settle();
  t.same(tries[3].job.after, {}, 'too long ago: named no more');
  void sendQueue.push('carol', 'other');
  await settle();
  t.same(tries[4].job.after, {}, 'order is per recipient');
});

t.test(
  'the window caps tries under way; a finished try frees its place even behind an open head',
  async (t) => {
    const { sendQueue, tries, begun } = queue({ sendWindow: 2 });
    for (const text of ['a', 'b', 'c', 'd']) void sendQueue.push('bob', text);
    await settle();
    t.same(begun(), ['a', 'b']);
    t.equal(sendQueue.phaseOf('m3'), 'waiting');
    tries[1].end('delivered');
    await settle();
    t.same(begun(), ['a', 'b', 'c'], 'b done: c starts while a is still open');
    tries[2].end('delivered');
    await settle();
    t.same(begun(), ['a', 'b', 'c', 'd']);
  },
);

t.test(`tries run at most ${SPAN_WINDOWS} windows past the head`, async (t) => {
  const window = 2;
  const { sendQueue, tries } = queue({ sendWindow: window });
  for (let i = 0; i < window * SPAN_WINDOWS + 4; i++) void sendQueue.push('bob', `m${i}`);
  // The head stays open; every other try ends as soon as it begins.
  for (let round = 0; round < 20; round++) {
    await settle();
    for (const open of tries.slice(1)) open.end('delivered');
  }
  t.equal(tries.length, window * SPAN_WINDOWS, 'the head and the span behind it, no further');
  tries[0].end('delivered');
  await settle();
  t.ok(tries.length > window * SPAN_WINDOWS, 'the head settled: the span moves on');
});

t.test(
  'a head kept queued: its send resolves queued once, so does the one kept behind it; both are tried again after outboxRetryMs, in order',
  async (t) => {
    const { sendQueue, tries, clock, begun } = queue();
    const outcomes: string[] = [];
    const first = sendQueue.push('bob', 'one').then((outcome) => outcomes.push(`one ${outcome}`));
    void sendQueue.push('bob', 'two').then((outcome) => outcomes.push(`two ${outcome}`));
    await settle();
    tries[0].job.fallingBack();
    t.equal(sendQueue.phaseOf('m1'), 'fallback');
    tries[0].end('queued');
    tries[1].end('queued');
    await first;
    await settle();
    t.same(
      outcomes,
      ['one queued', 'two queued'],
      'each told once, in order: the second is kept behind the first',
    );
    t.equal(sendQueue.phaseOf('m1'), 'queued');
    t.equal(clock.pending, 1, 'one retry armed');
    clock.advance(RETRY_MS - 1);
    await settle();
    t.same(begun(2), [], 'not before outboxRetryMs');
    clock.advance(1);
    await settle();
    t.same(begun(2), ['one', 'two'], 'both tried again, in order');
    t.equal(
      tries[2].job.made,
      tries[0].job.made,
      'what tries at one message share is kept from one to the next',
    );
    tries[2].end('saved');
    t.equal(
      await tries[3].job.ahead,
      'saved',
      'the second waits on the new try at the first, not the one kept queued',
    );
    tries[3].end('saved');
    await settle();
    t.same(
      outcomes,
      ['one queued', 'two queued'],
      'both sends resolved already: their final outcomes are only emitted',
    );
    t.equal(sendQueue.unsettled, 0);
  },
);

t.test('nothing goes while offline; retryAll sends what waits', async (t) => {
  const { sendQueue, state, begun } = queue();
  state.online = false;
  void sendQueue.push('bob', 'one');
  sendQueue.resume([{ mid: 'old', to: 'carol', text: 'left', at: 0 }]);
  await settle();
  t.same(begun(), []);
  t.equal(sendQueue.unsettled, 2);
  t.equal(sendQueue.phaseOf('old'), 'waiting');
  state.online = true;
  sendQueue.retryAll();
  await settle();
  t.same(begun().sort(), ['left', 'one']);
});

t.test('a message waits for its copy on disk; a failed write sends it anyway', async (t) => {
  const { sendQueue, outbox, begun } = queue();
  let write!: () => void;
  outbox.add = () => new Promise<void>((resolve) => (write = resolve));
  void sendQueue.push('bob', 'one');
  await settle();
  t.same(begun(), [], 'not before the write');
  write();
  await settle();
  t.same(begun(), ['one']);
  outbox.add = () => Promise.reject(new Error('disk full'));
  void sendQueue.push('bob', 'two');
  await settle();
  t.same(begun(), ['one', 'two']);
});

t.test('close stops the retry timer', async (t) => {
  const { sendQueue, tries, clock } = queue();
  void sendQueue.push('bob', 'one');
  await settle();
  tries[0].end('queued');
  await settle();
  t.equal(clock.pending, 1);
  sendQueue.close();
  t.equal(clock.pending, 0);
  clock.advance(RETRY_MS * 3);
  await settle();
  t.equal(tries.length, 1, 'not tried again');
});

t.test(
  'a try kept only behind the one ahead is tried again as the head once that one settles, not settled queued',
  async (t) => {
    const { sendQueue, tries, begun } = queue();
    const resolved: string[] = [];
    void sendQueue.push('bob', 'one').then((outcome) => resolved.push(`one ${outcome}`));
    const second = sendQueue.push('bob', 'two').then((outcome) => resolved.push(`two ${outcome}`));
    await settle();
    t.same(begun(), ['one', 'two']);
    // The registry is down: the first is kept. The first's retry settles while the second's
    // old try, behind the first's old one, is still under way; then that old try ends queued.
    tries[0].end('queued');
    await settle();
    t.same(resolved, ['one queued']);
    sendQueue.retryAll();
    await settle();
    const retried = tries.length - 1;
    t.equal(tries[retried].job.entry.text, 'one', 'the first tried again');
    tries[retried].end('saved');
    await settle();
    t.same(begun(retried + 1), [], 'the second still on its old try');
    tries[1].job.heldBehind();
    tries[1].end('queued'); // that old try: held behind the first's old one
    await settle();
    t.same(begun(retried + 1), ['two'], 'the second tried again, as the head now');
    t.notOk(tries[retried + 1].job.ahead, 'waiting on nothing');
    t.same(resolved, ['one queued'], 'not settled queued for having waited');
    tries[retried + 1].end('saved');
    await second;
    t.same(resolved, ['one queued', 'two saved']);
  },
);

t.test(
  'a message sent while the one ahead is kept: its send resolves queued at once, not at the retry',
  async (t) => {
    const { sendQueue, tries, clock } = queue();
    const resolved: string[] = [];
    void sendQueue.push('bob', 'one').then((outcome) => resolved.push(`one ${outcome}`));
    await settle();
    tries[0].end('queued'); // say, the recipient's mailbox is full
    await settle();
    t.same(resolved, ['one queued']);
    const second = sendQueue.push('bob', 'two').then((outcome) => resolved.push(`two ${outcome}`));
    await settle();
    // The new message relaunches the head; both tries end kept again.
    const [again, two] = tries.slice(1);
    t.same([again?.job.entry.text, two?.job.entry.text], ['one', 'two']);
    again.end('queued');
    await settle();
    two.job.heldBehind();
    two.end('queued');
    await second;
    t.same(resolved, ['one queued', 'two queued'], 'told, without waiting for the retry');
    t.equal(clock.pending, 1, 'and the retry armed for both');
  },
);

t.test(
  'a full outbox refuses a new message at once (ERR_OUTBOX_FULL), keeping nothing, until one settles',
  async (t) => {
    const { sendQueue, outbox, tries, begun } = queue({
      outboxLimit: { messages: 2, bytes: 1_000 },
    });
    const first = sendQueue.push('bob', 'one');
    void sendQueue.push('carol', 'two');
    await t.rejects(
      sendQueue.push('dave', 'three'),
      { code: 'ERR_OUTBOX_FULL' },
      'a third: refused',
    );
    t.match(sendQueue.checkRoom('three')?.message, /^2 messages wait to be sent/);
    await settle();
    t.same(begun(), ['one', 'two'], 'the refused one is not tried');
    t.same(
      (await outbox.load()).map((entry) => entry.text),
      ['one', 'two'],
      'nor kept',
    );
    t.equal(sendQueue.unsettled, 2);
    tries[0].end('delivered');
    t.equal(await first, 'delivered');
    await settle();
    t.equal(sendQueue.unsettled, 1);
    t.equal(sendQueue.checkRoom('three'), undefined, 'room again once one settled');
    void sendQueue.push('dave', 'three');
    await settle();
    t.same(begun(), ['one', 'two', 'three']);
  },
);

t.test('the outbox also holds at most so many bytes of text (UTF-8)', async (t) => {
  const { sendQueue, tries } = queue({ outboxLimit: { messages: 100, bytes: 10 } });
  const first = sendQueue.push('bob', 'ééééé'); // 10 bytes in UTF-8, 5 characters
  const refused = await sendQueue.push('bob', 'x').catch((error: unknown) => error);
  t.match(refused, {
    code: 'ERR_OUTBOX_FULL',
    message: /^the messages waiting to be sent fill the .* MiB of text kept at once$/,
  });
  await settle();
  tries[0].end('saved');
  t.equal(await first, 'saved');
  await settle();
  t.equal(sendQueue.checkRoom('x'.repeat(10)), undefined, 'its bytes given back once it settled');
  t.ok(sendQueue.checkRoom('x'.repeat(11)), 'but no more than the limit');
});

t.test(
  'messages resumed from the last run are all taken, and count against the limit',
  async (t) => {
    const { sendQueue, begun } = queue({ outboxLimit: { messages: 2, bytes: 1_000 } });
    sendQueue.resume(
      ['a', 'b', 'c'].map((text, i) => ({ mid: `old${i}`, to: 'bob', text, at: 0 })),
    );
    await settle();
    t.same(begun(), ['a', 'b', 'c'], 'every one tried, past the limit');
    t.equal(sendQueue.unsettled, 3);
    await t.rejects(sendQueue.push('bob', 'new'), { code: 'ERR_OUTBOX_FULL' });
  },
);
