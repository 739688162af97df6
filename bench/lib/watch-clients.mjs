// Child process: many simulated clients of a registry beyond its table limit, each a bare
// Endpoint with its own Ed25519 identity, as a ChatClient is. Each registers and says which
// nicks it watches (its CONTACTS contacts, fixed by contactsOf), and keeps only what the
// benchmark needs: the online state of each contact, as of the table version it came with
// (an older one is ignored, as ChatClient does). The first clients, registered while the table
// was within the limit, get the whole table and its changes until the registry says it outgrew
// the limit; they then say what they watch.
import { signingKeyFrom } from '../../dist/crypto/identity.js';
import { HELLO_PAD_CHARS, WATCH_BATCH } from '../../dist/protocol/constants.js';
import { eachAtMost } from '../../dist/util/at-most.js';
import { serveParent } from './common.mjs';
import { REGISTRY, options, shareSession, simClient } from './sim-identity.mjs';
import { contactsOf } from './contacts-graph.mjs';

const REQUEST = { timeoutMs: 500, tries: 5, signer: REGISTRY };
/** As src/client/watching.ts. */
const WATCHES_AT_ONCE = 4;

let config;
let registryAddress;
let registryKey;
let registryEk;
const clients = [];
const byIndex = new Map();
const counters = {
  registerRetries: 0,
  watchRequests: 0,
  presences: 0,
  switched: 0,
  tables: 0,
  deltas: 0,
};
/** What every active client must hold for each of its contacts: online, except `offline`. */
let expectation;
let completeSent = false;
/** This process's clients have all registered (until then, nothing is complete). */
let registeredAll = false;

const indexOf = (nick) => Number(nick.slice(1));

function makeClient(index) {
  const contacts = contactsOf(index, config.total, config.contacts);
  // As ChatClient: the registry's requests under the session set up after registering.
  const client = Object.assign(
    simClient(`c${index}`, () => registryKey),
    {
      index,
      contacts,
      /** Per contact index: { online, version } as last taken. */
      held: new Map(),
      watching: false,
      active: false,
      registered: false,
      epoch: '',
    },
  );
  client.endpoint.onRequest((request, _from, respond, by) =>
    onRequest(client, request, respond, by),
  );
  return client;
}

/** Takes one entry as of `version` if it is about a contact and newer than what is held. */
function take(client, epoch, version, entry) {
  if (epoch !== client.epoch) {
    client.epoch = epoch;
    client.held.clear();
  }
  const i = indexOf(entry.nick);
  if (!client.contacts.includes(i)) return;
  const held = client.held.get(i);
  if (held && held.version >= version) return;
  client.held.set(i, { online: entry.online, version });
}

function onRequest(client, request, respond, by) {
  if (by !== REGISTRY) return;
  // A presence notice (numbered) is not answered, as ChatClient does not answer one.
  if (!(request.t === 'presence' && request.seq !== undefined)) respond({ t: 'ack' });
  if (request.t === 'presence') {
    counters.presences++;
    for (const entry of request.entries) take(client, request.epoch, request.version, entry);
    if (request.watch && !client.watching) {
      counters.switched++;
      void watchContacts(client);
    }
  } else if (request.t === 'table' && !client.watching) {
    counters.tables++;
    for (const entry of request.table.entries)
      take(client, request.table.epoch, request.table.version, entry);
  } else if (request.t === 'table_delta' && !client.watching) {
    counters.deltas++;
    for (const entry of request.entries) take(client, request.epoch, request.to, entry);
  }
  check();
}

/**
 * Says which nicks it watches, WATCH_BATCH a request, as ChatClient does (src/client/watching.ts):
 * the first batch (which clears) alone, then the rest WATCHES_AT_ONCE at a time. The answers
 * bring those the table holds.
 */
async function watchContacts(client) {
  client.watching = true;
  const nicks = client.contacts.map((i) => `c${i}`);
  const watch = async (add, clear) => {
    counters.watchRequests++;
    const body = { t: 'watch', nick: client.nick, add, ...(clear ? { clear: true } : {}) };
    const reply = await client.endpoint.request(registryAddress, body, options(client, REQUEST));
    for (const entry of reply.entries) take(client, reply.epoch, reply.version, entry);
  };
  await watch(nicks.splice(0, WATCH_BATCH), true);
  const batches = [];
  for (let at = 0; at < nicks.length; at += WATCH_BATCH)
    batches.push(nicks.slice(at, at + WATCH_BATCH));
  await eachAtMost(batches, WATCHES_AT_ONCE, (add) => watch(add, false));
  check();
}

function correct(client) {
  for (const i of client.contacts) {
    const wanted = !expectation.offline.has(i);
    if ((client.held.get(i)?.online ?? false) !== wanted) return false;
  }
  return true;
}

function check() {
  if (completeSent || !expectation || !registeredAll) return;
  for (const client of clients) if (client.active && !correct(client)) return;
  completeSent = true;
  process.send({ type: 'complete', counters: withCpu() });
}

const cpuAtStart = process.cpuUsage();
const withCpu = () => {
  const { user, system } = process.cpuUsage(cpuAtStart);
  return { ...counters, cpuMicros: user + system };
};

async function register(client) {
  client.active = true;
  for (;;) {
    try {
      const hello = {
        t: 'hello',
        nick: client.nick,
        sk: client.sk,
        pad: '.'.repeat(HELLO_PAD_CHARS),
      };
      const { cookie } = await client.endpoint.request(registryAddress, hello, REQUEST);
      const reply = await client.endpoint.request(
        registryAddress,
        { t: 'register', nick: client.nick, sk: client.sk, ek: client.ek, cookie },
        REQUEST,
      );
      client.registered = true;
      // As ChatClient beyond the table limit: the session first, so the watches go under it.
      if (reply.presence === 'watch') {
        await shareSession(client, registryAddress, registryEk, REQUEST);
        await watchContacts(client);
      } else await shareSession(client, registryAddress, registryEk, REQUEST);
      return;
    } catch (error) {
      if (error?.code !== 'ERR_TIMEOUT') throw error;
      counters.registerRetries++;
    }
  }
}

async function registerAll(list, concurrency) {
  let next = 0;
  const lane = async () => {
    while (next < list.length) await register(list[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, lane));
}

serveParent(
  async (message) => {
    if (message.type === 'init') {
      config = message;
      registryAddress = { address: '127.0.0.1', port: message.registry.port };
      registryEk = message.registry.ek;
      registryKey = signingKeyFrom(message.registry.sk);
      for (const index of message.indices) {
        const client = makeClient(index);
        await client.endpoint.listen(0, '127.0.0.1');
        clients.push(client);
        byIndex.set(index, client);
      }
      process.send({ type: 'ready' });
    } else if (message.type === 'expect') {
      expectation = { offline: new Set(message.offline ?? []) };
      completeSent = false;
      for (const i of message.offline ?? []) if (byIndex.has(i)) byIndex.get(i).active = false;
      check();
    } else if (message.type === 'register') {
      await registerAll(clients, message.concurrency);
      registeredAll = true;
      process.send({ type: 'registered', counters: withCpu() });
      check();
    } else if (message.type === 'deregister') {
      const client = byIndex.get(message.index);
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
        registered: clients.filter((c) => c.registered).length,
        complete: expectation ? active.filter(correct).length : 0,
      });
    }
  },
  () => Promise.all(clients.map((c) => c.endpoint.close())),
);
