import t from 'tap';
import { BIN } from '../helpers/binary.js';
import { haveTmux, terminalSession } from '../helpers/tmux.js';
import { clientArgs, e2e, startClient, startServer } from '../helpers/e2e.js';

if (!haveTmux && process.env.CI !== 'true') {
  t.test('the prompt in a real terminal', { skip: 'tmux is not installed (apt-get install tmux); under CI=true this fails instead' }, () => undefined);
} else {
  t.test('an incoming message is printed above the prompt; the half-typed line survives', async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const bob = await startClient(space, 'bob', serverPort);
    const args = await clientArgs(space, 'alice', serverPort);
    const session = terminalSession(t, 'chat', ['env', '-u', 'NODE_OPTIONS', process.execPath, BIN, ...args]);
    const { screen, waitScreen } = session;
    await waitScreen((lines) => lines.at(-1) === '>>>', 'the prompt');
    t.same(screen(), ['>>> [Welcome, You are registered.]', '>>> [Client table updated.]', '>>>']);

    session.type('send bob hel');
    await waitScreen((lines) => lines.at(-1) === '>>> send bob hel', 'the half-typed line');
    bob.type('send alice incoming while you type');
    await waitScreen((lines) => lines.includes('>>> bob: incoming while you type'), "bob's message");
    const lines = screen();
    t.equal(lines.at(-2), '>>> bob: incoming while you type', 'printed above the prompt');
    t.equal(lines.at(-1), '>>> send bob hel', 'the half-typed line is drawn again, intact');

    session.type('lo');
    session.press('Enter');
    await bob.waitFor('>>> alice: hello');
    await waitScreen((l) => l.includes('>>> [Message received by bob.]'), 'the ACK line');

    // group mode: the prompt names the group, and so does every line shown in it
    session.type('create_group room');
    session.press('Enter');
    session.type('join_group room');
    session.press('Enter');
    await waitScreen((l) => l.at(-1) === '>>> (room)', 'the group prompt');
    session.type('list_members');
    session.press('Enter');
    await waitScreen((l) => l.at(-2) === '>>> (room) alice' && l.at(-1) === '>>> (room)', 'members in group mode');
    session.type('leave_group');
    session.press('Enter');
    await waitScreen((l) => l.at(-2) === '>>> [Leave group chat room.]' && l.at(-1) === '>>>', 'back to the plain prompt');

    for (let i = 0; i < 5; i++) session.press('Up'); // five lines back
    await waitScreen((l) => l.at(-1) === '>>> send bob hello', 'the history recalled with the up arrow');
    session.press('C-u');
    session.press('C-c');
    const mark = bob.lines.length;
    await bob.waitFor('>>> [Client table updated.]', mark);
    const deadline = Date.now() + 5000;
    while (session.running()) {
      if (Date.now() > deadline) throw new Error('the client did not leave on Ctrl+C');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.pass('Ctrl+C at the prompt deregistered (bob saw the table change) and left');
  });

  t.test('Tab completes a command, then a nick from the table; commands are case-insensitive', async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const bob = await startClient(space, 'bob', serverPort);
    const session = terminalSession(t, 'tab', ['env', '-u', 'NODE_OPTIONS', process.execPath, BIN, ...(await clientArgs(space, 'alice', serverPort))]);
    const { waitScreen } = session;
    await waitScreen((lines) => lines.at(-1) === '>>>', 'the prompt');
    session.type('onl');
    session.press('Tab');
    await waitScreen((l) => l.at(-1) === '>>> online', 'the command completed');
    session.press('C-u');
    session.type('send b');
    session.press('Tab');
    await waitScreen((l) => l.at(-1) === '>>> send bob', "bob's nick completed from the table");
    session.type('hi');
    session.press('Enter');
    await bob.waitFor('>>> alice: hi');
    session.type('SEND bob Upper');
    session.press('Enter');
    await bob.waitFor('>>> alice: Upper');
    t.pass('SEND works as send');
  });
}
