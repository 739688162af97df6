// Child process: many simulated clients, each a bare Endpoint (one UDP socket) with its own
// Ed25519 identity that signs as its nick, as a ChatClient does. Each registers, ACKs the
// registry's table pushes (pages included) and changes, and keeps only what the benchmark
// needs of its table: which nicks are online (one byte per nick), applied in version order
// like ChatClient (changes ahead of their predecessor are held; a gap that stays, or a table
// that never completes, is healed with table_sync, as ChatClient does).
import { signingKeyFrom } from '../../dist/crypto/identity.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HELLO_PAD_CHARS } from '../../dist/protocol/constants.js';
import { serveParent } from './common.mjs';
import { REGISTRY, options, shareSession, simClient } from './sim-identity.mjs';

const REQUEST = { timeoutMs: 500, tries: 5, signer: REGISTRY };
/** Held change, or no progress on an incomplete table, for this long: ask for the whole table. */
const GAP_MS = 1000;
const STALL_MS = 3000;

const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
let config;
let registryAddress;
let registryKey;
let registryEk;
const clients = [];
const counters = {
  registerRetries: 0,
  resyncs: 0,
  stallResyncs: 0,
  tables: 0,
  deltas: 0,
  pages: 0,
};
let expected; // online count every active client's table must show
let completeSent = false;

const indexOf = (nick) => Number(nick.slice(1));

function makeClient(index) {
  // As ChatClient: the registry's requests under the session set up at registration.
  const client = Object.assign(
    simClient(`c${index}`, () => registryKey),
    {
      index,
      active: false,
      registered: false,
      epoch: '',
      version: -1,
      online: new Uint8Array(config.total + config.spares),
      count: 0,
      pages: undefined,
      held: new Map(),
      gapSince: 0,
      lastProgress: 0,
      syncing: false,
    },
  );
  client.endpoint.onRequest((request, _from, respond, by) =>
    onRequest(client, request, respond, by),
  );
  return client;
}

function setEntry(client, entry) {
  const i = indexOf(entry.nick);
  const now = entry.online ? 1 : 0;
  if (client.online[i] !== now) {
    client.online[i] = now;
    client.count += now ? 1 : -1;
  }
}

function onRequest(client, request, respond, by) {
  if (by !== REGISTRY || client.quiet) return;
  respond({ t: 'ack' });
  client.lastProgress = Date.now();
  if (request.t === 'table') {
    const { table, page = 0, pages = 1 } = request;
    if (!request.refresh && table.epoch === client.epoch && table.version <= client.version) return;
    counters.pages++;
    let pending = client.pages;
    if (
      !pending ||
      pending.epoch !== table.epoch ||
      pending.version !== table.version ||
      pending.parts.length !== pages
    ) {
      if (pending && pending.epoch === table.epoch && pending.version > table.version) return;
      pending = client.pages = {
        epoch: table.epoch,
        version: table.version,
        parts: new Array(pages),
        missing: pages,
      };
    }
    if (page >= pages || pending.parts[page]) return;
    pending.parts[page] = table.entries;
    if (--pending.missing > 0) return;
    client.pages = undefined;
    counters.tables++;
    if (!client.registryMac && registryEk !== undefined)
      void shareSession(client, registryAddress, registryEk, REQUEST);
    for (const [from, delta] of client.held)
      if (delta.epoch !== table.epoch || from < table.version) client.held.delete(from);
    client.epoch = table.epoch;
    client.version = table.version;
    client.online.fill(0);
    client.count = 0;
    for (const part of pending.parts) for (const entry of part) setEntry(client, entry);
    applyHeld(client);
  } else if (request.t === 'table_delta') {
    if (client.version < 0) return hold(client, request);
    if (request.epoch === client.epoch && request.to <= client.version) return;
    if (request.epoch !== client.epoch) return resync(client);
    if (request.from !== client.version) return hold(client, request);
    applyDelta(client, request);
    applyHeld(client);
  }
  // Probes, deliveries and anything else: the ACK above is all a quiet client says.
  check();
}

function hold(client, delta) {
  client.held.set(delta.from, delta);
  if (!client.gapSince) client.gapSince = Date.now();
}

function applyDelta(client, delta) {
  counters.deltas++;
  client.version = delta.to;
  for (const entry of delta.entries) setEntry(client, entry);
}

function applyHeld(client) {
  for (let next = client.held.get(client.version); next; next = client.held.get(client.version)) {
    client.held.delete(next.from);
    applyDelta(client, next);
  }
  if (client.held.size === 0) client.gapSince = 0;
}

function resync(client, stalled = false) {
  if (client.syncing || !client.registered) return;
  client.syncing = true;
  counters.resyncs++;
  if (stalled) counters.stallResyncs++;
  client.endpoint
    .request(registryAddress, { t: 'table_sync', nick: client.nick }, options(client, REQUEST))
    .catch(() => undefined)
    .finally(() => {
      client.syncing = false;
      client.lastProgress = Date.now();
    });
}

/** The counters, with this process's CPU time so far (µs) and its event-loop delay (ms). */
const cpuAtStart = process.cpuUsage();
const withCpu = () => {
  const { user, system } = process.cpuUsage(cpuAtStart);
  return {
    ...counters,
    cpuMicros: user + system,
    loopDelayMaxMs: Math.round(loopDelay.max / 1e6),
    loopDelayP50Ms: Math.round(loopDelay.percentile(50) / 1e6),
  };
};

function check() {
  if (completeSent || expected === undefined || !clients.some((c) => c.active)) return;
  for (const client of clients) if (client.active && client.count !== expected) return;
  completeSent = true;
  process.send({ type: 'complete', counters: withCpu() });
}

async function register(client) {
  client.active = true;
  for (;;) {
    try {
      if (client.quiet) return await registerQuietly(client);
      // As ChatClient on its first registration: a hello for the address cookie, and no
      // session yet (it is set up once the first table is in, see shareSession), so the
      // first table comes signed.
      const hello = {
        t: 'hello',
        nick: client.nick,
        sk: client.sk,
        pad: '.'.repeat(HELLO_PAD_CHARS),
      };
      const { cookie } = await client.endpoint.request(registryAddress, hello, REQUEST);
      const body = { t: 'register', nick: client.nick, sk: client.sk, ek: client.ek, cookie };
      await client.endpoint.request(registryAddress, body, REQUEST);
      client.registered = true;
      client.lastProgress = Date.now();
      return;
    } catch (error) {
      if (error?.code !== 'ERR_TIMEOUT') throw error;
      counters.registerRetries++;
    }
  }
}

/**
 * A quiet client: its session, if it has one ('with-session'), goes in the registration
 * itself (as ChatClient's next registrations do), and it answers nothing the registry sends, so the registry's work is
 * the registration's own plus the first pages of a table nobody acknowledges.
 */
async function registerQuietly(client) {
  const hello = { t: 'hello', nick: client.nick, sk: client.sk, pad: '.'.repeat(HELLO_PAD_CHARS) };
  const { cookie } = await client.endpoint.request(registryAddress, hello, REQUEST);
  const body = { t: 'register', nick: client.nick, sk: client.sk, ek: client.ek, cookie };
  let replyMac;
  if (client.quiet === 'with-session') {
    const session = await client.sessions.datagramSession(registryEk);
    body.session = session.enc;
    replyMac = session.mac; // the answer comes under it
  }
  await client.endpoint.request(registryAddress, body, { ...REQUEST, replyMac });
  client.registered = true;
}

/** Registers clients, `concurrency` at a time. */
async function registerAll(list, concurrency) {
  let next = 0;
  const lane = async () => {
    while (next < list.length) await register(list[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, lane));
}

setInterval(() => {
  const now = Date.now();
  for (const client of clients) {
    if (!client.active || !client.registered) continue;
    if (client.gapSince && now - client.gapSince > GAP_MS) {
      client.gapSince = 0;
      resync(client);
    } else if (
      expected !== undefined &&
      client.count !== expected &&
      now - client.lastProgress > STALL_MS
    ) {
      resync(client, true);
    }
  }
}, 250).unref();

serveParent(
  async (message) => {
    if (message.type === 'init') {
      config = message;
      registryAddress = { address: '127.0.0.1', port: message.registry.port };
      registryKey = signingKeyFrom(message.registry.sk);
      registryEk = message.registry.ek;
      for (const index of message.indices) {
        const client = makeClient(index);
        await client.endpoint.listen(0, '127.0.0.1');
        clients.push(client);
      }
      process.send({ type: 'ready' });
    } else if (message.type === 'expect') {
      expected = message.online;
      completeSent = false;
      if (message.deactivate !== undefined)
        for (const c of clients) if (c.index === message.deactivate) c.active = false;
      check();
    } else if (message.type === 'register') {
      const wanted = new Set(message.indices);
      const list = clients.filter((c) => wanted.has(c.index));
      for (const client of list) {
        client.active = true;
        client.quiet = message.quiet; // false, 'with-session' or 'without-session'
      }
      await registerAll(list, message.concurrency);
      process.send({ type: 'registered', counters: withCpu() });
      check();
    } else if (message.type === 'deregister') {
      const client = clients.find((c) => c.index === message.index);
      client.active = false;
      await client.endpoint.request(
        registryAddress,
        { t: 'deregister', nick: client.nick },
        options(client, REQUEST),
      );
      process.send({ type: 'deregistered' });
    } else if (message.type === 'report') {
      const active = clients.filter((c) => c.active);
      process.send({
        type: 'report',
        counters: withCpu(),
        active: active.length,
        complete: active.filter((c) => c.count === expected).length,
        registered: clients.filter((c) => c.registered).length,
      });
    }
  },
  () => Promise.all(clients.map((c) => c.endpoint.close())),
);
