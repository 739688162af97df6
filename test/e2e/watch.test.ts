import t from 'tap';
import { clientArgs, e2e, startClient, startServer } from '../helpers/e2e.js';

t.test(
  'beyond the table limit, through the binary: watch, unwatch, all, more, a look-up on send, contacts kept',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space, undefined, ['--table-limit', '2']);
    const alice = await startClient(space, 'alice', serverPort);
    const bob = await startClient(space, 'bob', serverPort);
    const carolArgs = await clientArgs(space, 'carol', serverPort);
    let carol = space.run(carolArgs);
    const welcome = await carol.waitFor('>>> [Welcome, You are registered.]');

    carol.type('all');
    const all = await carol.waitFor('>>> [All users:]', welcome);
    await carol.waitFor('>>> carol (online)', all);
    t.same(
      carol.lines.slice(all + 1, all + 4).sort(),
      ['>>> alice (online)', '>>> bob (online)', '>>> carol (online)'],
      'asked of the server: one page',
    );
    carol.type('more');
    await carol.waitFor('>>> [No more pages. Type online or all to start again.]', all);

    carol.type('watch bob');
    await carol.waitFor('>>> [Watching bob: you will hear when bob comes online or leaves.]');
    carol.type('watch nobody');
    await carol.waitFor('>>> [No user named nobody.]');

    carol.type('send alice hi from carol');
    await carol.waitFor('>>> [Message received by alice.]');
    await alice.waitFor('>>> carol: hi from carol');

    const mark = carol.lines.length;
    bob.type('dereg bob');
    await carol.waitFor('>>> [bob left]', mark);
    t.notOk(
      carol.lines.slice(mark).some((line) => /alice (joined|left)/.test(line)),
      'nothing of alice: her presence did not change',
    );

    carol.type('watch');
    const list = await carol.waitFor('>>> [Watching:]', mark);
    await carol.waitFor('>>> alice (a contact)', list); // the whole answer is in (it may come in more than one read)
    t.same(
      carol.lines.slice(list + 1, list + 3),
      ['>>> bob', '>>> alice (a contact)'],
      'bob (watched) and alice (written to)',
    );

    carol.type('quit');
    await carol.exited;
    carol = space.run(carolArgs);
    const back = await carol.waitFor('>>> [Welcome, You are registered.]');
    carol.type('watch');
    const again = await carol.waitFor('>>> [Watching:]', back);
    await carol.waitFor('>>> alice (a contact)', again);
    t.same(
      carol.lines.slice(again + 1, again + 3),
      ['>>> bob', '>>> alice (a contact)'],
      'kept across the restart',
    );
    carol.type('unwatch bob');
    await carol.waitFor('>>> [No longer watching bob.]', again);
    carol.type('unwatch bob');
    await carol.waitFor('>>> [You were not watching bob.]', again);
  },
);
