// What must outlive a power cut reaches the disk: a new client's identity (the key its nick is
// bound to) and its pinned registry key, each fsynced before it takes its name and its folder
// (and every folder made on the way) after; and with `udpchat -s --fsync`, every write of the
// registry's store. Watched with strace around (or attached to) the real binaries.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { clientArgs, e2e, PATIENT_CLIENT_ARGS, startClient, startServer } from '../helpers/e2e.js';

const haveStrace = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const needsStrace = {
  skip:
    haveStrace || process.env.CI === 'true'
      ? false
      : 'strace is not installed (apt-get install strace); under CI=true this fails instead',
};
/** The calls traced: flushes, and names given. */
const TRACED = ['fsync', 'fdatasync', 'link', 'linkat', 'rename', 'renameat', 'renameat2'];

/**
 * One traced call: a file or folder synced, a name given (`link`, `rename`), and, when traced
 * too, a write to a file (its path and the start of what was written, as strace quotes it) or a
 * datagram sent.
 */
type Call =
  | { sync: string }
  | { name: string; from: string }
  | { write: string; text: string }
  | { sent: true };

/** The calls in an `strace -f -y` log, in the order they were made. */
function callsIn(log: string): Call[] {
  const calls: Call[] = [];
  for (const line of log.split('\n')) {
    const synced = /^\d+\s+f(?:data)?sync\(\d+<([^>]*)>/.exec(line);
    if (synced) calls.push({ sync: synced[1] });
    const named =
      /^\d+\s+(?:link|linkat|rename|renameat|renameat2)\([^"]*"([^"]*)", [^"]*"([^"]*)"/.exec(line);
    if (named) calls.push({ from: named[1], name: named[2] });
    const written = /^\d+\s+write\(\d+<([^>]*)>, "(.*)/.exec(line);
    if (written) calls.push({ write: written[1], text: written[2] });
    if (/^\d+\s+send(?:msg|to)\(/.test(line)) calls.push({ sent: true });
  }
  return calls;
}

t.test(
  "a new client's identity and its registry's pinned key are on disk before they are used: " +
    'each file fsynced before it takes its name, then its folder and the folders made for it',
  needsStrace,
  async (t) => {
    const space = e2e(t);
    const { serverPort } = await startServer(space);
    const trace = join(space.dir, 'strace.log');
    const alice = space.run(await clientArgs(space, 'alice', serverPort), {}, [
      'strace',
      '-f',
      '-qq',
      '-y',
      '-e',
      `trace=${TRACED.join(',')}`,
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

/**
 * A registry (with `extra` options) with strace attached to every thread of it while alice and
 * bob register, bob deregisters and alice sends him a message, which the registry saves: the
 * calls traced in that time, and the folder of the registry's files.
 */
async function savedWhileTraced(t: Test, extra: string[]) {
  const space = e2e(t);
  const { server, serverPort } = await startServer(space, undefined, extra);
  const trace = join(space.dir, 'strace.log');
  const tracer = spawn(
    'strace',
    ['-f', '-y', '-e', `trace=${TRACED.join(',')}`, '-o', trace, '-p', String(server.child.pid)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const ended = new Promise<void>((resolve) => tracer.on('close', () => resolve()));
  t.teardown(async () => {
    tracer.kill('SIGINT');
    await ended;
  });
  await new Promise<void>((resolve, reject) => {
    let said = '';
    tracer.stderr.setEncoding('utf8');
    tracer.stderr.on('data', (chunk: string) => {
      said += chunk;
      if (/attached/.test(said)) resolve();
    });
    tracer.on('close', () => reject(new Error(`strace ended: ${said}`)));
  });
  const alice = await startClient(space, 'alice', serverPort);
  const bob = await startClient(space, 'bob', serverPort);
  await alice.waitFor('>>> [bob joined]');
  bob.type('dereg bob');
  await bob.waitFor('>>> [You are Offline. Bye.]');
  alice.type('send bob kept on disk');
  await alice.waitFor('>>> [Messages received by the server and saved]');
  // Detached at SIGINT, with every call it saw written out; the registry runs on.
  tracer.kill('SIGINT');
  await ended;
  return { calls: callsIn(readFileSync(trace, 'utf8')), dir: space.dir };
}

const syncedAt = (calls: Call[], path: string, after = -1) =>
  calls.findIndex((call, i) => i > after && 'sync' in call && call.sync === path);

t.test(
  'with --fsync, the registry confirms a registration and a saved message only once they are ' +
    'on disk: the journal flushed, the mailbox fsynced before it takes its name, its folder after',
  needsStrace,
  async (t) => {
    const { calls, dir } = await savedWhileTraced(t, ['--fsync']);
    const journal = join(dir, 'registry.clients.jsonl');
    t.ok(syncedAt(calls, journal) >= 0, 'the journal of client records flushed');
    const mailboxes = join(dir, 'registry.mailboxes');
    const mailbox = join(mailboxes, 'm-bob.json');
    const named = calls.findIndex((call) => 'name' in call && call.name === mailbox);
    t.ok(named >= 0, "bob's mailbox written whole under its name");
    if (named < 0) return;
    const temporary = (calls[named] as { from: string }).from;
    const synced = syncedAt(calls, temporary);
    t.ok(synced >= 0 && synced < named, 'its bytes synced before it took its name');
    t.ok(syncedAt(calls, mailboxes, named) > named, 'then the folder that holds the name');
  },
);

t.test('without --fsync, the registry flushes none of its store', needsStrace, async (t) => {
  const { calls, dir } = await savedWhileTraced(t, []);
  const mailbox = join(dir, 'registry.mailboxes', 'm-bob.json');
  t.ok(
    calls.some((call) => 'name' in call && call.name === mailbox),
    "bob's mailbox written all the same",
  );
  t.same(
    calls.filter((call) => 'sync' in call && call.sync.startsWith(dir)),
    [],
    'and nothing of the store flushed',
  );
});

/**
 * alice (with `extra` options) under strace sends bob a message he acknowledges, then ends:
 * every call of hers that flushes, names a file, writes or sends a datagram, in the order they
 * were made, and her data folder.
 */
async function sentWhileTraced(t: Test, extra: string[]) {
  const space = e2e(t);
  const { serverPort } = await startServer(space);
  const bob = await startClient(space, 'bob', serverPort);
  const trace = join(space.dir, 'strace.log');
  // Patient: strace stops her at each call, and the direct try must not run out on a busy machine.
  const args = await clientArgs(space, 'alice', serverPort, extra, 'clients', PATIENT_CLIENT_ARGS);
  const alice = space.run(args, {}, [
    'strace',
    '-f',
    '-qq',
    '-y',
    '-e',
    `trace=${[...TRACED, 'write', 'sendmsg', 'sendto'].join(',')}`,
    '-o',
    trace,
  ]);
  await alice.waitFor('>>> [Welcome, You are registered.]');
  await bob.waitFor('>>> [alice joined]');
  alice.type('send bob kept until he has it');
  await alice.waitFor('>>> [Message received by bob.]');
  await bob.waitFor('>>> alice: kept until he has it');
  alice.child.stdin.end();
  t.equal(await alice.exited, 0, 'alice ended at the end of her input');
  return {
    calls: callsIn(readFileSync(trace, 'utf8')),
    nickDir: join(space.dir, 'clients', 'alice'),
  };
}

/** Where the outbox line of `kind` (`add`, `remove`) was written from `after` on; -1 if never. */
const outboxLine = (calls: Call[], outbox: string, kind: string, after = -1) =>
  calls.findIndex(
    (call, i) =>
      i > after &&
      'write' in call &&
      call.write === outbox &&
      call.text.startsWith(`{\\"${kind}\\"`),
  );

t.test(
  "with --fsync, a client's message is on disk before it is sent: its outbox line flushed " +
    'before the datagram leaves, its removal flushed once bob has it, its contacts fsynced',
  needsStrace,
  async (t) => {
    const { calls, nickDir } = await sentWhileTraced(t, ['--fsync']);
    const outbox = join(nickDir, 'outbox.json');
    const add = outboxLine(calls, outbox, 'add');
    t.ok(add >= 0, 'the message written to the outbox');
    const flushed = syncedAt(calls, outbox, add);
    const sent = calls.findIndex((call, i) => i > add && 'sent' in call);
    t.ok(flushed > add, 'that line flushed');
    t.ok(sent > flushed, 'before any datagram left after it was written');
    const removed = outboxLine(calls, outbox, 'remove', add);
    t.ok(removed > sent, 'the message removed once delivered');
    t.ok(syncedAt(calls, outbox, removed) > removed, 'and that line flushed too');
    const contacts = join(nickDir, 'contacts.json');
    const named = calls.findIndex((call) => 'name' in call && call.name === contacts);
    t.ok(named >= 0, 'bob kept in her contacts file');
    const temporary = (calls[named] as { from?: string } | undefined)?.from ?? '';
    const before = syncedAt(calls, temporary);
    t.ok(
      temporary.startsWith(`${contacts}.`) && before >= 0 && before < named,
      'its bytes synced before it took its name',
    );
    t.ok(syncedAt(calls, nickDir, named) > named, 'then the folder that holds the name');
  },
);

t.test(
  'without --fsync, a client flushes neither its outbox nor its contacts',
  needsStrace,
  async (t) => {
    const { calls, nickDir } = await sentWhileTraced(t, []);
    const outbox = join(nickDir, 'outbox.json');
    t.ok(outboxLine(calls, outbox, 'add') >= 0, 'the message written to the outbox all the same');
    t.equal(syncedAt(calls, outbox), -1, 'the outbox never flushed');
    const contacts = join(nickDir, 'contacts.json');
    t.same(
      calls.filter((call) => 'sync' in call && call.sync.startsWith(`${contacts}.`)),
      [],
      'nor the contacts file',
    );
  },
);
