// What must outlive a power cut reaches the disk: a new client's identity (the key its nick is
// bound to) and its pinned registry key, each fsynced before it takes its name and its folder
// (and every folder made on the way) after. Watched with strace around the real binary.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import t from 'tap';
import { clientArgs, e2e, startServer } from '../helpers/e2e.js';

const haveStrace = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** One traced call: a file or folder synced, or a name given (`link`, `rename`). */
type Call = { sync: string } | { name: string; from: string };

/** The calls in an `strace -f -y` log, in the order they were made. */
function callsIn(log: string): Call[] {
  const calls: Call[] = [];
  for (const line of log.split('\n')) {
    const synced = /^\d+\s+f(?:data)?sync\(\d+<([^>]*)>/.exec(line);
    if (synced) calls.push({ sync: synced[1] });
    const named =
      /^\d+\s+(?:link|linkat|rename|renameat|renameat2)\([^"]*"([^"]*)", [^"]*"([^"]*)"/.exec(line);
    if (named) calls.push({ from: named[1], name: named[2] });
  }
  return calls;
}

t.test(
  "a new client's identity and its registry's pinned key are on disk before they are used: " +
    'each file fsynced before it takes its name, then its folder and the folders made for it',
  {
    skip:
      haveStrace || process.env.CI === 'true'
        ? false
        : 'strace is not installed (apt-get install strace); under CI=true this fails instead',
  },
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const trace = join(space.dir, 'strace.log');
    const calls = ['fsync', 'fdatasync', 'link', 'linkat', 'rename', 'renameat', 'renameat2'];
    const alice = space.run(await clientArgs(space, 'alice', serverPort), {}, [
      'strace',
      '-f',
      '-qq',
      '-y',
      '-e',
      `trace=${calls.join(',')}`,
      '-o',
      trace,
    ]);
    await alice.waitFor('>>> [Welcome, You are registered.]');
    alice.child.stdin.end();
    t.equal(await alice.exited, 0, 'the client ended at the end of its input');

    const traced = callsIn(readFileSync(trace, 'utf8'));
    const nickDir = join(space.dir, 'clients', 'alice');
    const synced = (path: string, after = -1) =>
      traced.findIndex((call, i) => i > after && 'sync' in call && call.sync === path);
    /** Where `file` took its name from a temporary beside it; -1 if it never did. */
    const named = (file: string) =>
      traced.findIndex(
        (call) =>
          'name' in call &&
          call.name === file &&
          dirname(call.from) === dirname(file) &&
          basename(call.from).startsWith(`${basename(file)}.`),
      );
    // In the order they are written: the identity at start, the pin once the registry answered
    // a hello (which is signed with that identity). Each file's folder is synced before the next
    // file is written, so before anything relies on the file.
    const durable = ['identity.json', 'servers.json'];
    for (const [i, file] of durable.entries()) {
      const path = join(nickDir, file);
      const at = named(path);
      const calls = at >= 0 ? '' : ` (calls traced: ${JSON.stringify(traced)})`;
      t.ok(at >= 0, `${file} took its name from a temporary file${calls}`);
      if (at < 0) continue;
      const temporary = (traced[at] as { from: string }).from;
      const before = synced(temporary);
      t.ok(before >= 0 && before < at, `${file}: its bytes synced before it took its name`);
      const next = durable[i + 1];
      const nextNamed = next === undefined ? traced.length : named(join(nickDir, next));
      const folder = synced(nickDir, at);
      t.ok(
        folder > at && folder < nextNamed,
        `${file}: then its folder, which holds the name${next ? `, before ${next} is written` : ''}`,
      );
    }
    // The folders the client made for its data (clients/ and clients/alice/), each in its parent.
    t.ok(synced(join(space.dir, 'clients')) >= 0, 'the data folder made, synced');
    t.ok(synced(space.dir) >= 0, 'and the folder that holds it');
  },
);
