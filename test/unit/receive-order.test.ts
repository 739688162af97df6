import t from 'tap';
import { ReceiveOrder, type LiveMessage } from '../../src/client/receive-order.js';

/** Waits (polling; no duration asserted, a generous deadline so a broken hold fails rather than hangs) until `done`. */
async function until(done: () => boolean, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not done within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function order(holdTimeoutMs = 5_000) {
  const taken = new Set<string>();
  const shown: string[] = [];
  const receive = new ReceiveOrder({ holdTimeoutMs, taken: (from, mid) => taken.has(`${from}|${mid}`), show: (m) => shown.push(m.mid) });
  /** As the client does: a message counts as taken the moment it arrives. */
  const live = (from: string, mid: string, after?: string) => {
    taken.add(`${from}|${mid}`);
    receive.live({ from, mid, text: mid } satisfies LiveMessage, after);
  };
  const saved = (from: string, mid: string) => {
    taken.add(`${from}|${mid}`);
    shown.push(mid);
    receive.savedShown(from);
  };
  return { receive, live, saved, shown };
}

t.test('a message naming one not yet here waits, and those behind it from the same sender too; others go on', async (t) => {
  const { live, shown } = order();
  live('alice', 'a2', 'a1');
  live('alice', 'a3', 'a2');
  live('bob', 'b1');
  t.same(shown, ['b1'], 'bob is not held up by alice');
  live('alice', 'a1');
  t.same(shown, ['b1', 'a1', 'a2', 'a3'], 'alice in her order once a1 is here');
});

t.test('the wait is bounded: past holdTimeoutMs what waited is shown', async (t) => {
  const { receive, live, shown } = order(30);
  t.teardown(() => receive.close());
  live('alice', 'a5', 'a4-lost');
  t.same(shown, []);
  await until(() => shown.length > 0);
  t.same(shown, ['a5'], 'shown once the hold timed out');
});

t.test('during a catch-up, live messages wait behind the saved ones; what a saved one lets go of does not', async (t) => {
  const { receive, live, saved, shown } = order();
  live('alice', 'a2', 'a1'); // received before the client left: waits for a1, in the mailbox
  receive.startCatchUp(3, 5_000);
  live('carol', 'c9'); // new, live: after the saved ones
  saved('alice', 'a1');
  t.same(shown, ['a1', 'a2'], 'a2 right behind a1, not behind the rest of the catch-up');
  saved('alice', 'a3');
  saved('bob', 'b1');
  receive.caughtUp(3);
  t.same(shown, ['a1', 'a2', 'a3', 'b1', 'c9'], 'the live one once every saved one is in');
});

t.test('what a saved message lets go of keeps its place behind a held message of the same sender', async (t) => {
  const { receive, live, saved, shown } = order();
  receive.startCatchUp(2, 5_000);
  live('alice', 'a0'); // live during the catch-up: held
  live('alice', 'a2', 'a1');
  saved('alice', 'a1');
  receive.caughtUp(2);
  t.same(shown, ['a1', 'a0', 'a2'], 'a2 stays behind a0');
});

t.test('a catch-up that never completes ends after its patience', async (t) => {
  const { receive, live, shown } = order();
  t.teardown(() => receive.close());
  receive.startCatchUp(5, 30);
  live('alice', 'a1');
  t.same(shown, []);
  await until(() => shown.length > 0);
  t.same(shown, ['a1'], 'shown once the catch-up gave up');
});
