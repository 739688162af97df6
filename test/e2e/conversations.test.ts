import t from 'tap';
import { e2e, startClient, startServer } from '../helpers/e2e.js';

const UNKNOWN = /^>>> \[Unknown command 'hello'\. Commands: /;

t.test(
  'chat <nick> (or /query): what is not a command goes to the partner; chat alone stops',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const alice = await startClient(space, 'alice', serverPort);
    const bob = await startClient(space, 'bob', serverPort);
    await alice.waitFor('>>> [bob joined]');

    let mark = alice.lines.length;
    alice.type('chat zed');
    alice.type('chat alice');
    alice.type('chat bob');
    await alice.waitFor('>>> [Talking to bob. Type chat or /query alone to stop.]', mark);
    t.same(alice.lines.slice(mark, mark + 2), [
      '>>> [No user named zed.]',
      ">>> [You can't send a message to yourself.]",
    ]);

    mark = alice.lines.length;
    alice.type('hello bob');
    await bob.waitFor('>>> alice: hello bob');
    await alice.waitFor('>>> [Message received by bob.]', mark);
    alice.type('all good here'); // a command word whose arguments do not fit it: text
    await bob.waitFor('>>> alice: all good here');
    alice.type('/nope'); // a line starting with / is never text
    await alice.waitFor(/^>>> \[Unknown command '\/nope'\. Commands: /, mark);
    alice.type('online'); // a whole command is still a command
    await alice.waitFor('>>> [Online users:]', mark);
    alice.type('/query');
    await alice.waitFor('>>> [Stopped talking to bob.]', mark);
    alice.type('hello again');
    await alice.waitFor(UNKNOWN, mark);
    t.notOk(
      bob.lines.some((line) => /\/nope|online|hello again/.test(line)),
      'bob got nothing but the two lines of text',
    );
    t.equal(bob.lines.filter((line) => line.startsWith('>>> alice: ')).length, 2);
  },
);

t.test('in a group, what is not a command goes to the group', async (t) => {
  const space = e2e(t);
  const { serverPort } = await startServer(space);
  const alice = await startClient(space, 'alice', serverPort);
  const bob = await startClient(space, 'bob', serverPort);
  alice.type('hello');
  await alice.waitFor(UNKNOWN);
  alice.type('create_group g');
  await alice.waitFor('>>> [Group g created by Server.]'); // before anyone joins it
  alice.type('join_group g');
  bob.type('join_group g');
  await alice.waitFor('>>> [Entered group g successfully]');
  await bob.waitFor('>>> [Entered group g successfully]');

  const mark = alice.lines.length;
  alice.type('hello everyone');
  await bob.waitFor('>>> (g) Group_Message alice: hello everyone');
  await alice.waitFor('>>> (g) [Message received by Server.]', mark);
  alice.type('send bob hi'); // a whole command that does not belong in a group is refused, not sent
  await alice.waitFor(
    '>>> (g) [Command send is not available in a group. Type leave_group first.]',
    mark,
  );
  alice.type('leave_group');
  await alice.waitFor('>>> [Leave group chat g.]', mark);
  alice.type('hello');
  await alice.waitFor(UNKNOWN, mark);
  t.equal(
    bob.lines.filter((line) => line.includes('alice')).filter((line) => /hello|hi$/.test(line))
      .length,
    1,
    'bob got the one group line',
  );
});
