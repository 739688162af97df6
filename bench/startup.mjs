// Figure 7, start-up: `bin/udpchat -c …`, run as a program as a user's `udpchat` is (its first
// lines start a client's node without NODE_EXTRA_CA_CERTS), from spawn to its first line on
// stdout (the welcome line, `[Welcome, You are registered.]`: on a pipe the client shows no
// prompt), and to its first `[Client table updated.]`, against a registry (`bin/udpchat -s`)
// already up.
// Baseline: `node -e 0` from spawn to exit, measured in the same run; and, for the notes,
// `bin/udpchat --version` (loading the CLI without running it) and importing dist/index.js.
// Every run uses the same data directory, so the identity is made once, in the warm-up run; and
// the same code cache folder (a fresh one, see bin/code-cache.cjs), which that run fills.
// Then an idle client: the CPU a client binary uses over 30 s while nothing happens (after 20 s
// to settle), against a bare node process waking as often (a 10 s interval, the heartbeat's).
// "No measurable CPU" is taken as top shows it: 0.0% of a core, that is below 0.05%.
import { join } from 'node:path';
import {
  BIN,
  clientArgs,
  DIST,
  emit,
  failure,
  freeUdpPort,
  log,
  nowMs,
  run,
  runMsOf,
  size,
  sleep,
  spawnLines,
  startRegistryBinary,
  summarize,
  tempDir,
  within,
} from './lib/common.mjs';

const RUNS = size(20, 3);
const IDLE_SETTLE_MS = size(20_000, 1_000);
const IDLE_MS = size(30_000, 2_000);
// The client's default heartbeat interval (one node): the baseline process wakes as often.
const HEARTBEAT_MS = 10_000;

async function timed(command, args, env) {
  const start = nowMs();
  const done = await run(command, args, env ? { env } : {});
  if (done.code !== 0)
    throw new Error(
      `${command} ${args.join(' ')} exited ${done.code}: ${done.stderr.slice(0, 300)}`,
    );
  return nowMs() - start;
}

async function clientStartup() {
  const scratch = await tempDir();
  const { server, serverPort } = await startRegistryBinary(scratch.dir);
  try {
    const welcome = [];
    const table = [];
    let firstRun;
    for (let i = 0; i <= RUNS; i++) {
      const port = await freeUdpPort();
      const start = nowMs();
      const client = spawnLines(
        BIN,
        clientArgs({ nick: 'alice', serverPort, port, dataDir: join(scratch.dir, 'data') }),
      );
      try {
        const first = await client.waitFor(() => true, 10_000);
        if (!first.line.includes('[Welcome, You are registered.]'))
          throw new Error(`first line was '${first.line}'`);
        const updated = await client.waitFor(
          (line) => line.includes('[Client table updated.]'),
          10_000,
        );
        if (i === 0) firstRun = { welcomeMs: first.at - start, tableMs: updated.at - start };
        else {
          welcome.push(first.at - start);
          table.push(updated.at - start);
        }
      } finally {
        client.child.stdin.end(); // end of input: deregisters and exits
        await within(client.exited, 5000, 'client exit').catch(() => client.stop('SIGKILL'));
      }
    }
    return { welcomeMs: summarize(welcome), tableMs: summarize(table), firstRun };
  } finally {
    await server.stop('SIGTERM');
    await scratch.remove();
  }
}

/**
 * CPU (ms, the scheduler's count) used over IDLE_MS by a client binary left alone after its
 * first table, and by a bare node process with a timer at the heartbeat's interval, over the
 * same window.
 */
async function idleClient() {
  const scratch = await tempDir();
  const { server, serverPort } = await startRegistryBinary(scratch.dir);
  const port = await freeUdpPort();
  const client = spawnLines(
    BIN,
    clientArgs({ nick: 'alice', serverPort, port, dataDir: join(scratch.dir, 'data') }),
  );
  const bare = spawnLines('node', ['-e', `setInterval(() => {}, ${HEARTBEAT_MS})`]);
  try {
    await client.waitFor((line) => line.includes('[Client table updated.]'), 10_000);
    await sleep(IDLE_SETTLE_MS);
    const before = { client: runMsOf(client.child.pid), bare: runMsOf(bare.child.pid) };
    await sleep(IDLE_MS);
    if (client.child.exitCode !== null) throw new Error('the client exited while idle');
    return {
      windowMs: IDLE_MS,
      clientCpuMs: runMsOf(client.child.pid) - before.client,
      bareCpuMs: runMsOf(bare.child.pid) - before.bare,
    };
  } finally {
    await bare.stop('SIGKILL');
    client.child.stdin.end();
    await within(client.exited, 5000, 'client exit').catch(() => client.stop('SIGKILL'));
    await server.stop('SIGTERM');
    await scratch.remove();
  }
}

const result = { bench: 'startup', runs: RUNS };
// The binaries' code cache starts empty: each first run (the warm-up) writes it.
const cacheHome = await tempDir();
process.env.XDG_CACHE_HOME = cacheHome.dir;
try {
  const base = [];
  const version = [];
  const imports = [];
  // A CA bundle named in NODE_EXTRA_CA_CERTS is parsed by node at every start, before any
  // JavaScript: where it is set, node -e 0 is timed without it as well, for the notes.
  const withoutExtraCa = [];
  const { NODE_EXTRA_CA_CERTS: extraCa, ...envWithoutExtraCa } = process.env;
  for (let i = 0; i <= RUNS; i++) {
    if (extraCa && i > 0) withoutExtraCa.push(await timed('node', ['-e', '0'], envWithoutExtraCa));
    const a = await timed('node', ['-e', '0']);
    const b = await timed(BIN, ['--version']);
    const c = await timed('node', [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(DIST)})`,
    ]);
    if (i > 0) {
      base.push(a);
      version.push(b);
      imports.push(c);
    }
  }
  result.nodeMs = summarize(base);
  if (extraCa) result.nodeWithoutExtraCaMs = summarize(withoutExtraCa);
  result.versionMs = summarize(version);
  result.importMs = summarize(imports);
  log(`node -e 0 p50 ${result.nodeMs.p50} ms, udpchat --version p50 ${result.versionMs.p50} ms`);
} catch (error) {
  result.nodeMs = { error: failure(error) };
}
try {
  result.client = await clientStartup();
  log(
    `client start → welcome p50 ${result.client.welcomeMs.p50} ms, → table p50 ${result.client.tableMs.p50} ms`,
  );
} catch (error) {
  result.client = { error: failure(error) };
}
try {
  result.idle = await idleClient();
  log(
    `idle client: ${result.idle.clientCpuMs} ms CPU over ${IDLE_MS / 1000} s (bare node: ${result.idle.bareCpuMs} ms)`,
  );
} catch (error) {
  result.idle = { error: failure(error) };
}
await cacheHome.remove();
emit(result);
process.exit(0);
