import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { OPTIONS } from '../../src/cli/options.js';
import { readStoredClients } from '../../src/store/lowdb-store.js';
import { clientArgs, e2e, startClient, startServer } from '../helpers/e2e.js';
import { freePort, freeTcpPort, type Running } from '../helpers/binary.js';
import { eventually } from '../helpers/testnet.js';

/** The UDP port a client binary was started on (`-c <nick> <ip> <server port> <client port>`). */
function clientPort(client: Running): number {
  return Number(client.child.spawnargs.at(client.child.spawnargs.indexOf('-c') + 4));
}

t.test(
  'a second process taking an online nick is refused; a bad port is a usage error',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    await startClient(space, 'alice', serverPort);
    const impostor = space.run(await clientArgs(space, 'alice', serverPort));
    t.equal(await impostor.exited, 1);
    t.same(
      impostor.lines,
      [
        '>>> [Nick alice is online at another address, which still answers: quit udpchat',
        '>>>  there first, or choose another nick.]',
      ],
      'the same keys: what to do is quit the other',
    );
    const elsewhere = space.run(await clientArgs(space, 'alice', serverPort, [], 'laptop'));
    t.equal(await elsewhere.exited, 1);
    t.same(
      elsewhere.lines,
      [
        '>>> [Nick alice is already taken. If it is yours, start with --password (its',
        '>>>  account), or from the data directory it was made in.]',
      ],
      'other keys: the account, or the data directory',
    );

    const bad = space.run(['-c', 'bob', '127.0.0.1', String(serverPort), '99999']);
    t.equal(await bad.exited, 2);
    t.match(
      bad.stderr,
      /^udpchat: the client port must be a port number from 1024 to 65535, not '99999'\nUsage:/,
    );
    t.same(
      bad.stderr.split('\n').filter((line) => line.length > 80),
      [],
      'every row of the usage fits 80 columns',
    );

    const reserved = space.run(['-c', 'send', '127.0.0.1', String(serverPort), '4000']);
    t.equal(await reserved.exited, 2);
    t.match(reserved.stderr, /nick 'send' is not allowed: 'send' is a command word/);
  },
);

t.test(
  'an option of the other side (its help says Server: or Client:): one line, exit 2',
  async (t) => {
    const space = e2e(t);
    const sideOf = (describe: string) => /^(Server|Client):/.exec(describe)?.[1];
    const options = Object.entries(OPTIONS).flatMap(([name, option]) => {
      const side = sideOf(option.describe);
      return side ? [{ name, side, flag: option.type === 'boolean' }] : [];
    });
    t.ok(options.some((o) => o.side === 'Server') && options.some((o) => o.side === 'Client'));
    const runs = options.map(({ name, side, flag }) => {
      const given = flag ? [`--${name}`] : [`--${name}`, '1'];
      const args =
        side === 'Server'
          ? ['-c', 'al', '127.0.0.1', '41001', '41002', ...given]
          : ['-s', '41001', ...given];
      return { name, side, run: space.run(args) };
    });
    for (const { name, side, run } of runs) {
      // One that is taken starts a client or registry that does not stop: told so after 20 s.
      const exited = await Promise.race([
        run.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 20_000)),
      ]);
      t.equal(exited, 2, `--${name} to a ${side === 'Server' ? 'client' : 'registry'}`);
      t.match(
        run.stderr,
        new RegExp(`^udpchat: --${name} is a ${side.toLowerCase()} option\nUsage:`),
        `--${name}: one line, then the usage`,
      );
    }
  },
);

t.test('-s or -c given twice: one line and the usage, exit 2', async (t) => {
  const space = e2e(t);
  for (const [flag, args] of [
    ['-s', ['-s', '41001', '-s', '41002']],
    ['-c', ['-c', 'al', '-c', 'bo', '127.0.0.1', '41001', '41002']],
  ] as const) {
    const twice = space.run([...args]);
    t.equal(await twice.exited, 2, `${flag} twice: exit 2`);
    t.match(
      twice.stderr,
      new RegExp(`^udpchat: ${flag} is given more than once\nUsage:`),
      `${flag} twice: one line, then the usage`,
    );
    t.notMatch(twice.stderr, /\n\s+at |file:\/\//, 'no stack trace, no source');
  }
});

t.test(
  'what to run missing, a port missing, an unknown option: one line each, exit 2',
  async (t) => {
    const space = e2e(t);
    for (const [args, line] of [
      [[], 'udpchat: nothing to run: give -s to run a registry, or -c to run a client'],
      [['-s'], 'udpchat: the server port (-s) needs a port number from 1024 to 65535'],
      [['-s', '41001', '--bogus'], 'udpchat: unknown option --bogus'],
      [['-s', '41001', '--bogus', '-x'], 'udpchat: unknown options --bogus, -x'],
    ] as const) {
      const run = space.run([...args]);
      t.equal(await run.exited, 2, `${args.join(' ')}: exit 2`);
      t.equal(run.stderr.split('\n')[0], line);
      t.match(
        run.stderr,
        /\nUsage:\n {2}udpchat -s <port> \[options\]\n {6}run the registry server\n/,
      );
      t.same(
        run.stderr.split('\n').filter((row) => row.length > 80),
        [],
        'every row within 80 columns',
      );
    }
    const help = space.run(['--help']);
    t.equal(await help.exited, 0);
    t.same(help.lines.slice(0, 4), [
      'Usage:',
      'udpchat -s <port> [options]',
      'udpchat -c <nick> <server-ip> <server-port> <client-port> [options]',
      'udpchat --help | --version',
    ]);
  },
);

t.test('--fsync with a Redis --store: one line, exit 2, nothing started', async (t) => {
  const space = e2e(t);
  const run = space.run(['-s', '41001', '--fsync', '--store', 'redis://127.0.0.1:1']);
  t.equal(await run.exited, 2);
  t.match(
    run.stderr,
    /^udpchat: --fsync is for the lowdb store: Redis flushes as its appendfsync says\nUsage:/,
  );
});

t.test(
  'after dereg, `all` and `online` say the user is offline rather than show a stale table',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    await startClient(space, 'bob', serverPort);
    const alice = await startClient(space, 'alice', serverPort);
    alice.type('dereg alice');
    const bye = await alice.waitFor('>>> [You are Offline. Bye.]');
    alice.type('ALL');
    alice.type('online');
    const first = await alice.waitFor(
      '>>> [You are offline. Type reg alice to register again.]',
      bye,
    );
    const again = await alice.waitFor(
      '>>> [You are offline. Type reg alice to register again.]',
      first + 1,
    );
    t.same(
      alice.lines.slice(bye + 1, again + 1).filter(Boolean),
      [
        '>>> [Type reg alice to come back online, or quit to leave.]',
        '>>> [You are offline. Type reg alice to register again.]',
        '>>> [You are offline. Type reg alice to register again.]',
      ],
      'what to do next after the spec line, no user list, and the nick to type named',
    );
  },
);

t.test(
  'a message to a peer offline in the table: the spec line, then that it was not tried directly',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const bob = await startClient(space, 'bob', serverPort);
    const alice = await startClient(space, 'alice', serverPort);
    bob.type('dereg bob');
    const left = await alice.waitFor('>>> [bob left]');
    alice.type('send bob are you there?');
    const saved = await alice.waitFor('>>> [Messages received by the server and saved]', left);
    t.same(
      alice.lines.slice(left + 1, saved + 1).filter((line) => !line.includes('table updated')),
      [
        '>>> [No ACK from bob, message sent to server.]',
        '>>> [bob is offline in your table: it went to the server without a direct try.]',
        '>>> [Messages received by the server and saved]',
      ],
    );
  },
);

t.test('a port in use is reported as such, exit 1', async (t) => {
  const space = e2e(t);
  const { serverPort } = await startServer(space);
  const again = space.run([
    '-s',
    String(serverPort),
    '--host',
    '127.0.0.1',
    '--db',
    join(space.dir, 'other.json'),
  ]);
  t.equal(await again.exited, 1);
  t.equal(again.stderr, `udpchat: port ${serverPort} is already in use\n`);
});

t.test('a --host that is not an address of this machine: one line, exit 1', async (t) => {
  const space = e2e(t);
  const elsewhere = '192.0.2.1'; // TEST-NET-1: documentation only, on no machine
  const line = `udpchat: cannot listen on ${elsewhere}: not an address of this machine\n`;
  const server = space.run(['-s', '41001', '--host', elsewhere, '--db', join(space.dir, 'r.json')]);
  t.equal(await server.exited, 1);
  t.equal(server.stderr, line, 'a registry');
  const client = space.run([
    '-c',
    'al',
    '127.0.0.1',
    '41001',
    '41002',
    '--host',
    elsewhere,
    '--data-dir',
    join(space.dir, 'clients'),
  ]);
  t.equal(await client.exited, 1);
  t.equal(client.stderr, line, 'a client');
});

t.test('--json prints one object per event', async (t) => {
  const space = e2e(t);
  const { serverPort } = await startServer(space);
  const bot = space.run(await clientArgs(space, 'bot', serverPort, ['--json']));
  await bot.waitFor(/"event":"registered"/);
  bot.type('send nobody hi');
  await bot.waitFor(/"event":"error"/);
  const events = bot.lines
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; sk?: string });
  t.same(
    events.slice(0, 3).map((e) => e.event),
    ['server-key', 'registered', 'table'],
    'the key pinned, welcome, table',
  );
  t.match(events[0], { sk: /^[A-Za-z0-9+/]{43}=$/ });
  t.match(events[2], {
    entries: [{ nick: 'bot', online: true, sk: events[0].sk === undefined ? '' : String }],
  });
  t.match(events.at(-1), { event: 'error', code: 'ERR_UNKNOWN_NICK', nick: 'nobody' });
});

t.test(
  'a flood of hostile datagrams at the binaries: chat goes on, the screen shows only chat lines',
  async (t) => {
    const space = e2e(t);
    const { server, serverPort } = await startServer(space);
    const alice = await startClient(space, 'alice', serverPort);
    const bob = await startClient(space, 'bob', serverPort);
    await alice.waitFor('>>> [Client table updated.]', 2);
    const bobPort = clientPort(bob);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    t.teardown(() => socket.close());
    const junk = [
      () => randomBytes(1 + Math.floor(Math.random() * 200)),
      () =>
        Buffer.from(
          JSON.stringify({
            v: 1,
            t: 'chat',
            id: randomBytes(4).toString('hex'),
            from: 'alice',
            mid: 'x',
            text: 'forged',
          }),
        ),
      () =>
        Buffer.from(
          JSON.stringify({
            v: 1,
            t: 'table',
            id: 'x',
            table: { epoch: 'e', version: 9, entries: [] },
          }),
        ),
      () =>
        Buffer.from('{"v":1,"t":"save","id":"s","from":"bob","to":"alice","mid":"m","text":"x"}'),
      () => Buffer.alloc(60_000, 0x41),
    ];
    for (let i = 0; i < 2000; i++) {
      const port = i % 2 ? serverPort : bobPort;
      await new Promise<void>((resolve) =>
        socket.send(junk[i % junk.length](), port, '127.0.0.1', () => resolve()),
      );
      if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    alice.type('send bob after the storm');
    await bob.waitFor('>>> alice: after the storm');
    await alice.waitFor('>>> [Message received by bob.]');
    t.same(
      bob.lines.filter(Boolean),
      [
        '>>> [Welcome, You are registered.]',
        '>>> [Client table updated.]',
        '>>> alice: after the storm',
      ],
      "bob's screen: his chat lines and nothing else",
    );
    t.equal(bob.stderr, '', 'no stack traces, no log noise');
    t.notMatch(server.stderr, /"level":50|"level":60|Error:/, 'the registry logged no errors');
  },
);

t.test(
  'lines piped in before registration completes are carried out, in order; end of input leaves',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const bot = space.run(await clientArgs(space, 'bot', serverPort));
    bot.type('send nobody hello'); // typed at once, while the client is still registering
    bot.type('help me');
    bot.child.stdin.end();
    t.equal(await bot.exited, 0, 'leaves by itself at the end of its input');
    t.same(bot.lines.filter(Boolean), [
      '>>> [Welcome, You are registered.]',
      '>>> [Client table updated.]',
      '>>> [No user named nobody.]',
      '>>> [Usage: help]',
      '>>> [You are Offline. Bye.]',
    ]);
  },
);

t.test('--metrics serves Prometheus text and a health check', async (t) => {
  const space = e2e(t);
  const serverPort = await freePort();
  const metricsPort = await freeTcpPort();
  const server = space.run([
    '-s',
    String(serverPort),
    '--host',
    '127.0.0.1',
    '--db',
    `${space.dir}/m.json`,
    '--metrics',
    String(metricsPort),
    '--log-level',
    'warn',
  ]);
  await server.waitFor(/^udpchat registry listening/);
  await startClient(space, 'alice', serverPort);
  const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
  t.equal(health.status, 200);
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  t.match(text, /^udpchat_clients_online 1$/m, 'one client online');
  t.match(text, /^udpchat_datagrams_dropped_total\{reason="unsigned"\} 0$/m, 'drops by reason');
  // alice's hello was answered unchecked, her registration's signature checked.
  t.match(text, /^udpchat_unchecked_requests_total [1-9]\d*$/m, 'unchecked hellos');
  t.match(text, /^udpchat_signatures_checked_total [1-9]\d*$/m, 'signatures checked');
  t.match(text, /^udpchat_hellos_dropped_total 0$/m, 'no hello dropped');
  t.match(text, /^udpchat_replies_withheld_total \d+$/m, 'replies withheld');
  t.match(text, /^udpchat_session_authenticated_total \d+$/m, 'datagrams under a session');
  t.match(text, /^process_resident_memory_bytes \d+/m, 'and the process');
});

t.test(
  'SIGTERM while registering: the client waits for the registration, then deregisters and exits 0',
  async (t) => {
    const space = e2e(t);
    const serverPort = await freePort();
    // Nothing answers yet: the client is still trying to register when the signal comes.
    const args = (await clientArgs(space, 'late', serverPort)).map((arg, i, all) =>
      all[i - 1] === '--retries' ? '100' : arg,
    );
    // Listening in the registry's place until the client's first try arrives: from then on it
    // is registering (and takes signals as a leave), however slowly this machine started it.
    const standIn = createSocket('udp4');
    await new Promise<void>((resolve) => standIn.bind(serverPort, '127.0.0.1', () => resolve()));
    const firstTry = new Promise((resolve) => standIn.once('message', resolve));
    const client = space.run(args); // 100 tries of 150 ms: still trying when the registry comes up
    await firstTry;
    await new Promise<void>((resolve) => standIn.close(() => resolve()));
    await startServer(space, serverPort);
    client.kill('SIGTERM');
    t.equal(await client.exited, 0, 'not killed by the signal: it left');
    t.match(
      client.lines.filter(Boolean),
      ['>>> [Welcome, You are registered.]'],
      'the registration went through first',
    );
    t.ok(client.lines.includes('>>> [You are Offline. Bye.]'), 'then it deregistered');
    const stored = await readStoredClients(join(space.dir, 'registry.json'));
    t.equal(stored.late?.online, false, 'the registry has it offline');
  },
);

t.test(
  'a full mailbox (--mailbox-messages): the sender is told and keeps the message, which arrives once there is room',
  async (t) => {
    const space = e2e(t);
    const { server, serverPort } = await startServer(space, undefined, ['--mailbox-messages', '2']);
    const bob = await startClient(space, 'bob', serverPort);
    const alice = await startClient(space, 'alice', serverPort);
    const tables = alice.lines.length;
    bob.type('dereg bob');
    await bob.waitFor('>>> [You are Offline. Bye.]');
    await alice.waitFor('>>> [Client table updated.]', tables);
    alice.type('send bob one');
    alice.type('send bob two');
    alice.type('send bob three');
    await alice.waitForCount('>>> [Messages received by the server and saved]', 2);
    const kept = await alice.waitFor(
      ">>> [Message to bob kept: bob's mailbox is full. Sent again later.]",
    );
    // The registry logs before it answers, but its stderr reaches this process on its own pipe.
    await eventually(
      () => /message refused: the mailbox is full/.test(server.stderr),
      20_000,
      'the registry logged the refusal',
    );
    t.equal(
      alice.lines.filter((line) => line === '>>> [Messages received by the server and saved]')
        .length,
      2,
      'two saved, the third refused',
    );

    bob.type('reg bob');
    const one = await bob.waitFor(/^>>> alice: .*one$/);
    const two = await bob.waitFor(/^>>> alice: .*two$/, one);
    // alice's outbox tries the third again (every 5 s): bob is back, so it goes to him.
    await bob.waitFor(/^>>> alice: three$/, two, 30_000);
    t.notOk(
      alice.lines.slice(kept).some((line) => /not sent/.test(line)),
      'never given up on',
    );
  },
);

t.test(
  "one sender's share of a mailbox (--mailbox-per-sender): past it that sender keeps its message, the others' are still saved",
  async (t) => {
    const space = e2e(t);
    const { server, serverPort } = await startServer(space, undefined, [
      '--mailbox-per-sender',
      '1',
    ]);
    const bob = await startClient(space, 'bob', serverPort);
    const alice = await startClient(space, 'alice', serverPort);
    const carol = await startClient(space, 'carol', serverPort);
    const aliceTables = alice.lines.length;
    const carolTables = carol.lines.length;
    bob.type('dereg bob');
    await bob.waitFor('>>> [You are Offline. Bye.]');
    await alice.waitFor('>>> [Client table updated.]', aliceTables);
    await carol.waitFor('>>> [Client table updated.]', carolTables);
    alice.type('send bob one');
    await alice.waitFor('>>> [Messages received by the server and saved]');
    alice.type('send bob two');
    await alice.waitFor(">>> [Message to bob kept: bob's mailbox is full. Sent again later.]");
    // The registry logs before it answers, but its stderr reaches this process on its own pipe.
    await eventually(
      () => /message refused: the sender has its share of the mailbox/.test(server.stderr),
      20_000,
      'the registry logged the refusal',
    );
    carol.type('send bob hello');
    await carol.waitFor('>>> [Messages received by the server and saved]');

    bob.type('reg bob');
    await bob.waitFor(/^>>> alice: .*one$/);
    await bob.waitFor(/^>>> carol: .*hello$/);
    // alice's outbox tries the second again (every 5 s): bob is back, so it goes to him.
    await bob.waitFor(/^>>> alice: two$/, 0, 30_000);
  },
);

t.test(
  'a registry whose key is not the one pinned: the client says so and stops, rather than take it for silent',
  async (t) => {
    const space = e2e(t);
    const { server, serverPort } = await startServer(space);
    const args = await clientArgs(space, 'alice', serverPort);
    const first = space.run(args);
    await first.waitFor('>>> [Welcome, You are registered.]');
    first.type('quit');
    await first.exitWithin('the first client, after quit');
    server.child.kill('SIGTERM');
    await server.exitWithin('the first registry, after SIGTERM');
    // Another registry on the same port, with a store (and so a key) of its own.
    const other = space.run([
      '-s',
      String(serverPort),
      '--host',
      '127.0.0.1',
      '--db',
      join(space.dir, 'other-registry.json'),
    ]);
    await other.waitFor(/^udpchat registry listening on udp /);
    const again = space.run(args);
    t.equal(await again.exitWithin('the client at the other registry'), 1, 'exit 1');
    const changed = again.lines.indexOf(
      ">>> [The server's key is not the one it had before: someone may be posing as it.",
    );
    t.same(
      again.lines.slice(changed, changed + 3),
      [
        ">>> [The server's key is not the one it had before: someone may be posing as it.",
        '>>>  If the server was set up anew, remove its line from servers.json in your',
        '>>>  data directory.]',
      ],
      'the key-changed line',
    );
    t.notOk(
      again.lines.some((line) => /Server not responding/.test(line)),
      'not taken for a registry that does not answer',
    );
  },
);

t.test(
  'a pin file that is not pinned keys stops the client before it says hello, rather than trusting any key',
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const nickDir = join(space.dir, 'clients', 'alice');
    mkdirSync(nickDir, { recursive: true });
    const pinFile = join(nickDir, 'servers.json');
    writeFileSync(pinFile, '{"10.0.0.1:1": "KEY-OLD", '); // torn by a hand edit
    const alice = space.run(await clientArgs(space, 'alice', serverPort));
    t.equal(await alice.exitWithin('the client with a broken pin file'), 1, 'exit 1');
    t.match(
      alice.stderr,
      `udpchat: ${pinFile} is not a file of pinned server keys: fix it, or remove it to trust the key each server answers with next\n`,
    );
    t.notOk(
      alice.lines.some((line) => line.includes('Welcome')),
      'not registered',
    );
    t.equal(readFileSync(pinFile, 'utf8'), '{"10.0.0.1:1": "KEY-OLD", ', 'the file left as it was');
  },
);

t.test(
  "a client's log on stderr: nothing at the default level; at debug, every record, those written while the logger loads too",
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const quiet = await startClient(space, 'quiet', serverPort);
    const chatty = await startClient(space, 'chatty', serverPort, ['--log-level', 'debug']);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    t.teardown(() => socket.close());
    // Five datagrams that are not JSON, at once: each is dropped and logged at debug, the first
    // while the logger loads.
    for (let i = 0; i < 5; i++) {
      socket.send(Buffer.from(`junk ${i}`), clientPort(quiet), '127.0.0.1');
      socket.send(Buffer.from(`junk ${i}`), clientPort(chatty), '127.0.0.1');
    }
    const dropped = () =>
      chatty.stderr
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((record) => record.msg === 'dropped datagram');
    await eventually(
      () => dropped().length >= 5,
      20_000,
      () => `five drops logged:\n${chatty.stderr}`,
    );
    t.equal(dropped().length, 5, 'each logged once');
    t.match(dropped()[0], { level: 20, name: 'udpchat-chatty', reason: 'unsigned' });
    quiet.child.stdin.end();
    chatty.child.stdin.end();
    t.equal(await quiet.exited, 0);
    t.equal(await chatty.exited, 0);
    t.equal(quiet.stderr, '', 'nothing at warn');
  },
);
