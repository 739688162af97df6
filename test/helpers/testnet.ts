import { join } from 'node:path';
import type { Test } from 'tap';
import { ChatClient, type ClientEvents } from '../../src/client/client.js';
import type { ChatClientOptions, ChatClientParts } from '../../src/client/options.js';
import { Registry } from '../../src/registry/registry.js';
import type { RegistryOptions } from '../../src/registry/options.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import type { Endpoint } from '../../src/transport/endpoint.js';
import type { Address } from '../../src/transport/address.js';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import { freePort } from './binary.js';

/** Small timings so tests run in milliseconds; a probe (200 ms in all) fits in a client's server budget (750 ms), as with the defaults. */
export const FAST_CLIENT = {
  ackTimeoutMs: 150,
  peerTries: 3,
  serverTimeoutMs: 150,
  serverTries: 5,
} as const;
export const FAST_REGISTRY = {
  probeTimeoutMs: 200,
  probeTries: 3,
  pushTimeoutMs: 60,
  pushTries: 3,
  deliverTimeoutMs: 60,
  deliverTries: 5,
  relayTries: 10, // 600 ms: a restarted client opens its first sealed message (HPKE set up) well within it
  // Every test client shares 127.0.0.1: the per-address limit is tested on its own.
  rateLimitPerSecond: 1_000_000,
  newNicksPerAddress: 1_000_000,
  newNicks: 1_000_000,
  hellosPerAddress: 1_000_000,
  hellos: 1_000_000,
  // Account passwords hashed cheaply (the cost is kept in each hash, so checks follow it).
  scryptCost: 1024,
} as const;

/**
 * For a test whose point is that a probe or a relay is answered (a peer found online): a
 * budget a loaded machine meets, where FAST_REGISTRY's (200 ms in all) is for tests that
 * wait on a probe going unanswered. A client that waits on such a save needs PATIENT_SERVER.
 */
export const PATIENT_PROBE = {
  probeTimeoutMs: 2_000,
  probeTries: 4,
  deliverTimeoutMs: 200,
  relayTries: 10,
} as const;
export const PATIENT_SERVER = { serverTimeoutMs: 500, serverTries: 12 } as const;

export interface Testnet {
  registry: Registry;
  /** The identity of each nick: the same person across restarts of its client. */
  identityOf(nick: string): Promise<Identity>;
  dbPath: string;
  client(
    nick: string,
    options?: Partial<ChatClientOptions>,
    parts?: ChatClientParts,
  ): Promise<ChatClient>;
  /** Like client(), but only bound: register() is the test's to call. */
  openClient(
    nick: string,
    options?: Partial<ChatClientOptions>,
    parts?: ChatClientParts,
  ): Promise<ChatClient>;
  restartRegistry(): Promise<Registry>;
  close(): Promise<void>;
}

/** A registry on 127.0.0.1 port 0 with a lowdb file in the test's own folder, and clients on demand. */
export async function createTestnet(
  t: Test,
  options: { registry?: RegistryOptions; dbPath?: string } = {},
): Promise<Testnet> {
  const dbPath = options.dbPath ?? join(t.testdir(), 'registry.json');
  // The registry's port comes from outside the kernel's ephemeral range (freePort): a restart
  // binds it again, and a port from that range could be taken meanwhile by any socket bound to
  // port 0 (tests bind hundreds), which failed a restart with "port … is already in use".
  const registryOptions = { host: '127.0.0.1', ...FAST_REGISTRY, ...options.registry };
  const clients: ChatClient[] = [];
  const identities = new Map<string, Promise<Identity>>();
  const registryIdentity = await generateIdentity(); // the same registry across restarts
  const identityOf = (nick: string) => {
    if (!identities.has(nick)) identities.set(nick, generateIdentity());
    return identities.get(nick)!;
  };
  const startRegistry = (port: number) =>
    Registry.start(
      { ...registryOptions, port },
      { store: new LowdbStore(dbPath), identity: registryIdentity },
    );
  let registry =
    registryOptions.port === undefined
      ? await onFreePort(startRegistry)
      : await startRegistry(registryOptions.port);
  const registryPort = registry.address().port;
  const net: Testnet = {
    get registry() {
      return registry;
    },
    dbPath,
    identityOf,
    async client(nick, clientOptions = {}, parts = {}) {
      const client = await net.openClient(nick, clientOptions, parts);
      await client.register();
      // Its session with the registry is set up right after: wait, so that tests counting
      // datagrams do not count that exchange.
      await client.registrySessionShared();
      return client;
    },
    async openClient(nick, clientOptions = {}, parts = {}) {
      const client = await ChatClient.open(
        {
          nick,
          server: { host: '127.0.0.1', port: registryPort },
          host: '127.0.0.1',
          port: 0,
          ...FAST_CLIENT,
          ...clientOptions,
        },
        { identity: await identityOf(nick), ...parts },
      );
      clients.push(client);
      return client;
    },
    /** Closes the registry if it still runs, and starts a new one on the same port and file. */
    async restartRegistry() {
      await registry.close();
      registry = await onSamePort(() => startRegistry(registryPort));
      return registry;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await registry.close();
    },
  };
  t.teardown(() => net.close());
  return net;
}

const inUse = (error: unknown) => (error as { code?: string }).code === 'ERR_PORT_IN_USE';

/** `start` on a port of freePort's range; another one if a test elsewhere took it meanwhile. */
export async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await start(await freePort());
    } catch (error) {
      if (!inUse(error)) throw error;
    }
  }
}

/**
 * `start` again on a port just given up. Outside the ephemeral range only freePort's own
 * probe (bound and released at once) can hold it meanwhile: try again until it is let go.
 */
export async function onSamePort<T>(start: () => Promise<T>, waitMs = 15_000): Promise<T> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      return await start();
    } catch (error) {
      if (!inUse(error) || Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export type Recorded = { [K in keyof ClientEvents]: [K, ClientEvents[K]] }[keyof ClientEvents];

/** Every event a client emits, in order, for assertions on what a user would see. */
export function record(client: ChatClient): Recorded[] {
  const events: Recorded[] = [];
  client.onAny((event, payload) => events.push([event, payload] as Recorded));
  return events;
}

/** Resolves with the first matching event, or rejects after `timeoutMs`. */
export function nextEvent<K extends keyof ClientEvents>(
  client: ChatClient,
  event: K,
  match: (payload: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: ClientEvents[K]) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve(payload);
    };
    client.on(event, listener);
  });
}

/** Waits until `check` holds, polling; for state that settles asynchronously (table pushes). `what` names it in the failure (a function: as it stands then). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what: string | (() => string) = 'condition',
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const said = typeof what === 'string' ? what : what(); // a function says how it stands
      throw new Error(`${said} did not hold within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The cookie a registration from `endpoint` must carry: a padded `hello` first, as a client sends it. */
export async function cookieFor(
  endpoint: Endpoint,
  registry: Address,
  nick: string,
  sk: string,
): Promise<string> {
  const reply = await endpoint.request(
    registry,
    { t: 'hello', nick, sk, pad: '.'.repeat(HELLO_PAD_CHARS) },
    { timeoutMs: 500, tries: 5 },
  );
  if (reply.t !== 'server_hello') throw new Error(`unexpected ${reply.t}`);
  return reply.cookie;
}
