import t from 'tap';
import { e2e, startClient, startServer } from '../helpers/e2e.js';

t.test('a four-client group session prints every line of spec §3 and §4', async (t) => {
  const space = e2e(t);
  const { serverPort } = await startServer(space);
  const alice = await startClient(space, 'alice', serverPort);
  const bob = await startClient(space, 'bob', serverPort);
  const carol = await startClient(space, 'carol', serverPort);
  const dave = await startClient(space, 'dave', serverPort);
  await Promise.all([alice, bob, carol].map((c) => c.waitFor('>>> [dave joined]')));
  const after = (c: typeof alice) => c.lines.length;
  const until = async (c: typeof alice, line: string | RegExp) => c.waitFor(line, 0);

  let mark = after(alice);
  alice.type('create_group g');
  alice.type('create_group g');
  alice.type('list_groups');
  alice.type('join_group h');
  alice.type('/join g');
  await alice.waitFor('>>> [Entered group g successfully]', mark);
  t.same(
    alice.lines.slice(mark).filter((l) => !/joined\]|table updated/.test(l)),
    [
      '>>> [Group g created by Server.]',
      '>>> [Group g already exists.]',
      '>>> [Available group chats:]',
      '>>> g',
      '>>> [Group h does not exist]',
      '>>> [Entered group g successfully]',
    ],
  );
  for (const member of [bob, carol]) {
    member.type('join_group g');
    await until(member, '>>> [Entered group g successfully]'); // members are listed in join order
  }

  mark = after(alice);
  alice.type('send_group hi team');
  await alice.waitFor('>>> (g) [Message received by Server.]', mark);
  await bob.waitFor('>>> (g) Group_Message alice: hi team');
  await carol.waitFor('>>> (g) Group_Message alice: hi team');

  mark = after(bob);
  bob.type('list_members');
  await bob.waitFor('>>> (g) carol', mark);
  t.same(bob.lines.slice(mark, mark + 4), [
    '>>> (g) [Members in the group g:]',
    '>>> (g) alice',
    '>>> (g) bob',
    '>>> (g) carol',
  ]);

  // in group mode: other commands are refused; private messages wait until leave_group
  mark = after(carol);
  carol.type('send alice psst');
  await carol.waitFor(
    '>>> (g) [Command send is not available in a group. Type leave_group first.]',
    mark,
  );
  dave.type('send carol one');
  dave.type('send carol two');
  await dave.waitForCount('>>> [Message received by carol.]', 2);
  t.notOk(
    carol.lines.some((l) => l.includes('dave: one')),
    'held while in the group',
  );
  mark = after(carol);
  carol.type('/leave');
  await carol.waitFor('>>> dave: two', mark);
  t.same(
    carol.lines.slice(mark).filter((l) => !/group\.\]$/.test(l)),
    [
      '>>> [Leave group chat g.]',
      '>>> [2 private messages came while you were in group g:]',
      '>>> dave: one',
      '>>> dave: two',
    ],
  );
  await alice.waitFor('>>> (g) [carol left the group.]');

  // beyond the classic: broadcast, online, all, usage errors, unknown command
  mark = after(dave);
  dave.type('broadcast hello everyone');
  await dave.waitFor('>>> [Broadcast received by 3 of 3 users.]', mark);
  await carol.waitFor('>>> dave (to all): hello everyone');
  dave.type('online');
  dave.type('all');
  dave.type('join_group');
  dave.type('send_group no');
  dave.type('list_groups now');
  dave.type('broadcast');
  dave.type('whatever');
  await dave.waitFor(/^>>> \[Unknown command 'whatever'\. Commands: /, mark);
  await dave.waitFor('>>>  /exit, /quit, /msg, /join, /leave, /help, /query]', mark); // its last row
  const lines = dave.lines
    .slice(mark)
    .filter((l) => !/joined\]|left\]|table updated|Broadcast received/.test(l));
  t.same(
    lines.slice(0, 11),
    [
      '>>> [Online users:]',
      '>>> alice',
      '>>> bob',
      '>>> carol',
      '>>> dave',
      '>>> [All users:]',
      '>>> alice (online)',
      '>>> bob (online)',
      '>>> carol (online)',
      '>>> dave (online)',
      '>>> [Usage: join_group <group>]',
    ].map((l) => l),
    'online and all (in table order), then a usage error',
  );
  t.same(lines.slice(11), [
    '>>> [You are not in a group. Type join_group <group> first.]',
    '>>> [Usage: list_groups]',
    '>>> [Empty message: nothing sent.]',
    ">>> [Unknown command 'whatever'. Commands: send, broadcast, dereg, reg,",
    '>>>  create_group, list_groups, join_group, send_group, list_members,',
    '>>>  leave_group, chat, online, all, more, watch, unwatch, help, quit, exit,',
    '>>>  /exit, /quit, /msg, /join, /leave, /help, /query]',
  ]);
});
