// Figure 3, throughput: one sender (alice, with the registry, in this process) to one
// receiver (bob, a child process), WINDOW send() promises outstanding at once; every message
// ACKed, and shown exactly once (bob counts his 'message' and 'saved-message' events). Then the
// same once warm: a fresh pair that first streams WARM_STREAM messages, not counted.
// Then the same with 20% of UDP datagrams dropped, inside a network namespace
// (`ip netns` + iptables `statistic`), which needs root. Its baselines: the transport alone,
// bare Endpoints streaming with the same window, without and with session MACs
// (lib/endpoint-stream.mjs).
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatClient, LowdbStore, Registry, generateIdentity } from '../dist/index.js';
import {
  BENCH_DIR,
  emit,
  failure,
  ipcWaiter,
  log,
  nowMs,
  run,
  size,
  sleep,
  tempDir,
  windowed,
} from './lib/common.mjs';
import { endpointStream } from './lib/endpoint-stream.mjs';

const WINDOW = 64;
const NETNS = 'udpchat-bench';
const lossArg = process.argv.indexOf('--inner-loss');
const LOSS = lossArg > 0 ? Number(process.argv[lossArg + 1]) : 0;
// Messages, and the longest the sending may take before the figure is taken from what got through.
const TOTAL = LOSS > 0 ? size(300, 20) : size(20_000, 200);
const SEND_BUDGET_MS = LOSS > 0 ? size(30_000, 8000) : size(30_000, 8000);
// How long to wait afterwards for messages that were saved (delivered at bob's next heartbeat).
const GRACE_MS = LOSS > 0 ? size(25_000, 12_000) : 5000;
// The warm run streams this many messages first, not counted: V8 optimises a function only after
// it has run a while, as figure 2's warm rows say.
const WARM_STREAM = size(20_000, 200);

/** `start()`, tried again on ERR_TIMEOUT up to `times` in all. */
async function startTrying(times, start) {
  for (let tried = 1; ; tried++) {
    try {
      return await start();
    } catch (error) {
      if (error?.code !== 'ERR_TIMEOUT' || tried >= times) throw error;
      log(`start timed out (try ${tried} of ${times}): again`);
    }
  }
}

/**
 * Datagrams sent, those of them sent in bundles, and the merged ACKs sent with the requests they
 * acknowledged, between two readings of a client's stats.
 */
function bundlesOf(before, after) {
  if (!before || !after || after.bundlesSent === undefined) return undefined;
  return {
    datagrams: after.sent - before.sent,
    bundled: after.bundled - before.bundled,
    bundles: after.bundlesSent - before.bundlesSent,
    mergedAcks: after.mergedAcks - before.mergedAcks,
    acksMerged: after.acksMerged - before.acksMerged,
  };
}

/** `count` messages from alice to bob with WINDOW of them outstanding; rejects if any send did. */
async function stream(alice, count, prefix) {
  const failed = await windowed(count, WINDOW, (i) => alice.send('bob', `${prefix}${i}`));
  if (failed > 0) throw new Error(`${failed} of ${count} sends failed`);
}

/**
 * With `warmStream`, alice first streams that many messages to bob, not counted (after the
 * few sent one at a time that every run starts with).
 */
async function measure(loss, { warmStream = 0 } = {}) {
  const scratch = await tempDir();
  const registry = await Registry.start(
    { port: 0, host: '127.0.0.1' },
    { store: new LowdbStore(join(scratch.dir, 'registry.json')) },
  );
  const server = { host: '127.0.0.1', port: registry.address().port };
  // Under loss a start is tried up to three times, as a user would: 5 tries of an exchange
  // that gets through 64% of the time (0.8 × 0.8) all fail once in 170 starts.
  const starts = loss > 0 ? 3 : 1;
  const aliceKeys = { identity: await generateIdentity() }; // the same keys at each try: the nick may be bound by then
  const alice = await startTrying(starts, () =>
    ChatClient.start({ nick: 'alice', server, host: '127.0.0.1' }, aliceKeys),
  );
  const child = fork(join(BENCH_DIR, 'lib', 'chat-peer.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = ipcWaiter(child);
  try {
    // peerChats: the stream is measured, not the per-peer budget.
    child.send({
      type: 'start',
      starts,
      options: { nick: 'bob', server, host: '127.0.0.1', peerChats: 1e9 },
    });
    await next('ready', 30_000);
    child.send({ type: 'wait-table', nicks: ['alice'] });
    await next('table-ok', 30_000);
    const until = Date.now() + 30_000;
    while (!alice.table().some((e) => e.nick === 'bob' && e.online)) {
      if (Date.now() > until) throw new Error("bob never showed up online in alice's table");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Warm-up, not counted.
    const oneAtATime = loss > 0 ? 5 : 200;
    for (let i = 0; i < oneAtATime; i++) await alice.send('bob', `warm${i}`);
    if (warmStream > 0) await stream(alice, warmStream, 'warm-stream');
    child.send({ type: 'reset' });
    const { cpuMicros: bobCpuBefore, stats: bobStatsBefore } = await next('reset-ok');
    const statsBefore = { ...alice.stats };
    const cpuBefore = process.cpuUsage();

    const outcomes = {};
    const outcomeOf = new Map(); // text → first outcome
    let started = 0;
    let settled = 0;
    let stopped = false;
    const start = nowMs();
    let lastSettled = start;
    let allSettled;
    const everySettled = new Promise((resolve) => (allSettled = resolve));
    await new Promise((resolve) => {
      const budget = setTimeout(() => {
        stopped = true; // no new sends; those under way go on
        resolve();
      }, SEND_BUDGET_MS);
      const done = () => {
        settled++;
        lastSettled = nowMs();
        if (settled === started && (stopped || started === TOTAL)) allSettled();
        if (settled === TOTAL) {
          clearTimeout(budget);
          resolve();
        } else launch();
      };
      const launch = () => {
        while (!stopped && started < TOTAL && started - settled < WINDOW) {
          const text = `t${started++}`;
          alice.send('bob', text).then(
            (outcome) => {
              outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
              outcomeOf.set(text, outcome);
              done();
            },
            (error) => {
              outcomes.error = (outcomes.error ?? 0) + 1;
              outcomeOf.set(text, 'error');
              log(`send failed: ${error.message}`);
              done();
            },
          );
        }
      };
      launch();
    });
    const sendSeconds = (lastSettled - start) / 1000;
    const settledInBudget = settled;
    const cpuSender = process.cpuUsage(cpuBefore);
    child.send({ type: 'report' });
    const atSendEnd = await next('report');
    // The sends still under way (over budget) get a moment to settle; then, as saved messages
    // come with bob's next heartbeat, a grace period before the exactly-once check.
    if (settled < started) await Promise.race([everySettled, sleep(10_000)]);
    const expected = [...outcomeOf.values()].filter(
      (o) => o === 'delivered' || o === 'relayed' || o === 'saved',
    ).length;
    child.send({ type: 'wait', count: expected, ms: GRACE_MS });
    await next('report', GRACE_MS + 5000);
    child.send({ type: 'report', texts: true });
    const final = await next('report');
    const shownTexts = new Set(final.texts);
    const missing = {};
    for (const [text, outcome] of outcomeOf)
      if (!shownTexts.has(text)) missing[outcome] = (missing[outcome] ?? 0) + 1;
    const missingFinal = (missing.delivered ?? 0) + (missing.relayed ?? 0) + (missing.saved ?? 0);
    const stats = alice.stats;
    const result = {
      loss,
      // Messages sent before the stream measured: the few one at a time, and the warm stream.
      after: oneAtATime + warmStream,
      window: WINDOW,
      messages: TOTAL,
      started,
      settled: settledInBudget,
      settledAfterBudget: settled - settledInBudget,
      seconds: Math.round(sendSeconds * 1000) / 1000,
      // Messages bob had shown by the time the last send() settled (within the budget), per second.
      perSecond: Math.round(atSendEnd.distinct / sendSeconds),
      outcomes,
      graceSeconds: GRACE_MS / 1000,
      shown: { distinct: final.distinct, duplicates: final.duplicates, events: final.events },
      // Not shown after the grace period, by the first outcome of their send() ('queued': not final yet).
      notShown: missing,
      shownExactlyOnce: final.duplicates === 0 && missingFinal === 0,
      // CPU per message shown: alice's process (alice and the registry) and bob's.
      cpuPerMessageUs: {
        sender: Math.round((cpuSender.user + cpuSender.system) / Math.max(1, atSendEnd.distinct)),
        receiver: Math.round(
          (atSendEnd.cpuMicros - bobCpuBefore) / Math.max(1, atSendEnd.distinct),
        ),
      },
      senderDatagrams: {
        sent: stats.sent - statsBefore.sent,
        retried: stats.retried - statsBefore.retried,
        timeouts: stats.timeouts - statsBefore.timeouts,
      },
      // Datagrams each side sent in bundles (several to one address in one turn: transport/bundle.ts), up to the last send().
      bundles: {
        sender: bundlesOf(statsBefore, stats),
        receiver: bundlesOf(bobStatsBefore, atSendEnd.stats),
      },
    };
    log(
      `loss ${loss}: ${result.perSecond} msg/s (${atSendEnd.distinct} shown in ${result.seconds} s), finally ${final.distinct} shown, ${final.duplicates} duplicates, not shown ${JSON.stringify(missing)}`,
    );
    return result;
  } finally {
    child.send({ type: 'close' });
    await next('closed', 5000).catch(() => child.kill());
    await alice.close();
    await registry.close();
    await scratch.remove();
  }
}

async function withLoss(probability) {
  if (process.getuid?.() !== 0) return { skipped: 'skipped: needs root' };
  const ip = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find(existsSync);
  const iptables = ['/usr/sbin/iptables', '/sbin/iptables', '/usr/bin/iptables'].find(existsSync);
  if (!ip || !iptables) return { skipped: 'skipped: needs ip and iptables' };
  await run(ip, ['netns', 'del', NETNS]); // a namespace left by an earlier run
  try {
    for (const args of [
      ['netns', 'add', NETNS],
      ['netns', 'exec', NETNS, ip, 'link', 'set', 'lo', 'up'],
      [
        'netns',
        'exec',
        NETNS,
        iptables,
        '-A',
        'INPUT',
        '-p',
        'udp',
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        String(probability),
        '-j',
        'DROP',
      ],
    ]) {
      const done = await run(ip, args);
      if (done.code !== 0)
        return { skipped: `skipped: ip ${args.join(' ')} failed: ${done.stderr.trim()}` };
    }
    const inner = await run(
      ip,
      [
        'netns',
        'exec',
        NETNS,
        process.execPath,
        fileURLToPath(import.meta.url),
        '--inner-loss',
        String(probability),
      ],
      {
        env: process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    process.stderr.write(inner.stderr);
    const line = inner.stdout.trim().split('\n').pop();
    if (inner.code !== 0 || !line)
      return { error: `failed: the run in the namespace ended with status ${inner.code}` };
    return {
      ...JSON.parse(line).measured,
      method: `ip netns ${NETNS}, iptables INPUT udp statistic random ${probability} DROP (both directions: every datagram on lo)`,
    };
  } finally {
    await run(ip, ['netns', 'del', NETNS]);
  }
}

if (LOSS > 0) {
  // Inside the namespace: measure, print, leave.
  let measured;
  try {
    measured = await measure(LOSS);
  } catch (error) {
    measured = { error: failure(error) };
  }
  emit({ measured });
  process.exit(0);
}

const result = { bench: 'throughput' };
try {
  result.noLoss = await measure(0);
} catch (error) {
  result.noLoss = { error: failure(error) };
}
try {
  result.noLossWarm = await measure(0, { warmStream: WARM_STREAM });
} catch (error) {
  result.noLossWarm = { error: failure(error) };
}
try {
  result.loss20 = await withLoss(0.2);
} catch (error) {
  result.loss20 = { error: failure(error) };
}
// The baselines: the transport alone, without and with its session MACs (lib/endpoint-stream.mjs).
result.endpoints = [];
for (const auth of [false, true]) {
  try {
    result.endpoints.push(
      await endpointStream({
        auth,
        total: size(40_000, 400),
        window: WINDOW,
        warmup: size(2000, 20),
      }),
    );
  } catch (error) {
    result.endpoints.push({ auth, error: failure(error) });
  }
}
emit(result);
process.exit(0);
