import t from 'tap';
import { clientArgs, e2e, startClient, startServer } from '../helpers/e2e.js';

t.test('server down: a client says so and exits; a dereg with no answer says Exiting', async (t) => {
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
});

t.test('kill -9 of the registry after it confirmed a save: restarted on the same --db, reg delivers', async (t) => {
  const space = e2e(t);
  const first = await startServer(space);
  const alice = await startClient(space, 'alice', first.serverPort);
  const bob = await startClient(space, 'bob', first.serverPort);
  bob.type('dereg bob');
  await bob.waitFor('>>> [You are Offline. Bye.]');
  alice.type('send bob kept through a crash');
  await alice.waitFor('>>> [Messages received by the server and saved]');
  first.server.kill('SIGKILL');
  await first.server.exited;
  await startServer(space, first.serverPort);
  const mark = bob.lines.length;
  bob.type('reg bob');
  const notice = await bob.waitFor('>>> [You have messages]', mark);
  t.equal(await bob.waitFor(/^>>> alice: \S+ \S+ kept through a crash$/, mark), notice + 1, 'the saved message survived kill -9');
});
