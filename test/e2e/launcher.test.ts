// bin/udpchat as a program and as a file node runs: a client's node starts without
// NODE_EXTRA_CA_CERTS (node would parse that CA bundle at every start, and a client opens no
// TLS connection); a registry's keeps it (its Redis may be rediss://).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { BIN, binaryEnv, freePort } from '../helpers/binary.js';
import { clientArgs, e2e, startServer } from '../helpers/e2e.js';

/** NODE_EXTRA_CA_CERTS as the process `pid` was started with (Linux: /proc), or undefined. */
function extraCaOf(pid: number): string | undefined {
  const variables = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const found = variables.find((variable) => variable.startsWith('NODE_EXTRA_CA_CERTS='));
  return found?.slice('NODE_EXTRA_CA_CERTS='.length);
}

// A file that does not exist: node says so on stderr at start-up when it reads it.
const MISSING_BUNDLE = '/nonexistent/udpchat-test-ca.pem';
const NODE_WARNING = /Ignoring extra certs/;

t.test('a client starts node without NODE_EXTRA_CA_CERTS; a registry keeps it', async (t) => {
  const space = e2e(t);
  const env = { NODE_EXTRA_CA_CERTS: MISSING_BUNDLE };
  const { serverPort } = await startServer(space);
  const client = space.run(await clientArgs(space, 'alice', serverPort), env);
  await client.waitFor('>>> [Welcome, You are registered.]');
  t.equal(extraCaOf(client.child.pid!), '', "the client's node started with it empty");

  const port = String(await freePort());
  const registry = space.run(
    ['-s', port, '--host', '127.0.0.1', '--db', `${space.dir}/r.json`],
    env,
  );
  await registry.waitFor(/^udpchat registry listening on udp 127\.0\.0\.1:\d+/);
  t.equal(extraCaOf(registry.child.pid!), MISSING_BUNDLE, "the registry's node keeps it");
});

t.test('so node reads the bundle for a registry, not for a client', async (t) => {
  // Each stops at once on a bad port (usage, exit 2), its whole stderr read.
  const env = binaryEnv({ NODE_EXTRA_CA_CERTS: MISSING_BUNDLE });
  const client = spawnSync(BIN, ['-c', 'al', '127.0.0.1', '1', '2'], { encoding: 'utf8', env });
  t.equal(client.status, 2);
  t.match(client.stderr, /^udpchat: the server port must be/, 'the usage line comes first');
  t.notMatch(client.stderr, NODE_WARNING, 'node read no bundle');
  const registry = spawnSync(BIN, ['-s', '1'], { encoding: 'utf8', env });
  t.equal(registry.status, 2);
  t.match(registry.stderr, NODE_WARNING, 'node read the bundle (here: found it missing)');
});

t.test('run by node, the file is the same program', async (t) => {
  const ran = spawnSync(process.execPath, [BIN, '--version'], {
    encoding: 'utf8',
    env: binaryEnv(),
  });
  t.equal(ran.status, 0);
  t.match(ran.stdout, /^\d+\.\d+\.\d+\n$/);
  t.equal(ran.stderr, '');
});
