import { execFileSync, spawnSync } from 'node:child_process';
import t from 'tap';
import { BIN } from '../helpers/binary.js';
import { clientArgs, e2e, startClient, startServer } from '../helpers/e2e.js';

const haveTmux = spawnSync('tmux', ['-V']).status === 0;
if (!haveTmux && process.env.CI !== 'true') {
  t.test('the prompt in a real terminal', { skip: 'tmux is not installed (apt-get install tmux); under CI=true this fails instead' }, () => undefined);
} else {
  t.test('an incoming message is printed above the prompt; the half-typed line survives', async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const bob = await startClient(space, 'bob', serverPort);
    const socket = `udpchat-test-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    t.teardown(() => void spawnSync('tmux', ['-L', socket, 'kill-server']));
    const args = await clientArgs(space, 'alice', serverPort);
    const command = ['env', '-u', 'NODE_OPTIONS', process.execPath, BIN, ...args].join(' ');
    tmux('new-session', '-d', '-s', 'chat', '-x', '100', '-y', '20', command);
    const screen = () => tmux('capture-pane', '-p', '-t', 'chat').split('\n').map((line) => line.trimEnd()).filter(Boolean);
    const waitScreen = async (check: (lines: string[]) => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!check(screen())) {
        if (Date.now() > deadline) throw new Error(`screen never showed ${what}:\n${screen().join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await waitScreen((lines) => lines.at(-1) === '>>>', 'the prompt');
    t.same(screen(), ['>>> [Welcome, You are registered.]', '>>> [Client table updated.]', '>>>']);

    tmux('send-keys', '-t', 'chat', '-l', 'send bob hel');
    await waitScreen((lines) => lines.at(-1) === '>>> send bob hel', 'the half-typed line');
    bob.type('send alice incoming while you type');
    await waitScreen((lines) => lines.includes('>>> bob: incoming while you type'), "bob's message");
    const lines = screen();
    t.equal(lines.at(-2), '>>> bob: incoming while you type', 'printed above the prompt');
    t.equal(lines.at(-1), '>>> send bob hel', 'the half-typed line is drawn again, intact');

    tmux('send-keys', '-t', 'chat', '-l', 'lo');
    tmux('send-keys', '-t', 'chat', 'Enter');
    await bob.waitFor('>>> alice: hello');
    await waitScreen((l) => l.includes('>>> [Message received by bob.]'), 'the ACK line');

    // group mode: the prompt names the group, and so does every line shown in it
    tmux('send-keys', '-t', 'chat', '-l', 'create_group room');
    tmux('send-keys', '-t', 'chat', 'Enter');
    tmux('send-keys', '-t', 'chat', '-l', 'join_group room');
    tmux('send-keys', '-t', 'chat', 'Enter');
    await waitScreen((l) => l.at(-1) === '>>> (room)', 'the group prompt');
    tmux('send-keys', '-t', 'chat', '-l', 'list_members');
    tmux('send-keys', '-t', 'chat', 'Enter');
    await waitScreen((l) => l.at(-2) === '>>> (room) alice' && l.at(-1) === '>>> (room)', 'members in group mode');
    tmux('send-keys', '-t', 'chat', '-l', 'leave_group');
    tmux('send-keys', '-t', 'chat', 'Enter');
    await waitScreen((l) => l.at(-2) === '>>> [Leave group chat room.]' && l.at(-1) === '>>>', 'back to the plain prompt');

    for (let i = 0; i < 5; i++) tmux('send-keys', '-t', 'chat', 'Up'); // five lines back
    await waitScreen((l) => l.at(-1) === '>>> send bob hello', 'the history recalled with the up arrow');
    tmux('send-keys', '-t', 'chat', 'C-u');
    tmux('send-keys', '-t', 'chat', 'C-c');
    const mark = bob.lines.length;
    await bob.waitFor('>>> [Client table updated.]', mark);
    const deadline = Date.now() + 5000;
    while (spawnSync('tmux', ['-L', socket, 'has-session', '-t', 'chat']).status === 0) {
      if (Date.now() > deadline) throw new Error('the client did not leave on Ctrl+C');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.pass('Ctrl+C at the prompt deregistered (bob saw the table change) and left');
  });
}
