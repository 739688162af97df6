import t from 'tap';
import { BIN } from '../helpers/binary.js';
import { haveTmux, terminalSession } from '../helpers/tmux.js';
import { clientArgs, e2e, PATIENT_CLIENT_ARGS, startServer } from '../helpers/e2e.js';

t.test(
  'accounts: make one, a wrong password, an unknown account, moving the nick to a new machine',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const run = async (nick: string, machine: string, extra: string[], password?: string) =>
      space.run(
        await clientArgs(space, nick, serverPort, extra, machine, PATIENT_CLIENT_ARGS),
        password === undefined ? {} : { UDPCHAT_PASSWORD: password },
      );

    const alice = await run('alice', 'laptop', ['--new-account'], 'correct horse');
    await alice.waitFor('>>> [Welcome, You are registered.]');
    alice.type('quit');
    t.equal(await alice.exited, 0);

    const wrong = await run('alice', 'phone', ['--password'], 'wrong horse');
    t.equal(await wrong.exited, 1);
    t.same(wrong.lines.filter(Boolean), ['>>> [Incorrect password. Please try again.]']);

    const short = await run('dave', 'laptop', ['--new-account'], 'a');
    t.equal(await short.exited, 1);
    t.same(
      short.lines.filter(Boolean),
      ['>>> [A new password needs at least 8 characters.]'],
      'a one-letter password is refused before it is sent',
    );

    const empty = await run('dave', 'laptop', ['--password'], '');
    t.equal(await empty.exited, 1);
    t.same(empty.lines.filter(Boolean), ['>>> [No password given.]'], 'not "incorrect password"');

    const nobody = await run('nobody', 'phone', ['--password'], 'anything');
    t.equal(await nobody.exited, 1);
    t.same(nobody.lines.filter(Boolean), [
      '>>> [No account for nobody: start without --password, or with --new-account to',
      '>>>  make one.]',
    ]);

    const keysOnly = await run('alice', 'phone', []);
    t.equal(await keysOnly.exited, 1, 'without the password, other keys do not get the nick');
    t.same(keysOnly.lines.filter(Boolean), [
      '>>> [Nick alice is already taken. If it is yours, start with --password (its',
      '>>>  account), or from the data directory it was made in.]',
    ]);

    const moved = await run('alice', 'phone', ['--password'], 'correct horse');
    await moved.waitFor('>>> [Welcome, You are registered.]', 0);
    moved.type('quit');
    t.equal(await moved.exited, 0, 'the right password moves the nick to the new keys');

    const old = await run('alice', 'laptop', []);
    t.equal(await old.exited, 1, 'and the old keys no longer hold it');
    t.same(old.lines.filter(Boolean), [
      '>>> [Nick alice is already taken. If it is yours, start with --password (its',
      '>>>  account), or from the data directory it was made in.]',
    ]);
  },
);

t.test(
  'on a terminal the password is asked without echo, three tries, then a clear exit',
  { skip: haveTmux || process.env.CI === 'true' ? false : 'tmux is not installed' },
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const made = space.run(
      [
        ...(await clientArgs(space, 'carol', serverPort, [], 'clients', PATIENT_CLIENT_ARGS)),
        '--new-account',
      ],
      { UDPCHAT_PASSWORD: 'secret enough' },
    );
    await made.waitFor('>>> [Welcome, You are registered.]');
    made.type('quit');
    await made.exited;
    const args = await clientArgs(
      space,
      'carol',
      serverPort,
      ['--password'],
      'clients',
      PATIENT_CLIENT_ARGS,
    );
    const session = terminalSession(t, 'pw', [
      'env',
      '-u',
      'NODE_OPTIONS',
      '-u',
      'UDPCHAT_PASSWORD',
      process.execPath,
      BIN,
      ...args,
      ';',
      'sleep',
      '5',
    ]);
    const { screen, waitScreen } = session;
    for (let attempt = 1; attempt <= 3; attempt++) {
      await waitScreen(
        (l) => l.filter((x) => x === 'Password:').length === attempt,
        `password prompt ${attempt}`,
      );
      session.type(`guess${attempt}`);
      session.press('Enter');
    }
    await waitScreen((l) => l.includes('>>> [Too many wrong passwords.]'), 'the clear exit');
    const lines = screen();
    t.equal(lines.filter((l) => l === '>>> [Incorrect password. Please try again.]').length, 3);
    t.notOk(
      lines.some((l) => l.includes('guess')),
      'nothing typed was shown',
    );
  },
);
