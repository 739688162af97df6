// Figure 2, direct send→ACK latency, one message at a time:
//  - through the API: ChatClient.send('bob', …) resolving 'delivered'. The registry and the
//    sender (alice) run in this process, the receiver (bob) in a child process, so every
//    message crosses processes as the floor's datagrams do; once with the default in-memory
//    outbox, once with a FileOutbox as the CLI uses;
//  - through the real binary: `bin/udpchat -s` and two `bin/udpchat -c … --json` processes;
//    a `send bob …` line written to alice's stdin, timed to her {"event":"delivered"} line;
//    its baseline, the same lines and datagrams between two bare processes (lib/relay-floor.mjs).
// Also the per-message crypto costs (HPKE seal/open, Ed25519 sign/verify), for the notes.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { ChatClient, FileOutbox, LowdbStore, Registry, generateIdentity } from '../dist/index.js';
import {
  BIN,
  BENCH_DIR,
  clientArgs,
  cpuMsOf,
  emit,
  failure,
  freeUdpPort,
  ipcWaiter,
  log,
  nowMs,
  size,
  spawnLines,
  startRegistryBinary,
  summarize,
  tempDir,
  threadMsOf,
} from './lib/common.mjs';

const API_WARMUP = size(300, 20);
const API_ROUNDS = size(3000, 100);
// As the binary's: the same sends measured again once V8 has optimised what a message runs.
const API_LONG_WARMUP = size(5000, 20);
const API_WARM_ROUNDS = size(3000, 20);
const BIN_WARMUP = size(30, 5);
const BIN_ROUNDS = size(400, 20);
// Messages sent before the rounds measured again once warm: V8 optimises a function only after
// it has run a while, and most of a message's functions run once per message.
const BIN_LONG_WARMUP = size(5000, 20);
// Measured warm over more rounds: CPU time comes in 10 ms clock ticks, 5 µs a message over 2,000.
const BIN_WARM_ROUNDS = size(2000, 20);
const CRYPTO_ROUNDS = size(2000, 50);

const result = { bench: 'direct' };

/**
 * With `fileOutbox`, alice keeps her outbox in a file as the CLI does (FileOutbox), not in
 * memory. With `warm`, the `rounds` are followed by API_LONG_WARMUP more sends and
 * API_WARM_ROUNDS measured again.
 */
async function apiLatency({ fileOutbox = false, rounds = API_ROUNDS, warm = false } = {}) {
  const scratch = await tempDir();
  const registry = await Registry.start(
    { port: 0, host: '127.0.0.1' },
    { store: new LowdbStore(join(scratch.dir, 'registry.json')) },
  );
  const server = { host: '127.0.0.1', port: registry.address().port };
  const parts = fileOutbox ? { outbox: new FileOutbox(join(scratch.dir, 'outbox.json')) } : {};
  const alice = await ChatClient.start({ nick: 'alice', server, host: '127.0.0.1' }, parts);
  const child = fork(join(BENCH_DIR, 'lib', 'chat-peer.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = ipcWaiter(child);
  try {
    child.send({
      type: 'start',
      options: { nick: 'bob', server, host: '127.0.0.1', peerChats: 1e9 },
    }); // the stream measured, not the per-peer budget
    await next('ready');
    child.send({ type: 'wait-table', nicks: ['alice'] });
    await next('table-ok');
    await waitFor(
      () => alice.table().some((e) => e.nick === 'bob' && e.online),
      5000,
      "bob in alice's table",
    );
    const outcomes = {};
    let sent = 0;
    /** `count` sends one at a time, each timed from the `skip`th on. */
    const sendTimed = async (skip, count) => {
      const samples = [];
      for (let i = 0; i < count; i++) {
        const start = nowMs();
        const outcome = await alice.send('bob', `m${sent++}`);
        const took = nowMs() - start;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (i >= skip) samples.push(took);
      }
      return summarize(samples);
    };
    const latency = await sendTimed(API_WARMUP, API_WARMUP + rounds);
    let warmFigures;
    if (warm) {
      const after = sent + API_LONG_WARMUP;
      const warmLatency = await sendTimed(API_LONG_WARMUP, API_LONG_WARMUP + API_WARM_ROUNDS);
      warmFigures = { after, latencyMs: warmLatency };
      log(`api send→ack warm (after ${after}) p50 ${warmLatency.p50} ms p99 ${warmLatency.p99} ms`);
    }
    child.send({ type: 'wait', count: sent, ms: 5000 });
    const shown = await next('report');
    log(
      `api send→ack${fileOutbox ? ' (FileOutbox)' : ''} p50 ${latency.p50} ms p99 ${latency.p99} ms`,
    );
    return {
      setup: `registry and sender in one process, receiver in a child process (127.0.0.1); sender's outbox ${fileOutbox ? 'a FileOutbox (as the CLI)' : 'in memory (the default)'}`,
      latencyMs: latency,
      ...(warmFigures ? { warm: warmFigures } : {}),
      outcomes,
      shownOnce: shown.distinct === sent && shown.duplicates === 0,
      shown: { distinct: shown.distinct, duplicates: shown.duplicates },
    };
  } finally {
    child.send({ type: 'close' });
    await next('closed').catch(() => child.kill());
    await alice.close();
    await registry.close();
    await scratch.remove();
  }
}

/**
 * `sender` gets `send bob …` lines one at a time, each timed to its {"event":"delivered"}
 * line (a `fallback` waits for how it ended); the CPU both processes used over the `rounds`
 * after `warmup` more messages, per message.
 */
async function oneAtATime(sender, receiver, { warmup, rounds }) {
  const samples = [];
  const outcomes = {};
  let cpuAt;
  for (let i = 0; i < warmup + rounds; i++) {
    if (i === warmup)
      cpuAt = {
        sender: cpuMsOf(sender.child.pid),
        receiver: cpuMsOf(receiver.child.pid),
        threads: { sender: threadMsOf(sender.child.pid), receiver: threadMsOf(receiver.child.pid) },
      };
    const startAt = nowMs();
    sender.write(`send bob b${i}\n`);
    const { line, at } = await sender.waitFor((text) => {
      const event = JSON.parse(text).event;
      return (
        event === 'delivered' ||
        event === 'fallback' ||
        event === 'error' ||
        event === 'send-failed'
      );
    }, 10_000);
    const event = JSON.parse(line).event;
    if (i >= warmup) outcomes[event] = (outcomes[event] ?? 0) + 1;
    if (event === 'fallback')
      await sender.waitFor(
        (text) => ['delivered', 'saved', 'send-failed'].includes(JSON.parse(text).event),
        10_000,
      );
    if (i >= warmup) samples.push(at - startAt);
  }
  const perMessage = (before, pid) => {
    const after = cpuMsOf(pid);
    return before === undefined || after === undefined
      ? undefined
      : Math.round(((after - before) / rounds) * 1000) / 1000;
  };
  // The same CPU split by thread (to the nanosecond): the main thread's share, and the rest.
  const threadsPerMessage = (before, pid) => {
    const after = threadMsOf(pid);
    if (!before || !after) return undefined;
    const per = (a, b) => Math.round(((a - b) / rounds) * 1000) / 1000;
    return { main: per(after.main, before.main), others: per(after.others, before.others) };
  };
  return {
    latency: summarize(samples),
    cpuMsPerMessage: {
      sender: perMessage(cpuAt?.sender, sender.child.pid),
      receiver: perMessage(cpuAt?.receiver, receiver.child.pid),
    },
    threadsMsPerMessage: {
      sender: threadsPerMessage(cpuAt?.threads.sender, sender.child.pid),
      receiver: threadsPerMessage(cpuAt?.threads.receiver, receiver.child.pid),
    },
    outcomes,
  };
}

/**
 * The figures of one pair of processes: first right after start (BIN_WARMUP messages, then
 * BIN_ROUNDS measured), then once warm (BIN_LONG_WARMUP more, then BIN_WARM_ROUNDS measured).
 */
async function coldAndWarm(sender, receiver) {
  const cold = await oneAtATime(sender, receiver, { warmup: BIN_WARMUP, rounds: BIN_ROUNDS });
  const warm = await oneAtATime(sender, receiver, {
    warmup: BIN_LONG_WARMUP,
    rounds: BIN_WARM_ROUNDS,
  });
  return {
    latencyMs: cold.latency,
    cpuMsPerMessage: cold.cpuMsPerMessage,
    threadsMsPerMessage: cold.threadsMsPerMessage,
    outcomes: cold.outcomes,
    warm: {
      after: BIN_WARMUP + BIN_ROUNDS + BIN_LONG_WARMUP,
      latencyMs: warm.latency,
      cpuMsPerMessage: warm.cpuMsPerMessage,
      threadsMsPerMessage: warm.threadsMsPerMessage,
      outcomes: warm.outcomes,
    },
  };
}

/**
 * The baseline of the binary's figures: the same lines in and out and the same datagrams, one
 * message at a time, between two bare node processes (lib/relay-floor.mjs) with nothing of
 * udpchat in between: what reading a line, sending, waking for the answer and writing a line
 * cost any process on this machine.
 */
async function relayFloor() {
  const script = join(BENCH_DIR, 'lib', 'relay-floor.mjs');
  const receiver = spawnLines('node', [script, 'receiver']);
  let sender;
  try {
    const { line: port } = await receiver.waitFor(() => true, 10_000);
    sender = spawnLines('node', [script, 'sender', port]);
    await sender.waitFor((line) => line === 'ready', 10_000);
    const { latencyMs, cpuMsPerMessage, warm } = await coldAndWarm(sender, receiver);
    log(
      `bare relay send→delivered line p50 ${latencyMs.p50} ms; CPU per message ${JSON.stringify(cpuMsPerMessage)} ms; warm ${JSON.stringify(warm.cpuMsPerMessage)} ms`,
    );
    return { latencyMs, cpuMsPerMessage, warm };
  } finally {
    if (sender) await sender.stop('SIGTERM');
    await receiver.stop('SIGTERM');
  }
}

async function binaryLatency() {
  const scratch = await tempDir();
  const { server, serverPort } = await startRegistryBinary(scratch.dir);
  const clients = [];
  try {
    const start = async (nick) => {
      const port = await freeUdpPort();
      const client = spawnLines(
        BIN,
        clientArgs({ nick, serverPort, port, dataDir: join(scratch.dir, nick), json: true }),
      );
      clients.push(client);
      await client.waitFor((line) => JSON.parse(line).event === 'registered', 10_000);
      return client;
    };
    const alice = await start('alice');
    const bob = await start('bob');
    // bob is in alice's table (online) once a table event says so.
    await alice.waitFor((line) => {
      const event = JSON.parse(line);
      return event.event === 'table' && event.entries.some((e) => e.nick === 'bob' && e.online);
    }, 10_000);
    alice.clear();
    const figures = await coldAndWarm(alice, bob);
    log(
      `binary send→delivered line p50 ${figures.latencyMs.p50} ms p99 ${figures.latencyMs.p99} ms; CPU per message ${JSON.stringify(figures.cpuMsPerMessage)} ms; warm p50 ${figures.warm.latencyMs.p50} ms, CPU ${JSON.stringify(figures.warm.cpuMsPerMessage)} ms`,
    );
    return {
      setup: 'bin/udpchat -s, and two bin/udpchat -c --json processes; stdin line to stdout line',
      ...figures,
    };
  } finally {
    for (const client of clients) {
      client.child.stdin.end();
      await client.stop('SIGTERM');
    }
    await server.stop('SIGTERM');
    await scratch.remove();
  }
}

/**
 * Per-operation crypto costs, from the built modules (internal paths; a piece that is not
 * there is left out): one-shot HPKE seal/open (what a session set-up costs, and what a
 * message cost before per-peer sessions), the per-message session seal/open when the build
 * has `Sessions`, and Ed25519 sign/verify of a chat datagram.
 */
async function cryptoCosts() {
  const sealing = await import('../dist/crypto/sealing.js');
  const signing = await import('../dist/crypto/signing.js');
  const [a, b] = await Promise.all([generateIdentity(), generateIdentity()]);
  const text = new TextEncoder().encode('hello bob, this is a short chat message');
  const aad = sealing.messageAad('alice', 'bob', 'mid1');
  const time = async (fn) => {
    for (let i = 0; i < 50; i++) await fn();
    const start = nowMs();
    for (let i = 0; i < CRYPTO_ROUNDS; i++) await fn();
    return Math.round(((nowMs() - start) / CRYPTO_ROUNDS) * 1000 * 10) / 10;
  };
  const costs = { rounds: CRYPTO_ROUNDS };
  const oneShot = await sealing.seal(text, b.public.ek, aad, a.agreement);
  costs.hpkeSealUs = await time(() => sealing.seal(text, b.public.ek, aad, a.agreement));
  costs.hpkeOpenUs = await time(() => sealing.open(oneShot, b.agreement, aad, a.public.ek));
  let sealed = oneShot;
  if (typeof sealing.Sessions === 'function') {
    const mine = new sealing.Sessions(a.agreement);
    const theirs = new sealing.Sessions(b.agreement);
    sealed = await mine.seal(text, b.public.ek, aad);
    await theirs.open(sealed, aad, a.public.ek);
    costs.sessionSealUs = await time(() => mine.seal(text, b.public.ek, aad));
    costs.sessionOpenUs = await time(() => theirs.open(sealed, aad, a.public.ek));
  }
  const datagram = Buffer.from(
    JSON.stringify({ v: 1, t: 'chat', id: 'x', from: 'alice', mid: 'mid1', sealed }),
  );
  const signed = signing.signDatagram(datagram, 'alice', a.signing.privateKey);
  const parts = signing.splitSigned(signed);
  costs.signUs = await time(() => signing.signDatagram(datagram, 'alice', a.signing.privateKey));
  costs.verifyUs = await time(() =>
    signing.verifySignature(parts.inner, parts.signature, a.signing.publicKey),
  );
  costs.signedChatBytes = signed.length;
  return costs;
}

async function waitFor(test, ms, what) {
  const until = Date.now() + ms;
  while (!test()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

try {
  result.api = await apiLatency({ warm: true });
} catch (error) {
  result.api = { error: failure(error) };
}
try {
  result.apiFileOutbox = await apiLatency({ fileOutbox: true, rounds: Math.ceil(API_ROUNDS / 3) });
} catch (error) {
  result.apiFileOutbox = { error: failure(error) };
}
try {
  result.relayFloor = await relayFloor();
} catch (error) {
  result.relayFloor = { error: failure(error) };
}
try {
  result.binary = await binaryLatency();
} catch (error) {
  result.binary = { error: failure(error) };
}
try {
  result.crypto = await cryptoCosts();
} catch (error) {
  result.crypto = { error: failure(error) };
}
emit(result);
process.exit(0);
