// Host names where the command line takes an address, through the binary: each is resolved
// once, at start, through node:dns, which the bundled CLI loads only for a name (the bundle
// runs as a node:vm script, where an import() of its own would fail).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '../helpers/binary.js';
import { clientArgs, e2e, FAST_CLIENT_ARGS } from '../helpers/e2e.js';
import { natlabMissing } from '../helpers/natlab.js';
import { eventually } from '../helpers/testnet.js';

t.test(
  'a registry bound by name, and a client given its registry, a node to fail over to and its ' +
    'own address by name: they register and chat, over IPv4',
  async (t) => {
    const space = e2e(t);
    const serverPort = await freePort();
    const server = space.run([
      '-s',
      String(serverPort),
      '--host',
      'localhost',
      '--db',
      join(space.dir, 'registry.json'),
      '--log-level',
      'info',
    ]);
    await server.waitFor(
      `udpchat registry listening on udp 127.0.0.1:${serverPort}, storing in ${join(space.dir, 'registry.json')}`,
    );
    const alicePort = await freePort();
    const alice = space.run([
      '-c',
      'alice',
      'localhost',
      String(serverPort),
      String(alicePort),
      '--host',
      'localhost',
      '--servers',
      `localhost:${await freePort()}`,
      '--data-dir',
      join(space.dir, 'clients'),
      ...FAST_CLIENT_ARGS,
    ]);
    await alice.waitFor('>>> [Welcome, You are registered.]');
    // The registry saw her at the IPv4 address `localhost` names first for it.
    const connected = () => /"msg":"alice connected"/.test(server.stderr);
    await eventually(connected, 20_000, "the registry's log line for alice");
    t.match(server.stderr, new RegExp(`"from":"127\\.0\\.0\\.1:${alicePort}"`), 'from 127.0.0.1');
    const bob = space.run(await clientArgs(space, 'bob', serverPort));
    await bob.waitFor('>>> [Welcome, You are registered.]');
    await alice.waitFor('>>> [bob joined]');
    alice.type('send bob found you by name');
    await bob.waitFor('>>> alice: found you by name');
    await alice.waitFor('>>> [Message received by bob.]');
    t.pass('a message went directly both ways');
  },
);

t.test(
  'a server name that does not resolve: one line, exit status 1, at a first run and at one ' +
    'compiled from the code cache the first made',
  async (t) => {
    const space = e2e(t);
    // Its own cache folder: the first run finds none and makes it as it exits.
    const env = { XDG_CACHE_HOME: join(space.dir, 'cache') };
    for (const run of ['first run', 'from the code cache']) {
      const client = space.run(
        [
          '-c',
          'alice',
          'no-such-host.invalid',
          '41001',
          String(await freePort()),
          '--data-dir',
          join(space.dir, 'clients'),
        ],
        env,
      );
      t.equal(await client.exitWithin('the client'), 1, `${run}: exit status 1`);
      t.match(
        client.stderr,
        /^udpchat: cannot resolve host 'no-such-host\.invalid'(: no name server answered)?\n$/,
        `${run}: one line`,
      );
      if (run === 'first run')
        t.match(
          readdirSync(join(space.dir, 'cache', 'udpchat')),
          [/^client\.cjs-.*\.cache$/],
          "the first run left the client's code cache for the second",
        );
    }
  },
);

const missing = natlabMissing().filter((what) => what !== 'iptables');

t.test(
  'a name with an IPv4 address is resolved to it though the resolver gives its IPv6 one first, ' +
    'and a name with only an IPv6 address to that: in a network namespace with a hosts file of its own',
  {
    skip:
      missing.length === 0 || process.env.CI === 'true'
        ? false
        : `needs ${missing.join(', ')}; under CI=true this fails instead`,
  },
  async (t) => {
    const space = e2e(t);
    const ns = `udpchat-names-${process.pid}`;
    // `ip netns exec` mounts what /etc/netns/<name>/ holds over /etc: this hosts file.
    const etc = join('/etc/netns', ns);
    t.teardown(() => {
      spawnSync('ip', ['netns', 'del', ns]);
      rmSync(etc, { recursive: true, force: true });
    });
    mkdirSync(etc, { recursive: true });
    writeFileSync(
      join(etc, 'hosts'),
      '::1 dual.udpchat.test\n127.0.0.1 dual.udpchat.test\nfd00::7 six.udpchat.test\n',
    );
    const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', 'fd00::7/128', 'dev', 'lo', 'nodad');
    const inside = ['ip', 'netns', 'exec', ns];
    const first = execFileSync(
      'ip',
      [
        ...inside.slice(1),
        process.execPath,
        '-e',
        "require('node:dns').lookup('dual.udpchat.test', (e, a) => console.log(a))",
      ],
      { encoding: 'utf8' },
    ).trim();
    t.equal(first, '::1', "the resolver's first answer for dual.udpchat.test is ::1");

    // A registry that listens on IPv4 only, and one on the IPv6 address alone.
    const registry = async (host: string, db: string) => {
      const port = await freePort();
      const server = space.run(
        ['-s', String(port), '--host', host, '--db', join(space.dir, db), '--log-level', 'warn'],
        {},
        inside,
      );
      await server.waitFor(/^udpchat registry listening on udp /);
      return port;
    };
    const client = async (nick: string, host: string, serverPort: number) => {
      const run = space.run(
        [
          '-c',
          nick,
          host,
          String(serverPort),
          String(await freePort()),
          '--data-dir',
          join(space.dir, 'clients'),
          ...FAST_CLIENT_ARGS,
        ],
        {},
        inside,
      );
      await run.waitFor('>>> [Welcome, You are registered.]');
    };
    await client('alice', 'dual.udpchat.test', await registry('127.0.0.1', 'four.json'));
    t.pass('alice reached the registry on 127.0.0.1 by dual.udpchat.test');
    await client('bob', 'six.udpchat.test', await registry('fd00::7', 'six.json'));
    t.pass('bob reached the registry on fd00::7 by six.udpchat.test');
    // A registry given the name binds its IPv4 address, and says which.
    const port = await freePort();
    const named = space.run(
      ['-s', String(port), '--host', 'dual.udpchat.test', '--db', join(space.dir, 'named.json')],
      {},
      inside,
    );
    await named.waitFor(
      `udpchat registry listening on udp 127.0.0.1:${port}, storing in ${join(space.dir, 'named.json')}`,
    );
  },
);
