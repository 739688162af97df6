// Figure 5, the store: save-for-offline confirmations, through the Store interface
// (saveMessage, one at a time: latency; WINDOW at a time: confirmations/s), for LowdbStore
// and RedisStore, with 0, 10,000 and 100,000 messages already stored; and end to end once:
// a ChatClient `send` to a recipient that left with dereg (saved at once, no probe), timed to
// its 'saved' outcome.
// Pre-filling: lowdb gets a store file in its first format (format 1: the mailboxes inside
// registry.json), written directly, which LowdbStore.open moves into its current layout (one
// file per mailbox); Redis is filled through saveMessage, WINDOW at a time. The saves measured
// go to the existing mailboxes, round robin, each read once before (countMessages), as a
// running registry has read the mailboxes of the clients that registered.
// Baselines: for lowdb, writing as many bytes as one save rewrote (fs.writeFile to a temp
// file + rename, as lowdb does); for Redis, a PING round trip on the same connection.
import { open, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ChatClient, LowdbStore, RedisStore, Registry } from '../dist/index.js';
import { SMOKE, emit, failure, log, nowMs, size, summarize, tempDir } from './lib/common.mjs';

const PREFILLS = SMOKE ? [0, 1000] : [0, 10_000, 100_000];
const E2E_PREFILLS = SMOKE ? [0] : [0, 10_000];
/** The lowdb store with every write flushed (`udpchat -s --fsync`). */
const FSYNC_PREFILLS = SMOKE ? [0] : [0, 10_000];
const RECIPIENTS = 1000; // the stored messages are spread over this many mailboxes
const WINDOW = 64;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Sequential saves per case: more for the fast cases, bounded by time for the slow ones. */
const SEQUENTIAL = size(1000, 50);
const CONCURRENT = size(3000, 100);
const CASE_BUDGET_MS = size(5000, 2000);

const b64 = (n) => randomBytes(n).toString('base64');
/** A saved message as a real client makes it: HPKE enc (32 bytes) and a short sealed text. */
const message = (from, i) => ({
  from,
  mid: `${from}-${i}-${randomBytes(3).toString('hex')}`,
  sealed: { enc: b64(32), ct: b64(60) },
  ts: Date.now(),
});

async function lowdbFile(path, stored) {
  const mailboxes = {};
  for (let i = 0; i < stored; i++)
    (mailboxes[`u${i % RECIPIENTS}`] ??= []).push(message(`s${i % 97}`, i));
  await writeFile(path, JSON.stringify({ format: 1, clients: {}, mailboxes, groups: {} }));
}

/**
 * One save at a time (latency), then WINDOW at a time (confirmations/s), each within the
 * case budget. The saves go to the mailboxes already there (round robin), as new mail would.
 */
async function saves(store) {
  // Warm: a running registry has read the mailboxes of the clients that registered.
  for (let i = 0; i < RECIPIENTS; i++) await store.countMessages(`u${i}`);
  const samples = [];
  const start = nowMs();
  for (let i = 0; i < SEQUENTIAL && nowMs() - start < CASE_BUDGET_MS; i++) {
    const t = nowMs();
    await store.saveMessage(`u${i % RECIPIENTS}`, message('alice', i));
    samples.push(nowMs() - t);
  }
  let done = 0;
  const cStart = nowMs();
  let next = 0;
  const lane = async () => {
    while (next < CONCURRENT && nowMs() - cStart < CASE_BUDGET_MS) {
      const i = next++;
      await store.saveMessage(`u${i % RECIPIENTS}`, message('bob', i));
      done++;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const seconds = (nowMs() - cStart) / 1000;
  return {
    latencyMs: summarize(samples),
    concurrent: { window: WINDOW, saves: done, perSecond: Math.round(done / seconds) },
  };
}

/** Every file under `dir` with its size and modification time. */
async function files(dir) {
  const found = new Map();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    const info = await stat(path).catch(() => undefined);
    if (info) found.set(path, { size: info.size, mtime: info.mtimeMs });
  }
  return found;
}
const totalBytes = (found) => [...found.values()].reduce((n, f) => n + f.size, 0);

/**
 * Durably, as `--fsync` writes: `text` to a temp file, flushed, renamed to `target`, and the
 * folder flushed.
 */
async function writeFlushed(target, text) {
  const file = await open(`${target}.tmp`, 'w');
  await file.writeFile(text);
  await file.sync();
  await file.close();
  await rename(`${target}.tmp`, target);
  const folder = await open(join(target, '..'), 'r');
  await folder.sync();
  await folder.close();
}

/** LowdbStore (with `durable`, every write flushed, as `udpchat -s --fsync`). */
async function lowdb(stored, durable = false) {
  const scratch = await tempDir();
  try {
    const path = join(scratch.dir, 'registry.json');
    await lowdbFile(path, stored);
    const store = new LowdbStore(path, { durable });
    await store.open(); // a format-1 file is moved into the store's current layout here
    const storeBytes = totalBytes(await files(scratch.dir));
    const measured = await saves(store);
    // Baseline: the bytes one save rewrites (whatever files it touched), written once the
    // way lowdb writes them: a temp file and a rename.
    const before = await files(scratch.dir);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.saveMessage('u1', message('carol', 1));
    const after = await files(scratch.dir);
    const touched = [...after].filter(
      ([file, info]) => before.get(file)?.mtime !== info.mtime && !file.endsWith('.tmp'),
    );
    const bytesPerSave = touched.reduce((n, [, info]) => n + info.size, 0);
    const text = Buffer.alloc(bytesPerSave, 'x');
    const target = join(scratch.dir, 'baseline.json');
    const base = [];
    for (let i = 0; i < Math.min(measured.latencyMs.n, 500); i++) {
      const t = nowMs();
      if (durable) await writeFlushed(target, text);
      else {
        await writeFile(`${target}.tmp`, text);
        await rename(`${target}.tmp`, target);
      }
      base.push(nowMs() - t);
    }
    await store.close();
    return {
      stored,
      storeBytes,
      bytesPerSave,
      filesPerSave: touched.length,
      ...measured,
      baselineMs: summarize(base),
      baseline: durable
        ? 'as many bytes as one save rewrote, to a temp file, fsync, rename, fsync of the folder'
        : 'fs.writeFile of as many bytes as one save rewrote, to a temp file + rename',
    };
  } finally {
    await scratch.remove();
  }
}

async function redis(stored) {
  const prefix = `udpchat-bench-${process.pid}-${randomBytes(3).toString('hex')}:`;
  const store = new RedisStore({ url: REDIS_URL, prefix });
  try {
    await store.open();
    await fill(store, stored);
    const measured = await saves(store);
    const base = [];
    for (let i = 0; i < Math.min(measured.latencyMs.n, 2000); i++) {
      const t = nowMs();
      await store.redis.ping();
      base.push(nowMs() - t);
    }
    return {
      stored,
      ...measured,
      baselineMs: summarize(base),
      baseline: 'PING on the same connection',
    };
  } finally {
    await deletePrefix(store, prefix);
    await store.close();
  }
}

/** `stored` messages spread over RECIPIENTS mailboxes, WINDOW saves at a time. */
async function fill(store, stored) {
  let next = 0;
  const lane = async () => {
    while (next < stored) {
      const i = next++;
      await store.saveMessage(`u${i % RECIPIENTS}`, message(`s${i % 97}`, i));
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

async function deletePrefix(store, prefix) {
  let cursor = '0';
  do {
    const [nextCursor, keys] = await store.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length > 0) await store.redis.unlink(...keys);
  } while (cursor !== '0');
}

/** alice sends to bob, who left with dereg: every send resolves 'saved' (no probe). */
async function endToEnd(kind, stored) {
  const scratch = await tempDir();
  const prefix = `udpchat-bench-${process.pid}-${randomBytes(3).toString('hex')}:`;
  let store;
  if (kind === 'lowdb') {
    const path = join(scratch.dir, 'registry.json');
    await lowdbFile(path, stored);
    store = new LowdbStore(path);
  } else {
    store = new RedisStore({ url: REDIS_URL, prefix });
  }
  // One sender fills the mailbox here: its share is the whole of it (the default is a tenth).
  const registry = await Registry.start(
    { port: 0, host: '127.0.0.1', mailboxMessagesPerSender: SEQUENTIAL },
    { store },
  );
  const server = { host: '127.0.0.1', port: registry.address().port };
  const alice = await ChatClient.start({ nick: 'alice', server, host: '127.0.0.1' });
  const bob = await ChatClient.start({ nick: 'bob', server, host: '127.0.0.1' });
  try {
    if (kind === 'redis' && stored > 0) await fill(store, stored);
    await bob.deregister();
    const until = Date.now() + 10_000;
    while (alice.table().find((e) => e.nick === 'bob')?.online !== false) {
      if (Date.now() > until) throw new Error("bob never went offline in alice's table");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const samples = [];
    const outcomes = {};
    const start = nowMs();
    for (let i = 0; i < SEQUENTIAL && nowMs() - start < CASE_BUDGET_MS; i++) {
      const t = nowMs();
      const outcome = await alice.send('bob', `saved ${i}`);
      samples.push(nowMs() - t);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    return { store: kind, stored, latencyMs: summarize(samples), outcomes };
  } finally {
    await alice.close();
    await bob.close();
    await registry.close();
    if (kind === 'redis') {
      const cleaner = new RedisStore({ url: REDIS_URL, prefix });
      await cleaner.open();
      await deletePrefix(cleaner, prefix);
      await cleaner.close();
    }
    await scratch.remove();
  }
}

const result = {
  bench: 'store',
  recipients: RECIPIENTS,
  redisUrl: REDIS_URL.replace(/\/\/[^@/]*@/, '//***@'),
  lowdb: [],
  lowdbFsync: [],
  redis: [],
  endToEnd: [],
};
for (const stored of PREFILLS) {
  for (const [name, fn] of [
    ['lowdb', lowdb],
    ['redis', redis],
  ]) {
    try {
      const r = await fn(stored);
      log(
        `${name} ${stored} stored: save p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms (${r.latencyMs.n}), ${r.concurrent.perSecond}/s with ${WINDOW} at once`,
      );
      result[name].push(r);
    } catch (error) {
      result[name].push({ stored, error: failure(error) });
    }
  }
}
for (const stored of FSYNC_PREFILLS) {
  try {
    const r = await lowdb(stored, true);
    log(
      `lowdb --fsync ${stored} stored: save p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms (${r.latencyMs.n}), ${r.concurrent.perSecond}/s with ${WINDOW} at once`,
    );
    result.lowdbFsync.push(r);
  } catch (error) {
    result.lowdbFsync.push({ stored, error: failure(error) });
  }
}
for (const kind of ['lowdb', 'redis']) {
  for (const stored of kind === 'lowdb' ? E2E_PREFILLS : [0]) {
    try {
      const r = await endToEnd(kind, stored);
      log(
        `end to end ${kind} ${stored} stored: send→saved p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms`,
      );
      result.endToEnd.push(r);
    } catch (error) {
      result.endToEnd.push({ store: kind, stored, error: failure(error) });
    }
  }
}
emit(result);
process.exit(0);
