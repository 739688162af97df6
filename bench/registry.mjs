// Figure 4, the registry: for each N, N simulated clients (bare Endpoints, see
// lib/sim-clients.mjs) in CLIENT_PROCESSES child processes register with a registry in
// another child process (lib/registry-node.mjs). Measured: registrations/s, the time until
// every client's table holds all N nicks online, the datagrams and bytes the registry sent
// for it, then the datagrams and bytes of one change (a deregistration) and of one join (a
// newcomer: its whole table, plus the change to everyone). A size that fails, or overruns
// its time budget, is reported as "failed: …" and the next size runs. Then, for each N of
// BENCH_REGISTRY_ALONE_SIZES, the registry CPU and bytes per registration alone (see measureAlone).
//
// Registry options, because every simulated client shares 127.0.0.1: rateLimitPerSecond,
// the hello budgets and the new-nick budgets 1,000,000 (the per-address limits would otherwise refuse them), heartbeatIntervalMs one hour
// (the simulated clients send no heartbeats; a long run must not take them for offline), tableLimit 1,000,000
// (this figure is the whole table to everyone; beyond the default limit of 256 see presence.mjs).
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

const SIZES = (process.env.BENCH_REGISTRY_SIZES ?? (SMOKE ? '20,60' : '100,1000,10000'))
  .split(',')
  .filter(Boolean)
  .map(Number);
const BUDGET_MS = Number(process.env.BENCH_REGISTRY_BUDGET_MS ?? size(60_000, 20_000));
const CHANGE_BUDGET_MS = size(30_000, 10_000);
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? size(2, 1));
// Registrations in flight per client process. More (32 per process was tried) sends the registry
// into a retry storm well before N=1000 on 2 cores: every newcomer's table goes out in
// fragments, all at once, each retried after 500 ms.
const CONCURRENCY = Number(process.env.BENCH_REGISTRY_CONCURRENCY ?? 4);
// BENCH_REGISTRY_OPTIONS (JSON) adds or overrides registry options, e.g. {"pushDelayMs":5}.
// BENCH_REGISTRY_CPU_PROFILE=<folder>: the registry child writes a V8 CPU profile there (node --cpu-prof) when it exits.
const CPU_PROFILE_DIR = process.env.BENCH_REGISTRY_CPU_PROFILE;
const REGISTRY_OPTIONS = {
  ...OPEN_BUDGETS,
  heartbeatIntervalMs: 3_600_000,
  tableLimit: 1_000_000,
  ...JSON.parse(process.env.BENCH_REGISTRY_OPTIONS ?? '{}'),
};

const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

// Registration alone: what one registration costs the registry, its table part left out. The
// same simulated clients, quiet (see registerQuietly in lib/sim-clients.mjs): each sends a
// hello and a registration, carrying its session (so the registry's HPKE set-up is in) in one
// run and none in another, and answers nothing. The registry keeps its default table limit,
// so beyond it (256 nicks) a newcomer gets no whole table. Below it, whole-table pushes are
// dropped before they are encoded (dropTables, see lib/registry-node.mjs; the snapshot of the table and
// its pages are still made), pushDelayMs is one hour (no change rounds within the run), and
// pushTries 1. Set BENCH_REGISTRY_ALONE_TABLES=1 to send the newcomers' tables anyway (their
// first pages then go once, unacknowledged).
const ALONE_SIZES = (process.env.BENCH_REGISTRY_ALONE_SIZES ?? (SMOKE ? '60' : '1000,10000'))
  .split(',')
  .filter(Boolean)
  .map(Number);
// The registry's own table limit (not the whole tables to everyone of the figure above): beyond
// it a newcomer gets no whole table, as on a large server.
const { tableLimit: _wholeTables, ...ALONE_BASE } = REGISTRY_OPTIONS;
const ALONE_OPTIONS = { ...ALONE_BASE, pushTries: 1, pushDelayMs: 3_600_000 };
const ALONE_DROP_TABLES = process.env.BENCH_REGISTRY_ALONE_TABLES !== '1';

async function measureAlone(n, withSession) {
  const scratch = await tempDir();
  const children = [];
  const spawnChild = (file) => {
    const execArgv = ['--max-old-space-size=4096'];
    if (CPU_PROFILE_DIR && file === 'registry-node.mjs')
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`);
    const child = fork(join(BENCH_DIR, 'lib', file), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv,
    });
    const entry = { child, next: ipcWaiter(child) };
    children.push(entry);
    return entry;
  };
  const out = {
    n,
    session: withSession,
    clientProcesses: CLIENT_PROCESSES,
    concurrency: CONCURRENCY * CLIENT_PROCESSES,
  };
  const registry = spawnChild('registry-node.mjs');
  try {
    registry.child.send({
      type: 'start',
      dir: scratch.dir,
      options: ALONE_OPTIONS,
      dropTables: ALONE_DROP_TABLES,
    });
    const started = await registry.next('started');
    const stats = async () => {
      registry.child.send({ type: 'stats' });
      return registry.next('stats', 30_000);
    };
    const sims = [];
    for (let p = 0; p < CLIENT_PROCESSES; p++) {
      const indices = [];
      for (let i = p; i < n; i += CLIENT_PROCESSES) indices.push(i);
      const sim = spawnChild('sim-clients.mjs');
      sim.indices = indices;
      sim.child.send({ type: 'init', indices, total: n, spares: 0, registry: started });
      sims.push(sim);
    }
    await Promise.all(sims.map((sim) => sim.next('ready', 120_000)));
    const before = await stats();
    const t0 = nowMs();
    // A registration takes a few ms of the registry's CPU at most: 20 ms each is a budget that only a failure overruns.
    const budgetMs = Math.max(BUDGET_MS, n * 20);
    const registered = Promise.all(sims.map((sim) => sim.next('registered', budgetMs + 60_000)));
    registered.catch(() => undefined);
    for (const sim of sims)
      sim.child.send({
        type: 'register',
        indices: sim.indices,
        concurrency: CONCURRENCY,
        quiet: withSession ? 'with-session' : 'without-session',
      });
    let done = n;
    const overran = await Promise.race([
      registered.then(() => false),
      new Promise((resolve) => setTimeout(() => resolve(true), budgetMs).unref()),
    ]);
    if (overran) {
      // Over budget: the figures per registration done so far.
      const reports = await Promise.all(
        sims.map((sim) => (sim.child.send({ type: 'report' }), sim.next('report', 10_000))),
      );
      done = Math.max(1, sum(reports, 'registered'));
      out.error = `failed: time budget of ${budgetMs / 1000} s exceeded: ${done} of ${n} registered (the figures are per registration done)`;
    }
    const seconds = (nowMs() - t0) / 1000;
    const after = await stats();
    out.registered = done;
    out.registrationsPerSecond = Math.round(done / seconds);
    out.registryCpuMicrosPerRegistration = Math.round((after.cpuMicros - before.cpuMicros) / done);
    out.bytesSentPerRegistration = Math.round((after.wire.bytes - before.wire.bytes) / done);
    out.datagramsSentPerRegistration = round(
      (after.wire.datagrams - before.wire.datagrams) / done,
      2,
    );
    out.datagramsReceivedPerRegistration = round(
      (after.endpoint.received - before.endpoint.received) / done,
      2,
    );
    out.registryRssMB = round(after.rss / 2 ** 20);
    out.tablesDropped = after.tablesDropped - before.tablesDropped;
    log(
      `N=${n} alone, ${withSession ? 'with' : 'without'} a session: ${out.registrationsPerSecond} registrations/s, ${out.registryCpuMicrosPerRegistration} µs of registry CPU and ${out.bytesSentPerRegistration} bytes sent per registration`,
    );
    return out;
  } catch (error) {
    out.error = failure(error);
    return out;
  } finally {
    for (const { child, next } of children) {
      if (child.exitCode !== null) continue;
      if (out.error && !(CPU_PROFILE_DIR && child === registry.child)) {
        child.kill('SIGKILL');
        continue;
      }
      child.send({ type: 'close' });
      await next('closed', 10_000).catch(() => child.kill('SIGKILL'));
    }
    await scratch.remove();
  }
}

async function measure(n) {
  const scratch = await tempDir();
  const children = [];
  const spawnChild = (file) => {
    const execArgv = ['--max-old-space-size=4096'];
    if (CPU_PROFILE_DIR && file === 'registry-node.mjs')
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`);
    const child = fork(join(BENCH_DIR, 'lib', file), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv,
    });
    const entry = { child, next: ipcWaiter(child) };
    children.push(entry);
    return entry;
  };
  const out = { n, clientProcesses: CLIENT_PROCESSES, concurrency: CONCURRENCY * CLIENT_PROCESSES };
  let phase = 'setup';
  let budgetTimer;
  const budget = new Promise((_, reject) => {
    budgetTimer = setTimeout(
      () => reject(new Error(`time budget of ${BUDGET_MS / 1000} s exceeded during ${phase}`)),
      BUDGET_MS + 60_000,
    );
  });
  budget.catch(() => undefined);
  const registry = spawnChild('registry-node.mjs');
  try {
    registry.child.send({ type: 'start', dir: scratch.dir, options: REGISTRY_OPTIONS });
    const started = await registry.next('started');
    const stats = async (snapshot = false) => {
      registry.child.send({ type: 'stats', snapshot });
      return registry.next('stats', 30_000);
    };
    // Clients, split over the processes; the newcomer (index n) goes with the first.
    const sims = [];
    const owner = new Map();
    for (let p = 0; p < CLIENT_PROCESSES; p++) {
      const indices = [];
      for (let i = p; i < n; i += CLIENT_PROCESSES) indices.push(i);
      if (p === 0) indices.push(n);
      const sim = spawnChild('sim-clients.mjs');
      for (const i of indices) owner.set(i, sim);
      sim.indices = indices.filter((i) => i < n);
      sim.child.send({ type: 'init', indices, total: n, spares: 1, registry: started });
      sims.push(sim);
    }
    await Promise.all(sims.map((sim) => sim.next('ready', 120_000)));
    const before = await stats();

    // Everyone registers; done once every table shows all N online.
    phase = 'registration';
    const t0 = nowMs();
    const allRegistered = Promise.all(
      sims.map((sim) => sim.next('registered', BUDGET_MS + 60_000)),
    );
    const allComplete = Promise.all(sims.map((sim) => sim.next('complete', BUDGET_MS + 60_000)));
    for (const sim of sims) {
      sim.child.send({ type: 'expect', online: n });
      sim.child.send({ type: 'register', indices: sim.indices, concurrency: CONCURRENCY });
    }
    let tRegistered;
    allRegistered.then(
      () => (tRegistered = nowMs() - t0),
      () => undefined,
    );
    const overrun = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('budget')), BUDGET_MS).unref(),
    );
    try {
      // A failed registration (say, REGISTRY_FULL) rejects allRegistered: that ends the size.
      await Promise.race([
        allComplete,
        allRegistered.then(() => new Promise(() => undefined)),
        overrun,
        budget,
      ]);
    } catch (error) {
      if (error.message !== 'budget') throw error;
      // Over budget: say how far it got, and what it cost so far.
      const reports = await Promise.all(
        sims.map(
          (sim) => (
            sim.child.send({ type: 'report' }),
            sim.next('report', 5000).catch(() => undefined)
          ),
        ),
      );
      registry.child.send({ type: 'stats' });
      const now = await registry.next('stats', 5000).catch(() => undefined);
      out.error = `failed: time budget of ${BUDGET_MS / 1000} s exceeded: ${sum(reports, 'registered')} of ${n} registered, ${sum(reports, 'complete')} of ${n} tables complete`;
      if (tRegistered !== undefined) out.registerSeconds = round(tRegistered / 1000, 3);
      if (now) {
        out.soFar = {
          datagramsSent: now.wire.datagrams - before.wire.datagrams,
          bytesSent: now.wire.bytes - before.wire.bytes,
          retried: now.endpoint.retried - before.endpoint.retried,
          timeouts: now.endpoint.timeouts - before.endpoint.timeouts,
          fragmented: now.endpoint.fragmented - before.endpoint.fragmented,
          registryCpuSeconds: round((now.cpuMicros - before.cpuMicros) / 1e6, 2),
          registryCpuMicrosPerRegistered: Math.round(
            (now.cpuMicros - before.cpuMicros) / Math.max(1, sum(reports, 'registered')),
          ),
          registryRssMB: round(now.rss / 2 ** 20),
        };
      }
      out.clientCounters = mergeCounters(reports.map((r) => r?.counters));
      return out;
    }
    const tComplete = nowMs() - t0;
    const afterJoin = await stats(true);
    await allRegistered;
    out.registerSeconds = round(tRegistered / 1000, 3);
    out.registrationsPerSecond = Math.round(n / (tRegistered / 1000));
    out.consistentSeconds = round(tComplete / 1000, 3);
    out.datagramsSent = afterJoin.wire.datagrams - before.wire.datagrams;
    out.bytesSent = afterJoin.wire.bytes - before.wire.bytes;
    out.datagramsReceived = afterJoin.endpoint.received - before.endpoint.received;
    out.retried = afterJoin.endpoint.retried - before.endpoint.retried;
    out.timeouts = afterJoin.endpoint.timeouts - before.endpoint.timeouts;
    out.tableBytes = afterJoin.tableBytes;
    out.fragmented = afterJoin.endpoint.fragmented - before.endpoint.fragmented;
    out.registryCpuSeconds = round((afterJoin.cpuMicros - before.cpuMicros) / 1e6, 2);
    // Over the whole phase (registrations, whole tables and changes until every table is complete), per registration.
    out.registryCpuMicrosPerRegistration = Math.round((afterJoin.cpuMicros - before.cpuMicros) / n);
    out.bytesSentPerRegistration = Math.round(out.bytesSent / n);
    out.clientCounters = mergeCounters((await allComplete).map((r) => r.counters));
    out.registryRssMB = round(afterJoin.rss / 2 ** 20);
    log(
      `N=${n}: registered in ${out.registerSeconds} s, consistent in ${out.consistentSeconds} s, ${out.datagramsSent} datagrams, ${round(out.bytesSent / 2 ** 20)} MiB`,
    );

    // One change: the last client deregisters; everyone else must see it.
    phase = 'a deregistration';
    const changeFor = async (what, expectOnline, act, deactivate) => {
      const s0 = await stats();
      const t = nowMs();
      const complete = Promise.all(sims.map((sim) => sim.next('complete', CHANGE_BUDGET_MS)));
      for (const sim of sims) sim.child.send({ type: 'expect', online: expectOnline, deactivate });
      await act();
      await Promise.race([complete, budget]);
      const seconds = (nowMs() - t) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 200)); // the last ACKs in
      const s1 = await stats();
      return {
        what,
        seconds: round(seconds, 3),
        datagramsSent: s1.wire.datagrams - s0.wire.datagrams,
        bytesSent: s1.wire.bytes - s0.wire.bytes,
        registryCpuMs: round((s1.cpuMicros - s0.cpuMicros) / 1000, 1),
      };
    };
    const leaver = n - 1;
    out.change = await changeFor(
      'deregistration',
      n - 1,
      async () => {
        const sim = owner.get(leaver);
        sim.child.send({ type: 'deregister', index: leaver });
        await sim.next('deregistered', CHANGE_BUDGET_MS);
      },
      leaver,
    );
    out.change.datagramsPerOnlineClient = round(out.change.datagramsSent / (n - 1), 2);
    phase = 'a newcomer';
    out.join = await changeFor('newcomer', n, async () => {
      const sim = owner.get(n);
      sim.child.send({ type: 'register', indices: [n], concurrency: 1 });
      await sim.next('registered', CHANGE_BUDGET_MS);
    });
    out.join.datagramsPerOnlineClient = round(out.join.datagramsSent / n, 2);
    log(
      `N=${n}: one change ${out.change.datagramsSent} datagrams, one join ${out.join.datagramsSent} datagrams ${round(out.join.bytesSent / 1024)} KiB`,
    );
    return out;
  } catch (error) {
    out.error = failure(error);
    out.phase = phase;
    return out;
  } finally {
    clearTimeout(budgetTimer);
    for (const { child, next } of children) {
      if (child.exitCode !== null) continue;
      if (out.error && !(CPU_PROFILE_DIR && child === registry.child)) {
        child.kill('SIGKILL'); // overloaded or broken: nothing to close cleanly
        continue;
      }
      child.send({ type: 'close' });
      await next('closed', 5000).catch(() => child.kill('SIGKILL'));
    }
    await scratch.remove();
  }
}

const mergeCounters = (list) => {
  const total = {};
  for (const counters of list) {
    for (const [key, value] of Object.entries(counters ?? {})) {
      total[key] = key.startsWith('loopDelay')
        ? Math.max(total[key] ?? 0, value)
        : (total[key] ?? 0) + value;
    }
  }
  return total;
};
const sum = (reports, key) => reports.reduce((s, r) => s + (r?.[key] ?? 0), 0);

// A size that overran its budget: the larger ones are skipped (BENCH_REGISTRY_ALL_SIZES=1 runs them anyway).
const sizes = [];
let overran;
for (const n of SIZES) {
  if (overran && process.env.BENCH_REGISTRY_ALL_SIZES !== '1') {
    sizes.push({
      n,
      error: `skipped: N=${overran} already overran the ${BUDGET_MS / 1000} s budget`,
    });
    continue;
  }
  log(`registry: N=${n}`);
  const setupStart = nowMs();
  const measured = await measure(n);
  measured.wallSeconds = round((nowMs() - setupStart) / 1000, 1);
  if (measured.error?.includes('time budget')) overran = n;
  sizes.push(measured);
}
const alone = [];
for (const n of ALONE_SIZES) {
  // With a session (as a client that set one up before: an HPKE set-up here), and without (its pushes then go signed).
  for (const withSession of [true, false]) {
    log(`registry, registration alone: N=${n}, ${withSession ? 'with' : 'without'} a session`);
    alone.push(await measureAlone(n, withSession));
  }
}
emit({
  bench: 'registry',
  alone,
  aloneSetup: `the registry and the simulated clients in processes as above, the clients quiet (a hello, then a registration carrying their session or none; nothing answered)${ALONE_DROP_TABLES ? ', whole-table pushes dropped before they are encoded (the table part left out)' : ''}; registry options ${JSON.stringify(ALONE_OPTIONS)}`,
  budgetSeconds: BUDGET_MS / 1000,
  setup: `registry (LowdbStore) in one process, simulated clients (bare Endpoints) in ${CLIENT_PROCESSES} process(es), ${CONCURRENCY} registrations in flight per process; registry options ${JSON.stringify(REGISTRY_OPTIONS)}`,
  sizes,
});
process.exit(0);
