// Figure 11, three registry nodes on a Redis Cluster: N simulated clients (bare Endpoints,
// lib/cluster-clients.mjs) spread over NODES registry nodes (lib/cluster-node.mjs, each in a
// process of its own, sharing one Redis Cluster under a key prefix of this run), time to
// register them all; then node 0 is killed (SIGKILL) while WATCHED of its clients heartbeat as
// a ChatClient with several nodes does, and each one's time from the kill to its registration
// with the next node is measured (target: every one under 3 s).
//
// Only WATCHED clients heartbeat: every client beating once a second, as they do with several
// nodes, is N signed heartbeats a second, more than this 2-core machine can sign, send and check
// besides the nodes themselves. REDIS_CLUSTER_URL names the cluster (default: the one .ci/run
// starts on 127.0.0.1:7101-7103); a run without one is reported as failed.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import {
  BENCH_DIR,
  OPEN_BUDGETS,
  emit,
  failure,
  ipcWaiter,
  log,
  nowMs,
  size,
  summarize,
} from './lib/common.mjs';

const N = Number(process.env.BENCH_CLUSTER_CLIENTS ?? size(30_000, 60));
const NODES = 3;
const WATCHED = Number(process.env.BENCH_CLUSTER_WATCHED ?? size(1_000, 12));
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? size(2, 1));
const CONCURRENCY = Number(process.env.BENCH_CLUSTER_CONCURRENCY ?? 16);
const BUDGET_MS = Number(process.env.BENCH_CLUSTER_BUDGET_MS ?? size(480_000, 60_000));
const URL =
  process.env.REDIS_CLUSTER_URL ?? 'redis-cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103';
// Only the WATCHED clients heartbeat: with the registry's defaults, each node's sweep would take
// the other clients (some 29,000, silent by design) for gone and probe them (up to 1,000 a
// second per node; before sweeps were paced, thousands at once every ten seconds), then tell
// those that missed a probe they were taken offline. On a loaded machine the simulated
// clients' processes fell behind that by tens of seconds, every one of their timers with them,
// and a kill that landed in such a stall made every watched client late by what was left of
// it (the runs of 15 s). Silent clients are taken for gone only after an hour here: what is
// measured is the clients' switch, not sweeps.
const OPTIONS = { ...OPEN_BUDGETS, missedHeartbeats: 360 };
const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function removeKeys(prefix) {
  const seeds = URL.replace(/^rediss?-cluster:\/\//, '')
    .split(',')
    .map((hostPort) => {
      const [host, port] = hostPort.split(':');
      return { host, port: Number(port) };
    });
  const cluster = new Cluster(seeds, { lazyConnect: true });
  try {
    await cluster.connect();
    for (const node of cluster.nodes('master')) {
      const keys = await node.keys(`${prefix}*`);
      for (const key of keys) await cluster.del(key);
    }
  } finally {
    cluster.disconnect();
  }
}

async function measure() {
  const prefix = `udpchat-bench:${randomBytes(6).toString('hex')}:`;
  const children = [];
  const spawnChild = (file) => {
    // BENCH_PROFILE_DIR: the nodes' CPU profiles (node --cpu-prof) go there.
    const profile =
      process.env.BENCH_PROFILE_DIR && file === 'cluster-node.mjs'
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
  const out = { n: N, nodes: NODES, watched: WATCHED };
  try {
    const nodes = [];
    for (let i = 0; i < NODES; i++) {
      const node = spawnChild('cluster-node.mjs');
      node.child.send({ type: 'start', url: URL, prefix, node: `node-${i}`, options: OPTIONS });
      nodes.push({ ...node, started: await node.next('started', 30_000) }); // one at a time: the first makes the identity they share
    }
    const sims = [];
    for (let p = 0; p < CLIENT_PROCESSES; p++) {
      const indices = [];
      for (let i = p; i < N; i += CLIENT_PROCESSES) indices.push(i);
      const sim = spawnChild('cluster-clients.mjs');
      sim.child.send({
        type: 'init',
        indices,
        nodes: nodes.map((n) => ({ port: n.started.port })),
        sk: nodes[0].started.sk,
      });
      sims.push(sim);
    }
    await Promise.all(sims.map((sim) => sim.next('ready', 300_000)));
    const cpu = async () => {
      let total = 0;
      for (const node of nodes) {
        node.child.send({ type: 'stats' });
        total += (await node.next('stats', 30_000)).cpuMicros;
      }
      return total;
    };
    const cpu0 = await cpu();
    const t0 = nowMs();
    for (const sim of sims) sim.child.send({ type: 'register', concurrency: CONCURRENCY });
    await Promise.all(sims.map((sim) => sim.next('registered', BUDGET_MS)));
    out.registerSeconds = round((nowMs() - t0) / 1000, 2);
    out.registrationsPerSecond = Math.round(N / ((nowMs() - t0) / 1000));
    out.nodeCpuPerRegistrationMicros = Math.round(((await cpu()) - cpu0) / N);
    log(`cluster: ${N} registered over ${NODES} nodes in ${out.registerSeconds} s`);

    for (const sim of sims)
      sim.child.send({ type: 'watch', dead: 0, count: Math.ceil(WATCHED / CLIENT_PROCESSES) });
    await Promise.all(sims.map((sim) => sim.next('watching', 30_000)));
    await new Promise((resolve) => setTimeout(resolve, 3000)); // every watched client has beaten a few times
    nodes[0].child.kill('SIGKILL');
    const at = Date.now();
    for (const sim of sims) sim.child.send({ type: 'killed', at });
    const moved = await Promise.all(sims.map((sim) => sim.next('moved', 60_000)));
    // A heartbeat that went unanswered before the kill (a node slow to answer) moves its client
    // early: counted apart, not as a time from the kill.
    const all = moved.flatMap((m) => m.times);
    const times = all.filter((ms) => ms >= 0);
    out.movedBeforeKill = all.length - times.length;
    out.switch = summarize(times);
    out.switchedUnder3s = times.filter((ms) => ms < 3000).length;
    log(
      `cluster: node 0 killed; ${times.length} clients switched, p50 ${out.switch.p50} ms, max ${out.switch.max} ms`,
    );
    return out;
  } catch (error) {
    out.error = failure(error);
    return out;
  } finally {
    for (const { child, next } of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.send({ type: 'close' });
      await next('closed', 5000).catch(() => child.kill('SIGKILL'));
    }
    await removeKeys(prefix).catch((error) =>
      log(`cluster: keys under ${prefix} not removed: ${error.message}`),
    );
  }
}

emit({ bench: 'cluster', ...(await measure()) });
process.exit(0);
