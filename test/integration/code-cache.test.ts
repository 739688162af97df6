// The binary's code cache (bin/code-cache.cjs): the first run of each purpose writes one into
// the user's cache folder, later runs take it as it is, a damaged one is replaced, and
// UDPCHAT_CODE_CACHE=0 writes none. What the binary prints is the same either way.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { BIN } from '../helpers/binary.js';

const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

function udpchat(cacheHome: string, args: string[], env: Record<string, string> = {}, bin = BIN) {
  const run = spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'udpchat-code-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A second copy of udpchat (its launcher and bundles), as another install would be: its binary and its bundles' folder. */
function copyOfUdpchat(t: Test): { bin: string; bundles: string } {
  const copy = join(scratch(t), 'udpchat');
  const root = join(dirname(BIN), '..');
  for (const part of ['bin', 'dist/bundle', 'package.json'])
    cpSync(join(root, part), join(copy, part), { recursive: true });
  return { bin: join(copy, 'bin', 'udpchat'), bundles: join(copy, 'dist', 'bundle') };
}

/** The tail of a cache file's name on this Node, as a pattern. */
const onThisNode = `-${process.version.replaceAll('.', '\\.')}-${process.arch}\\.cache$`;

const cacheFiles = (home: string): string[] => {
  try {
    return readdirSync(join(home, 'udpchat')).sort();
  } catch {
    return [];
  }
};

t.test('the first run writes a private cache, later runs take it unchanged', async (t) => {
  const home = scratch(t);
  const first = udpchat(home, ['--version']);
  t.equal(first.code, 0);
  t.equal(first.stdout.trim(), version);
  const files = cacheFiles(home);
  t.equal(files.length, 1, 'one cache file');
  t.match(files[0], new RegExp(`^udpchat\\.cjs-[0-9a-f]{8}-other${onThisNode}`));
  const file = join(home, 'udpchat', files[0]);
  const written = statSync(file);
  t.ok(written.size > 10_000, 'it holds compiled code');
  t.equal(written.mode & 0o777, 0o600, 'readable by the user alone');
  t.equal(statSync(join(home, 'udpchat')).mode & 0o777, 0o700);

  const second = udpchat(home, ['--version']);
  t.equal(second.code, 0);
  t.equal(second.stdout.trim(), version);
  const after = statSync(file);
  // Taken as it was: not written again (a rejected cache would be replaced at exit).
  t.equal(after.ino, written.ino, 'the same file');
  t.equal(after.mtimeMs, written.mtimeMs, 'not rewritten');
});

t.test('a client start has a cache of its own, from the bundle without the registry', async (t) => {
  const home = scratch(t);
  const run = udpchat(home, ['-c', 'alice', '127.0.0.1', 'no-port', '40000']);
  t.equal(run.code, 2, 'a usage error, as without the cache');
  t.match(run.stderr, /server port/);
  t.match(cacheFiles(home), [new RegExp(`^client\\.cjs-[0-9a-f]{8}-client${onThisNode}`)]);
  // -s beside -c is refused before anything starts, whichever bundle reads it.
  const both = udpchat(home, ['-c', 'alice', '127.0.0.1', '1234', '40000', '-s', '1235']);
  t.equal(both.code, 2);
  t.match(both.stderr, /-s and -c cannot be used together/);
});

t.test('a damaged cache is replaced, and the run goes on', async (t) => {
  const home = scratch(t);
  udpchat(home, ['--version']);
  const [name] = cacheFiles(home);
  const file = join(home, 'udpchat', name);
  writeFileSync(file, Buffer.alloc(4096, 0x5a));
  const run = udpchat(home, ['--version']);
  t.equal(run.code, 0);
  t.equal(run.stdout.trim(), version);
  t.equal(run.stderr, '');
  t.not(statSync(file).size, 4096, 'written again from this run');
  const before = statSync(file);
  udpchat(home, ['--version']);
  t.equal(statSync(file).mtimeMs, before.mtimeMs, 'and the new one taken');
});

t.test('a cache another user owns, or others may write, is not run, and is replaced', async (t) => {
  const home = scratch(t);
  udpchat(home, ['--version']);
  const [name] = cacheFiles(home);
  const file = join(home, 'udpchat', name);
  const mine = statSync(file);
  for (const [what, spoil] of [
    ['writable by its group and others', () => chmodSync(file, 0o666)],
    ...(process.getuid?.() === 0
      ? ([['owned by another user', () => chownSync(file, 4242, 4242)]] as const)
      : []),
  ] as const) {
    spoil();
    const spoiled = statSync(file);
    const run = udpchat(home, ['--version']);
    t.equal(run.code, 0, what);
    t.equal(run.stdout.trim(), version);
    const after = statSync(file);
    t.not(after.ino, spoiled.ino, `${what}: replaced`);
    t.equal(after.uid, mine.uid, `${what}: by this user's`);
    t.equal(after.mode & 0o777, 0o600, `${what}: private again`);
  }
});

t.test('UDPCHAT_CODE_CACHE=0 writes none', async (t) => {
  const home = scratch(t);
  const run = udpchat(home, ['--version'], { UDPCHAT_CODE_CACHE: '0' });
  t.equal(run.code, 0);
  t.equal(run.stdout.trim(), version);
  t.same(cacheFiles(home), []);
});

t.test('without a folder it can write, the binary runs uncached', async (t) => {
  const home = scratch(t);
  const blocked = join(home, 'a-file');
  writeFileSync(blocked, '');
  const run = udpchat(blocked, ['--version']); // the cache folder would be inside a file
  t.equal(run.code, 0);
  t.equal(run.stdout.trim(), version);
  t.equal(run.stderr, '');
});

t.test(
  'two copies of udpchat keep a cache each, and neither makes the other compile again',
  async (t) => {
    const home = scratch(t);
    // A second copy, of another build: its bundle differs by a comment, as another version would.
    const { bin: copyBin, bundles } = copyOfUdpchat(t);
    const bundle = join(bundles, 'udpchat.cjs');
    writeFileSync(bundle, `${readFileSync(bundle, 'latin1')}\n// another build\n`, 'latin1');
    const run = (bin: string) => {
      const done = udpchat(home, ['--version'], {}, bin);
      t.equal(done.code, 0);
      t.equal(done.stdout.trim(), version);
    };
    run(BIN);
    run(copyBin);
    const files = cacheFiles(home);
    t.equal(files.length, 2, 'a cache for each copy');
    const written = files.map((name) => statSync(join(home, 'udpchat', name)));
    run(BIN);
    run(copyBin);
    run(BIN);
    t.same(cacheFiles(home), files, 'still those two');
    t.same(
      files.map((name) => statSync(join(home, 'udpchat', name)).mtimeMs),
      written.map((stat) => stat.mtimeMs),
      'each taken as it was, runs of the two in turn',
    );
  },
);

t.test(
  "a cache is run only for the source it was made from, though another build's has its length",
  async (t) => {
    const home = scratch(t);
    const { bin, bundles } = copyOfUdpchat(t);
    const both = ['-c', 'alice', '127.0.0.1', '1234', '40000', '-s', '1235'];
    const run = () => {
      const done = udpchat(home, both, {}, bin);
      t.equal(done.code, 2);
      return done.stderr;
    };
    t.match(run(), /-s and -c cannot be used together/, 'the first run, which writes the cache');
    t.equal(cacheFiles(home).length, 1);
    // Another build, as long as this one: one message changed, letter for letter.
    const bundle = join(bundles, 'client.cjs');
    const before = readFileSync(bundle, 'latin1');
    const after = before.replace('cannot be used together', 'CANNOT be used together');
    t.not(after, before, 'the message is in the bundle');
    t.equal(after.length, before.length);
    writeFileSync(bundle, after, 'latin1');
    t.match(run(), /-s and -c CANNOT be used together/, "the new build's code runs");
    t.match(run(), /-s and -c CANNOT be used together/, 'and again, from its own cache');
    t.equal(cacheFiles(home).length, 1, 'which took the old one’s place');
  },
);
