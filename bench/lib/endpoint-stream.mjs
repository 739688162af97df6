// The transport alone, as a baseline of figure 3: two bare Endpoints (one in the calling
// process, one in a child forked from this file) stream chat-shaped requests and their ACKs with
// a window of requests in flight, with nothing of the client above them (no sealing, no queue,
// no inbox). Once without authentication, once with every datagram under a session key, as
// datagrams between two users in a session go (signing.ts). What the stream costs there is
// what the client's own layers add to.
import { fork } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Endpoint } from '../../dist/transport/endpoint.js';
import { cpuMicros, ipcWaiter, nowMs, serveParent, windowed } from './common.mjs';

/** What a sealed text of a few words looks like on the wire (sizes as in the stream). */
const SEALED = {
  enc: randomBytes(32).toString('base64'),
  ct: randomBytes(22).toString('base64'),
  n: randomBytes(12).toString('base64'),
};

/** A chat's body as the client sends one. */
const chatBody = (mid) => ({ t: 'chat', from: 'alice', mid, sealed: SEALED });

/**
 * With `mac` (a session id and key, base64), the endpoint named `name` checks and sends every
 * datagram under it; the other party is `peer`. Without, no authentication at all. No
 * datagram of the stream goes signed: one that did would be dropped (no signer is known).
 */
function endpointFor(name, peer, mac) {
  if (!mac) return new Endpoint({ coalesce: true });
  const key = Buffer.from(mac.key, 'base64');
  return new Endpoint({
    coalesce: true,
    auth: {
      name,
      privateKey: generateKeyPairSync('ed25519').privateKey,
      keyFor: () => undefined,
      macKeyFor: (by, sid) => (by === peer && sid === mac.sid ? key : undefined),
    },
  });
}

/**
 * `total` requests from this process to a child's endpoint, `window` in flight, after `warmup`
 * one at a time; with `auth`, under a session key. Requests/s over the stream, and the CPU
 * (user + system) each process spent per request.
 */
export async function endpointStream({ auth, total, window, warmup }) {
  const mac = auth
    ? { sid: randomBytes(12).toString('base64'), key: randomBytes(32).toString('base64') }
    : undefined;
  const child = fork(fileURLToPath(import.meta.url), ['peer'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = ipcWaiter(child);
  const alice = endpointFor('alice', 'bob', mac);
  try {
    child.send({ type: 'start', mac });
    const { port } = await next('ready');
    await alice.listen(0, '127.0.0.1');
    const to = { address: '127.0.0.1', port };
    const options = {
      timeoutMs: 500,
      tries: 5,
      ...(mac ? { signer: 'bob', mac: { sid: mac.sid, key: Buffer.from(mac.key, 'base64') } } : {}),
    };
    let sent = 0;
    const one = () => alice.request(to, chatBody(`m${sent++}`), options);
    for (let i = 0; i < warmup; i++) await one();
    child.send({ type: 'cpu' });
    const peerBefore = (await next('cpu')).micros;
    const before = cpuMicros();
    const start = nowMs();
    const failed = await windowed(total, window, one);
    const seconds = (nowMs() - start) / 1000;
    const used = cpuMicros() - before;
    child.send({ type: 'cpu' });
    const peerUsed = (await next('cpu')).micros - peerBefore;
    return {
      auth,
      requests: total,
      failed,
      perSecond: Math.round(total / seconds),
      cpuPerRequestUs: { sender: Math.round(used / total), receiver: Math.round(peerUsed / total) },
    };
  } finally {
    child.send({ type: 'close' });
    await next('closed', 5000).catch(() => child.kill());
    await alice.close();
  }
}

// The child: bob's endpoint, answering every request with an ACK.
if (process.argv[2] === 'peer') {
  let bob;
  serveParent(
    async (message) => {
      if (message.type === 'start') {
        bob = endpointFor('bob', 'alice', message.mac);
        bob.onRequest((request, from, respond) => respond({ t: 'ack' }));
        const { port } = await bob.listen(0, '127.0.0.1');
        process.send({ type: 'ready', port });
      } else if (message.type === 'cpu') process.send({ type: 'cpu', micros: cpuMicros() });
    },
    () => bob?.close(),
  );
}
