import t from 'tap';
import {
  Paths,
  PATH_DEFAULTS,
  type Introduced,
  type PathKind,
  type PathTimings,
} from '../../src/client/paths.js';
import { formatAddress, type Address } from '../../src/transport/address.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { nextTurns } from '../helpers/settle.js';

const bob = { nick: 'bob', ip: '198.18.2.1', port: 4000 };
const BOB_TABLE = '198.18.2.1:4000';
/** Another peer behind bob's NAT (its introduction is bob's: the same consistent NAT). */
const dave = { nick: 'dave', ip: '198.18.2.1', port: 4001 };

/**
 * Paths over a fake clock. `answering` holds the addresses whose punches are answered; any
 * other punch is tried again each `timeoutMs`, and fails once its tries have run out on the
 * fake clock (or when aborted).
 */
function harness(
  introduction: Introduced | undefined = { ip: bob.ip, port: bob.port, local: [] },
  options: Partial<PathTimings> = {},
) {
  const time = fakeClock(1_000);
  const answering = new Set<string>();
  const punched: string[] = [];
  /** The birthday round's: sockets open (by port), punches by socket, routes. */
  const sockets = new Set<number>();
  const punchedVia: number[] = [];
  const routes = new Map<string, number | undefined>();
  let nextSocket = 50_000;
  const told: Array<[string, PathKind, string]> = [];
  let introductions = 0;
  const paths = new Paths(
    {
      clock: time.clock,
      punch: (_peer, to, tries, signal, via) => {
        punched.push(formatAddress(to));
        if (via !== undefined) punchedVia.push(via);
        if (answering.has(formatAddress(to))) return Promise.resolve();
        // Each try waits `timeoutMs`; one made once the address answers is answered.
        return new Promise((resolve, reject) => {
          let left = tries.tries;
          let timer: unknown;
          const next = () => {
            timer = time.clock.setTimeout(() => {
              if (answering.has(formatAddress(to)) && left > 1) return resolve();
              if (--left === 0) return reject(new Error('timeout'));
              next();
            }, tries.timeoutMs);
          };
          next();
          signal?.addEventListener('abort', () => {
            time.clock.clearTimeout(timer);
            reject(new Error('aborted'));
          });
        });
      },
      introduce: async (nick) => {
        introductions++;
        return nick === 'dave' && introduction
          ? { ...introduction, port: dave.port }
          : introduction;
      },
      entry: (nick) => (nick === 'bob' ? bob : nick === 'dave' ? dave : undefined),
      changed: (nick, kind, address) => told.push([nick, kind, address]),
      openSockets: async (count) =>
        Array.from({ length: count }, () => (sockets.add(nextSocket), nextSocket++)),
      closeSocket: (via) => sockets.delete(via),
      route: (to, via) => routes.set(formatAddress(to), via),
    },
    options,
  );
  /** Moves the fake time on in small steps, letting promises settle between. */
  const advance = async (ms: number) => {
    for (let gone = 0; gone < ms; gone += 10) {
      time.advance(Math.min(10, ms - gone));
      await nextTurns();
    }
  };
  return {
    time,
    paths,
    answering,
    punched,
    told,
    advance,
    sockets,
    punchedVia,
    routes,
    introductions: () => introductions,
  };
}

t.test(
  'a peer answering at its table address: the message goes there at once, the path is direct, nothing told',
  async (t) => {
    const h = harness();
    t.same(
      h.paths.addressFor(bob),
      { address: bob.ip, port: bob.port },
      'the table address at once',
    );
    await h.advance(PATH_DEFAULTS.introduceAfterMs / 2);
    h.paths.reached(bob, { address: bob.ip, port: bob.port }); // the message was acknowledged
    await h.advance(PATH_DEFAULTS.introduceAfterMs);
    t.equal(h.introductions(), 0, 'no introduction');
    t.same(h.punched, [BOB_TABLE], 'one punch beside the message, at the table address');
    t.same(h.told, [], 'a plain direct path is not news');
    t.same(h.paths.pathTo('bob'), { kind: 'direct', address: BOB_TABLE });
    t.same(h.time.intervals, [], 'no keepalive for a direct path');
    h.paths.close();
  },
);

t.test(
  'a cold pinhole: introduced after introduceAfterMs, the punch through opens a punched path, kept alive',
  async (t) => {
    const h = harness();
    t.same(
      h.paths.addressFor(bob),
      { address: bob.ip, port: bob.port },
      'the message tries the table address meanwhile',
    );
    await h.advance(PATH_DEFAULTS.introduceAfterMs - 10);
    t.equal(h.introductions(), 0, 'not before introduceAfterMs');
    await h.advance(20);
    t.equal(h.introductions(), 1, 'then the registry introduces them');
    // Bob punches at the same time: his punch reaches this client from his table address.
    t.ok(h.paths.onPunch('bob', { address: bob.ip, port: bob.port }), 'his punch is answered');
    await nextTurns();
    t.same(h.paths.pathTo('bob'), { kind: 'punched', address: BOB_TABLE });
    t.same(h.told, [['bob', 'punched', BOB_TABLE]]);
    t.same(h.time.intervals, [PATH_DEFAULTS.keepaliveMs], 'kept alive');
    h.answering.add(BOB_TABLE);
    const before = h.punched.length;
    await h.advance(PATH_DEFAULTS.keepaliveMs);
    t.equal(h.punched.length, before + 1, 'a keepalive punch');
    t.same(h.paths.addressFor(bob), { address: bob.ip, port: bob.port }, 'the open path');
    h.paths.close();
    t.equal(h.time.pending, 0, 'close stops every timer');
  },
);

t.test(
  'a peer merely slow to answer (say, looking this client up) is direct, introduced or not',
  async (t) => {
    const h = harness();
    h.paths.addressFor(bob);
    await h.advance(PATH_DEFAULTS.introduceAfterMs + 50);
    t.equal(h.introductions(), 1, 'introduced meanwhile');
    h.paths.reached(bob, { address: bob.ip, port: bob.port }); // the message was acknowledged
    await nextTurns();
    t.same(
      h.paths.pathTo('bob'),
      { kind: 'direct', address: BOB_TABLE },
      'acknowledged at the table address',
    );
    t.same(h.told, [], 'nothing told');
    h.paths.close();
  },
);

t.test(
  'nothing answers: no other path after the miss; relayed is told once, then straight to the registry until repunchMs',
  async (t) => {
    const h = harness();
    const table = h.paths.addressFor(bob)!;
    await h.advance(PATH_DEFAULTS.introduceAfterMs + 10);
    const miss = h.paths.afterMiss(bob, table);
    await h.advance(PATH_DEFAULTS.punchTimeoutMs + 50);
    t.equal(await miss, undefined, 'once the round is over: no other path');
    t.same(h.told, [], 'a peer that is merely gone is not news');
    h.paths.relayed('bob');
    h.paths.relayed('bob');
    t.same(h.told, [['bob', 'relayed', BOB_TABLE]], 'the registry relayed it: told once');
    const rounds = h.paths.counters.rounds;
    t.equal(
      h.paths.addressFor(bob),
      undefined,
      'within repunchMs: relayed, straight to the registry',
    );
    t.equal(h.paths.counters.rounds, rounds, 'no new round');
    await h.advance(PATH_DEFAULTS.repunchMs);
    t.same(
      h.paths.addressFor(bob),
      { address: bob.ip, port: bob.port },
      'after it: the table address again',
    );
    t.equal(h.paths.counters.rounds, rounds + 1, 'and a new round');
    h.paths.reached(bob, { address: bob.ip, port: bob.port });
    await nextTurns();
    t.same(h.told.at(-1), ['bob', 'direct', BOB_TABLE], 'the path is upgraded, and told');
    h.paths.close();
  },
);

t.test(
  'a stale table (the registry sees the peer elsewhere): no punch there, and a punch from there opens nothing',
  async (t) => {
    const h = harness({ ip: bob.ip, port: 4999, local: [] });
    const table = h.paths.addressFor(bob)!;
    await h.advance(PATH_DEFAULTS.introduceAfterMs + 10);
    const miss = h.paths.afterMiss(bob, table);
    t.ok(h.paths.onPunch('bob', { address: bob.ip, port: 4999 }), 'answered');
    await h.advance(PATH_DEFAULTS.punchTimeoutMs + 50);
    t.equal(await miss, undefined, 'the registry relays, with a fresh table');
    t.notOk(h.punched.includes(`${bob.ip}:4999`), 'not punched');
    h.paths.relayed('bob');
    t.same(h.told, [], 'not a NAT: nothing told');
    t.same(
      h.paths.addressFor(bob),
      { address: bob.ip, port: bob.port },
      'within repunchMs: the table address, as ever',
    );
    h.paths.close();
  },
);

t.test(
  'behind one NAT: the local address answers; a message that missed the table address goes there, and chats from it are taken',
  async (t) => {
    const local = { ip: '10.0.1.3', port: 4000 };
    const h = harness({ ip: bob.ip, port: bob.port, local: [local] });
    h.answering.add('10.0.1.3:4000');
    const table = h.paths.addressFor(bob)!;
    await h.advance(PATH_DEFAULTS.introduceAfterMs + 10);
    const miss = h.paths.afterMiss(bob, table);
    t.same(await miss, { address: '10.0.1.3', port: 4000 }, 'one more try there');
    t.same(h.paths.addressFor(bob), { address: '10.0.1.3', port: 4000 }, 'and the next messages');
    t.ok(h.paths.accepts(bob, { address: '10.0.1.3', port: 4000 }), 'from the path');
    t.ok(h.paths.accepts(bob, { address: bob.ip, port: bob.port }), 'from the table address');
    t.notOk(h.paths.accepts(bob, { address: '10.0.1.9', port: 4000 }), 'not from anywhere else');
    h.paths.close();
  },
);

t.test(
  'a path that dies is punched again: an unanswered keepalive, or a message unacknowledged',
  async (t) => {
    const h = harness();
    h.paths.addressFor(bob);
    await h.advance(PATH_DEFAULTS.introduceAfterMs + 10);
    h.paths.onPunch('bob', { address: bob.ip, port: bob.port });
    await nextTurns();
    await h.advance(PATH_DEFAULTS.keepaliveMs + PATH_DEFAULTS.punchTimeoutMs + 20);
    t.same(h.time.intervals, [], 'the keepalive went unanswered: the path is closed');
    const rounds = h.paths.counters.rounds;
    h.paths.addressFor(bob);
    t.equal(h.paths.counters.rounds, rounds + 1, 'the next message punches again');
    h.paths.onPunch('bob', { address: bob.ip, port: bob.port });
    await nextTurns();
    t.equal(await h.paths.afterMiss(bob, { address: bob.ip, port: bob.port }), undefined);
    t.equal(h.paths.pathTo('bob'), undefined, 'a message unacknowledged on it closes it too');
    h.paths.close();
  },
);

t.test(
  'an introduction from the peer punches at once, also while a path is open (which stays open)',
  async (t) => {
    const h = harness();
    const at: Address = { address: bob.ip, port: bob.port };
    h.paths.onIntroduction('bob', { ip: bob.ip, port: bob.port, local: [] });
    t.same(h.punched, [BOB_TABLE], 'punched at once');
    t.ok(h.paths.onPunch('bob', at));
    await nextTurns();
    t.same(h.paths.pathTo('bob'), { kind: 'punched', address: BOB_TABLE });
    h.paths.onIntroduction('bob', { ip: bob.ip, port: bob.port, local: [] });
    t.equal(h.punched.length, 2, 'asked again: punched again');
    t.same(
      h.paths.pathTo('bob'),
      { kind: 'punched', address: BOB_TABLE },
      'the open path stays meanwhile',
    );
    await h.advance(PATH_DEFAULTS.punchTimeoutMs + 20);
    t.same(
      h.paths.pathTo('bob'),
      { kind: 'punched', address: BOB_TABLE },
      'and after the round, unanswered (its keepalive decides)',
    );
    t.notOk(h.paths.onPunch('carol', at), 'a nick the table does not hold is not answered');
    h.paths.close();
  },
);

t.test(
  'behind a symmetric NAT a peer punches from another address: its chats are taken from there',
  async (t) => {
    const h = harness();
    h.answering.add(BOB_TABLE);
    const elsewhere = { address: bob.ip, port: 6123 };
    t.notOk(h.paths.accepts(bob, elsewhere));
    t.ok(h.paths.onPunch('bob', elsewhere));
    t.same(
      h.paths.pathTo('bob'),
      { kind: 'punched', address: `${bob.ip}:6123` },
      'the path opens where it came from',
    );
    t.ok(h.paths.accepts(bob, elsewhere));
    h.paths.close();
  },
);

t.test('a path unused for idleMs is let go', async (t) => {
  const h = harness();
  h.answering.add(BOB_TABLE);
  h.paths.onIntroduction('bob', { ip: bob.ip, port: bob.port, local: [] });
  await nextTurns();
  t.same(h.paths.pathTo('bob')?.kind, 'punched');
  await h.advance(PATH_DEFAULTS.idleMs + PATH_DEFAULTS.keepaliveMs);
  t.equal(h.paths.pathTo('bob'), undefined);
  t.same(h.time.intervals, []);
  h.paths.close();
});

t.test(
  'symmetric here, consistent there: after the failed round, a birthday round from many sockets; the first through keeps its socket',
  async (t) => {
    const h = await symmetricBirthday();
    t.same(h.paths.pathTo('bob'), { kind: 'relayed', address: BOB_TABLE }, 'the round failed');
    t.equal(h.sockets.size, 0, 'the message goes to the registry first');
    h.paths.relayed('bob'); // relayed: the birthday round starts
    await nextTurns();
    t.equal(h.sockets.size, 8, 'birthdaySockets opened');
    t.same(new Set(h.punchedVia).size, 8, 'each punches the peer');
    t.ok(
      h.punched.slice(-8).every((address) => address === BOB_TABLE),
      'at its table address',
    );
    // Bob's probe of a random port comes through on one of them.
    const winner = [...h.sockets][3];
    t.ok(
      h.paths.onPunch('bob', { address: bob.ip, port: bob.port }, winner),
      'answered on that socket',
    );
    t.same(h.paths.pathTo('bob'), { kind: 'punched', address: BOB_TABLE });
    t.equal(h.routes.get(BOB_TABLE), winner, 'what goes to bob leaves from it');
    await h.advance(2_000); // the round's end
    t.same([...h.sockets], [winner], 'the other sockets are closed at the end of the round');
    t.same(h.told.at(-1), ['bob', 'punched', BOB_TABLE], 'told');
    t.notOk(
      h.paths.onPunch('bob', { address: bob.ip, port: bob.port }, 1234),
      'a punch on a socket that is not his is not answered',
    );
    h.paths.close();
    t.same([...h.sockets], [], 'closing closes the kept socket too');
  },
);

/** Symmetric here, consistent there: the failed round, then the birthday round's sockets open (8, over 2 s). */
async function symmetricBirthday() {
  const h = harness(
    { ip: bob.ip, port: bob.port, local: [], nat: 'consistent' },
    { birthdaySockets: 8, birthdayTries: 4, birthdayMs: 2_000 },
  );
  h.paths.nat = 'symmetric';
  h.paths.addressFor(bob);
  await h.advance(PATH_DEFAULTS.introduceAfterMs + PATH_DEFAULTS.punchTimeoutMs + 50);
  return h;
}

/**
 * A birthday round (see symmetricBirthday) in which bob's punches get through on two of its
 * sockets, the `picks`-th ones opened: the first opens the path; whether each was answered.
 */
async function twoThrough(picks: [number, number]) {
  const h = await symmetricBirthday();
  h.paths.relayed('bob');
  await nextTurns();
  const [first, second] = picks.map((i) => [...h.sockets][i]) as [number, number];
  const at = { address: bob.ip, port: bob.port };
  const answered = [h.paths.onPunch('bob', at, first), h.paths.onPunch('bob', at, second)];
  return { h, first, second, at, answered };
}

t.test(
  'consistent here, symmetric there: random ports of its IP, bounded; an answered one opens the path; none answered, it ends',
  async (t) => {
    const options = {
      birthdayProbes: 100,
      birthdayBatch: 10,
      birthdayGapMs: 20,
      birthdayMs: 1_000,
    };
    const h = harness({ ip: bob.ip, port: bob.port, local: [], nat: 'symmetric' }, options);
    h.paths.nat = 'consistent';
    h.paths.addressFor(bob);
    await h.advance(PATH_DEFAULTS.introduceAfterMs + PATH_DEFAULTS.punchTimeoutMs + 50);
    t.equal(
      h.punched.filter((address) => address !== BOB_TABLE).length,
      0,
      'not before the relay, or birthdayAfterMs',
    );
    await h.advance(PATH_DEFAULTS.birthdayAfterMs + options.birthdayMs + 100);
    const probes = h.punched.filter((address) => address !== BOB_TABLE);
    t.equal(probes.length, options.birthdayProbes, 'birthdayProbes punches in all');
    t.ok(
      probes.every((address) => address.startsWith(`${bob.ip}:`)),
      'all to its public IP',
    );
    t.equal(new Set(probes).size, probes.length, 'each port once');
    t.equal(h.sockets.size, 0, 'no socket opened on this side');
    t.same(
      h.paths.pathTo('bob'),
      { kind: 'relayed', address: BOB_TABLE },
      'none answered: still relayed',
    );
    const sent = h.punched.length;
    await h.advance(PATH_DEFAULTS.repunchMs / 2);
    t.equal(h.punched.length, sent, 'and nothing more');
    h.paths.close();

    // Again, with one port answering: the path opens there.
    const g = harness({ ip: bob.ip, port: bob.port, local: [], nat: 'symmetric' }, options);
    g.paths.nat = 'consistent';
    g.paths.addressFor(bob);
    await g.advance(
      PATH_DEFAULTS.introduceAfterMs +
        PATH_DEFAULTS.punchTimeoutMs +
        PATH_DEFAULTS.birthdayAfterMs +
        50,
    );
    // Bob's punch from one of his sockets gets through once a probe went to its port.
    const port = Number(g.punched.at(-1)!.split(':')[1]);
    t.ok(g.paths.onPunch('bob', { address: bob.ip, port }), 'his punch from that port is answered');
    t.same(
      g.paths.pathTo('bob'),
      { kind: 'punched', address: `${bob.ip}:${port}` },
      'the path opens there',
    );
    const stopped = g.punched.length;
    await g.advance(options.birthdayMs);
    t.equal(g.punched.length, stopped, 'the probes stop');
    t.ok(g.paths.accepts(bob, { address: bob.ip, port }), 'his chats are taken from there');
    t.ok(
      g.paths.accepts(bob, { address: bob.ip, port: port === 65_535 ? 1_024 : port + 1 }),
      'and from another port of his IP (his round may have kept another socket)',
    );
    t.notOk(g.paths.accepts(bob, { address: '198.18.9.9', port }), 'not from another IP');
    g.paths.close();
  },
);

t.test(
  'no birthday round when the mappings are not one symmetric and one consistent',
  async (t) => {
    for (const [own, theirs] of [
      ['symmetric', 'symmetric'],
      ['consistent', 'consistent'],
      [undefined, 'consistent'],
      ['symmetric', undefined],
    ] as const) {
      const h = harness({ ip: bob.ip, port: bob.port, local: [], nat: theirs });
      h.paths.nat = own;
      h.paths.addressFor(bob);
      h.paths.relayed('bob');
      await h.advance(PATH_DEFAULTS.introduceAfterMs + PATH_DEFAULTS.punchTimeoutMs + 1_000);
      t.equal(h.sockets.size + h.punchedVia.length, 0, `${own} here, ${theirs} there: no sockets`);
      t.ok(
        h.punched.every((address) => address === BOB_TABLE),
        'no random ports',
      );
      h.paths.close();
    }
  },
);

t.test(
  'a direct try under way is cut short when the path opens elsewhere, not when it opens where the try goes',
  async (t) => {
    const h = harness();
    const table = h.paths.addressFor(bob)!;
    const atTable = h.paths.watchTry(bob, table);
    const elsewhere = h.paths.watchTry(bob, { address: '10.0.0.9', port: 1 });
    await h.advance(PATH_DEFAULTS.introduceAfterMs + 10);
    // Bob's symmetric NAT: his punch comes from another port.
    t.ok(h.paths.onPunch('bob', { address: bob.ip, port: 4321 }));
    t.ok(atTable.aborted, 'the try at the table address goes to the new path at once');
    t.same(
      await h.paths.afterMiss(bob, table),
      { address: bob.ip, port: 4321 },
      'which afterMiss gives',
    );
    t.ok(elsewhere.aborted, 'any try not at the new path');
    t.notOk(h.paths.watchTry(bob, table).aborted, 'a later try at the old address starts afresh');
    const onPath = h.paths.watchTry(bob, { address: bob.ip, port: 4321 });
    h.paths.onPunch('bob', { address: bob.ip, port: 4321 });
    t.notOk(onPath.aborted, 'a try on the open path is left alone');
    h.paths.close();
  },
);

t.test(
  'symmetric here: two sockets through in one round; the peer took the second, and its traffic there moves the path',
  async (t) => {
    const { h, first, second, at, answered } = await twoThrough([2, 5]);
    t.same(answered, [true, true], 'the first through opens the path, the other is answered too');
    t.equal(h.routes.get(BOB_TABLE), first, 'sent from the first');
    await h.advance(2_000); // the round's end
    t.same([...h.sockets].sort(), [first, second].sort(), 'both kept, the rest closed');
    h.paths.heardVia('bob', 1234); // not one of them: nothing moves
    t.equal(h.routes.get(BOB_TABLE), first);
    h.paths.heardVia('bob', second); // bob's chat came on the second: he took that one
    t.equal(h.routes.get(BOB_TABLE), second, 'what goes to bob now leaves from the second');
    t.same([...h.sockets], [second], 'the first is closed');
    t.ok(h.paths.onPunch('bob', at, second), 'his keepalives there are answered');
    t.notOk(h.paths.onPunch('bob', at, first), 'and none on the first');
    t.same(h.paths.pathTo('bob'), { kind: 'punched', address: BOB_TABLE }, 'still punched');
    h.paths.close();
    t.same([...h.sockets], [], 'closing closes it');

    // Two through, and the path closes before either is taken: both close.
    const { h: g } = await twoThrough([0, 1]);
    await g.advance(2_000);
    g.paths.unreached('bob');
    t.same([...g.sockets], [], 'a closed path closes its spare sockets too');
    g.paths.close();
  },
);

t.test(
  'the sockets kept spare after a round count against birthdaySockets while they are kept',
  async (t) => {
    const { h, second } = await twoThrough([2, 5]);
    await h.advance(2_000); // bob's round ends: the path's socket and one spare stay
    // A round for dave now: the spare still counts, the path's own socket does not.
    h.paths.addressFor(dave);
    await h.advance(PATH_DEFAULTS.introduceAfterMs + PATH_DEFAULTS.punchTimeoutMs + 50);
    h.paths.relayed('dave');
    await nextTurns();
    t.equal(h.sockets.size, 2 + 7, "dave's round opens birthdaySockets less the spare");
    h.paths.heardVia('bob', second); // bob took the spare: it is the path's now
    h.paths.unreached('dave'); // dave's path never opened; his round goes on to its end
    await h.advance(2_000);
    t.same([...h.sockets], [second], "dave's round over, bob's path on its socket");
    h.paths.close();
  },
);
