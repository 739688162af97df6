import t from 'tap';
import {
  bobAway,
  bobAwayRegistryDead,
  clientArgs,
  e2e,
  startClient,
  startServer,
} from '../helpers/e2e.js';

t.test(
  'server down: a client says so and exits; a dereg with no answer says Exiting',
  async (t) => {
    const space = e2e(t);
    const { server, serverPort } = await startServer(space);
    const alice = await startClient(space, 'alice', serverPort);
    const bob = await startClient(space, 'bob', serverPort);
    await alice.waitFor('>>> [Client table updated.]', 2);
    server.kill('SIGKILL');
    await server.exited;
    // peers keep chatting while the registry is down
    alice.type('send bob still here');
    await bob.waitFor('>>> alice: still here');
    await alice.waitFor('>>> [Message received by bob.]');
    const mark = bob.lines.length;
    bob.type('dereg bob');
    await bob.waitFor('>>> [Server not responding]', mark);
    await bob.waitFor('>>> [Exiting]', mark);
    t.equal(await bob.exited, 1);

    const late = space.run(await clientArgs(space, 'carol', serverPort));
    t.equal(await late.exited, 1);
    t.same(late.lines, ['>>> [Server not responding]', '>>> [Exiting]']);
  },
);

t.test(
  'server down: online and all say the list is as it last was, until the server answers again',
  async (t) => {
    const space = e2e(t);
    const first = await startServer(space);
    const fast = ['--heartbeat-interval', '200'];
    const alice = await startClient(space, 'alice', first.serverPort, fast);
    await startClient(space, 'bob', first.serverPort, fast);
    await alice.waitFor('>>> [bob joined]');
    const STALE = '>>> [The server does not answer: this is the list as it last was.]';
    /** The lines after typing `which`, once `until` is among them; table notices left out. */
    const shown = async (which: 'online' | 'all', until: string) => {
      const mark = alice.lines.length;
      alice.type(which);
      await alice.waitFor(until, mark);
      return alice.lines.slice(mark).filter((line) => line !== '>>> [Client table updated.]');
    };
    t.same(
      (await shown('all', '>>> bob (online)')).slice(0, 3).sort(),
      ['>>> [All users:]', '>>> alice (online)', '>>> bob (online)'].sort(),
    );
    first.server.kill('SIGKILL');
    await first.server.exited;
    await alice.waitFor('>>> [Server not responding]');
    for (const [which, header, rows] of [
      ['online', '>>> [Online users:]', ['>>> alice', '>>> bob']],
      ['all', '>>> [All users:]', ['>>> alice (online)', '>>> bob (online)']],
    ] as const) {
      const lines = await shown(which, STALE);
      t.equal(lines[0], header);
      t.same(lines.slice(1, 3).sort(), [...rows].sort());
      t.equal(lines[3], STALE, `${which}: the list, then that it is as it last was`);
    }
    await startServer(space, first.serverPort);
    await alice.waitFor('>>> [Server is responding again.]');
    const mark = alice.lines.length;
    alice.type('online');
    alice.type('all'); // from the same table: once its last line is in, online's are too
    await alice.waitFor('>>> bob (online)', mark);
    t.notOk(alice.lines.slice(mark).includes(STALE), 'no longer said');
  },
);

t.test(
  'kill -9 of the registry after it confirmed a save: restarted on the same --db, reg delivers',
  async (t) => {
    const { space, first, alice, bob } = await bobAway(t);
    alice.type('send bob kept through a crash');
    await alice.waitFor('>>> [Messages received by the server and saved]');
    first.server.kill('SIGKILL');
    await first.server.exited;
    await startServer(space, first.serverPort);
    const mark = bob.lines.length;
    bob.type('reg bob');
    const notice = await bob.waitFor('>>> [You have messages]', mark);
    t.equal(
      await bob.waitFor(/^>>> alice: \S+ \S+ kept through a crash$/, mark),
      notice + 1,
      'the saved message survived kill -9',
    );
  },
);

const savedLine = '>>> [Messages received by the server and saved]';

t.test(
  'kill -9 of the registry in the middle of a stream: every message saved once, delivered in order',
  async (t) => {
    const space = e2e(t);
    const first = await startServer(space);
    const fast = ['--heartbeat-interval', '100'];
    const alice = await startClient(space, 'alice', first.serverPort, fast);
    const bob = await startClient(space, 'bob', first.serverPort, fast);
    bob.type('dereg bob');
    await bob.waitFor('>>> [You are Offline. Bye.]');
    const count = 30;
    for (let i = 0; i < count; i++) alice.type(`send bob stream ${i}`);
    await alice.waitFor(savedLine); // the stream is flowing
    first.server.kill('SIGKILL');
    await first.server.exited;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await startServer(space, first.serverPort);
    t.equal(
      await alice.waitForCount(savedLine, count, 20_000),
      count,
      'one saved line per message',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.equal(await alice.waitForCount(savedLine, count), count, 'none twice');
    const mark = bob.lines.length;
    bob.type('reg bob');
    await bob.waitFor(new RegExp(`^>>> alice: \\S+ \\S+ stream ${count - 1}$`), mark, 30_000);
    const got = bob.lines
      .slice(mark)
      .filter((line) => / stream \d+$/.test(line))
      .map((line) => Number(line.split(' ').at(-1)));
    t.same(got, [...Array(count).keys()], 'all of them, once each, in the order typed');
  },
);

t.test('kill -9 of a client with messages in its outbox: restarted, it sends them', async (t) => {
  const { space, first, alice, bob } = await bobAwayRegistryDead(t);
  for (const text of ['one', 'two', 'three']) alice.type(`send bob ${text}`);
  await alice.waitFor(
    '>>> [Message to bob kept; it will be sent when the server answers.]',
    0,
    10_000,
  );
  alice.kill('SIGKILL'); // dies with three messages unsent
  await alice.exited;
  await startServer(space, first.serverPort);
  const again = await startClient(space, 'alice', first.serverPort);
  await again.waitFor('>>> [Sending 3 messages kept from last time.]');
  t.equal(await again.waitForCount(savedLine, 3), 3, 'each saved once');
  await again.waitFor('>>> [That was your message to bob from last time: "three"]');
  t.same(
    again.lines.flatMap((line, i) =>
      line.includes('from last time:') ? [[again.lines[i - 1], line]] : [],
    ),
    ['one', 'two', 'three'].map((text) => [
      savedLine,
      `>>> [That was your message to bob from last time: "${text}"]`,
    ]),
    'each saved line is followed by which message it was',
  );
  const mark = bob.lines.length;
  bob.type('reg bob');
  await bob.waitFor(/^>>> alice: \S+ \S+ three$/, mark);
  t.same(
    bob.lines
      .slice(mark)
      .filter((line) => /^>>> alice: /.test(line))
      .map((line) => line.split(' ').at(-1)),
    ['one', 'two', 'three'],
  );
});

t.test(
  'quit with a message that cannot settle: it leaves at once and says what it kept',
  async (t) => {
    const { alice } = await bobAwayRegistryDead(t);
    alice.type('send bob one');
    alice.type('send bob two'); // waits behind the first, which waits for the registry
    await alice.waitFor('>>> [Message to bob kept; it will be sent when the server answers.]');
    alice.type('quit');
    t.equal(await alice.exited, 0, 'it does not hang');
    t.ok(
      alice.lines.includes('>>> [2 messages kept for the next start.]'),
      'and says what stays in the outbox',
    );
  },
);

t.test(
  'a full outbox: past the 10,000 messages it keeps, a message is refused with one line, and the rest stay kept',
  async (t) => {
    const { alice } = await bobAwayRegistryDead(t);
    alice.child.stdin.write(
      Array.from({ length: 10_000 }, (_, i) => `send bob kept ${i}\n`).join(''),
    );
    alice.type('send bob one too many');
    const full = [
      '>>> [Message to bob not sent: 10,000 messages wait to be sent, the most kept at',
      '>>>  once. Try again once some of them have gone.]',
    ];
    await alice.waitFor(full[1], 0, 60_000);
    const at = alice.lines.indexOf(full[0]);
    t.same(alice.lines.slice(at, at + 2), full, 'a line carried on in a second row at 80 columns');
    t.equal(alice.lines.filter((line) => line === full[0]).length, 1, 'the one past the limit');
    alice.type('quit');
    t.equal(await alice.exited, 0);
    t.ok(
      alice.lines.includes('>>> [10,000 messages kept for the next start.]'),
      'every one before it kept',
    );
  },
);
