import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { messageAad, seal } from '../../src/crypto/sealing.js';
import { REGISTRY_NAME } from '../../src/crypto/signing.js';
import { BIN } from '../helpers/binary.js';
import { clientArgs, e2e } from '../helpers/e2e.js';
import { scriptedPeer } from '../helpers/peer.js';
import { createTestnet, eventually, type Testnet } from '../helpers/testnet.js';
import { haveTmux, terminalSession } from '../helpers/tmux.js';

// What a hostile peer can put in a message: a window title (OSC), a screen clear, a line erase,
// a carriage return that writes over the sender's name, a NUL, a bell, a C1 CSI and a
// right-to-left override that reorders what follows.
const HOSTILE = '\u001b]2;owned\u0007\u001b[2J\u001b[2K\rroot: trust me\u0000\u009b31m\u202eevil';

/**
 * A registered peer (mallory) sends `nick` HOSTILE, once `nick` is online, through the
 * registry, which relays it live (a client would refuse to send it).
 */
async function hostileMessageTo(t: Test, net: Testnet, nick: string) {
  const mallory = await scriptedPeer(t, net, 'mallory');
  await mallory.register();
  await eventually(() => net.registry.snapshot().entries.some((e) => e.nick === nick && e.online));
  const keys = net.registry.snapshot().entries.find((e) => e.nick === nick)!;
  const sealed = await seal(
    new TextEncoder().encode(HOSTILE),
    keys.ek,
    messageAad('mallory', nick, 'm-1'),
    mallory.identity.agreement,
  );
  await mallory.request(
    net.registry.address(),
    { t: 'save', from: 'mallory', to: nick, mid: 'm-1', sealed },
    { signer: REGISTRY_NAME, timeoutMs: 1000 },
  );
}

t.test("a peer's escape sequences reach the screen visible, not obeyed", async (t) => {
  const net = await createTestnet(t);
  const space = e2e(t);
  const bob = space.run(await clientArgs(space, 'bob', net.registry.address().port));
  await bob.waitFor('>>> [Client table updated.]');
  await hostileMessageTo(t, net, 'bob');
  const at = await bob.waitFor(/^>>> mallory: /);
  const line = bob.lines[at];
  t.equal(
    line,
    '>>> mallory: ^[]2;owned^G^[[2J^[[2K^Mroot: trust me^@\\u009b31m\\u202eevil',
    'every control character shown in caret or \\u notation',
  );
  t.notMatch(
    bob.lines.join('\n'),
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/,
    'nothing raw on the screen',
  );
});

t.test(
  "with --json, a peer's escape sequences reach stdout escaped, and parse back to the text sent",
  async (t) => {
    const net = await createTestnet(t);
    const space = e2e(t);
    const bob = space.run(await clientArgs(space, 'bob', net.registry.address().port, ['--json']));
    await bob.waitFor(/"event":"registered"/);
    await hostileMessageTo(t, net, 'bob');
    const at = await bob.waitFor(/"event":"message"/);
    t.notMatch(
      bob.lines.join('\n'),
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/,
      'nothing raw on stdout, should a terminal show it',
    );
    t.match(
      JSON.parse(bob.lines[at]) as unknown,
      { event: 'message', from: 'mallory', text: HOSTILE },
      'a program reads the text as it was sent',
    );
  },
);

t.test(
  'in a real terminal (tmux): the title stays, the screen is not cleared, the escapes are shown',
  {
    skip:
      !haveTmux && process.env.CI !== 'true'
        ? 'tmux is not installed; under CI=true this fails instead'
        : false,
  },
  async (t) => {
    const net = await createTestnet(t);
    const space = e2e(t);
    const session = terminalSession(t, 'safety', [
      'env',
      '-u',
      'NODE_OPTIONS',
      process.execPath,
      BIN,
      ...(await clientArgs(space, 'bob', net.registry.address().port)),
    ]);
    await session.waitScreen(
      (lines) => lines.includes('>>> [Client table updated.]'),
      'the table line',
    );
    const title = () =>
      session.tmux('display-message', '-p', '-t', 'safety', '#{pane_title}').trim();
    const titleBefore = title();
    await hostileMessageTo(t, net, 'bob');
    await session.waitScreen(
      (lines) => lines.some((line) => line.startsWith('>>> mallory: ')),
      "mallory's line",
    );
    const screen = session.screen();
    t.ok(
      screen.includes('>>> [Welcome, You are registered.]'),
      'the lines above are still on the screen (no clear, no erase)',
    );
    t.ok(
      screen.includes('>>> mallory: ^[]2;owned^G^[[2J^[[2K^Mroot: trust me^@\\u009b31m\\u202eevil'),
      'the escapes shown, whole, on one line',
    );
    t.notOk(
      screen.some((line) => line.startsWith('root: trust me')),
      'no forged line of its own',
    );
    t.equal(title(), titleBefore, 'the window title is unchanged');
    t.not(title(), 'owned');
  },
);

t.test('a client does not send control characters (tab aside)', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  await net.client('bob');
  await eventually(() => alice.table().some((e) => e.nick === 'bob'));
  await t.rejects(alice.send('bob', 'clear\u001b[2J'), { code: 'ERR_CONTROL_CHARACTER' });
  await t.rejects(alice.send('bob', 'over\rwrite'), { code: 'ERR_CONTROL_CHARACTER' });
  t.equal(await alice.send('bob', 'a\ttab'), 'delivered', 'a tab goes');
});

t.test(
  'stdout closed under it (| head -1): the client deregisters and exits 0, no stack trace',
  async (t) => {
    const net = await createTestnet(t);
    const space = e2e(t);
    const args = await clientArgs(space, 'carol', net.registry.address().port);
    const { NODE_OPTIONS: _loaders, ...env } = process.env;
    const quoted = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
    // Input stays open (the test holds it): only the closed output makes it leave. A closed pipe
    // is noticed at the next write: once head has gone (it says so on the shell's stderr), a
    // newcomer makes the registry push carol a change, which she prints. (Her second line may
    // have reached the pipe before head went, and then nothing else would come.)
    const shell = spawn(
      'bash',
      [
        '-c',
        `${quoted} 2>"$0" | { head -1 >/dev/null; echo closed >&2; }; echo "\${PIPESTATUS[0]}"`,
        join(space.dir, 'stderr'),
      ],
      { env },
    );
    t.teardown(() => void shell.kill('SIGKILL'));
    let out = '';
    shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const status = new Promise<string>((resolve) => shell.on('exit', () => resolve(out.trim())));
    await new Promise<void>((resolve) =>
      shell.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('closed') && resolve()),
    );
    await net.client('dave');
    t.equal(await status, '0', 'exit status 0');
    shell.stdin.end();
    t.equal(await readFile(join(space.dir, 'stderr'), 'utf8'), '', 'nothing on stderr');
    t.equal(
      net.registry.snapshot().entries.find((e) => e.nick === 'carol')?.online,
      false,
      'registered, then deregistered',
    );
  },
);
