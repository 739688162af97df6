import t from 'tap';
import { Contacts } from '../../src/client/contacts.js';
import { TableReplica } from '../../src/client/table-replica.js';
import { Watching } from '../../src/client/watching.js';
import { WATCH_BATCH } from '../../src/protocol/constants.js';
import type { RequestBody } from '../../src/protocol/messages.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { NOTICE_GRACE_MS } from '../../src/client/notice-gaps.js';
import { nextTurns } from '../helpers/settle.js';

/** A `watch` request the fake registry holds until the test answers it. */
interface Held {
  body: Extract<RequestBody, { t: 'watch' }>;
  /** `seq`: the number of the last presence notice the registry says it sent. */
  answer(seq?: number): void;
  fail(): void;
}

/** Watching for `me` with `count` contacts, over a registry the test answers by hand. */
function setup(count: number, options: { watchMode?: boolean } = {}) {
  const held: Held[] = [];
  const time = fakeClock();
  const contacts = new Contacts(100);
  for (let i = 0; i < count; i++) contacts.touch(`c${i}`);
  const replica = new TableReplica(
    {
      nick: 'me',
      serverTimeoutMs: 100,
      serverTries: 5,
      resync: () => undefined,
      changed: () => undefined,
      joined: () => undefined,
      left: () => undefined,
      applied: () => undefined,
      correctPresence: () => undefined,
      watchModeStarted: () => undefined,
    },
    fakeClock().clock,
  );
  const watching = new Watching(
    {
      nick: 'me',
      request: (body) =>
        new Promise<{ t: string }>((resolve, reject) => {
          if (body.t !== 'watch') return reject(new Error(`unexpected ${body.t}`));
          held.push({
            body,
            answer: (seq?: number) => {
              const watched = { t: 'watched', epoch: 'e', version: 1, entries: [], missing: [] };
              resolve(seq === undefined ? watched : ({ ...watched, seq } as typeof watched));
            },
            fail: () => reject(new Error('ERR_TIMEOUT')),
          });
        }),
      online: () => true,
      log: () => undefined,
      timers: time.clock,
    },
    replica,
    contacts,
  );
  if (options.watchMode) replica.enterWatchMode(() => true);
  /** Lets the awaits in `watchContacts` run. */
  const settle = () => nextTurns(10);
  /** The contacts said after a registration, the clearing watch answered at notice `seq`. */
  const counting = async (seq: number) => {
    const done = watching.watchContacts();
    await settle();
    held[0].answer(seq);
    await done;
  };
  /** Time moves on well past the grace a missing notice has. */
  const longAfter = async () => {
    time.advance(NOTICE_GRACE_MS * 4);
    await settle();
  };
  /** A heartbeat's answer says the node's last notice was `seq` in `epoch`; what follows runs. */
  const heartbeat = async (seq: number, epoch = 'e') => {
    watching.sent(seq, epoch);
    await settle();
  };
  /** The registry answers watch request `i` at notice `seq`; what follows runs. */
  const answer = async (i: number, seq?: number) => {
    held[i].answer(seq);
    await settle();
  };
  /** A heartbeat's answer at notice `seq`, then time well past any grace. */
  const quietAfter = async (seq: number) => {
    watching.sent(seq, 'e');
    await longAfter();
  };
  return { watching, held, settle, time, counting, longAfter, heartbeat, answer, quietAfter };
}

t.test(
  "a registration's contacts: the batch that clears goes first and alone, the rest together",
  async (t) => {
    const { watching, held, settle, answer } = setup(20);
    const done = watching.watchContacts();
    await settle();
    t.equal(held.length, 1, 'nothing more until the clearing batch is answered');
    t.equal(held[0].body.clear, true);
    t.equal(held[0].body.add?.length, WATCH_BATCH);
    await answer(0);
    const rest = held.slice(1);
    t.equal(
      rest.length,
      Math.ceil((20 - WATCH_BATCH) / WATCH_BATCH),
      'then every other batch at once',
    );
    t.ok(rest.every((h) => h.body.clear === undefined && h.body.add!.length <= WATCH_BATCH));
    t.same(
      held.flatMap((h) => h.body.add).sort(),
      Array.from({ length: 20 }, (_, i) => `c${i}`).sort(),
      'each contact said once',
    );
    for (const h of rest) h.answer();
    await done;
  },
);

t.test(
  'many contacts: at most four requests under way at once, and a failure is told',
  async (t) => {
    const { watching, held, settle, answer } = setup(100);
    const done = watching.watchContacts();
    await settle();
    await answer(0);
    t.equal(held.length, 1 + 4, 'four after the first');
    await answer(1);
    t.equal(held.length, 1 + 5, 'one more as one is answered');
    held[2].fail();
    await t.rejects(done, /ERR_TIMEOUT/);
  },
);

t.test(
  'a lost presence notice: the contacts are said again, once, after the grace, and the count starts again',
  async (t) => {
    const { watching, held, settle, time, counting, longAfter, answer, quietAfter } = setup(3, {
      watchMode: true,
    });
    await counting(4);
    watching.noticed(5);
    watching.noticed(7); // 6 missing
    time.advance(NOTICE_GRACE_MS - 1);
    watching.noticed(6); // it came late: overtaken, not lost
    await longAfter();
    t.equal(held.length, 1, 'nothing asked again: every number came');
    watching.sent(9, 'e'); // the registry sent 8 and 9: neither came
    time.advance(NOTICE_GRACE_MS - 1);
    t.equal(held.length, 1, 'not before the grace');
    time.advance(1);
    await settle();
    t.equal(held.length, 2, 'the contacts said again');
    t.equal(held[1].body.clear, true, 'in a watch that clears');
    watching.sent(9, 'e');
    watching.noticed(10);
    await settle();
    t.equal(held.length, 2, 'once: not again while it is under way');
    await answer(1, 10);
    watching.noticed(11);
    await quietAfter(11);
    t.equal(held.length, 2, 'counted again from 10: 11 came, nothing missing');
  },
);

t.test(
  'a clearing watch that failed after a loss is tried again at the next heartbeat',
  async (t) => {
    const { watching, held, settle, time, counting, heartbeat, answer, quietAfter } = setup(1, {
      watchMode: true,
    });
    await counting(0);
    watching.sent(2, 'e');
    time.advance(NOTICE_GRACE_MS);
    await settle();
    t.equal(held.length, 2, 'lost: watched again');
    held[1].fail();
    await settle();
    await heartbeat(2);
    t.equal(held.length, 3, 'the next heartbeat still shows the gap: watched again');
    await answer(2, 2);
    await quietAfter(2);
    t.equal(held.length, 3, 'caught up: nothing more');
  },
);

t.test(
  'a heartbeat answered in another epoch: the node restarted and forgot what this client watches, so it is said again at once',
  async (t) => {
    const { held, counting, heartbeat } = setup(2, { watchMode: true });
    await counting(0);
    await heartbeat(0);
    t.equal(held.length, 1, 'the same epoch, nothing sent since: nothing to do');
    await heartbeat(0, 'restarted');
    t.equal(held.length, 2, 'watched again, without waiting for a grace');
    t.equal(held[1].body.clear, true);
  },
);

t.test(
  'contacts not all said at the registration (a batch unanswered) are said again at the next heartbeat, and only then',
  async (t) => {
    const { watching, held, settle, longAfter, heartbeat, answer, quietAfter } = setup(
      WATCH_BATCH + 1,
      {
        watchMode: true,
      },
    );
    const first = watching.watchContacts();
    await settle();
    await answer(0, 0);
    t.equal(held.length, 2, 'the second batch goes once the clearing one is answered');
    held[1].fail();
    await t.rejects(first, 'the registration is told its contacts were not all said');
    await longAfter();
    t.equal(held.length, 2, 'nothing more before a heartbeat: no notice was missed');
    await heartbeat(0);
    t.equal(held.length, 3, "the heartbeat's answer: said again");
    t.equal(held[2].body.clear, true, 'from a clearing watch');
    await answer(2, 0);
    t.equal(held.length, 4);
    t.same(held[3].body.add, held[1].body.add, 'with the batch that went unanswered');
    await answer(3, 0);
    await quietAfter(0);
    t.equal(held.length, 4, 'all said: a heartbeat asks nothing more');
  },
);

t.test(
  'a clearing watch that failed at the registration is tried again at the next heartbeat',
  async (t) => {
    const { watching, held, settle, heartbeat } = setup(2, { watchMode: true });
    const first = watching.watchContacts();
    await settle();
    held[0].fail();
    await t.rejects(first);
    await heartbeat(0);
    t.equal(held.length, 2, 'said again');
    t.equal(held[1].body.clear, true);
    t.same(held[1].body.add, held[0].body.add);
  },
);

t.test(
  'a notice lost while the contacts are being said again is made up for at the next heartbeat',
  async (t) => {
    const { watching, held, settle, time, heartbeat, answer } = setup(WATCH_BATCH + 1, {
      watchMode: true,
    });
    const first = watching.watchContacts();
    await settle();
    await answer(0, 0);
    await answer(1, 0);
    await first;
    watching.sent(2, 'e'); // notices 1 and 2 never came
    time.advance(NOTICE_GRACE_MS);
    await settle();
    t.equal(held.length, 3, 'lost: said again, from a clearing watch');
    await answer(2, 2);
    t.equal(held.length, 4, 'its second batch under way');
    watching.noticed(4); // 3 missing, while the contacts are still being said
    time.advance(NOTICE_GRACE_MS);
    await settle();
    t.equal(held.length, 4, 'not twice at once');
    await answer(3, 4);
    await heartbeat(4);
    t.equal(held.length, 5, 'the heartbeat after: said again');
    t.equal(held[4].body.clear, true);
  },
);

t.test(
  "a notice lost while a registration's contacts are being said: no second saying beside it, the next heartbeat says them again",
  async (t) => {
    const { watching, held, settle, time, heartbeat, answer } = setup(WATCH_BATCH + 1, {
      watchMode: true,
    });
    const first = watching.watchContacts();
    await settle();
    await answer(0, 0);
    t.equal(held.length, 2, 'its second batch under way');
    watching.noticed(2); // 1 missing, while the registration's contacts are being said
    time.advance(NOTICE_GRACE_MS);
    await settle();
    t.equal(held.length, 2, 'not said a second time beside the first');
    await answer(1, 2);
    await first;
    await heartbeat(2);
    t.equal(held.length, 3, 'the heartbeat after: said again');
    t.equal(held[2].body.clear, true);
  },
);
