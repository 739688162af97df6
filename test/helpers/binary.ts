import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const BIN = fileURLToPath(new URL('../../bin/udpchat', import.meta.url));

/**
 * The ports handed out to tests: just below the kernel's ephemeral range (Linux's
 * ip_local_port_range, 32768–60999 by default), where a socket bound to port 0 never lands.
 * A port taken from the ephemeral range, released and handed to a binary could be given to
 * any other socket bound to port 0 meanwhile (tests bind hundreds), and the binary then
 * failed with "port … is already in use" once in a few hundred runs under load.
 */
function testPortRange(): { low: number; high: number } {
  let ephemeralLow = 32_768;
  try {
    ephemeralLow =
      Number(
        readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
      ) || ephemeralLow;
  } catch {
    // not Linux: the default range
  }
  const top = Math.max(2_048, ephemeralLow - 1);
  const bottom = Math.max(1_024, top - 12_000);
  // A slice of its own for each of tap's parallel jobs (TAP_JOB_ID: 0 to jobs - 1, distinct
  // among the files running at once): a port one test file picked and released before its
  // binary binds it cannot be picked meanwhile by the file running beside it.
  const slices = 4;
  const slice = Math.floor((top - bottom + 1) / slices);
  const job = (Number(process.env.TAP_JOB_ID) || 0) % slices;
  const low = bottom + job * slice;
  return { low, high: low + slice - 1 };
}
const TEST_PORTS = testPortRange();

/** A random port of TEST_PORTS that `bind` can take now (tried, then released), on 127.0.0.1. */
async function freeTestPort(bind: (port: number) => Promise<() => Promise<void>>): Promise<number> {
  for (;;) {
    const port =
      TEST_PORTS.low + Math.floor(Math.random() * (TEST_PORTS.high - TEST_PORTS.low + 1));
    const release = await bind(port).catch(() => undefined); // in use: another
    if (release) {
      await release();
      return port;
    }
  }
}

/** A free UDP port on 127.0.0.1, outside the ephemeral range (see testPortRange). */
export function freePort(): Promise<number> {
  return freeTestPort(
    (port) =>
      new Promise((resolve, reject) => {
        const socket = createSocket('udp4');
        socket.once('error', (error) => {
          socket.close();
          reject(error);
        });
        socket.bind(port, '127.0.0.1', () =>
          resolve(() => new Promise<void>((closed) => socket.close(() => closed()))),
        );
      }),
  );
}

/**
 * A free TCP port on 127.0.0.1, for servers that listen on TCP (Redis, the metrics endpoint):
 * a free UDP port can be a TCP port in use. Outside the ephemeral range too, where the many
 * connections to Redis take their local ports.
 */
export function freeTcpPort(): Promise<number> {
  return freeTestPort(
    (port) =>
      new Promise((resolve, reject) => {
        const server = createServer();
        server
          .once('error', reject)
          .listen(port, '127.0.0.1', () =>
            resolve(() => new Promise<void>((closed) => server.close(() => closed()))),
          );
      }),
  );
}

/**
 * The environment a binary runs in as a user's would: this one, without the test runner's
 * loaders in NODE_OPTIONS, with this node first on PATH (bin/udpchat's first line starts the
 * node it finds there), and `extra` over it.
 */
export function binaryEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _loaders, ...inherited } = process.env;
  return {
    ...inherited,
    PATH: [dirname(process.execPath), inherited.PATH].filter(Boolean).join(delimiter),
    ...extra,
  };
}

/** The real udpchat binary, spoken to through stdin and read line by line from stdout. */
export class Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stderr = '';
  /** Its exit code, once it has exited and its output is all read. */
  readonly exited: Promise<number | null>;
  #partial = '';
  #waiters: Array<() => void> = [];

  /** `wrapper`: a command the binary runs under (say `ip netns exec <namespace>`). */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, wrapper: string[] = []) {
    // Run as a user would: the program itself (see binaryEnv).
    const command = [...wrapper, BIN, ...args];
    this.child = spawn(command[0], command.slice(1), {
      env: binaryEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    // 'close', not 'exit': once it is seen, every byte of stdout and stderr has been read.
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code) => {
        for (const wake of this.#waiters.splice(0)) wake();
        resolve(code);
      }),
    );
  }

  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Waits for a line equal to `expected` (or matching it) at or after index `from`; returns its index. */
  async waitFor(expected: string | RegExp, from = 0, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex(
        (line, i) =>
          i >= from && (typeof expected === 'string' ? line === expected : expected.test(line)),
      );
      if (index >= 0) return index;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(
          `no line ${String(expected)} (from ${from}); stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until `line` has been printed `count` times; returns how many times it was. */
  async waitForCount(line: string, count: number, timeoutMs = 20_000): Promise<number> {
    const seen = () => this.lines.filter((printed) => printed === line).length;
    const deadline = Date.now() + timeoutMs;
    while (seen() < count && Date.now() < deadline && this.child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return seen();
  }

  /** Its exit code, or an error naming `what` with its output when it has not exited within `timeoutMs`. */
  async exitWithin(what: string, timeoutMs = 30_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${what}: still running after ${timeoutMs} ms; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Kills (if still running) and waits for the exit, so its files can be removed. */
  async stop(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * A scratch folder and the processes that use it. At teardown every process is killed and
 * waited for before the folder goes (t.testdir() would be removed while they still write).
 */
export function workspace(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'udpchat-e2e-'));
  const running: Running[] = [];
  t.teardown(async () => {
    await Promise.all(running.map((process) => process.stop()));
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    run(args: string[], env?: NodeJS.ProcessEnv, wrapper?: string[]): Running {
      const process = new Running(args, env, wrapper);
      running.push(process);
      return process;
    },
  };
}
