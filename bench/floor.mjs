// Figure 1, the floor: a two-process node:dgram echo on 127.0.0.1. Ping-pong one datagram at
// a time (round-trip p50/p99), then a window of 64 in flight (datagrams/s), the baseline of
// the throughput figure.
import dgram from 'node:dgram';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR, emit, ipcWaiter, log, nowMs, size, summarize } from './lib/common.mjs';

const WARMUP = size(1000, 50);
const ROUNDS = size(5000, 200);
const PIPELINE = size(50_000, 2000);
const WINDOW = 64;
// About the size of a signed chat datagram with a short text.
const PAYLOAD = Buffer.alloc(400, 'x');

const child = fork(join(BENCH_DIR, 'lib', 'echo-server.mjs'), [], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const next = ipcWaiter(child);
const { port } = await next('ready');
const socket = dgram.createSocket('udp4');
await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));

let onReply = () => undefined;
socket.on('message', () => onReply());
const roundTrip = () =>
  new Promise((resolve) => {
    const start = nowMs();
    onReply = () => resolve(nowMs() - start);
    socket.send(PAYLOAD, port, '127.0.0.1');
  });

for (let i = 0; i < WARMUP; i++) await roundTrip();
const samples = [];
for (let i = 0; i < ROUNDS; i++) samples.push(await roundTrip());
const rtt = summarize(samples);
log(`floor rtt p50 ${rtt.p50} ms p99 ${rtt.p99} ms over ${rtt.n}`);

// Pipelined: keep WINDOW datagrams in flight; a lost one is replaced after 50 ms.
const pipelined = await new Promise((resolve) => {
  let sent = 0;
  let received = 0;
  let lastProgress = nowMs();
  const start = nowMs();
  const sendOne = () => {
    sent++;
    socket.send(PAYLOAD, port, '127.0.0.1');
  };
  onReply = () => {
    received++;
    lastProgress = nowMs();
    if (received >= PIPELINE) {
      clearInterval(watchdog);
      resolve({ datagrams: received, seconds: (nowMs() - start) / 1000 });
    } else if (sent < PIPELINE + 1000) sendOne();
  };
  const watchdog = setInterval(() => {
    if (nowMs() - lastProgress > 50)
      for (let i = 0; i < WINDOW && sent - received < WINDOW; i++) sendOne();
  }, 50);
  for (let i = 0; i < WINDOW; i++) sendOne();
});
const perSecond = Math.round(pipelined.datagrams / pipelined.seconds);
log(`floor pipelined ${perSecond} round trips/s (window ${WINDOW})`);

socket.close();
child.disconnect();
emit({
  bench: 'floor',
  payloadBytes: PAYLOAD.length,
  rttMs: rtt,
  pipelined: { window: WINDOW, roundTrips: pipelined.datagrams, perSecond },
});
