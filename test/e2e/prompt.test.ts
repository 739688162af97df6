import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BIN, freePort } from '../helpers/binary.js';
import { haveTmux, showingExit, terminalSession } from '../helpers/tmux.js';
import { clientArgs, e2e, PATIENT_CLIENT_ARGS, startClient, startServer } from '../helpers/e2e.js';

if (!haveTmux && process.env.CI !== 'true') {
  t.test(
    'the prompt in a real terminal',
    { skip: 'tmux is not installed (apt-get install tmux); under CI=true this fails instead' },
    () => undefined,
  );
} else {
  /** The binary as a user's shell runs it: without the test runner's loaders. */
  const udpchat = (args: string[], env: string[] = []) => [
    'env',
    '-u',
    'NODE_OPTIONS',
    ...env,
    process.execPath,
    BIN,
    ...args,
  ];

  t.test(
    'an incoming message is printed above the prompt; the half-typed line survives',
    async (t) => {
      const space = e2e(t);
      const { serverPort } = await startServer(space);
      const bob = await startClient(space, 'bob', serverPort);
      const args = await clientArgs(space, 'alice', serverPort);
      const session = terminalSession(t, 'chat', udpchat(args));
      const { screen, waitScreen } = session;
      // The prompt under the first table's line: the welcome may be printed, and prompted under,
      // a turn of the event loop before the table arrives.
      await waitScreen(
        (lines) => lines.at(-1) === '>>>' && lines.includes('>>> [Client table updated.]'),
        'the prompt under the first table',
      );
      // A registration slower than a second (a loaded machine) is preceded by an honest "Waiting" line.
      t.same(
        screen().filter((line) => !line.startsWith('>>> [Waiting for the server at ')),
        ['>>> [Welcome, You are registered.]', '>>> [Client table updated.]', '>>>'],
      );

      session.type('send bob hel');
      await waitScreen((lines) => lines.at(-1) === '>>> send bob hel', 'the half-typed line');
      await bob.waitFor('>>> [alice joined]'); // bob's table holds her: he can write to her
      bob.type('send alice incoming while you type');
      // The line is written, then the prompt drawn again: a capture may fall between the two.
      await waitScreen(
        (lines) =>
          lines.includes('>>> bob: incoming while you type') &&
          lines.at(-1) !== '>>> bob: incoming while you type',
        "bob's message, and a row under it",
      );
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
      await waitScreen(
        (l) => l.at(-2) === '>>> (room) alice' && l.at(-1) === '>>> (room)',
        'members in group mode',
      );
      session.type('leave_group');
      session.press('Enter');
      await waitScreen(
        (l) => l.at(-2) === '>>> [Leave group chat room.]' && l.at(-1) === '>>>',
        'back to the plain prompt',
      );

      for (let i = 0; i < 5; i++) session.press('Up'); // five lines back
      await waitScreen(
        (l) => l.at(-1) === '>>> send bob hello',
        'the history recalled with the up arrow',
      );
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
    },
  );

  t.test(
    'Tab completes a command, then a nick from the table; commands are case-insensitive',
    async (t) => {
      const space = e2e(t);
      const { serverPort } = await startServer(space);
      const bob = await startClient(space, 'bob', serverPort);
      const session = terminalSession(
        t,
        'tab',
        udpchat(await clientArgs(space, 'alice', serverPort)),
      );
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
    },
  );

  /**
   * The screen's rows `from` to `to` are the same as tmux's joined view of them: the terminal
   * wrapped none of them (a wrapped line would be one row fewer there).
   */
  const noneWrapped = (
    t: Test,
    screen: ReturnType<typeof terminalSession>['screen'],
    from: number,
    to: number,
    what: string,
  ) => t.same(screen({ joined: true }).slice(from, to), screen().slice(from, to), what);

  t.test(
    'help fits an 80-column terminal with time stamps: each description broken between words ' +
      'and carried on under itself, no row wrapped by the terminal',
    async (t) => {
      const space = e2e(t);
      const { serverPort } = await startServer(space);
      const session = terminalSession(
        t,
        'help',
        udpchat(await clientArgs(space, 'alice', serverPort, ['--timestamps'])),
        { width: 80, height: 40 },
      );
      const { waitScreen, screen } = session;
      await waitScreen((lines) => /^\d\d:\d\d >>> \[Welcome/.test(lines[0] ?? ''), 'the welcome');
      session.type('help');
      session.press('Enter');
      await waitScreen((l) => l.some((row) => row.endsWith('aliases of quit and help')), 'help');
      const rows = screen();
      const first = rows.findIndex((row) => row.endsWith('>>> [Commands:]'));
      const help = rows.slice(
        first + 1,
        rows.findIndex((row) => row.endsWith('quit and help')) + 1,
      );
      noneWrapped(t, screen, first, first + help.length + 1, 'no row wrapped by the terminal');
      const send = help.findIndex((row) =>
        /send <nick> <message> +send a message to a user/.test(row),
      );
      t.ok(send >= 0, "send's row");
      t.match(help[send + 1], /^\d\d:\d\d >>> {28}\S/, 'its description carried on under itself');
      t.equal(
        `${help[send]} ${help[send + 1]?.slice(37)}`.slice(37),
        'send a message to a user (saved by the server if they are offline)',
        'every word of it, in order',
      );
    },
  );

  t.test(
    "udpchat's own lines fit the terminal's width: broken between words at 60 columns, " +
      'whole at 260',
    async (t) => {
      const space = e2e(t);
      const { serverPort } = await startServer(space);
      for (const width of [60, 260]) {
        const session = terminalSession(
          t,
          `width-${width}`,
          udpchat(await clientArgs(space, `w${width}`, serverPort)),
          { width, height: 30 },
        );
        const { waitScreen, screen } = session;
        await waitScreen(
          (lines) => lines.includes('>>> [Welcome, You are registered.]'),
          'welcome',
        );
        session.type('hello');
        session.press('Enter');
        await waitScreen((l) => l.some((row) => row.endsWith('/help, /query]')), 'the last row');
        const rows = screen();
        const first = rows.findIndex((row) => row.startsWith(">>> [Unknown command 'hello'."));
        const last = rows.findIndex((row) => row.endsWith('/help, /query]'));
        const line = rows.slice(first, last + 1);
        noneWrapped(t, screen, first, last + 1, `${width}: no row wrapped by the terminal`);
        if (width === 60) t.ok(line.length > 3, 'broken over several rows');
        else t.equal(line.length, 1, 'one row: the terminal is wide enough');
      }
    },
  );

  t.test(
    'Ctrl+D at an empty prompt leaves as quit does: the last line, then no prompt under it',
    async (t) => {
      const space = e2e(t);
      const { serverPort } = await startServer(space);
      const session = terminalSession(
        t,
        'eof',
        showingExit(udpchat(await clientArgs(space, 'alice', serverPort))),
      );
      const { waitScreen, screen } = session;
      await waitScreen((lines) => lines.at(-1) === '>>>', 'the prompt');
      session.type('half a line');
      session.press('C-u');
      await waitScreen((lines) => lines.at(-1) === '>>>', 'the line cleared');
      session.press('C-d');
      await waitScreen((lines) => lines.includes('exit=0'), 'the exit');
      t.same(
        screen().slice(-2),
        ['>>> [You are Offline. Bye.]', 'exit=0'],
        "the shell's next line on a row of its own, no prompt left above it",
      );
    },
  );

  t.test(
    'a half-typed line wider than the terminal is drawn again whole below an incoming line',
    async (t) => {
      const space = e2e(t);
      const { serverPort } = await startServer(space);
      const bob = await startClient(space, 'bob', serverPort);
      const session = terminalSession(
        t,
        'wide',
        udpchat(await clientArgs(space, 'alice', serverPort)),
        { width: 80 },
      );
      await session.waitScreen((lines) => lines.at(-1) === '>>>', 'the prompt');
      const long = `send bob ${'x'.repeat(191)}`; // 200 characters: three rows at 80 columns
      session.type(long);
      await session.waitScreen((lines) => lines.at(-1) === `>>> ${long}`, 'the long line', {
        joined: true,
      });
      await bob.waitFor('>>> [alice joined]');
      bob.type('send alice while you type');
      // The line is written, then the prompt drawn again: a capture may fall between the two.
      await session.waitScreen(
        (lines) =>
          lines.includes('>>> bob: while you type') && lines.at(-1) !== '>>> bob: while you type',
        "bob's line, and a row under it",
        { joined: true },
      );
      const lines = session.screen({ joined: true });
      t.equal(lines.at(-2), '>>> bob: while you type', 'printed above the prompt');
      t.equal(lines.at(-1), `>>> ${long}`, 'the half-typed line drawn again, whole');
      t.equal(
        lines.filter((line) => line.includes('xxxxx')).length,
        1,
        'no row of it stranded above',
      );
    },
  );

  t.test(
    'colour, time stamps and the bell on a terminal; chat shows its partner in the prompt',
    async (t) => {
      const space = e2e(t);
      const { serverPort } = await startServer(space);
      const bob = await startClient(space, 'bob', serverPort);
      // tap runs tests with NO_COLOR=1: alice's terminal is without it, as most are.
      const session = terminalSession(
        t,
        'dressed',
        udpchat(await clientArgs(space, 'alice', serverPort, ['--timestamps', '--bell']), [
          '-u',
          'NO_COLOR',
        ]),
      );
      const plain = terminalSession(
        t,
        'plain',
        udpchat(await clientArgs(space, 'carol', serverPort), ['NO_COLOR=1']),
      );
      await session.waitScreen((lines) => lines.at(-1) === '>>>', 'the prompt');
      await plain.waitScreen((lines) => lines.at(-1) === '>>>', "carol's prompt");
      // bob writes to them once his table holds them, as a user would (before, it says "No user").
      await bob.waitFor('>>> [alice joined]');
      await bob.waitFor('>>> [carol joined]');
      const raw = join(space.dir, 'alice.out');
      session.tmux('pipe-pane', '-o', '-t', 'dressed', `cat >> ${raw}`); // every byte written to the terminal from here on
      session.type('chat bob');
      session.press('Enter');
      await session.waitScreen((lines) => lines.at(-1) === '>>> @bob', 'the chat prompt');
      bob.type('send alice ring');
      bob.type('send carol ring');
      await session.waitScreen(
        (lines) => lines.some((line) => /^\d\d:\d\d >>> bob: ring$/.test(line)),
        "bob's line, stamped",
      );
      await plain.waitScreen((lines) => lines.includes('>>> bob: ring'), "bob's line at carol");
      const coloured = session.screen({ escapes: true }).find((line) => line.includes('ring'))!;
      t.match(coloured, /\u001b\[[0-9;]*m[^\u001b]*bob/, 'the nick in colour');
      t.ok(
        session.screen({ escapes: true }).some((line) => /\u001b\[2m.*\[Talking to bob/.test(line)),
        'status lines dimmed',
      );
      t.notMatch(
        plain.screen({ escapes: true }).join('\n'),
        /\u001b\[/,
        'NO_COLOR: no colour at all',
      );
      t.notOk(
        plain.screen().some((line) => /^\d\d:\d\d /.test(line)),
        'no time stamps unless asked',
      );
      let written = '';
      const deadline = Date.now() + 20_000;
      while (!written.includes('ring')) {
        if (Date.now() > deadline) throw new Error('the terminal never got the line');
        await new Promise((resolve) => setTimeout(resolve, 50));
        written = await readFile(raw, 'latin1').catch(() => '');
      }
      t.ok(written.includes('\u0007'), 'the bell rang for the private message');
      session.type('hi from the chat');
      session.press('Enter');
      await bob.waitFor('>>> alice: hi from the chat');
    },
  );

  t.test(
    'a server that does not answer is named while it is tried; Ctrl+C at a password prompt exits 130',
    async (t) => {
      const space = e2e(t);
      const silent = await freePort(); // nothing listens there
      // 300 ms × 5 tries: the line is due after a second, the giving up after 1.5 s (timers fire in order).
      const waiting = terminalSession(
        t,
        'waiting',
        showingExit(
          udpchat(
            await clientArgs(space, 'alice', silent, [], 'clients', [
              '--ack-timeout',
              '300',
              '--retries',
              '5',
            ]),
          ),
        ),
      );
      await waiting.waitScreen((lines) => lines.includes('exit=1'), 'the exit');
      t.same(waiting.screen(), [
        `>>> [Waiting for the server at 127.0.0.1:${silent}...]`,
        '>>> [Server not responding]',
        '>>> [Exiting]',
        'exit=1',
      ]);

      const { serverPort } = await startServer(space);
      const asked = terminalSession(
        t,
        'asked',
        showingExit(
          udpchat(
            await clientArgs(
              space,
              'bob',
              serverPort,
              ['--new-account'],
              'clients',
              PATIENT_CLIENT_ARGS,
            ),
          ),
        ),
      );
      await asked.waitScreen((lines) => lines.at(-1) === 'Choose a password:', 'the question');
      asked.type('secret');
      asked.press('C-c');
      await asked.waitScreen((lines) => lines.includes('exit=130'), 'the exit');
      t.same(
        asked.screen(),
        ['Choose a password:', 'exit=130'],
        'quietly: no line, no registration',
      );

      const short = terminalSession(
        t,
        'short',
        showingExit(
          udpchat(
            await clientArgs(
              space,
              'carol',
              serverPort,
              ['--new-account'],
              'clients',
              PATIENT_CLIENT_ARGS,
            ),
          ),
        ),
      );
      await short.waitScreen((lines) => lines.at(-1) === 'Choose a password:', 'the question');
      short.type('short');
      short.press('Enter');
      await short.waitScreen(
        (lines) => lines.filter((line) => line === 'Choose a password:').length === 2,
        'the question again',
      );
      t.same(
        short.screen(),
        [
          'Choose a password:',
          '>>> [A new password needs at least 8 characters.]',
          'Choose a password:',
        ],
        'a password too short is refused at once, not asked to be typed again first',
      );
      short.press('C-c');
      await short.waitScreen((lines) => lines.includes('exit=130'), 'the exit');
    },
  );
}
