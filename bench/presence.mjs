// Figure 9, presence by subscription: N simulated clients (bare Endpoints, see
// lib/watch-clients.mjs), CONTACTS contacts each (lib/contacts-graph.mjs), in CLIENT_PROCESSES
// child processes, register with a registry in another child process (lib/registry-node.mjs)
// whose table limit is the default (256): the first 256 get the whole table until it outgrows
// the limit, the rest only what they watch. Measured: the time until every client holds every
// contact online (registry and simulated clients on the same 2 cores), the registry's CPU per
// registration, the bytes it sent per registration (flat in N is the point), its RSS; then one
// deregistration: the datagrams the registry sent for it against the leaver's watchers + 1.
//
// Registry options, because every simulated client shares 127.0.0.1: rateLimitPerSecond,
// the hello budgets and the new-nick budgets 1,000,000, heartbeatIntervalMs one hour (the clients send no heartbeats).
import { fork } from 'node:child_process';
import { join } from 'node:path';
import {
  OPEN_BUDGETS,
  BENCH_DIR,
  SMOKE,
  emit,
  failure,
  ipcWaiter,
  log,
  nowMs,
  size,
  tempDir,
} from './lib/common.mjs';
import { watchersOf } from './lib/contacts-graph.mjs';

const SIZES = (process.env.BENCH_PRESENCE_SIZES ?? (SMOKE ? '60' : '1000,10000'))
  .split(',')
  .map(Number);
const CONTACTS = Number(process.env.BENCH_PRESENCE_CONTACTS ?? 20);
const BUDGET_MS = Number(process.env.BENCH_PRESENCE_BUDGET_MS ?? size(60_000, 20_000));
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? size(2, 1));
// As the registry figure: more registrations at once sends the first 256 (whole tables, in pages) into a retry storm.
const CONCURRENCY = Number(process.env.BENCH_PRESENCE_CONCURRENCY ?? 4);
const REGISTRY_OPTIONS = {
  ...OPEN_BUDGETS,
  heartbeatIntervalMs: 3_600_000,
  ...(SMOKE ? { tableLimit: 16 } : {}),
  ...JSON.parse(process.env.BENCH_PRESENCE_OPTIONS ?? '{}'),
};

const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function measure(n) {
  const scratch = await tempDir();
  const children = [];
  const spawnChild = (file) => {
    // BENCH_PROFILE_DIR: the registry's CPU profile (node --cpu-prof) goes there; with
    // BENCH_PROFILE_FILE=watch-clients.mjs, the simulated clients' instead.
    const profile =
      process.env.BENCH_PROFILE_DIR &&
      file === (process.env.BENCH_PROFILE_FILE ?? 'registry-node.mjs')
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
        : [];
    const child = fork(join(BENCH_DIR, 'lib', file), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--max-old-space-size=4096', ...profile],
    });
    const entry = { child, next: ipcWaiter(child) };
    children.push(entry);
    return entry;
  };
  const out = {
    n,
    contacts: CONTACTS,
    clientProcesses: CLIENT_PROCESSES,
    concurrency: CONCURRENCY * CLIENT_PROCESSES,
  };
  let phase = 'setup';
  try {
    const registry = spawnChild('registry-node.mjs');
    registry.child.send({ type: 'start', dir: scratch.dir, options: REGISTRY_OPTIONS });
    const started = await registry.next('started');
    const stats = async () => {
      registry.child.send({ type: 'stats' });
      return registry.next('stats', 30_000);
    };
    const sims = [];
    const owner = new Map();
    for (let p = 0; p < CLIENT_PROCESSES; p++) {
      const indices = [];
      for (let i = p; i < n; i += CLIENT_PROCESSES) indices.push(i);
      const sim = spawnChild('watch-clients.mjs');
      for (const i of indices) owner.set(i, sim);
      sim.child.send({ type: 'init', indices, total: n, contacts: CONTACTS, registry: started });
      sims.push(sim);
    }
    await Promise.all(sims.map((sim) => sim.next('ready', 120_000)));
    const before = await stats();

    phase = 'registration';
    const t0 = nowMs();
    const registered = Promise.all(sims.map((sim) => sim.next('registered', BUDGET_MS)));
    const complete = Promise.all(sims.map((sim) => sim.next('complete', BUDGET_MS)));
    for (const sim of sims) {
      sim.child.send({ type: 'expect', offline: [] });
      sim.child.send({ type: 'register', concurrency: CONCURRENCY });
    }
    let tRegistered;
    registered.then(
      () => (tRegistered = nowMs() - t0),
      () => undefined,
    );
    try {
      await complete;
    } catch (error) {
      const reports = await Promise.all(
        sims.map(
          (sim) => (
            sim.child.send({ type: 'report' }),
            sim.next('report', 5000).catch(() => undefined)
          ),
        ),
      );
      const sum = (key) => reports.reduce((s, r) => s + (r?.[key] ?? 0), 0);
      out.error = `failed: ${error.message}: ${sum('registered')} of ${n} registered, ${sum('complete')} of ${n} holding every contact`;
      return out;
    }
    const tComplete = nowMs() - t0;
    const after = await stats();
    const clientCounters = (await registered).map((r) => r.counters);
    out.registerSeconds = round(tRegistered / 1000, 2);
    out.consistentSeconds = round(tComplete / 1000, 2);
    out.registryCpuPerRegistrationMicros = Math.round((after.cpuMicros - before.cpuMicros) / n);
    out.datagramsPerRegistration = round((after.wire.datagrams - before.wire.datagrams) / n, 1);
    out.bytesPerRegistration = Math.round((after.wire.bytes - before.wire.bytes) / n);
    out.registryRssMB = round(after.rss / 2 ** 20);
    out.retried = after.endpoint.retried - before.endpoint.retried;
    out.registryCpuSeconds = round((after.cpuMicros - before.cpuMicros) / 1e6, 2);
    out.clientCpuSeconds = round(clientCounters.reduce((s, c) => s + c.cpuMicros, 0) / 1e6, 2);
    // What each registration took of the registry's endpoint: datagrams in, and how each was
    // checked (an Ed25519 signature, or a MAC under the client's session).
    const perRegistration = (key) => round((after.endpoint[key] - before.endpoint[key]) / n, 2);
    out.perRegistration = {
      received: perRegistration('received'),
      signaturesChecked: perRegistration('signaturesChecked'),
      sessionAuthenticated: perRegistration('sessionAuthenticated'),
    };
    out.watchRequests = clientCounters.reduce((s, c) => s + c.watchRequests, 0);
    out.switched = clientCounters.reduce((s, c) => s + c.switched, 0);
    log(
      `presence N=${n}: registered in ${out.registerSeconds} s, every contact right in ${out.consistentSeconds} s, ${out.registryCpuPerRegistrationMicros} µs registry CPU and ${out.bytesPerRegistration} B per registration`,
    );

    phase = 'a deregistration';
    const leaver = 0;
    const watchers = watchersOf(leaver, n, CONTACTS);
    const s0 = await stats();
    const t1 = nowMs();
    const changed = Promise.all(sims.map((sim) => sim.next('complete', 30_000)));
    for (const sim of sims) sim.child.send({ type: 'expect', offline: [leaver] });
    owner.get(leaver).child.send({ type: 'deregister', index: leaver });
    await owner.get(leaver).next('deregistered', 30_000);
    await changed;
    const seconds = (nowMs() - t1) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 300)); // anything more would have gone by now
    const s1 = await stats();
    out.change = {
      seconds: round(seconds, 3),
      watchers,
      // Less the deregistration's own reply.
      datagramsSent: s1.wire.datagrams - s0.wire.datagrams - 1,
      bytesSent: s1.wire.bytes - s0.wire.bytes,
    };
    out.change.withinWatchersPlusOne = out.change.datagramsSent <= watchers + 1;
    log(
      `presence N=${n}: one change ${out.change.datagramsSent} datagrams for ${watchers} watchers`,
    );
    return out;
  } catch (error) {
    out.error = failure(error);
    out.phase = phase;
    return out;
  } finally {
    for (const { child, next } of children) {
      if (child.exitCode !== null) continue;
      if (out.error) {
        child.kill('SIGKILL');
        continue;
      }
      child.send({ type: 'close' });
      await next('closed', 5000).catch(() => child.kill('SIGKILL'));
    }
    await scratch.remove();
  }
}

const sizes = [];
for (const n of SIZES) {
  log(`presence: N=${n}`);
  sizes.push(await measure(n));
}
emit({
  bench: 'presence',
  budgetSeconds: BUDGET_MS / 1000,
  setup: `registry (LowdbStore) in one process, simulated clients (bare Endpoints, ${CONTACTS} contacts each) in ${CLIENT_PROCESSES} process(es), ${CONCURRENCY} registrations in flight per process; registry options ${JSON.stringify(REGISTRY_OPTIONS)}`,
  sizes,
});
process.exit(0);
