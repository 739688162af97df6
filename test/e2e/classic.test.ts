import { join } from 'node:path';
import t from 'tap';
import { eventually } from '../helpers/testnet.js';
import { readStoredClients } from '../../src/store/lowdb-store.js';
import { e2e, startClient, startServer } from '../helpers/e2e.js';

t.test('the classic three-client session prints the spec lines exactly', async (t) => {
  const space = e2e(t);
  const { server, serverPort } = await startServer(space);
  const alice = await startClient(space, 'alice', serverPort);
  t.equal(await alice.waitFor('>>> [Client table updated.]'), 1, 'the table follows the welcome');
  const bob = await startClient(space, 'bob', serverPort);
  const carol = await startClient(space, 'carol', serverPort);
  await alice.waitFor('>>> [Client table updated.]', 3); // carol's arrival reached alice

  alice.type('send bob hi bob');
  await alice.waitFor('>>> [Message received by bob.]');
  await bob.waitFor('>>> alice: hi bob');

  const utf8 = 'こんにちは — ünïcödé ✓ 🎉';
  carol.type(`send alice ${utf8}`);
  await carol.waitFor('>>> [Message received by alice.]');
  await alice.waitFor(`>>> carol: ${utf8}`);

  const long = 'x'.repeat(1000) + 'é'.repeat(1000);
  bob.type(`send carol ${long}`);
  await carol.waitFor(`>>> bob: ${long}`);

  // bob goes offline; two messages wait for him on the server
  const mark = bob.lines.length;
  bob.type('dereg bob');
  await bob.waitFor('>>> [You are Offline. Bye.]', mark);
  // Whether or not alice's table already shows bob offline, the user sees the same lines.
  const aliceMark = alice.lines.length;
  alice.type('send bob are you there?');
  await alice.waitFor('>>> [No ACK from bob, message sent to server.]', aliceMark);
  await alice.waitFor('>>> [Messages received by the server and saved]', aliceMark);
  carol.type('send bob second one');
  await carol.waitFor('>>> [Messages received by the server and saved]');

  const back = bob.lines.length;
  bob.type('reg bob');
  await bob.waitFor('>>> [Welcome, You are registered.]', back);
  const first = await bob.waitFor(
    /^>>> alice: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d are you there\?$/,
    back,
  );
  const second = await bob.waitFor(/^>>> carol: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d second one$/, back);
  t.same(bob.lines.slice(back, first), [
    '>>> [Welcome, You are registered.]',
    '>>> [Client table updated.]',
    '>>> [You have messages]',
  ]);
  t.ok(second > first, 'oldest first');

  // usage errors and refusals, each with a clear line
  const errs = alice.lines.length;
  for (const line of [
    'send bob',
    'send nobody hello',
    'send alice me',
    'frobnicate',
    'dereg bob',
    'send',
  ])
    alice.type(line);
  await alice.waitFor('>>> [Usage: send <nick> <message>]', errs + 5);
  // A table push (and a join notice) may land between them at any moment; it is not part of the answer.
  const notice = (line: string) =>
    line === '>>> [Client table updated.]' || /^>>> \[[\w.-]+ (joined|left)\]$/.test(line);
  t.same(
    alice.lines
      .slice(errs)
      .filter((line) => !notice(line))
      .slice(0, 9),
    [
      '>>> [Empty message: nothing sent.]',
      '>>> [No user named nobody.]',
      ">>> [You can't send a message to yourself.]",
      ">>> [Unknown command 'frobnicate'. Commands: send, broadcast, dereg, reg,",
      '>>>  create_group, list_groups, join_group, send_group, list_members,',
      '>>>  leave_group, chat, online, all, more, watch, unwatch, help, quit, exit,',
      '>>>  /exit, /quit, /msg, /join, /leave, /help, /query]',
      '>>> [You can only reg or dereg yourself.]',
      '>>> [Usage: send <nick> <message>]',
    ],
  );

  // the chat screen holds chat lines only: every stdout line is a udpchat line
  for (const client of [alice, bob, carol]) {
    t.ok(
      client.lines.every((line) => line.startsWith('>>> ') || line === ''),
      'nothing but chat lines on stdout',
    );
    t.equal(client.stderr, '', 'no logs or stack traces at the default level');
  }
  // The registry's stderr reaches this process on its own pipe: waited for, not raced.
  await eventually(
    () => /alice connected/.test(server.stderr) && /message saved/.test(server.stderr),
    20_000,
    'the registry logs connects and saves (stderr)',
  );

  // Ctrl+C (SIGINT) deregisters first, then exits 0
  const before = alice.lines.length;
  carol.kill('SIGINT');
  t.equal(await carol.exited, 0);
  await alice.waitFor('>>> [Client table updated.]', before);
  const stored = await readStoredClients(join(space.dir, 'registry.json'));
  t.equal(stored.carol?.online, false, 'carol deregistered on the way out');
});
