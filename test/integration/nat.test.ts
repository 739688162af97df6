import { join } from 'node:path';
import t, { type Test } from 'tap';
import { workspace, type Running } from '../helpers/binary.js';
import { createLab, natlabMissing, REGISTRY_IP, type Lab, type Site } from '../helpers/natlab.js';

// The NAT lab (see natlab.ts and docs/nat.md): the real binary in network namespaces, the
// registry on the "internet", clients behind NATs of each kind. Needs root, ip and iptables;
// CI=true makes it mandatory.
const missing = natlabMissing();
const REGISTRY_PORT = '7000'; // each lab has namespaces of its own: fixed ports collide with nothing
const CLIENT_PORT = '5000';
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
    ['-s', REGISTRY_PORT, '--host', REGISTRY_IP, '--db', join(space.dir, 'registry.json'), '--log-level', 'info', ...registryArgs],
    {},
    lab.wrapper(lab.internet),
  );
  await registry.waitFor(/^udpchat registry listening on udp /, 0, PATIENCE_MS);
  const start = async (nick: string) => {
    const client = space.run(
      ['-c', nick, REGISTRY_IP, REGISTRY_PORT, CLIENT_PORT, '--json', '--data-dir', join(space.dir, nick)],
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
  await client.waitFor(new RegExp(`"event":"table".*"nick":"${nick}"[^}]*"online":true`), 0, PATIENCE_MS);
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
const names = (said: Json[]) => said.map((e) => e.event).filter((name) => !['table', 'joined', 'left', 'path'].includes(name));

if (missing.length > 0 && process.env.CI !== 'true') {
  t.test('NAT lab', { skip: `needs ${missing.join(', ')} for network namespaces; runs under CI=true` }, () => undefined);
} else {
  t.test('consistent ↔ consistent: punched after an introduction, then direct both ways', async (t) => {
    t.same(missing, [], 'root, ip and iptables are here (CI=true requires them)');
    const { start } = await startLab(t, [{ nat: 'consistent', hosts: ['alice'] }, { nat: 'consistent', hosts: ['bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'hello-bob');
    t.same(names(first.said), ['delivered'], `went direct, no fallback (${first.ms} ms)`);
    t.same(kinds(first.said), ['punched'], 'the path was punched');
    t.ok(first.ms < 1_000, `the first message within 1 s: ${first.ms} ms`);
    await bob.waitFor(/"event":"path","nick":"alice","kind":"punched"/, 0, PATIENCE_MS);
    const back = await sendAndTime(bob, alice, 'alice', 'hello-alice');
    t.same(names(back.said), ['delivered'], `and back directly (${back.ms} ms)`);
    t.comment(`consistent↔consistent: first message ${first.ms} ms, reply ${back.ms} ms`);
  });

  t.test('full cone ↔ consistent: the cone is reached directly, the other way after a punch', async (t) => {
    const { start } = await startLab(t, [{ nat: 'cone', hosts: ['alice'] }, { nat: 'consistent', hosts: ['bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    await sees(bob, 'alice');
    const toCone = await sendAndTime(bob, alice, 'alice', 'to-the-cone');
    t.same(names(toCone.said), ['delivered'], `to the full cone: direct (${toCone.ms} ms)`);
    t.same(kinds(toCone.said), [], 'a plain direct path: nothing told');
    t.ok(toCone.ms < 1_000, `within 1 s: ${toCone.ms} ms`);
    const fromCone = await sendAndTime(alice, bob, 'bob', 'from-the-cone');
    t.same(names(fromCone.said), ['delivered'], `from the full cone: direct (${fromCone.ms} ms)`);
    t.comment(`cone↔consistent: to the cone ${toCone.ms} ms, from it ${fromCone.ms} ms`);
  });

  t.test('full cone → consistent first: punched after an introduction', async (t) => {
    const { start } = await startLab(t, [{ nat: 'cone', hosts: ['alice'] }, { nat: 'consistent', hosts: ['bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'cone-first');
    t.same(names(first.said), ['delivered'], `direct (${first.ms} ms)`);
    t.same(kinds(first.said), ['punched']);
    t.ok(first.ms < 1_000, `within 1 s: ${first.ms} ms`);
    t.comment(`cone→consistent: ${first.ms} ms`);
  });

  t.test('symmetric ↔ full cone: direct both ways; the cone answers where the symmetric side came from', async (t) => {
    const { start } = await startLab(t, [{ nat: 'symmetric', hosts: ['alice'] }, { nat: 'cone', hosts: ['bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'to-the-cone');
    t.same(names(first.said), ['delivered'], `direct (${first.ms} ms)`);
    t.ok(first.ms < 1_000, `within 1 s: ${first.ms} ms`);
    const back = await sendAndTime(bob, alice, 'alice', 'from-the-cone');
    t.same(names(back.said), ['delivered'], `and back directly (${back.ms} ms)`);
    t.comment(`symmetric→cone: ${first.ms} ms`);
  });

  t.test('symmetric ↔ symmetric: no punch gets through; relayed by the registry, and said so', async (t) => {
    const { start } = await startLab(t, [{ nat: 'symmetric', hosts: ['alice'] }, { nat: 'symmetric', hosts: ['bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'via-registry');
    t.same(names(first.said), ['fallback', 'exists', 'delivered'], `relayed (${first.ms} ms)`);
    await alice.waitFor(/"event":"path","nick":"bob","kind":"relayed"/, 0, PATIENCE_MS);
    const second = await sendAndTime(alice, bob, 'bob', 'again');
    t.same(names(second.said), ['fallback', 'exists', 'delivered'], `relayed again, with no direct try first (${second.ms} ms)`);
    t.comment(`symmetric↔symmetric: relayed, first ${first.ms} ms, second ${second.ms} ms`);
  });

  t.test('the relay of last resort is bounded per pair (--relay-messages)', async (t) => {
    const { start, registry } = await startLab(t, [{ nat: 'symmetric', hosts: ['alice'] }, { nat: 'symmetric', hosts: ['bob'] }], ['--relay-messages', '1']);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'the-one');
    t.same(names(first.said), ['fallback', 'exists', 'delivered'], 'the first is relayed');
    alice.type('send bob one-too-many');
    // The registry logs to stderr.
    const deadline = Date.now() + PATIENCE_MS;
    while (!/relay refused: the budget for this pair is spent/.test(registry.stderr) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    t.match(registry.stderr, /relay refused: the budget for this pair is spent/, 'the second is refused by the registry (the sender keeps it and tries again later)');
    t.notOk(bob.lines.some((line) => line.includes('one-too-many')), 'and not relayed meanwhile');
  });

  t.test('two peers behind one NAT: direct through their local addresses', async (t) => {
    const { start } = await startLab(t, [{ nat: 'consistent', hosts: ['alice', 'bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'next-door');
    t.same(names(first.said), ['delivered'], `direct (${first.ms} ms)`);
    const path = events(alice).find((e) => e.event === 'path');
    t.match(path, { kind: 'punched', address: /^10\.1\.2\.2:5000$/ }, 'at bob\'s local address');
    t.ok(first.ms < 1_000, `within 1 s: ${first.ms} ms`);
    const back = await sendAndTime(bob, alice, 'alice', 'hi-neighbour');
    t.same(names(back.said), ['delivered'], `and back (${back.ms} ms)`);
    t.comment(`one NAT: first message ${first.ms} ms`);
  });

  t.test('a path that dies is punched again', async (t) => {
    const { lab, start } = await startLab(t, [{ nat: 'consistent', hosts: ['alice'] }, { nat: 'consistent', hosts: ['bob'] }]);
    const alice = await start('alice');
    const bob = await start('bob');
    await sees(alice, 'bob');
    const first = await sendAndTime(alice, bob, 'bob', 'before');
    t.same(names(first.said), ['delivered']);
    // Bob's router drops everything from the internet but the registry: the path is dead.
    lab.cut(lab.routers['bob'], true);
    const cut = await sendAndTime(alice, bob, 'bob', 'while-cut');
    t.same(names(cut.said), ['fallback', 'exists', 'delivered'], 'no ACK on the dead path: relayed');
    lab.cut(lab.routers['bob'], false);
    const again = await sendAndTime(alice, bob, 'bob', 'after');
    t.same(names(again.said), ['delivered'], `the next message punches again and goes direct (${again.ms} ms)`);
    const back = await sendAndTime(bob, alice, 'alice', 'back');
    t.same(names(back.said), ['delivered'], `and back directly (${back.ms} ms)`);
  });
}
