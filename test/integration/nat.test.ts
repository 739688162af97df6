import { join } from 'node:path';
import t, { type Test } from 'tap';
import { workspace, type Running } from '../helpers/binary.js';
import {
  createLab,
  natlabMissing,
  REGISTRY_IP,
  type Lab,
  type NatKind,
  type Site,
} from '../helpers/natlab.js';

// The NAT lab (see natlab.ts and docs/nat.md): the real binary in network namespaces, the
// registry on the "internet", clients behind NATs of each kind. Needs root, ip and iptables;
// CI=true makes it mandatory.
const missing = natlabMissing();
const REGISTRY_PORT = '7000'; // each lab has namespaces of its own: fixed ports collide with nothing
const CLIENT_PORT = '5000';
/** The registry's second port, where clients learn how their NAT maps. */
const NAT_PROBE_PORT = '7001';
/** Generous: a loaded machine starts a node process in seconds, not milliseconds. */
const PATIENCE_MS = 60_000;

interface Json {
  event: string;
  [field: string]: unknown;
}

const events = (client: Running, from = 0): Json[] =>
  client.lines.slice(from).flatMap((line) => {
    try {
      return [JSON.parse(line) as Json];
    } catch {
      return [];
    }
  });

async function startLab(t: Test, sites: Site[], registryArgs: string[] = []) {
  const lab: Lab = createLab(t, sites);
  const space = workspace(t);
  const registry = space.run(
    [
      '-s',
      REGISTRY_PORT,
      '--host',
      REGISTRY_IP,
      '--db',
      join(space.dir, 'registry.json'),
      '--log-level',
      'info',
      '--nat-probe-port',
      NAT_PROBE_PORT,
      ...registryArgs,
    ],
    {},
    lab.wrapper(lab.internet),
  );
  await registry.waitFor(/^udpchat registry listening on udp /, 0, PATIENCE_MS);
  const start = async (nick: string) => {
    const client = space.run(
      [
        '-c',
        nick,
        REGISTRY_IP,
        REGISTRY_PORT,
        CLIENT_PORT,
        '--json',
        '--data-dir',
        join(space.dir, nick),
      ],
      {},
      lab.wrapper(lab.hosts[nick]),
    );
    await client.waitFor(/"event":"registered"/, 0, PATIENCE_MS);
    return client;
  };
  return { lab, start, registry };
}

/** Waits until `client`'s table has `nick` online. */
async function sees(client: Running, nick: string): Promise<void> {
  await client.waitFor(
    new RegExp(`"event":"table".*"nick":"${nick}"[^}]*"online":true`),
    0,
    PATIENCE_MS,
  );
}

/**
 * `from` sends `text` to `to`; resolves once `to` shows it, with the time it took and what
 * `from` said meanwhile (its events from the send on).
 */
async function sendAndTime(from: Running, to: Running, nick: string, text: string) {
  const mark = from.lines.length;
  const seen = to.lines.length;
  const started = Date.now();
  from.type(`send ${nick} ${text}`);
  await to.waitFor(new RegExp(`"event":"message".*"text":"${text}"`), seen, PATIENCE_MS);
  const ms = Date.now() - started;
  await from.waitFor(/"event":"delivered"/, mark, PATIENCE_MS);
  return { ms, said: events(from, mark) };
}

const kinds = (said: Json[]) => said.filter((e) => e.event === 'path').map((e) => e.kind);
const names = (said: Json[]) =>
  said.map((e) => e.event).filter((name) => !['table', 'joined', 'left', 'path'].includes(name));

if (missing.length > 0 && process.env.CI !== 'true') {
  t.test(
    'NAT lab',
    { skip: `needs ${missing.join(', ')} for network namespaces; runs under CI=true` },
    () => undefined,
  );
} else {
  // Every pair of NAT kinds in one lab, each way round: two sites of each kind, one client on
  // each; every ordered pair is two clients that have not spoken yet. The path is the one the
  // sender ends on.
  const KINDS: NatKind[] = ['none', 'cone', 'consistent', 'symmetric'];
  const EXPECTED: Record<string, 'direct' | 'punched' | 'relayed'> = {
    'none→none': 'direct',
    'cone→none': 'direct',
    'consistent→none': 'direct',
    'symmetric→none': 'direct',
    'cone→cone': 'direct',
    'consistent→cone': 'direct',
    'symmetric→cone': 'direct',
    'consistent→consistent': 'punched',
    'symmetric→consistent': 'punched',
    'symmetric→symmetric': 'relayed',
    'none→cone': 'direct',
    'none→consistent': 'punched',
    'none→symmetric': 'punched',
    'cone→consistent': 'punched',
    'cone→symmetric': 'punched',
    'consistent→symmetric': 'punched',
  };
  t.test('the matrix: every pair of {no NAT, full cone, consistent, symmetric}', async (t) => {
    t.same(missing, [], 'root, ip and iptables are here (CI=true requires them)');
    const sites: Site[] = KINDS.flatMap((nat) =>
      [1, 2].map((n) => ({ nat, hosts: [`${nat.slice(0, 4)}${n}`] })),
    );
    const { start } = await startLab(t, sites);
    const clients = new Map<string, Running>();
    await Promise.all(
      sites.map(async (site) => clients.set(site.hosts[0], await start(site.hosts[0]))),
    );
    const nickOf = (kind: NatKind, n: number) => `${kind.slice(0, 4)}${n}`;
    // Two sites of one kind: 1 → 2. Two kinds: the later one first, from their first sites; then
    // the other way round, from their second ones.
    const pairs = KINDS.flatMap((b, i) =>
      KINDS.slice(i).flatMap((a): Array<[NatKind, NatKind, string, string]> =>
        a === b
          ? [[a, b, nickOf(a, 1), nickOf(b, 2)]]
          : [
              [a, b, nickOf(a, 1), nickOf(b, 1)],
              [b, a, nickOf(b, 2), nickOf(a, 2)],
            ],
      ),
    );
    for (const [a, b, from, to] of pairs) {
      const sender = clients.get(from)!;
      const recipient = clients.get(to)!;
      const expected = EXPECTED[`${a}→${b}`];
      await t.test(`${a} → ${b}: ${expected}`, async (t) => {
        await sees(sender, to);
        await sees(recipient, from);
        const mark = sender.lines.length;
        const recipientMark = recipient.lines.length;
        const first = await sendAndTime(sender, recipient, to, `first-${from}-${to}`);
        t.ok(first.ms < 1_000, `the first message within 1 s: ${first.ms} ms`);
        if (expected === 'direct') {
          t.same(names(first.said), ['delivered'], 'direct, no fallback');
          t.same(kinds(first.said), [], 'a plain direct path: nothing told');
        }
        if (expected === 'punched') {
          // Told with the first message; between symmetric and consistent, once the birthday round after it got through.
          await sender.waitFor(
            new RegExp(`"event":"path","nick":"${to}","kind":"punched"`),
            mark,
            PATIENCE_MS,
          );
        }
        if (expected === 'relayed') {
          t.same(names(first.said), ['fallback', 'exists', 'delivered'], 'relayed');
          await sender.waitFor(
            new RegExp(`"event":"path","nick":"${to}","kind":"relayed"`),
            mark,
            PATIENCE_MS,
          );
        }
        const next = await sendAndTime(sender, recipient, to, `next-${from}-${to}`);
        t.same(
          names(next.said),
          expected === 'relayed' ? ['fallback', 'exists', 'delivered'] : ['delivered'],
          `the next message: ${expected} (${next.ms} ms)`,
        );
        const back = await sendAndTime(recipient, sender, from, `back-${to}-${from}`);
        t.same(
          names(back.said),
          expected === 'relayed' ? ['fallback', 'exists', 'delivered'] : ['delivered'],
          `and back (${back.ms} ms)`,
        );
        if (!t.passing())
          // For a failure's reader: how each side saw the paths, in order.
          t.comment(
            `paths, ${from}: ${JSON.stringify(events(sender, mark).filter((e) => e.event === 'path'))}; ` +
              `${to}: ${JSON.stringify(events(recipient, recipientMark).filter((e) => e.event === 'path'))}`,
          );
        const told = events(sender, mark)
          .filter((e) => e.event === 'path' && e.nick === to)
          .map((e) => e.kind);
        t.equal(told.at(-1) ?? 'direct', expected, `the path: ${expected}`);
        const listed = sender.lines.length;
        sender.type('online');
        await sender.waitFor(/"event":"users"/, listed, PATIENCE_MS);
        const users = events(sender, listed).find((e) => e.event === 'users') as
          { entries?: Array<{ nick: string; path?: string }> } | undefined;
        t.equal(users?.entries?.find((e) => e.nick === to)?.path, expected, '`online` says it');
        t.comment(
          `${a}→${b}: ${told.join(', ') || 'direct'}; first ${first.ms} ms, next ${next.ms} ms, back ${back.ms} ms`,
        );
      });
    }
  });

  t.test('the relay of last resort is bounded per pair (--relay-messages)', async (t) => {
    const { start, registry } = await startLab(
      t,
      [
        { nat: 'symmetric', hosts: ['alice'] },
        { nat: 'symmetric', hosts: ['bob'] },
      ],
      ['--relay-messages', '1'],
    );
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'the-one');
    t.same(names(first.said), ['fallback', 'exists', 'delivered'], 'the first is relayed');
    alice.type('send bob one-too-many');
    // The registry logs to stderr.
    const deadline = Date.now() + PATIENCE_MS;
    while (
      !/relay refused: the budget for this pair is spent/.test(registry.stderr) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    t.match(
      registry.stderr,
      /relay refused: the budget for this pair is spent/,
      'the second is refused by the registry (the sender keeps it and tries again later)',
    );
    t.notOk(
      bob.lines.some((line) => line.includes('one-too-many')),
      'and not relayed meanwhile',
    );
  });

  t.test('two peers behind one NAT: direct through their local addresses', async (t) => {
    const { start } = await startLab(t, [{ nat: 'consistent', hosts: ['alice', 'bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'next-door');
    t.same(names(first.said), ['delivered'], `direct (${first.ms} ms)`);
    const path = events(alice).find((e) => e.event === 'path');
    t.match(path, { kind: 'punched', address: /^10\.1\.2\.2:5000$/ }, "at bob's local address");
    t.ok(first.ms < 1_000, `within 1 s: ${first.ms} ms`);
    const back = await sendAndTime(bob, alice, 'alice', 'hi-neighbour');
    t.same(names(back.said), ['delivered'], `and back (${back.ms} ms)`);
    t.comment(`one NAT: first message ${first.ms} ms`);
  });

  t.test('a path that dies is punched again', async (t) => {
    const { lab, start } = await startLab(t, [
      { nat: 'consistent', hosts: ['alice'] },
      { nat: 'consistent', hosts: ['bob'] },
    ]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'before');
    t.same(names(first.said), ['delivered']);
    // Bob's router drops everything from the internet but the registry: the path is dead.
    lab.cut(lab.routers['bob'], true);
    const cut = await sendAndTime(alice, bob, 'bob', 'while-cut');
    t.same(
      names(cut.said),
      ['fallback', 'exists', 'delivered'],
      'no ACK on the dead path: relayed',
    );
    lab.cut(lab.routers['bob'], false);
    const again = await sendAndTime(alice, bob, 'bob', 'after');
    t.same(
      names(again.said),
      ['delivered'],
      `the next message punches again and goes direct (${again.ms} ms)`,
    );
    const back = await sendAndTime(bob, alice, 'alice', 'back');
    t.same(names(back.said), ['delivered'], `and back directly (${back.ms} ms)`);
  });
}
