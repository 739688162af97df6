import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort, workspace, type Running } from './binary.js';

/**
 * Small timeouts given as options, so nothing sleeps through the 500 ms defaults: a peer that
 * does not answer is given up on after 150 ms. The registry gets 20 tries of 150 ms (`--retries`
 * is for requests to it alone): a registry just started compiles its code at its first hello,
 * which on a loaded machine took longer than 4 tries (a client started at once then said
 * `[Server not responding]`), and 3 s still tells a registry that is down from one that is slow.
 */
export const FAST_CLIENT_ARGS = ['--ack-timeout', '150', '--retries', '20'];
/**
 * For requests the registry takes its time over on purpose (a password goes through scrypt,
 * ~100 ms idle, far more on a loaded machine): 5 s of patience, so a slow machine is not
 * taken for a registry that does not answer.
 */
export const PATIENT_CLIENT_ARGS = ['--ack-timeout', '500', '--retries', '10'];

export type Workspace = ReturnType<typeof workspace>;

export async function startServer(
  space: Workspace,
  port?: number,
  extra: string[] = [],
): Promise<{ server: Running; serverPort: number }> {
  const serverPort = port ?? (await freePort());
  const server = space.run([
    '-s',
    String(serverPort),
    '--host',
    '127.0.0.1',
    '--probe-timeout',
    '150',
    '--db',
    join(space.dir, 'registry.json'),
    '--log-level',
    'info',
    ...extra,
  ]);
  await server.waitFor(/^udpchat registry listening on udp 127\.0\.0\.1:\d+, storing in /);
  return { server, serverPort };
}

/** A client's arguments; `machine` names its data directory (another machine, another identity). */
export async function clientArgs(
  space: Workspace,
  nick: string,
  serverPort: number,
  extra: string[] = [],
  machine = 'clients',
  timing = FAST_CLIENT_ARGS,
) {
  return [
    '-c',
    nick,
    '127.0.0.1',
    String(serverPort),
    String(await freePort()),
    '--host',
    '127.0.0.1',
    '--data-dir',
    join(space.dir, machine),
    ...timing,
    ...extra,
  ];
}

export async function startClient(
  space: Workspace,
  nick: string,
  serverPort: number,
  extra: string[] = [],
) {
  const client = space.run(await clientArgs(space, nick, serverPort, extra));
  const welcome = await client.waitFor('>>> [Welcome, You are registered.]');
  // Started once its first table is in: without it the client can verify nobody.
  await client.waitFor('>>> [Client table updated.]', welcome);
  return client;
}

export function e2e(t: Test) {
  return workspace(t);
}

/** alice online, bob deregistered (so messages to him go to the registry). */
export async function bobAway(t: Test) {
  const space = e2e(t);
  const first = await startServer(space);
  const alice = await startClient(space, 'alice', first.serverPort);
  const bob = await startClient(space, 'bob', first.serverPort);
  bob.type('dereg bob');
  await bob.waitFor('>>> [You are Offline. Bye.]');
  return { space, first, alice, bob };
}

/** bobAway, then the registry killed. */
export async function bobAwayRegistryDead(t: Test) {
  const { space, first, alice, bob } = await bobAway(t);
  first.server.kill('SIGKILL');
  await first.server.exited;
  return { space, first, alice, bob };
}
