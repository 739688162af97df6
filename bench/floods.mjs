// Figure 8, floods: the registry as a public UDP service under each flood docs/security.md
// lists, one after another. The registry is the binary (`bin/udpchat -s`, default options)
// in its own process. The floods come from this process, each host a loopback address of
// its own (127.0.x.y: another host to the registry's per-address budgets), speaking the
// protocol by hand on plain sockets. A real user (a ChatClient in a child process,
// lib/registrant.mjs, on 127.0.0.9) registers three times during each flood: a user coming
// back (the same nick and keys; a nick new to the table is what the floods spend the
// budget of, see docs/security.md).
// Measured per flood: the registry's peak VmRSS (/proc, every 50 ms), the slowest of those
// registrations (hello, register, first table), the bytes the registry sent the flooding
// hosts against what they sent it, and what it kept (nicks in the table). Baseline: the
// same registration before any flood, and the registry's RSS then.
import dgram from 'node:dgram';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateRawKeyPair, privateKeyObject } from '../dist/crypto/key-pairs.js';
import { signDatagram } from '../dist/crypto/signing.js';
import { encodeRequest } from '../dist/protocol/codec.js';
import { HELLO_PAD_CHARS } from '../dist/protocol/constants.js';
import { passwordAad, seal } from '../dist/crypto/sealing.js';
import {
  BENCH_DIR,
  BIN,
  cpuMsOf,
  emit,
  freeUdpPort,
  ipcWaiter,
  log,
  nowMs,
  size,
  sleep,
  spawnLines,
  tempDir,
} from './lib/common.mjs';

const FLOOD_MS = size(10_000, 1_500);
const PAD = '.'.repeat(HELLO_PAD_CHARS);

function keys() {
  // Raw pairs, never generateKeyPairSync's key objects (see src/crypto/key-pairs.ts).
  const signing = generateRawKeyPair('ed25519');
  return {
    privateKey: privateKeyObject('ed25519', signing),
    sk: signing.publicRaw.toString('base64'),
    ek: generateRawKeyPair('x25519').publicRaw.toString('base64'),
  };
}

/**
 * 10,000 requests a second from 20 hosts (`prefix`.1–20), each for a fresh nick, made by
 * `body(nick, sk)` and signed right by the key it brings (64 keys in turn: anyone can make them).
 */
async function signedByTheirKeys(registry, prefix, body) {
  const from = await hosts(prefix, 20, registry);
  const pool = Array.from({ length: 64 }, () => keys());
  const sent = await paced(1, (i) => {
    for (let j = 0; j < 10; j++) {
      const nick = `${prefix.replaceAll('.', '')}n${i}x${j}`;
      const k = pool[(i * 10 + j) % pool.length];
      const request = encodeRequest(randomBytes(6).toString('hex'), body(nick, k.sk));
      from[(i * 10 + j) % from.length].send(signDatagram(request, nick, k.privateKey));
    }
  });
  return { hosts: from, sent: sent * 10 };
}

/** A flooding host: one socket on its own loopback address; counts bytes both ways; matches replies by id. */
async function host(address, registry) {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, resolve);
  });
  const counts = { sent: 0, received: 0 };
  const waiting = new Map();
  socket.on('message', (datagram) => {
    counts.received += datagram.byteLength;
    try {
      const inner = JSON.parse(datagram.subarray(0, datagram.lastIndexOf(10)).toString('utf8'));
      if (inner.re !== undefined) waiting.get(inner.re)?.(inner);
    } catch {
      // not for us to read
    }
  });
  const send = (datagram) => {
    counts.sent += datagram.byteLength;
    socket.send(datagram, registry.port, registry.address);
  };
  return {
    counts,
    send,
    /** Sends `body` signed as `nick`; resolves with the reply, or undefined after `ms`. */
    ask(nick, privateKey, body, ms = 2000) {
      const id = randomBytes(6).toString('hex');
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(undefined);
        }, ms);
        waiting.set(id, (reply) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(reply);
        });
        send(signDatagram(encodeRequest(id, body), nick, privateKey));
      });
    },
    close: () => new Promise((resolve) => socket.close(resolve)),
  };
}

async function hosts(prefix, count, registry) {
  return Promise.all(Array.from({ length: count }, (_, i) => host(`${prefix}.${i + 1}`, registry)));
}

/** Runs `step` every `everyMs` (several at once when the timer is late) until the flood's time is up. */
async function paced(everyMs, step) {
  const started = nowMs();
  let done = 0;
  const pending = new Set();
  while (nowMs() - started < FLOOD_MS) {
    const due = Math.floor((nowMs() - started) / everyMs);
    for (; done < due; done++) {
      const work = Promise.resolve(step(done)).catch(() => undefined);
      pending.add(work);
      work.finally(() => pending.delete(work));
    }
    await sleep(5);
  }
  await Promise.all(pending);
  return done;
}

/** A fresh nick registered the way a client does: hello for a cookie, then register. */
async function registerFresh(from, nick, extra = {}, registryEk) {
  const k = keys();
  const hello = await from.ask(nick, k.privateKey, { t: 'hello', nick, sk: k.sk, pad: PAD });
  if (hello?.t !== 'server_hello') return 'no hello';
  const password =
    extra.account === 'create'
      ? {
          password: await seal(
            new TextEncoder().encode('secret'),
            registryEk ?? hello.ek,
            passwordAad(nick, k.sk, k.ek, 'create'),
          ),
          account: 'create',
        }
      : {};
  const reply = await from.ask(
    nick,
    k.privateKey,
    { t: 'register', nick, sk: k.sk, ek: k.ek, cookie: hello.cookie, ...password },
    5000,
  );
  return reply ? (reply.t === 'err' ? `err ${reply.code}` : reply.t) : 'no answer';
}

const FLOODS = [
  {
    name: 'fresh nicks from one host, 100 a second',
    async run(registry) {
      const [from] = await hosts('127.0.1', 1, registry);
      const outcomes = {};
      const tried = await paced(10, async (i) => {
        const outcome = await registerFresh(from, `a${i}`);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      });
      return { hosts: [from], sent: tried, outcomes };
    },
  },
  {
    name: 'fresh nicks from 50 hosts, 1,000 a second',
    async run(registry) {
      const from = await hosts('127.0.2', 50, registry);
      const outcomes = {};
      const tried = await paced(1, async (i) => {
        const outcome = await registerFresh(from[i % from.length], `b${i}`);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      });
      return { hosts: from, sent: tried, outcomes };
    },
  },
  {
    name: 'registrations without a valid cookie (forged sources), 20 hosts',
    async run(registry) {
      const from = await hosts('127.0.3', 20, registry);
      const k = keys();
      const sent = await paced(1, (i) => {
        const nick = `c${i % 500}`;
        const body = {
          t: 'register',
          nick,
          sk: k.sk,
          ek: k.ek,
          cookie: `${i}.${randomBytes(16).toString('base64url')}`,
        };
        for (let j = 0; j < 4; j++)
          from[(i * 4 + j) % from.length].send(
            signDatagram(encodeRequest(randomBytes(6).toString('hex'), body), nick, k.privateKey),
          );
      });
      return { hosts: from, sent: sent * 4 };
    },
  },
  {
    // The worst case for a hello: signed right, by the key it brings (any sender can make one).
    name: 'hellos with fresh nicks, signed by the keys they bring, 20 hosts',
    run: (registry) =>
      signedByTheirKeys(registry, '127.0.8', (nick, sk) => ({ t: 'hello', nick, sk, pad: PAD })),
  },
  {
    name: 'hellos with fresh keys and bad signatures, 20 hosts',
    async run(registry) {
      const from = await hosts('127.0.4', 20, registry);
      const sent = await paced(1, (i) => {
        for (let j = 0; j < 10; j++) {
          const nick = `d${i}x${j}`;
          const inner = encodeRequest(randomBytes(6).toString('hex'), {
            t: 'hello',
            nick,
            sk: randomBytes(32).toString('base64'),
            pad: PAD,
          });
          const trailer = JSON.stringify({
            by: nick,
            ts: Date.now(),
            sig: randomBytes(64).toString('base64'),
          });
          from[(i * 10 + j) % from.length].send(
            Buffer.concat([inner, Buffer.from('\n'), Buffer.from(trailer)]),
          );
        }
      });
      return { hosts: from, sent: sent * 10 };
    },
  },
  {
    // A heartbeat from a nick the registry does not know used to be checked with the key it
    // brings (to tell it to register again): as costly as a hello once was.
    name: 'heartbeats from nicks the registry does not know, signed by the keys they bring, 20 hosts',
    run: (registry) =>
      signedByTheirKeys(registry, '127.0.10', (nick, sk) => ({ t: 'heartbeat', nick, sk })),
  },
  {
    name: 'pieces of requests never finished, from a registered user at its address and 20 others',
    async run(registry) {
      const [home] = await hosts('127.0.5', 1, registry);
      const k = keys();
      const hello = await home.ask('frager', k.privateKey, {
        t: 'hello',
        nick: 'frager',
        sk: k.sk,
        pad: PAD,
      });
      const reply =
        hello &&
        (await home.ask('frager', k.privateKey, {
          t: 'register',
          nick: 'frager',
          sk: k.sk,
          ek: k.ek,
          cookie: hello.cookie,
        }));
      if (reply?.t !== 'registered')
        throw new Error(`the flooding user could not register: ${JSON.stringify(reply)}`);
      const from = await hosts('127.0.6', 20, registry);
      const sent = await paced(1, (i) => {
        for (let j = 0; j < 8; j++) {
          const of = `m${i}x${j}`;
          // One in eight from where it is registered (held to its share), the rest from elsewhere.
          (j === 0 ? home : from[(i * 8 + j) % from.length]).send(
            signDatagram(
              encodeRequest(randomBytes(6).toString('hex'), {
                t: 'frag',
                of,
                i: 0,
                n: 2,
                data: 'AA==',
              }),
              'frager',
              k.privateKey,
            ),
          );
        }
      });
      return { hosts: [home, ...from], sent: sent * 8 };
    },
  },
  {
    name: 'account creations (scrypt), 10 hosts',
    async run(registry) {
      const from = await hosts('127.0.7', 10, registry);
      const outcomes = {};
      const tried = await paced(20, async (i) => {
        const outcome = await registerFresh(from[i % from.length], `e${i}`, { account: 'create' });
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      });
      return { hosts: from, sent: tried, outcomes };
    },
  },
];

function rssMB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : undefined;
}

async function main() {
  const scratch = await tempDir();
  const port = await freeUdpPort();
  const registry = { address: '127.0.0.1', port };
  const server = spawnLines(BIN, [
    '-s',
    String(port),
    '--host',
    '127.0.0.1',
    '--db',
    join(scratch.dir, 'registry.json'),
    '--log-level',
    'error',
  ]);
  const child = fork(join(BENCH_DIR, 'lib', 'registrant.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = ipcWaiter(child);
  const register = async (prefix, returning = false) => {
    child.send({
      type: 'register',
      prefix,
      returning,
      server: { host: '127.0.0.1', port },
      host: '127.0.0.9',
    });
    return next('registered', 60_000);
  };
  const results = [];
  try {
    await server.waitFor((line) => line.startsWith('udpchat registry listening'), 10_000);
    const pid = server.child.pid;
    const baseline = [];
    for (let i = 0; i < 3; i++) baseline.push(await register('user', true));
    const idleRssMB = rssMB(pid);
    log(
      `baseline registration ${baseline.map((r) => r.ms.toFixed(1)).join(', ')} ms; registry RSS ${idleRssMB.toFixed(1)} MB`,
    );
    for (const flood of FLOODS) {
      let peak = rssMB(pid);
      const sampler = setInterval(() => (peak = Math.max(peak, rssMB(pid) ?? 0)), 50);
      const cpuBefore = cpuMsOf(pid) / 1000;
      const started = nowMs();
      const attack = flood.run(registry);
      const legit = [];
      for (const at of [0.3, 0.6, 0.9]) {
        await sleep(Math.max(0, at * FLOOD_MS - (nowMs() - started)));
        legit.push(await register('user', true));
      }
      const outcome = await attack;
      await sleep(size(2_000, 500)); // what the registry still does with it (probes, retries) counts too
      clearInterval(sampler);
      peak = Math.max(peak, rssMB(pid) ?? 0);
      const toHosts = outcome.hosts.reduce((sum, h) => sum + h.counts.received, 0);
      const fromHosts = outcome.hosts.reduce((sum, h) => sum + h.counts.sent, 0);
      await Promise.all(outcome.hosts.map((h) => h.close()));
      const result = {
        flood: flood.name,
        seconds: Math.round((nowMs() - started) / 100) / 10,
        requests: outcome.sent,
        outcomes: outcome.outcomes,
        bytesFromHosts: fromHosts,
        bytesToHosts: toHosts,
        peakRssMB: Math.round(peak * 10) / 10,
        registryCpuSeconds: Math.round((cpuMsOf(pid) / 1000 - cpuBefore) * 100) / 100,
        registrationMs: legit.map((r) => Math.round(r.ms * 10) / 10),
        registrationErrors: legit.filter((r) => r.error).map((r) => r.error),
      };
      log(`${flood.name}: ${JSON.stringify(result)}`);
      results.push(result);
    }
    const finalRssMB = Math.round(rssMB(pid) * 10) / 10;
    await server.stop(); // the store is written out on the way
    // The table file and the journal of changes beside it (see lowdb-store.ts).
    const { readStoredClients } = await import('../dist/store/lowdb-store.js');
    const clients = await readStoredClients(join(scratch.dir, 'registry.json'));
    emit({
      bench: 'floods',
      floodMs: FLOOD_MS,
      baseline: {
        registrationMs: baseline.map((r) => Math.round(r.ms * 10) / 10),
        rssMB: Math.round(idleRssMB * 10) / 10,
      },
      floods: results,
      nicksKept: Object.keys(clients).length,
      finalRssMB,
    });
  } finally {
    child.kill();
    await server.stop();
    await scratch.remove();
  }
}

main().catch((error) => {
  emit({ bench: 'floods', error: `failed: ${error?.message ?? error}` });
  process.exitCode = 1;
});
