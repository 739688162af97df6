import t from 'tap';
import fc from 'fast-check';
import { ReceiveOrder, type Arrival } from '../../src/client/receive-order.js';

/** Waits (polling; no duration asserted, a generous deadline so a broken hold fails rather than hangs) until `done`. */
async function until(done: () => boolean, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not done within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function order(holdTimeoutMs = 5_000) {
  const shown: string[] = [];
  const receive = new ReceiveOrder<Arrival>({ holdTimeoutMs, show: (m) => shown.push(m.mid) });
  const live = (from: string, mid: string, after?: string) =>
    receive.receive({ path: 'live', from, mid, ...(after === undefined ? {} : { after }) });
  const saved = (from: string, mid: string, after?: string) => {
    const taken = receive.receive({
      path: 'saved',
      from,
      mid,
      ...(after === undefined ? {} : { after }),
    });
    receive.caughtUp(1);
    return taken;
  };
  return { receive, live, saved, shown };
}

t.test(
  'a message naming one not yet here waits, and those behind it from the same sender too; others go on',
  async (t) => {
    const { live, shown } = order();
    live('alice', 'a2', 'a1');
    live('alice', 'a3', 'a2');
    live('bob', 'b1');
    t.same(shown, ['b1'], 'bob is not held up by alice');
    live('alice', 'a1');
    t.same(shown, ['b1', 'a1', 'a2', 'a3'], 'alice in her order once a1 is here');
  },
);

t.test('each message is taken once, whichever path its copies take', async (t) => {
  const { live, saved, receive, shown } = order();
  t.equal(live('alice', 'a1'), true);
  t.equal(live('alice', 'a1'), false, 'a retransmission is refused');
  t.equal(saved('alice', 'a1'), false, 'and so is the copy the registry kept');
  t.ok(receive.has('alice', 'a1'));
  t.notOk(receive.has('bob', 'a1'), 'per sender');
  t.same(shown, ['a1']);
});

t.test('the wait is bounded: past holdTimeoutMs what waited is shown', async (t) => {
  const { receive, live, shown } = order(30);
  t.teardown(() => receive.close());
  live('alice', 'a5', 'a4-lost');
  live('alice', 'a6', 'a5');
  t.same(shown, []);
  await until(() => shown.length === 2);
  t.same(shown, ['a5', 'a6'], 'shown once the hold timed out, in order');
});

t.test(
  'during a catch-up, live messages that name nothing wait behind the saved ones; a chained one does not',
  async (t) => {
    const { receive, live, saved, shown } = order();
    live('alice', 'a2', 'a1'); // received before the client left: waits for a1, in the mailbox
    receive.startCatchUp(3, 5_000);
    live('carol', 'c9'); // new, live: after the saved ones
    saved('alice', 'a1');
    t.same(shown, ['a1', 'a2'], 'a2 right behind a1, not behind the rest of the catch-up');
    saved('alice', 'a3');
    t.same(shown, ['a1', 'a2', 'a3']);
    saved('bob', 'b1');
    t.same(shown, ['a1', 'a2', 'a3', 'b1', 'c9'], 'the live one once every saved one is in');
  },
);

t.test(
  'a saved message goes in front of a live one of the same sender that waits for the catch-up',
  async (t) => {
    const { receive, live, saved, shown } = order();
    receive.startCatchUp(2, 5_000);
    live('alice', 'a9'); // live, names nothing: newer than the mailbox
    saved('alice', 'a1');
    t.same(shown, ['a1'], 'the saved one is not held behind the live one');
    saved('alice', 'a2', 'a1');
    t.same(shown, ['a1', 'a2', 'a9']);
  },
);

t.test('a saved message that names a live one still waiting goes behind it', async (t) => {
  const { receive, live, saved, shown } = order();
  live('alice', 'a2', 'a1'); // waits for a1
  receive.startCatchUp(2, 5_000);
  saved('alice', 'a3', 'a2'); // sent after a2 (a2 was acknowledged, so taken)
  t.same(shown, [], 'a3 waits behind a2, which waits for a1');
  saved('alice', 'a1');
  t.same(shown, ['a1', 'a2', 'a3']);
});

t.test(
  'a message naming one acknowledged and forgotten (this client restarted) does not wait for it',
  async (t) => {
    const { receive, shown } = order();
    receive.receive({ path: 'live', from: 'alice', mid: 'a8', after: 'a7', afterTaken: true });
    receive.receive({ path: 'live', from: 'alice', mid: 'a9', after: 'a8', afterTaken: true });
    t.same(shown, ['a8', 'a9']);
    receive.receive({ path: 'live', from: 'alice', mid: 'a11', after: 'a10' });
    t.same(shown, ['a8', 'a9'], 'one not acknowledged yet is waited for');
  },
);

t.test('a message that names none is not held behind a run waiting for another', async (t) => {
  const { live, shown } = order();
  live('bob', 'b2', 'b1');
  live('bob', 'b0');
  t.same(shown, ['b0']);
  live('bob', 'b1', 'b0');
  t.same(shown, ['b0', 'b1', 'b2']);
});

t.test('saved messages that overtake the registration reply count for its catch-up', async (t) => {
  const { receive, live, saved, shown } = order();
  receive.registering();
  saved('alice', 'a1');
  receive.startCatchUp(1, 60_000);
  live('bob', 'b1');
  t.same(shown, ['a1', 'b1'], 'nothing waits for a saved message that already came');
});

t.test(
  'a catch-up that never completes ends after its patience; a hold that runs out meanwhile waits for its end',
  async (t) => {
    const { receive, live, shown } = order(10);
    t.teardown(() => receive.close());
    receive.startCatchUp(5, 200);
    live('alice', 'a1');
    live('bob', 'b2', 'b1');
    t.same(shown, []);
    await until(() => shown.length === 2);
    t.same(shown.sort(), ['a1', 'b2'], 'shown once the catch-up gave up');
  },
);

/**
 * One sender's messages 0..n-1 as its client sends them (see ChatClient#attempt) to a
 * recipient that was away and has just registered again:
 * - the first `away` ones were saved in the mailbox while it was away (a message names the
 *   one before it when that one was saved); the recipient may have taken a live copy of one
 *   just before it left (its ACK was lost, so it was saved as well);
 * - the rest go live now: each copy may be lost, duplicated or overtaken; a message names the
 *   one before it, and says whether that one was acknowledged (so taken) before it went.
 * The mailbox comes after the registration, in order, interleaved with the live copies.
 */
interface Planned {
  away: boolean;
  /** Live copies that reach the recipient: taken before it left (away), or now (0 to 3). */
  live: number;
  /** The one before it was acknowledged before it went. */
  afterTaken: boolean;
}

const plan = fc
  .record({
    away: fc.array(fc.boolean(), { maxLength: 6 }),
    back: fc.array(fc.record({ live: fc.integer({ min: 1, max: 3 }), afterTaken: fc.boolean() }), {
      maxLength: 8,
    }),
  })
  .map(({ away, back }): Planned[] => [
    // Saved: not acknowledged.
    ...away.map((tookLive) => ({ away: true, live: tookLive ? 1 : 0, afterTaken: false })),
    ...back.map((m, i) => ({ away: false, live: m.live, afterTaken: m.afterTaken && i > 0 })),
  ]);

interface Step {
  from: string;
  mid: number;
  path: 'live' | 'saved';
}

/** An arrival order the protocol allows, chosen step by step by `picks`; `before`: what came before the registration. */
function schedule(
  senders: Record<string, Planned[]>,
  picks: number[],
): { before: Step[]; after: Step[] } {
  let round = 0;
  const pick = <T>(from: T[]) => from[(picks[round++ % picks.length] ?? 0) % from.length];
  const before: Step[] = [];
  const tookBefore = Object.entries(senders).flatMap(([from, ms]) =>
    ms.flatMap((m, i) => (m.away && m.live > 0 ? [{ from, mid: i, path: 'live' as const }] : [])),
  );
  while (tookBefore.length > 0)
    before.push(...tookBefore.splice(tookBefore.indexOf(pick(tookBefore)), 1));
  const liveLeft = new Map(
    Object.entries(senders).map(([from, ms]) => [from, ms.map((m) => (m.away ? 0 : m.live))]),
  );
  const arrived = new Map(
    Object.entries(senders).map(([from]) => [
      from,
      new Set(before.filter((s) => s.from === from).map((s) => s.mid)),
    ]),
  );
  const nextSaved = new Map(Object.entries(senders).map(([from]) => [from, 0]));
  const after: Step[] = [];
  for (;;) {
    const eligible: Step[] = [];
    for (const [from, messages] of Object.entries(senders)) {
      const next = nextSaved.get(from)!;
      if (messages[next]?.away) eligible.push({ from, mid: next, path: 'saved' });
      messages.forEach((m, i) => {
        // Acknowledged before this one went: that one was taken first.
        if (liveLeft.get(from)![i] > 0 && (!m.afterTaken || arrived.get(from)!.has(i - 1))) {
          eligible.push({ from, mid: i, path: 'live' });
        }
      });
    }
    if (eligible.length === 0) return { before, after };
    const step = pick(eligible);
    after.push(step);
    arrived.get(step.from)!.add(step.mid);
    if (step.path === 'live') liveLeft.get(step.from)![step.mid]--;
    else nextSaved.set(step.from, step.mid + 1);
  }
}

t.test(
  'property: whatever paths, copies, delays and reorderings, each sender is shown in send order, each message once',
  async (t) => {
    let runs = 0;
    fc.assert(
      fc.property(
        fc.record({ alice: plan, bob: plan }),
        fc.array(fc.nat(1000), { minLength: 1, maxLength: 64 }),
        (senders, picks) => {
          runs++;
          const shown: Array<[string, number]> = [];
          const receive = new ReceiveOrder<Arrival & { n: number }>({
            holdTimeoutMs: 60_000,
            show: (m) => shown.push([m.from, m.n]),
          });
          const arrive = ({ from, mid, path }: Step) => {
            receive.receive({
              path,
              from,
              mid: `${from}-${mid}`,
              n: mid,
              ...(mid > 0 ? { after: `${from}-${mid - 1}` } : {}),
              ...(senders[from as 'alice' | 'bob'][mid].afterTaken ? { afterTaken: true } : {}),
            });
            if (path === 'saved') receive.caughtUp(1);
          };
          const { before, after } = schedule(senders, picks);
          before.forEach(arrive);
          receive.registering();
          receive.startCatchUp(
            Object.values(senders)
              .flat()
              .filter((m) => m.away).length,
            60_000,
          );
          after.forEach(arrive);
          receive.close();
          for (const [from, messages] of Object.entries(senders)) {
            const mine = shown.filter(([sender]) => sender === from).map(([, n]) => n);
            if (JSON.stringify(mine) !== JSON.stringify(messages.map((_, i) => i))) {
              throw new Error(
                `${from}: shown ${JSON.stringify(mine)} of ${messages.length}; arrivals ${JSON.stringify({ before, after })}`,
              );
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
    t.equal(runs, 3000, 'order and exactly-once held in every run');
  },
);
