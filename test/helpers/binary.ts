import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const BIN = fileURLToPath(new URL('../../bin/udpchat', import.meta.url));

/** A free UDP port on 127.0.0.1 (bound and released; good enough on a quiet loopback). */
export async function freePort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * A free TCP port on 127.0.0.1, for servers that listen on TCP (Redis, the metrics endpoint):
 * a free UDP port can be a TCP port in use (say, by one of the many connections to Redis).
 */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The real udpchat binary, spoken to through stdin and read line by line from stdout. */
export class Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  #partial = '';
  #waiters: Array<() => void> = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    // Run as a user would: without the test runner's loaders in NODE_OPTIONS.
    const { NODE_OPTIONS: _loaders, ...inherited } = process.env;
    this.child = spawn(process.execPath, [BIN, ...args], {
      env: { ...inherited, ...env },
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
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => {
      for (const wake of this.#waiters.splice(0)) wake();
      resolve(code);
    }));
  }

  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Waits for a line equal to `expected` (or matching it) at or after index `from`; returns its index. */
  async waitFor(expected: string | RegExp, from = 0, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex(
        (line, i) => i >= from && (typeof expected === 'string' ? line === expected : expected.test(line)),
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
    run(args: string[], env?: NodeJS.ProcessEnv): Running {
      const process = new Running(args, env);
      running.push(process);
      return process;
    },
  };
}
