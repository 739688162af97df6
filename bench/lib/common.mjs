// Shared helpers for the benchmarks: sizes, timing, percentiles, ports, processes, output.
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const SMOKE = process.env.BENCH_SMOKE === '1';
export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIR, '..');
export const BIN = join(ROOT, 'bin', 'udpchat');
export const DIST = join(ROOT, 'dist', 'index.js');

/**
 * Registry options that lift its budgets per source address and for everyone (datagrams, hellos,
 * new nicks): the simulated clients of a benchmark all share 127.0.0.1.
 */
export const OPEN_BUDGETS = {
  rateLimitPerSecond: 1_000_000,
  hellosPerAddress: 1_000_000,
  hellos: 1_000_000,
  newNicksPerAddress: 1_000_000,
  newNicks: 1_000_000,
};

/** `full` normally, `smoke` under BENCH_SMOKE=1. */
export const size = (full, smoke) => (SMOKE ? smoke : full);

/** Milliseconds, as a float, from a monotonic clock. */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** p50, p90, p99, min, max, mean of samples in ms (rounded to µs). */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1000) / 1000;
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    min: round(sorted[0] ?? NaN),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(mean),
  };
}

export const log = (...parts) => process.stderr.write(`[bench] ${parts.join(' ')}\n`);

/** Prints the figures of one benchmark: one JSON object, the last line on stdout. */
export function emit(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * The arguments of a client binary (`bin/udpchat -c`) as a user starts it: `nick` against the
 * registry on 127.0.0.1 `serverPort`, bound to `host`:`port`, its files under `dataDir`;
 * `--json` with `json`.
 */
export function clientArgs({ nick, serverPort, port, host = '127.0.0.1', dataDir, json = false }) {
  return [
    '-c',
    nick,
    '127.0.0.1',
    String(serverPort),
    String(port),
    ...(json ? ['--json'] : []),
    '--host',
    host,
    '--data-dir',
    dataDir,
  ];
}

/**
 * `total` calls of `one(i)` (i from 0), at most `window` of them under way at once; resolves
 * once every one has settled, with how many rejected.
 */
export function windowed(total, window, one) {
  return new Promise((resolve) => {
    let started = 0;
    let settled = 0;
    let failed = 0;
    const done = () => {
      if (++settled === total) resolve(failed);
      else launch();
    };
    const launch = () => {
      while (started < total && started - settled < window)
        one(started++).then(done, () => {
          failed++;
          done();
        });
    };
    if (total === 0) resolve(0);
    else launch();
  });
}

/** CPU time (user + system, µs) this process has used so far (`process.cpuUsage()`). */
export const cpuMicros = () => (({ user, system }) => user + system)(process.cpuUsage());

/**
 * CPU time (user + system, ms) process `pid` has used so far, from /proc (Linux); undefined
 * elsewhere. Clock ticks of 10 ms: over hundreds of messages, a fraction of a microsecond each.
 */
export function cpuMsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime; USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) the threads of process `pid` have run so far, to the nanosecond, from the
 * scheduler's own count (/proc/<pid>/task/<tid>/schedstat, Linux); undefined elsewhere. For
 * figures too small for `cpuMsOf`'s clock ticks (which also charge a whole tick to a process
 * that ran for part of it). Only threads alive at the reading are counted: a difference of two
 * readings misses a thread that ended between them, so it is for processes whose threads last
 * (node's main thread, its libuv pool and V8's workers do).
 */
export function runMsOf(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * Like `runMsOf`, split: the main thread's CPU time (ms, to the nanosecond) and that of the
 * process's other threads (V8's helper threads, which compile optimised code and help the
 * garbage collector, and libuv's pool); undefined elsewhere than Linux.
 */
export function threadMsOf(pid) {
  try {
    let main = 0;
    let others = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(tid) === pid) main += ns;
      else others += ns;
    }
    return { main: main / 1e6, others: others / 1e6 };
  } catch {
    return undefined;
  }
}

/** A UDP port free right now on `host` (a race with others is possible, but unlikely). */
export async function freeUdpPort(host = '127.0.0.1') {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, resolve);
  });
  const { port } = socket.address();
  await new Promise((resolve) => socket.close(resolve));
  return port;
}

/** Scratch folders not removed yet: removed when the process exits, whatever happened. */
const scratchDirs = new Set();
process.once('exit', () => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

export async function tempDir(prefix = 'udpchat-bench-') {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratchDirs.add(dir);
  return {
    dir,
    remove: async () => {
      await rm(dir, { recursive: true, force: true });
      scratchDirs.delete(dir);
    },
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` with `what` in the message; clears its timer once `promise` settles. */
export function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Spawns a process and reads its stdout line by line. `waitFor(test, ms)` resolves with the
 * first line (from now on, or already buffered and not yet taken) that passes `test`.
 */
export function spawnLines(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  const lines = [];
  let waiters = [];
  const stderr = [];
  child.stderr.on('data', (chunk) => {
    stderr.push(chunk.toString());
    if (stderr.length > 200) stderr.shift();
  });
  const reader = createInterface({ input: child.stdout });
  reader.on('line', (line) => {
    const at = nowMs();
    const waiter = waiters.find((w) => w.test(line));
    if (waiter) {
      waiters = waiters.filter((w) => w !== waiter);
      waiter.resolve({ line, at });
    } else lines.push({ line, at });
  });
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  exited.then(({ code, signal }) => {
    for (const w of waiters)
      w.reject(
        new Error(
          `${command} ${args.join(' ')} exited (${code ?? signal}) before the line awaited; stderr: ${stderr.join('').slice(-500)}`,
        ),
      );
    waiters = [];
  });
  return {
    child,
    exited,
    stderr: () => stderr.join(''),
    write: (text) => child.stdin.write(text),
    /** Drops the lines read so far and not awaited. */
    clear: () => lines.splice(0),
    waitFor(test, ms = 10_000) {
      const index = lines.findIndex((entry) => test(entry.line));
      if (index >= 0) return Promise.resolve(lines.splice(index, 1)[0]);
      return within(
        new Promise((resolve, reject) => waiters.push({ test, resolve, reject })),
        ms,
        `a line from ${args.join(' ')}`,
      );
    },
    async stop(signal = 'SIGTERM', ms = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await within(exited, ms, 'exit').catch(() => child.kill('SIGKILL'));
    },
  };
}

/** Runs a command to completion; resolves with its stdout, stderr and status. */
export function run(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', (error) => resolve({ code: -1, stdout, stderr: String(error) }));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Messages from a forked child (IPC): waits for the first one of `type`. */
export function ipcWaiter(child) {
  const queue = [];
  let waiters = [];
  let exitInfo;
  child.on('message', (message) => {
    const waiter = waiters.find((w) => w.type === message.type || message.type === 'error');
    if (waiter) {
      waiters = waiters.filter((w) => w !== waiter);
      if (message.type === 'error') waiter.reject(new Error(message.message));
      else waiter.resolve(message);
    } else queue.push(message);
  });
  child.once('exit', (code, signal) => {
    exitInfo = { code, signal };
    for (const w of waiters)
      w.reject(new Error(`child exited (${code ?? signal}) while waiting for '${w.type}'`));
    waiters = [];
  });
  return (type, ms = 30_000) => {
    const index = queue.findIndex((m) => m.type === type || m.type === 'error');
    if (index >= 0) {
      const [message] = queue.splice(index, 1);
      return message.type === 'error'
        ? Promise.reject(new Error(message.message))
        : Promise.resolve(message);
    }
    if (exitInfo)
      return Promise.reject(
        new Error(`child exited (${exitInfo.code ?? exitInfo.signal}) before '${type}'`),
      );
    let entry;
    return within(
      new Promise((resolve, reject) => {
        entry = { type, resolve, reject };
        waiters.push(entry);
      }),
      ms,
      `child message '${type}'`,
    ).finally(() => (waiters = waiters.filter((w) => w !== entry)));
  };
}

/** A failure as a short string for the report. */
export const failure = (error) =>
  `failed: ${String(error?.message ?? error)
    .split('\n')[0]
    .slice(0, 300)}`;

/**
 * A child's side of the IPC with run.mjs's processes: every message goes to `handle`; `close`
 * runs `onClose`, answers `closed` and exits; a failure is sent back as {type: 'error'}; the
 * child exits when its parent goes.
 */
export function serveParent(handle, onClose) {
  process.on('message', async (message) => {
    try {
      if (message.type !== 'close') return await handle(message);
      await onClose?.();
      process.send({ type: 'closed' });
      process.exit(0);
    } catch (error) {
      process.send({
        type: 'error',
        message: `${error?.code ? `${error.code}: ` : ''}${error?.stack ?? error?.message ?? error}`,
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/**
 * The registry binary (`bin/udpchat -s`, default options but a quiet log) on a free port of
 * 127.0.0.1, its store in `dir`; resolves once it listens, within `listenMs` (a large store
 * takes long to load), and is stopped again if it does not.
 */
export async function startRegistryBinary(dir, { listenMs = 10_000 } = {}) {
  const serverPort = await freeUdpPort();
  const server = spawnLines(BIN, [
    '-s',
    String(serverPort),
    '--host',
    '127.0.0.1',
    '--db',
    join(dir, 'registry.json'),
    '--log-level',
    'warn',
  ]);
  try {
    await server.waitFor((line) => line.startsWith('udpchat registry listening'), listenMs);
  } catch (error) {
    await server.stop('SIGTERM');
    throw error;
  }
  return { server, serverPort };
}
