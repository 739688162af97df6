// Two lines a user sees at the end of something, through the real binary: the "not sent" line
// of a message that can never be delivered (docs/reliability.md, one final outcome per send),
// and what `quit` does in group mode (docs/user-guide.md, the `quit` command).
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { bobAwayRegistryDead, e2e, startClient, startServer } from '../helpers/e2e.js';

const keptLine = '>>> [Message to bob kept; it will be sent when the server answers.]';
const notSentLine = '>>> [Message to bob not sent: no such user.]';

t.test(
  'a kept message to a nick the registry no longer knows ends with one "not sent" line, and the client runs on',
  async (t) => {
    const { space, first, alice } = await bobAwayRegistryDead(t);

    // bob is offline in alice's table and the registry does not answer: the message is kept.
    alice.type('send bob hi');
    await alice.waitFor(keptLine);
    alice.kill('SIGKILL');
    await alice.exited;

    // The registry comes back having lost its store (its identity kept, so alice's pin holds):
    // bob is a nick it does not know.
    for (const name of await readdir(space.dir))
      if (name.startsWith('registry') && name !== 'registry.identity.json')
        await rm(join(space.dir, name), { recursive: true, force: true });
    await startServer(space, first.serverPort);

    const again = await startClient(space, 'alice', first.serverPort);
    const resumed = await again.waitFor('>>> [Sending 1 message kept from last time.]');
    const notSent = await again.waitFor(notSentLine, resumed);
    t.equal(
      await again.waitFor('>>> [That was your message to bob from last time: "hi"]', notSent),
      notSent + 1,
      'followed by which message it was',
    );

    // The client runs on: a later command is answered.
    let mark = again.lines.length;
    again.type('online');
    const online = await again.waitFor('>>> [Online users:]', mark);
    await again.waitFor('>>> alice', online);
    t.same(
      again.lines.filter((line) => line === notSentLine),
      [notSentLine],
      'the "not sent" line once',
    );
    t.notOk(
      again.lines.some((line) => /saved|received by|No ACK/.test(line)),
      'and no other outcome for it',
    );

    // The message failed for good: it left the outbox, so nothing is kept at quit.
    mark = again.lines.length;
    again.type('quit');
    t.equal(await again.exitWithin('alice quitting'), 0, 'quit exits 0');
    t.same(again.lines.slice(mark), ['>>> [You are Offline. Bye.]']);
  },
);

t.test(
  'quit in group mode leaves the group first, shows the held messages, deregisters and exits 0; the others see it leave',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const alice = await startClient(space, 'alice', serverPort);
    const bob = await startClient(space, 'bob', serverPort);
    const carol = await startClient(space, 'carol', serverPort);
    await Promise.all([alice, bob].map((c) => c.waitFor('>>> [carol joined]')));

    alice.type('create_group g');
    alice.type('join_group g');
    await alice.waitFor('>>> [Entered group g successfully]');
    bob.type('join_group g');
    await bob.waitFor('>>> [Entered group g successfully]');

    // A private message that comes in group mode is held.
    carol.type('send alice psst');
    await carol.waitFor('>>> [Message received by alice.]');
    t.notOk(
      alice.lines.some((line) => line.includes('psst')),
      'held while in the group',
    );

    const mark = alice.lines.length;
    alice.type('quit');
    t.equal(await alice.exitWithin('alice quitting in group mode'), 0, 'quit exits 0');
    t.same(
      alice.lines.slice(mark).filter((line) => !/joined\]|left\]|table updated/.test(line)),
      [
        '>>> [Leave group chat g.]',
        '>>> [1 private message came while you were in group g:]',
        '>>> carol: psst',
        '>>> [You are Offline. Bye.]',
      ],
      'the group left first, with what it held, then offline',
    );

    // The other member is told, and the registry's list no longer holds alice.
    await bob.waitFor('>>> (g) [alice left the group.]');
    await carol.waitFor('>>> [alice left]'); // deregistered: offline in the others' tables
    const before = bob.lines.length;
    bob.type('list_members');
    const members = await bob.waitFor('>>> (g) [Members in the group g:]', before);
    await bob.waitFor('>>> (g) bob', members);
    t.same(
      bob.lines.slice(members, members + 2),
      ['>>> (g) [Members in the group g:]', '>>> (g) bob'],
      'bob alone in the group',
    );
    t.notOk(
      bob.lines.slice(members).some((line) => line === '>>> (g) alice'),
      'alice no longer a member',
    );
  },
);
