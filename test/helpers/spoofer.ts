import { spawnSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import type { Address } from '../../src/transport/address.js';

// Forged source addresses need a raw socket: root (and python3). CI=true makes them mandatory.
const spoofer = fileURLToPath(new URL('./spoof.py', import.meta.url));

/** What this machine lacks for raw sockets (empty when a test may forge addresses). */
export const spoofingMissing = [
  process.getuid?.() === 0 ? undefined : 'root',
  spawnSync('python3', ['--version']).status === 0 ? undefined : 'python3',
].filter((what): what is string => what !== undefined);

/** Sends each datagram to its `to` as if from its `from`, in order, with one raw socket. */
export function spoof(...datagrams: Array<[from: Address, to: Address, datagram: Buffer]>): void {
  const input = datagrams
    .map(
      ([from, to, d]) =>
        `${from.address} ${from.port} ${to.address} ${to.port} ${d.toString('hex')}\n`,
    )
    .join('');
  const result = spawnSync('python3', [spoofer], { input });
  if (result.status !== 0) throw new Error(`spoof failed: ${result.stderr.toString()}`);
}

/**
 * A test that forges source addresses: skipped with a line saying why where raw sockets are
 * missing, unless CI=true, where it runs and fails on what is missing.
 */
export function spoofingTest(name: string, body: (t: Test) => Promise<void>): void {
  if (spoofingMissing.length > 0 && process.env.CI !== 'true') {
    t.test(
      name,
      { skip: `needs ${spoofingMissing.join(', ')} for raw sockets; runs under CI=true` },
      () => undefined,
    );
    return;
  }
  t.test(name, async (t) => {
    t.same(spoofingMissing, [], 'root and python3 are here (CI=true requires them)');
    await body(t);
  });
}
