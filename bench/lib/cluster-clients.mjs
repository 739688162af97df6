// Child process: simulated clients of several registry nodes, each a bare Endpoint with its
// own Ed25519 identity, registered with its home node (index mod nodes). On `watch`, the
// clients named heartbeat their node as a ChatClient with several nodes does (every second, a
// heartbeat given 1.5 s over three tries); one left unanswered moves the client to the next
// node, where it says hello and registers: the time from `killedAt` to that registration is
// what is reported.
import { signingKeyFrom } from '../../dist/crypto/identity.js';
import { HELLO_PAD_CHARS } from '../../dist/protocol/constants.js';
import { serveParent } from './common.mjs';
import { REGISTRY, simClient } from './sim-identity.mjs';

const REQUEST = { timeoutMs: 500, tries: 5, signer: REGISTRY };
const HEARTBEAT = { timeoutMs: 500, tries: 3, signer: REGISTRY };
const HEARTBEAT_EVERY_MS = 1000;

let nodes; // [{ port }]
let registryKey;
const clients = [];
const counters = { registerRetries: 0, heartbeats: 0, switched: 0 };

function makeClient(index) {
  const client = Object.assign(
    simClient(`k${index}`, () => registryKey),
    { index, node: index % nodes.length },
  );
  // Tables, changes, presence, probes: acknowledged, as a client does (their content is not
  // needed here); a presence notice (numbered) is not, as a client does not answer one.
  client.endpoint.onRequest(
    (request, _from, respond, by) =>
      by === REGISTRY && request.seq === undefined && respond({ t: 'ack' }),
  );
  return client;
}

const addressOf = (node) => ({ address: '127.0.0.1', port: nodes[node].port });

async function register(client) {
  for (;;) {
    try {
      const hello = {
        t: 'hello',
        nick: client.nick,
        sk: client.sk,
        pad: '.'.repeat(HELLO_PAD_CHARS),
      };
      const { cookie } = await client.endpoint.request(addressOf(client.node), hello, REQUEST);
      await client.endpoint.request(
        addressOf(client.node),
        { t: 'register', nick: client.nick, sk: client.sk, ek: client.ek, cookie },
        REQUEST,
      );
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

/** Heartbeats until one goes unanswered; then the next node, and when it registered there (`Date.now()`). */
async function heartbeatUntilMoved(client, dead) {
  const jitter = Math.random() * HEARTBEAT_EVERY_MS; // clients do not beat in step
  await new Promise((resolve) => setTimeout(resolve, jitter));
  for (;;) {
    try {
      counters.heartbeats++;
      await client.endpoint.request(
        addressOf(client.node),
        { t: 'heartbeat', nick: client.nick, sk: client.sk },
        HEARTBEAT,
      );
    } catch (error) {
      if (error?.code !== 'ERR_TIMEOUT') throw error;
      client.node = (client.node + 1) % nodes.length;
      if (client.node === dead) client.node = (client.node + 1) % nodes.length;
      await register(client);
      counters.switched++;
      return Date.now(); // the time from the kill is taken once the kill's time is known
    }
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_EVERY_MS));
  }
}

let killedAt = 0;
let moving;
serveParent(
  async (message) => {
    if (message.type === 'init') {
      nodes = message.nodes;
      registryKey = signingKeyFrom(message.sk);
      for (const index of message.indices) {
        const client = makeClient(index);
        // Spread over 16 loopback addresses: 30,000 sockets on one address would take more ports than the kernel's ephemeral range has.
        await client.endpoint.listen(0, `127.0.0.${10 + (index % 16)}`);
        clients.push(client);
      }
      process.send({ type: 'ready' });
    } else if (message.type === 'register') {
      await registerAll(clients, message.concurrency);
      process.send({ type: 'registered', counters });
    } else if (message.type === 'watch') {
      // The clients of node `dead` named by the parent heartbeat from now on.
      const watched = clients.filter((c) => c.node === message.dead).slice(0, message.count);
      moving = Promise.all(watched.map((c) => heartbeatUntilMoved(c, message.dead)));
      process.send({ type: 'watching', count: watched.length });
    } else if (message.type === 'killed') {
      killedAt = message.at;
      const times = (await moving).map((at) => at - killedAt);
      process.send({ type: 'moved', times, counters });
    }
  },
  () => Promise.all(clients.map((c) => c.endpoint.close())),
);
