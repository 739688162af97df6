// Figure 6, memory: the registry's RSS with 10,000 clients and 100,000 saved messages.
// The registry runs in a child process (lib/registry-node.mjs, LowdbStore), its store filled
// before start: a store file in lowdb's first format is written directly (10,000 client
// records, offline after dereg, and 100,000 sealed messages, 10 per client), and a
// LowdbStore opened once on it moves it into the current layout. Measured after start, and
// after every mailbox was read through the store (countMessages for each client: a store
// that loads mailboxes lazily holds them all then). So: the table and the store in memory,
// not the per-client transport state of live traffic (the dedup window and the replay cache,
// bounded at 20,000 and 200,000 entries). The same for the real binary (`bin/udpchat -s
// --db <file>`, VmRSS from /proc, after start only), and, as the baseline, each with an
// empty store.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LowdbStore } from '../dist/index.js';
import {
  BENCH_DIR,
  emit,
  failure,
  ipcWaiter,
  log,
  size,
  sleep,
  startRegistryBinary,
  tempDir,
} from './lib/common.mjs';

const CLIENTS = size(10_000, 500);
const MESSAGES = size(100_000, 2000);
const b64 = (n) => randomBytes(n).toString('base64');
const mb = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;

async function fill(path, clients, messages) {
  const data = { format: 1, clients: {}, mailboxes: {}, groups: {} };
  for (let i = 0; i < clients; i++) {
    const nick = `user${i}`;
    data.clients[nick] = {
      nick,
      ip: '127.0.0.1',
      port: 20000 + (i % 40000),
      online: false,
      deregistered: true,
      sk: b64(32),
      ek: b64(32),
      node: 'bench',
    };
  }
  for (let i = 0; i < messages; i++) {
    const to = `user${i % Math.max(1, clients)}`;
    (data.mailboxes[to] ??= []).push({
      from: `user${(i * 7 + 1) % Math.max(1, clients)}`,
      mid: `m${i}${randomBytes(4).toString('hex')}`,
      sealed: { enc: b64(32), ct: b64(60) },
      ts: Date.now(),
    });
  }
  await writeFile(path, JSON.stringify(data));
}

/** A scratch folder with the store filled, in the store's current layout. */
async function filled(clients, messages) {
  const scratch = await tempDir();
  const db = join(scratch.dir, 'registry.json');
  await fill(db, clients, messages);
  const store = new LowdbStore(db);
  await store.open();
  await store.close();
  return scratch;
}

async function library(dir) {
  const child = fork(join(BENCH_DIR, 'lib', 'registry-node.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--expose-gc'],
  });
  const next = ipcWaiter(child);
  const measure = async () => {
    await sleep(500);
    child.send({ type: 'stats', gc: true });
    const stats = await next('stats');
    return { rssMB: mb(stats.rss), heapUsedMB: mb(stats.heapUsed) };
  };
  try {
    child.send({ type: 'start', dir, options: {} });
    await next('started', 60_000);
    const started = await measure();
    child.send({ type: 'touch' });
    const { messages } = await next('touched', 120_000);
    return { started, touched: { ...(await measure()), messages } };
  } finally {
    child.send({ type: 'close' });
    await next('closed', 10_000).catch(() => child.kill('SIGKILL'));
  }
}

async function binary(dir) {
  // The filled store (100,000 messages) takes a while to load.
  const { server } = await startRegistryBinary(dir, { listenMs: 60_000 });
  try {
    await sleep(1000);
    const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return { started: { rssMB: mb(kb * 1024) } };
  } finally {
    await server.stop('SIGTERM', 10_000);
  }
}

const result = { bench: 'memory', clients: CLIENTS, messages: MESSAGES };
const full = await filled(CLIENTS, MESSAGES);
const empty = await filled(0, 0);
for (const [name, fn] of [
  ['library', library],
  ['binary', binary],
]) {
  try {
    result[name] = { filled: await fn(full.dir), empty: await fn(empty.dir) };
    const f = result[name].filled;
    log(
      `${name}: ${f.started.rssMB} MB after start${f.touched ? `, ${f.touched.rssMB} MB with every mailbox read (${f.touched.messages} messages)` : ''}; empty ${result[name].empty.started.rssMB} MB`,
    );
  } catch (error) {
    result[name] = { error: failure(error) };
  }
}
await full.remove();
await empty.remove();
emit(result);
process.exit(0);
