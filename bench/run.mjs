// Runs every benchmark in its own process, in sequence, and writes the report:
// docs/benchmarks.md, or BENCH_OUT. With BENCH_SMOKE=1 every benchmark runs with tiny sizes
// and the report goes to a temporary file (BENCH_OUT, else <tmp>/udpchat-benchmarks-smoke.md).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, DIST, ROOT, SMOKE, nowMs } from './lib/common.mjs';

const OUT =
  process.env.BENCH_OUT ??
  (SMOKE ? join(os.tmpdir(), 'udpchat-benchmarks-smoke.md') : join(ROOT, 'docs', 'benchmarks.md'));
const BENCHES = (
  process.env.BENCH_ONLY ??
  'floor,startup,direct,throughput,registry,store,memory,floods,presence,crowd,cluster'
).split(',');
const LIMIT_MS = SMOKE ? 120_000 : 600_000;

if (!existsSync(DIST)) {
  process.stderr.write('dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}

function runBench(name) {
  return new Promise((resolve) => {
    const started = nowMs();
    const child = spawn(process.execPath, [join(BENCH_DIR, `${name}.mjs`)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((nowMs() - started) / 100) / 10;
      const line = stdout.trim().split('\n').pop();
      try {
        resolve({ ...JSON.parse(line), seconds });
      } catch {
        resolve({
          bench: name,
          seconds,
          error: `failed: ${name}.mjs ended (${code ?? signal}) without its JSON line${signal === 'SIGKILL' ? ` (killed after ${LIMIT_MS / 1000} s)` : ''}`,
        });
      }
    });
  });
}

const results = {};
const total = nowMs();
for (const name of BENCHES) {
  process.stderr.write(`\n== ${name} ==\n`);
  results[name] = await runBench(name);
  process.stderr.write(`== ${name}: ${results[name].seconds} s\n`);
}
const totalSeconds = Math.round((nowMs() - total) / 1000);

// ---- formatting ----
const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
const ms = (x) =>
  isNum(x)
    ? x >= 100
      ? `${Math.round(x)} ms`
      : x >= 1
        ? `${x.toFixed(2)} ms`
        : `${(x * 1000).toFixed(0)} µs`
    : '—';
const int = (x) => (isNum(x) ? Math.round(x).toLocaleString('en-US') : '—');
const mib = (bytes) =>
  !isNum(bytes)
    ? '—'
    : bytes >= 2 ** 30
      ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
      : bytes >= 2 ** 20
        ? `${(bytes / 2 ** 20).toFixed(1)} MiB`
        : bytes >= 1024
          ? `${(bytes / 1024).toFixed(1)} KiB`
          : `${Math.round(bytes)} B`;
const mb = (x) => (isNum(x) ? `${x.toFixed(1)} MB` : '—');
const ratio = (value, base) => {
  if (!isNum(value) || !isNum(base) || base === 0) return '—';
  const r = value / base;
  return `${r >= 10 ? r.toFixed(0) : r >= 0.01 ? r.toFixed(2) : r.toPrecision(2)}×`;
};
const met = (ok) => (ok === undefined ? '—' : ok ? 'met' : '**not met**');
const row = (...cells) => `| ${cells.join(' | ')} |`;
const HEAD = [
  row('figure', 'value', 'baseline', 'ratio', 'target', 'met'),
  row('---', '---:', '---:', '---:', '---', '---'),
];
const failed = (x) => (x?.error ? x.error : x?.skipped ? x.skipped : undefined);

const lines = [];
const say = (...more) => lines.push(...more);
const cpus = os.cpus();
say(
  '# udpchat benchmarks',
  '',
  "For people judging udpchat's speed, and for anyone changing a hot path (the transport, sealing,",
  "the registry's table pushes, the store): what each path costs on one machine, against a baseline",
  'measured in the same run, and the targets it meets or misses.',
  '',
  `Measured by \`npm run bench\` (the scripts in \`bench/\`, run on the built \`dist/\`): rerun with`,
  '`npm run build && npm run bench`, which rewrites this file. `npm run bench:smoke` runs every benchmark',
  'with tiny sizes and writes to a temporary file instead (no targets are meaningful there). Each',
  'benchmark runs in its own process; its baseline is measured in the same run, on the same machine.',
  'Latencies are percentiles of sorted samples timed with `process.hrtime.bigint()`. Knobs (environment):',
  '`BENCH_OUT` (report path), `BENCH_ONLY` (e.g. `floor,direct`), `BENCH_REGISTRY_SIZES` (e.g. `100,1000,10000`),',
  '`BENCH_REGISTRY_BUDGET_MS` (60000), `BENCH_REGISTRY_CONCURRENCY` (registrations in flight per client process, 4),',
  '`BENCH_CLIENT_PROCESSES` (2), `BENCH_REGISTRY_ALL_SIZES=1` (run the sizes after one that overran), `BENCH_REGISTRY_OPTIONS`',
  '(JSON, more registry options), `REDIS_URL`.',
  '',
  `Machine: ${cpus.length} cores, ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.release()}; ` +
    `${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC; load average at the end ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}; the whole run took ${totalSeconds} s.` +
    (SMOKE ? ' **Smoke run: tiny sizes, figures not meaningful.**' : ''),
  '',
);

/** A figure's section: its heading, then the failure line or what `body` says. */
function section(title, result, body) {
  say(title, '');
  if (failed(result)) say(failed(result), '');
  else body();
}

// 1. floor
const floor = results.floor ?? {};
section('## 1. Floor: node:dgram echo between two processes', floor, () => {
  say(
    `A child process echoes ${floor.payloadBytes}-byte datagrams on 127.0.0.1; ${int(floor.rttMs?.n)} round trips one at a time after a warm-up, then ${int(floor.pipelined?.roundTrips)} with ${floor.pipelined?.window} in flight. This is the baseline of figures 2 and 3.`,
    '',
    ...HEAD,
    row('round trip p50', ms(floor.rttMs?.p50), '—', '—', '—', '—'),
    row('round trip p99', ms(floor.rttMs?.p99), '—', '—', '—', '—'),
    row(
      `round trips/s, ${floor.pipelined?.window} in flight`,
      int(floor.pipelined?.perSecond),
      '—',
      '—',
      '—',
      '—',
    ),
    '',
  );
});

/** A row of the binary's CPU per message at one `side`, against the bare relay's, for the ≤ 0.25 ms target. */
function cpuRow(label, figures, baseline, side, baselineName) {
  const value = figures.cpuMsPerMessage?.[side];
  const base = baseline.cpuMsPerMessage?.[side];
  return row(
    label,
    ms(value),
    `${ms(base)} (${baselineName})`,
    ratio(value, base),
    '≤ 0.25 ms',
    met(isNum(value) ? value <= 0.25 : undefined),
  );
}

// 2. direct
const direct = results.direct ?? {};
section('## 2. Direct send → ACK', direct, () => {
  const api = direct.api ?? {};
  const bin = direct.binary ?? {};
  const relay = direct.relayFloor ?? {};
  say(
    `API: \`ChatClient.send('bob', …)\` resolving \`'delivered'\`, one at a time (${int(api.latencyMs?.n)} sends after a warm-up${api.warm ? `, then ${int(api.warm.latencyMs?.n)} more once warm, after ${int(api.warm.after)} messages, as the binary's below` : ''}); ${api.setup ?? ''}; ` +
      `outcomes ${JSON.stringify(api.outcomes ?? {})}, every message shown once by bob: ${api.shownOnce ? 'yes' : 'no'}.`,
    `Binary: ${bin.setup ?? ''}: \`send bob …\` on alice's stdin to her \`{"event":"delivered"}\` line, one at a time, each as soon as the one before was delivered; ${int(bin.latencyMs?.n)} sends measured right after start (after a warm-up of a few), events ${JSON.stringify(bin.outcomes ?? {})}; then ${int(bin.warm?.latencyMs?.n)} more once warm, after ${int(bin.warm?.after)} messages (V8 optimises a function only after it has run a while, and most of a message's functions run once per message), events ${JSON.stringify(bin.warm?.outcomes ?? {})}. The bare relay is measured the same two ways.`,
    "Bare relay (the binary's baseline): the same lines in and out and datagrams of the same sizes, one message at a time, between two bare node processes with nothing of udpchat in between (`bench/lib/relay-floor.mjs`: a line in, a datagram out; a datagram in, a line out and an answer back): what reading, sending, waking up and writing cost any process on this machine. CPU: utime + stime from /proc over the rounds after the warm-up.",
    '',
    ...HEAD,
  );
  if (failed(api)) say(row('API', failed(api), '', '', '', ''));
  else {
    /** API send→ACK p50 (against its target) and p99, each against the floor's. */
    const apiRows = (latency, when) => [
      row(
        `API send→ACK p50${when}`,
        ms(latency?.p50),
        `${ms(floor.rttMs?.p50)} (floor p50)`,
        ratio(latency?.p50, floor.rttMs?.p50),
        '≤ 2× floor p50',
        met(isNum(floor.rttMs?.p50) ? latency?.p50 <= 2 * floor.rttMs.p50 : undefined),
      ),
      row(
        `API send→ACK p99${when}`,
        ms(latency?.p99),
        `${ms(floor.rttMs?.p99)} (floor p99)`,
        ratio(latency?.p99, floor.rttMs?.p99),
        '—',
        '—',
      ),
    ];
    say(...apiRows(api.latencyMs, ''));
    if (api.warm)
      say(...apiRows(api.warm.latencyMs, `, warm (after ${int(api.warm.after)} messages)`));
  }
  const fo = direct.apiFileOutbox ?? {};
  if (failed(fo)) say(row('API with a FileOutbox', failed(fo), '', '', '', ''));
  else {
    say(
      row(
        `API send→ACK p50, FileOutbox (${int(fo.latencyMs?.n)} sends)`,
        ms(fo.latencyMs?.p50),
        `${ms(api.latencyMs?.p50)} (in-memory outbox)`,
        ratio(fo.latencyMs?.p50, api.latencyMs?.p50),
        '—',
        '—',
      ),
      row(
        'API send→ACK p99, FileOutbox',
        ms(fo.latencyMs?.p99),
        `${ms(api.latencyMs?.p99)} (in-memory outbox)`,
        ratio(fo.latencyMs?.p99, api.latencyMs?.p99),
        '—',
        '—',
      ),
    );
  }
  if (failed(bin)) say(row('binary', failed(bin), '', '', '', ''));
  else {
    say(
      row(
        'binary send→delivered p50',
        ms(bin.latencyMs?.p50),
        `${ms(floor.rttMs?.p50)} (floor p50)`,
        ratio(bin.latencyMs?.p50, floor.rttMs?.p50),
        '≤ 0.5 ms',
        met(bin.latencyMs?.p50 <= 0.5),
      ),
      row(
        'binary send→delivered p99',
        ms(bin.latencyMs?.p99),
        `${ms(floor.rttMs?.p99)} (floor p99)`,
        ratio(bin.latencyMs?.p99, floor.rttMs?.p99),
        '—',
        '—',
      ),
      row(
        'bare relay send→delivered p50',
        ms(relay.latencyMs?.p50),
        `${ms(floor.rttMs?.p50)} (floor p50)`,
        ratio(relay.latencyMs?.p50, floor.rttMs?.p50),
        '—',
        '—',
      ),
      cpuRow('binary CPU per message, sender', bin, relay, 'sender', 'bare relay, sender'),
      cpuRow('binary CPU per message, receiver', bin, relay, 'receiver', 'bare relay, receiver'),
    );
    const warm = bin.warm ?? {};
    const relayWarm = relay.warm ?? {};
    const after = `warm (after ${int(warm.after)} messages)`;
    say(
      row(
        `binary send→delivered p50, ${after}`,
        ms(warm.latencyMs?.p50),
        `${ms(relayWarm.latencyMs?.p50)} (bare relay, warm)`,
        ratio(warm.latencyMs?.p50, relayWarm.latencyMs?.p50),
        '≤ 0.5 ms',
        met(isNum(warm.latencyMs?.p50) ? warm.latencyMs.p50 <= 0.5 : undefined),
      ),
      cpuRow(
        `binary CPU per message, sender, ${after}`,
        warm,
        relayWarm,
        'sender',
        'bare relay, sender, warm',
      ),
      cpuRow(
        `binary CPU per message, receiver, ${after}`,
        warm,
        relayWarm,
        'receiver',
        'bare relay, receiver, warm',
      ),
    );
  }
  say('');
});

// 3. throughput
const tp = results.throughput ?? {};

/** A stream's messages/s against the floor's round trips with the same window, and its target. */
const rateRow = (stream, name) =>
  row(
    `messages/s, ${name}`,
    int(stream.perSecond),
    `${int(floor.pipelined?.perSecond)} round trips/s (floor, ${floor.pipelined?.window} in flight)`,
    ratio(stream.perSecond, floor.pipelined?.perSecond),
    '≥ 20,000/s on 2 cores',
    met(stream.perSecond >= 20_000),
  );

/** Whether a stream showed each of its messages exactly once (`name`: which stream, and how long the grace). */
const onceRow = (stream, name) =>
  row(
    `shown exactly once, ${name}`,
    stream.shownExactlyOnce
      ? 'yes'
      : `**no**: ${stream.shown?.duplicates} duplicates; not shown, by first outcome: ${JSON.stringify(stream.notShown)}`,
    '—',
    '—',
    'yes',
    met(stream.shownExactlyOnce),
  );

/** The stream measured again once warm (after a stream not counted): its rate, its CPU, whether each message was shown once. */
function warmRows(w) {
  if (!w) return [];
  if (failed(w)) return [row('messages/s, no loss, warm', failed(w), '', '', '', '')];
  const after = `after ${int(w.after)} messages`;
  return [
    rateRow(w, `no loss, warm (${int(w.settled)} messages ${after})`),
    row(
      `CPU per message, no loss, warm, sender / receiver (${after})`,
      w.cpuPerMessageUs
        ? `${int(w.cpuPerMessageUs.sender)} / ${int(w.cpuPerMessageUs.receiver)} µs`
        : '—',
      '—',
      '—',
      '—',
      '—',
    ),
    onceRow(w, 'no loss, warm'),
  ];
}
section('## 3. Throughput: one sender, one receiver', tp, () => {
  const a = tp.noLoss ?? {};
  const b = tp.loss20 ?? {};
  say(
    `alice (with the registry, in one process) sends to bob (a child process), ${a.window ?? 64} \`send()\` promises outstanding at once (of which the client has at most 32 on their way to one recipient, its default \`sendWindow\`; the rest wait in its queue); every message ACKed, and bob counts his \`message\` and \`saved-message\` events: each message must be shown exactly once. ` +
      `Messages/s = messages bob had shown when the last \`send()\` settled, over the time from the first send to then. ` +
      `Each stream comes after ${int(a.after)} messages sent one at a time; the warm one, on a fresh pair, after a stream of ${int((tp.noLossWarm?.after ?? 0) - (a.after ?? 0))} more, not counted (V8 optimises a function only after it has run a while, as in figure 2).`,
    '',
    ...HEAD,
  );
  if (failed(a)) say(row('no loss', failed(a), '', '', '', ''));
  else {
    say(
      rateRow(a, `no loss (${int(a.settled)} messages)`),
      onceRow(a, 'no loss'),
      ...warmRows(tp.noLossWarm),
    );
  }
  // The transport alone (bench/lib/endpoint-stream.mjs): what the client's layers add to.
  // Each stream's result says whether it ran under session MACs (`auth`).
  const bare = (auth) => (tp.endpoints ?? []).find((e) => e.auth === auth) ?? {};
  const plain = bare(false);
  const macs = bare(true);
  for (const [name, e, base, baseName] of [
    [
      'bare Endpoints, no authentication',
      plain,
      floor.pipelined?.perSecond,
      `round trips/s (floor)`,
    ],
    ['bare Endpoints, session MACs', macs, plain.perSecond, 'requests/s (no authentication)'],
  ]) {
    if (failed(e) || !isNum(e.perSecond)) {
      say(row(`${name}: requests/s`, failed(e) ?? 'not measured', '', '', '', ''));
      continue;
    }
    say(
      row(
        `${name}: requests/s (${int(e.requests)}, ${int(e.failed)} failed)`,
        int(e.perSecond),
        `${int(base)} ${baseName}`,
        ratio(e.perSecond, base),
        '—',
        '—',
      ),
      row(
        `${name}: CPU per request, sender / receiver`,
        `${int(e.cpuPerRequestUs?.sender)} / ${int(e.cpuPerRequestUs?.receiver)} µs`,
        '—',
        '—',
        '—',
        '—',
      ),
    );
  }
  if (!failed(a) && a.cpuPerMessageUs) {
    for (const side of ['sender', 'receiver'])
      say(
        row(
          `CPU per message, no loss, ${side} (${side === 'sender' ? 'alice and the registry' : 'bob'})`,
          `${int(a.cpuPerMessageUs[side])} µs`,
          isNum(macs.cpuPerRequestUs?.[side])
            ? `${int(macs.cpuPerRequestUs[side])} µs (bare Endpoints, session MACs)`
            : '—',
          ratio(a.cpuPerMessageUs[side], macs.cpuPerRequestUs?.[side]),
          '—',
          '—',
        ),
      );
  }
  if (failed(b)) say(row('goodput, 20% loss', failed(b), '', '', '', ''));
  else {
    say(
      row(
        `goodput, 20% loss (${int(b.settled)} of ${int(b.messages)} messages settled in the budget)`,
        `${int(b.perSecond)}/s`,
        `${int(a.perSecond)}/s (no loss)`,
        ratio(b.perSecond, a.perSecond),
        '—',
        '—',
      ),
      onceRow(b, `20% loss (${b.graceSeconds} s grace for saved messages)`),
    );
  }
  say('');
  const bundled = (side) =>
    side
      ? `${int(side.bundled)} of ${int(side.datagrams)} datagrams in ${int(side.bundles)} bundles`
      : 'not counted';
  const merged = (side) =>
    side?.mergedAcks !== undefined
      ? `${int(side.acksMerged)} of its ACKs in ${int(side.mergedAcks)} merged ACKs`
      : 'merged ACKs not counted';
  say(
    "Bare Endpoints (`bench/lib/endpoint-stream.mjs`): the transport alone, two `Endpoint`s (one in this process, one in a child) streaming requests of a chat's shape and size and their ACKs, the same window in flight, with nothing of the client above them (no sealing, no send queue, no inbox); once without authentication, once with every datagram under a session key as between two users in a session. " +
      'Messages/s ≥ 20,000 on two cores asks each side for at most 50 µs of CPU a message (each has a core); the bare Endpoints with their MACs show how much of that the transport takes before the client adds its own layers. CPU: `process.cpuUsage()` of each process over the stream, per message.',
    '',
  );
  if (!failed(a) && a.bundles)
    say(
      `Bundles, no loss: alice sent ${bundled(a.bundles.sender)}, bob ${bundled(a.bundles.receiver)} (ACKs), ${merged(a.bundles.receiver)}: what follows the first datagram to an address in one turn of the event loop leaves bundled (docs/protocol.md, Bundles), and the ACKs that follow the first to a sender leave as one merged ACK (Merged ACKs), so a stream costs a send and a receive a bundle rather than a datagram, and one MAC for many ACKs.`,
      '',
    );
  if (!failed(b))
    say(
      `Loss: ${b.method}. Outcomes with loss: ${JSON.stringify(b.outcomes)}; the sender sent ${int(b.senderDatagrams?.sent)} requests, ${int(b.senderDatagrams?.retried)} of them retries. ` +
        "A direct message's resends follow the path's round trips (up to five sends in the 500 ms ACK timeout on a fast path, three before it has answered; docs/reliability.md): a message fails all five 0.6% of the time, and goes to the registry, which takes longer under the same loss. Each `send()` settles in order, so one message gone that way holds back the window behind it: goodput is set by those few.",
      '',
    );
});

// 4. registry
const reg = results.registry ?? {};
section('## 4. Registry: registrations and table consistency', reg, () => {
  say(
    `N simulated clients (bare \`Endpoint\`s signing as their nick, each keeping which nicks its table shows online; \`bench/lib/sim-clients.mjs\`) register at once, ${reg.sizes?.[0]?.concurrency ?? ''} registrations in flight, and ACK every table page and change. ` +
      `Setup: ${reg.setup}. Each size has a budget of ${reg.budgetSeconds} s. "Consistent" = every client's table shows all N online. ` +
      'One change = one client deregisters (every other client must see it); one join = a newcomer registers. Datagrams and bytes are what the registry process sent (node:dgram `send` counted), ACKs and replies included. ' +
      "The whole-table lower bound is the JSON of the final table's entries times (N+1)/2: every newcomer must receive the table as it stands, so the bytes grow as N².",
    '',
    ...HEAD,
  );
  for (const s of reg.sizes ?? []) {
    const n = int(s.n);
    if (s.error && !isNum(s.consistentSeconds)) {
      say(
        row(
          `N=${n}`,
          s.error,
          '—',
          '—',
          s.n >= 10_000 ? 'consistent < 10 s' : '—',
          s.n >= 10_000 ? met(false) : '—',
        ),
      );
      if (s.soFar) {
        say(
          row(
            `N=${n}: sent before the budget ran out`,
            `${int(s.soFar.datagramsSent)} datagrams, ${mib(s.soFar.bytesSent)}`,
            '—',
            '—',
            '—',
            '—',
          ),
          row(
            `N=${n}: CPU until then, registry / simulated clients`,
            `${s.soFar.registryCpuSeconds} s / ${isNum(s.clientCounters?.cpuMicros) ? (s.clientCounters.cpuMicros / 1e6).toFixed(1) : '—'} s`,
            `${reg.budgetSeconds} s (wall)`,
            '—',
            '—',
            '—',
          ),
          row(
            `N=${n}: registry CPU per client registered until then (tables included)`,
            `${int(s.soFar.registryCpuMicrosPerRegistered)} µs`,
            '—',
            '—',
            '—',
            '—',
          ),
        );
      }
      continue;
    }
    const lower = isNum(s.tableBytes) ? (s.tableBytes * (s.n + 1)) / 2 : undefined;
    say(
      row(`N=${n}: registrations/s`, int(s.registrationsPerSecond), '—', '—', '—', '—'),
      row(
        `N=${n}: time until every table is complete`,
        `${s.consistentSeconds} s`,
        '—',
        '—',
        s.n >= 10_000 ? '< 10 s' : '—',
        s.n >= 10_000 ? met(s.consistentSeconds < 10) : '—',
      ),
      row(
        `N=${n}: bytes sent for N registrations`,
        mib(s.bytesSent),
        `${mib(lower)} (whole-table lower bound)`,
        ratio(s.bytesSent, lower),
        '—',
        '—',
      ),
      row(
        `N=${n}: datagrams sent for N registrations`,
        int(s.datagramsSent),
        `${int(s.n)} (N)`,
        ratio(s.datagramsSent, s.n),
        '—',
        '—',
      ),
      row(
        `N=${n}: datagrams for one change`,
        int(s.change?.datagramsSent),
        `${int(s.n - 1)} (online clients)`,
        ratio(s.change?.datagramsSent, s.n - 1),
        'O(N)',
        met(isNum(s.change?.datagramsSent) ? s.change.datagramsSent <= 2 * s.n : undefined),
      ),
      row(
        `N=${n}: one join, datagrams / bytes`,
        `${int(s.join?.datagramsSent)} / ${mib(s.join?.bytesSent)}`,
        `${int(s.n)} (online clients)`,
        ratio(s.join?.datagramsSent, s.n),
        'O(N)',
        met(isNum(s.join?.datagramsSent) ? s.join.datagramsSent <= 4 * s.n : undefined),
      ),
      row(
        `N=${n}: registry CPU for N registrations`,
        `${s.registryCpuSeconds} s`,
        `${s.consistentSeconds} s (wall)`,
        ratio(s.registryCpuSeconds, s.consistentSeconds),
        '—',
        '—',
      ),
      row(
        `N=${n}: registry CPU / bytes sent per registration (whole run, tables included)`,
        `${int(s.registryCpuMicrosPerRegistration)} µs / ${mib(s.bytesSentPerRegistration)}`,
        '—',
        '—',
        '—',
        '—',
      ),
      row(
        `N=${n}: simulated clients' CPU (all processes)`,
        `${isNum(s.clientCounters?.cpuMicros) ? (s.clientCounters.cpuMicros / 1e6).toFixed(2) : '—'} s`,
        `${s.registryCpuSeconds} s (registry)`,
        ratio(s.clientCounters?.cpuMicros / 1e6, s.registryCpuSeconds),
        '—',
        '—',
      ),
      row(
        `N=${n}: one change, time / registry CPU`,
        `${ms(s.change?.seconds * 1000)} / ${ms(s.change?.registryCpuMs)}`,
        '—',
        '—',
        '—',
        '—',
      ),
      row(`N=${n}: registry RSS`, mb(s.registryRssMB), '—', '—', '—', '—'),
    );
    if (s.error) say(row(`N=${n}`, s.error, '—', '—', '—', '—'));
  }
  const alone = reg.alone ?? [];
  if (alone.length > 0) {
    say(
      '',
      `Registration alone (what one registration costs the registry, its table part left out; \`measureAlone\` in bench/registry.mjs): ${reg.aloneSetup}. ` +
        "CPU: the registry process's `process.cpuUsage()` (every thread: WebCrypto runs in the thread pool) over the registrations, divided by their number. " +
        "With a session: the registration carries one (as a client that set one up before; the registry sets it up with HPKE and answers under it), without: none (the registry's pushes to that client then go signed). " +
        'Target: at most 300 µs of registry CPU per registration, whatever N is.',
      '',
      ...HEAD,
    );
    for (const s of alone) {
      const which = `N=${int(s.n)}, ${s.session ? 'with' : 'without'} a session`;
      if (!isNum(s.registryCpuMicrosPerRegistration)) {
        say(row(which, s.error ?? 'failed', '—', '—', '≤ 300 µs', met(false)));
        continue;
      }
      say(
        row(
          `${which}: registry CPU per registration${s.error ? ` (${int(s.registered)} of ${int(s.n)} done: ${s.error})` : ''}`,
          `${int(s.registryCpuMicrosPerRegistration)} µs`,
          '—',
          '—',
          '≤ 300 µs',
          met(s.registryCpuMicrosPerRegistration <= 300),
        ),
        row(
          `${which}: bytes / datagrams the registry sent per registration`,
          `${int(s.bytesSentPerRegistration)} B / ${s.datagramsSentPerRegistration}`,
          '—',
          '—',
          'O(1)',
          '—',
        ),
        row(`${which}: registrations/s`, int(s.registrationsPerSecond), '—', '—', '—', '—'),
      );
    }
  }
  say('');
});

// 5. store
const store = results.store ?? {};
section('## 5. Store: saving for offline users', store, () => {
  say(
    `\`Store.saveMessage\` directly, one at a time (latency) and 64 at a time (confirmations/s), with messages already stored (spread over ${int(store.recipients)} mailboxes). ` +
      `lowdb is pre-filled with a store file in its first format, written directly, which \`LowdbStore.open\` moves into its current layout; Redis (${store.redisUrl}, a unique key prefix, deleted afterwards) through \`saveMessage\`. The saves go to the mailboxes already there, round robin, each read once before (as a running registry has read those of the clients that registered). ` +
      'Baselines: lowdb, writing as many bytes as one save rewrote the way lowdb writes (temp file + rename); lowdb with `--fsync` (every write flushed before it is confirmed), the same bytes written and flushed as it writes them (temp file, fsync, rename, fsync of the folder); Redis, a PING on the same connection. ' +
      "End to end: `ChatClient.send` to a recipient that left with `dereg` (saved at once, not probed), timed to the `'saved'` outcome; registry and both clients in one process.",
    '',
    ...HEAD,
  );
  const kindName = { lowdb: 'lowdb', lowdbFsync: 'lowdb with --fsync', redis: 'redis' };
  for (const kind of ['lowdb', 'lowdbFsync', 'redis']) {
    for (const c of store[kind] ?? []) {
      const label = `${kindName[kind]}, ${int(c.stored)} stored`;
      if (c.error) {
        say(row(label, c.error, '—', '—', '—', '—'));
        continue;
      }
      const target = kind === 'lowdb' && c.stored >= 100_000;
      say(
        row(
          `${label}: save p50`,
          ms(c.latencyMs?.p50),
          ms(c.baselineMs?.p50),
          ratio(c.latencyMs?.p50, c.baselineMs?.p50),
          '—',
          '—',
        ),
        row(
          `${label}: save p99 (${int(c.latencyMs?.n)} saves)`,
          ms(c.latencyMs?.p99),
          ms(c.baselineMs?.p99),
          ratio(c.latencyMs?.p99, c.baselineMs?.p99),
          target ? '< 10 ms' : '—',
          target ? met(c.latencyMs?.p99 < 10) : '—',
        ),
        row(
          `${label}: confirmations/s, 64 at once`,
          int(c.concurrent?.perSecond),
          '—',
          '—',
          '—',
          '—',
        ),
      );
      if (kind !== 'redis')
        say(
          row(
            `${label}: store on disk / rewritten per save`,
            `${mib(c.storeBytes)} / ${mib(c.bytesPerSave)} (${c.filesPerSave} file${c.filesPerSave === 1 ? '' : 's'})`,
            '—',
            '—',
            '—',
            '—',
          ),
        );
    }
  }
  for (const e of store.endToEnd ?? []) {
    const label = `end to end, ${e.store}, ${int(e.stored)} stored`;
    if (e.error) say(row(label, e.error, '—', '—', '—', '—'));
    else {
      const direct = store[e.store]?.find((c) => c.stored === e.stored);
      say(
        row(
          `${label}: send→saved p50 / p99 (${int(e.latencyMs?.n)})`,
          `${ms(e.latencyMs?.p50)} / ${ms(e.latencyMs?.p99)}`,
          `${ms(direct?.latencyMs?.p50)} (saveMessage p50)`,
          ratio(e.latencyMs?.p50, direct?.latencyMs?.p50),
          '—',
          '—',
        ),
      );
    }
  }
  say('');
});

// 6. memory
const mem = results.memory ?? {};
section('## 6. Memory: registry RSS', mem, () => {
  say(
    `The registry in a child process with ${int(mem.clients)} clients and ${int(mem.messages)} saved messages, filled before start: a store file in lowdb's first format written directly (clients offline after dereg), moved into the current layout by one \`LowdbStore.open\`. So the table and the store in memory, without the per-client transport state of live traffic. ` +
      'Library: `Registry` + `LowdbStore` in a child, `process.memoryUsage().rss` after a forced GC, right after start and again once every mailbox was read through the store (`countMessages` per client; mailboxes are loaded on first use). Binary: `bin/udpchat -s --db <file>`, VmRSS from /proc one second after it listens. Baseline: the same with an empty store.',
    '',
    ...HEAD,
  );
  const lib = mem.library ?? {};
  if (lib.error) say(row('library', lib.error, '', '', '', ''));
  else {
    say(
      row(
        'library: RSS after start',
        mb(lib.filled?.started?.rssMB),
        `${mb(lib.empty?.started?.rssMB)} (empty)`,
        ratio(lib.filled?.started?.rssMB, lib.empty?.started?.rssMB),
        '< 150 MB',
        met(lib.filled?.started?.rssMB < 150),
      ),
      row(
        `library: RSS with every mailbox read (${int(lib.filled?.touched?.messages)} messages)`,
        mb(lib.filled?.touched?.rssMB),
        `${mb(lib.empty?.started?.rssMB)} (empty)`,
        ratio(lib.filled?.touched?.rssMB, lib.empty?.started?.rssMB),
        '< 150 MB',
        met(lib.filled?.touched?.rssMB < 150),
      ),
    );
  }
  const bin = mem.binary ?? {};
  if (bin.error) say(row('binary', bin.error, '', '', '', ''));
  else
    say(
      row(
        'binary: RSS after start',
        mb(bin.filled?.started?.rssMB),
        `${mb(bin.empty?.started?.rssMB)} (empty)`,
        ratio(bin.filled?.started?.rssMB, bin.empty?.started?.rssMB),
        '< 150 MB',
        met(bin.filled?.started?.rssMB < 150),
      ),
    );
  say('');
});

// 7. start-up
const st = results.startup ?? {};
section('## 7. Start-up', st, () => {
  const c = st.client ?? {};
  say(
    `\`bin/udpchat -c alice 127.0.0.1 <port> <client port>\`, run as a program as a user's \`udpchat\` is, against a registry already up, from spawn to the welcome line (on a pipe the client shows no prompt) and to the first \`[Client table updated.]\`; ${int(c.welcomeMs?.n)} runs after a first one (which makes the identity and the code cache, see docs/operations.md: ${ms(c.firstRun?.welcomeMs)}). Baseline: \`node -e 0\`, spawn to exit. Idle: a client binary left alone once it has its first table (its heartbeat every 10 s is all it does), its CPU over the window after 20 s to settle (the scheduler's count of the time its threads ran, /proc/<pid>/task/<tid>/schedstat), against a bare node process with a 10 s timer over the same window.`,
    '',
    ...HEAD,
  );
  if (c.error) say(row('client start-up', c.error, '', '', '', ''));
  else {
    say(
      row(
        'spawn → welcome line, p50',
        ms(c.welcomeMs?.p50),
        `${ms(st.nodeMs?.p50)} (node -e 0)`,
        ratio(c.welcomeMs?.p50, st.nodeMs?.p50),
        '< 150 ms',
        met(c.welcomeMs?.p50 < 150),
      ),
      row(
        'spawn → first table, p50',
        ms(c.tableMs?.p50),
        `${ms(st.nodeMs?.p50)} (node -e 0)`,
        ratio(c.tableMs?.p50, st.nodeMs?.p50),
        '—',
        '—',
      ),
      row(
        '`udpchat --version`, p50',
        ms(st.versionMs?.p50),
        `${ms(st.nodeMs?.p50)} (node -e 0)`,
        ratio(st.versionMs?.p50, st.nodeMs?.p50),
        '—',
        '—',
      ),
      row(
        '`import dist/index.js`, p50',
        ms(st.importMs?.p50),
        `${ms(st.nodeMs?.p50)} (node -e 0)`,
        ratio(st.importMs?.p50, st.nodeMs?.p50),
        '—',
        '—',
      ),
    );
  }
  const idle = st.idle ?? {};
  if (idle.error) say(row('idle client, CPU', idle.error, '', '', '', ''));
  else if (idle.windowMs !== undefined)
    say(
      row(
        `idle client, CPU over ${int(idle.windowMs / 1000)} s`,
        `${ms(idle.clientCpuMs)} (${((100 * idle.clientCpuMs) / idle.windowMs).toFixed(3)}% of a core)`,
        `${ms(idle.bareCpuMs)} (bare node, a 10 s timer)`,
        ratio(idle.clientCpuMs, idle.bareCpuMs),
        'not measurable: 0.0% of a core in top (< 0.05%)',
        met(idle.clientCpuMs < idle.windowMs * 0.0005),
      ),
    );
  say('');
});

// 8. floods
const fl = results.floods ?? {};
section('## 8. Floods: the registry as a public service', fl, () => {
  say(
    `The registry binary (\`bin/udpchat -s\`, default options) in its own process; each flood for ${int(fl.floodMs / 1000)} s from this process, every flooding host a loopback address of its own, speaking the protocol by hand (\`bench/floods.mjs\`; what each refusal means: docs/security.md). ` +
      "During each, a user coming back (a ChatClient in a child process, the same nick and keys, on 127.0.0.9) registers three times: hello, register, first table; the slowest is shown. RSS: the registry's VmRSS from /proc every 50 ms, the peak from the start of the flood to 2 s after its end. " +
      `Baseline: that registration with no flood (slowest of three: ${ms(Math.max(...(fl.baseline?.registrationMs ?? [NaN])))}), and the registry's RSS then (${mb(fl.baseline?.rssMB)}).`,
    '',
    '| flood | requests | outcomes | bytes back / bytes in | registry CPU | peak RSS (target < 250 MB) | registration, slowest (target < 1 s) | met |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |',
  );
  for (const f of fl.floods ?? []) {
    const slowest = Math.max(...f.registrationMs);
    const outcomes = f.outcomes
      ? Object.entries(f.outcomes)
          .map(([k, v]) => `${k}: ${int(v)}`)
          .join(', ')
      : '—';
    const ok = f.peakRssMB < 250 && slowest < 1000 && f.registrationErrors.length === 0;
    say(
      `| ${f.flood} | ${int(f.requests)} | ${outcomes} | ${mib(f.bytesToHosts)} / ${mib(f.bytesFromHosts)} (${ratio(f.bytesToHosts, f.bytesFromHosts)}) | ${f.registryCpuSeconds} s | ${mb(f.peakRssMB)} | ${ms(slowest)}${f.registrationErrors.length ? ` (${f.registrationErrors.join(', ')})` : ''} | ${met(ok)} |`,
    );
  }
  say(
    '',
    `Nicks in the table at the end: ${int(fl.nicksKept)}; the registry's RSS then ${mb(fl.finalRssMB)}. Outcomes: \`err 17\` is TRY_LATER (a new-nick or password budget spent); "no hello" and "no answer": the flooding host's own two-second wait ran out.`,
    '',
  );
});

// 9. presence by subscription
const pr = results.presence ?? {};
section('## 9. Presence by subscription: beyond the table limit', pr, () => {
  say(
    `N simulated clients (bare Endpoints, \`bench/lib/watch-clients.mjs\`), ${int(pr.sizes?.[0]?.contacts)} contacts each (fixed pseudo-randomly per client), register with the registry (LowdbStore, default table limit: the first 256 get the whole table until it outgrows the limit, then say what they watch) and say whom they watch; each sets up its session with the registry after registering (beyond the table limit, before saying whom it watches, so its watch requests go under it), as ChatClient does. ` +
      "Done when every client holds every contact online; registry and simulated clients share this machine's two cores. Then one client deregisters: the registry's datagrams for it (less the reply to the dereg) against its watchers + 1. " +
      `${pr.setup ?? ''}.`,
    '',
    '| N | every contact right (target < 10 s at 10,000) | registry CPU per registration (target ≤ 300 µs) | bytes / datagrams sent per registration | registry RSS (target < 250 MB) | one change: datagrams / watchers + 1 | met |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const s of pr.sizes ?? []) {
    if (s.error) {
      say(`| ${int(s.n)} | ${s.error} | — | — | — | — | **not met** |`);
      continue;
    }
    const ok =
      (s.n < 10_000 || s.consistentSeconds < 10) &&
      s.registryCpuPerRegistrationMicros <= 300 &&
      s.registryRssMB < 250 &&
      s.change?.withinWatchersPlusOne;
    say(
      `| ${int(s.n)} | ${s.consistentSeconds} s | ${int(s.registryCpuPerRegistrationMicros)} µs | ${mib(s.bytesPerRegistration)} / ${s.datagramsPerRegistration} | ${mb(s.registryRssMB)} | ${int(s.change?.datagramsSent)} / ${int((s.change?.watchers ?? NaN) + 1)} | ${met(ok)} |`,
    );
  }
  say(
    '',
    "Registry CPU per registration is its process CPU time (all threads) over the registrations divided by N: everything a registration brings with it (hello, register, its watch requests, its session, the presence notices to its watchers, which nobody answers). Registry RSS is the process's resident memory when every contact is right, before any forced collection: it moves by tens of MB from run to run with the garbage collector's timing (dead datagram buffers wait for a collection that V8 starts only once they reach about 64 MB, and V8 sizes its heap at several times what is live), so compare it over several runs.",
    '',
  );
  // What stands between the largest size and its target: the CPU both sides spent, against
  // what two cores can give in the target's time.
  const largest = (pr.sizes ?? []).filter((s) => !s.error && isNum(s.clientCpuSeconds)).at(-1);
  if (largest && isNum(largest.registryCpuSeconds)) {
    const total = largest.registryCpuSeconds + largest.clientCpuSeconds;
    const per = largest.perRegistration ?? {};
    say(
      `- What it takes at N=${int(largest.n)}: the registry used ${largest.registryCpuSeconds} s of CPU and the simulated clients ${largest.clientCpuSeconds} s, ${total.toFixed(2)} s in all, ` +
        `${int((total * 1e6) / largest.n)} µs per registration. On two cores that cannot take less than ${(total / 2).toFixed(1)} s; ` +
        `every contact right within 10 s needs both sides together to spend at most ${int((2 * 10 * 1e6) / largest.n)} µs of CPU per registration. ` +
        `Per registration the registry received ${per.received} datagrams and sent ${largest.datagramsPerRegistration}, and checked ${per.signaturesChecked} Ed25519 signatures and ${per.sessionAuthenticated} session MACs (their costs: the crypto line in the notes).`,
      '',
    );
  }
});

// 10. a crowd of client binaries
const cr = results.crowd ?? {};
section('## 10. A crowd: client binaries in classic mode', cr, () => {
  say(
    `${int(cr.crowd)} client binaries (\`bin/udpchat -c\`, output on a pipe) started one after another against a registry binary, every one kept running: fewer nicks than the table limit, so each holds the whole table and hears of every change. Each is timed from spawn to its welcome line with all those before it running; then each is asked \`online\` and must list every nick. Baseline: the first client's spawn → welcome, nobody else running.`,
    '',
    ...HEAD,
    row(
      'spawn → welcome line, p50 (all but the first)',
      ms(cr.welcomeMs?.p50),
      `${ms(cr.firstWelcomeMs)} (the first)`,
      ratio(cr.welcomeMs?.p50, cr.firstWelcomeMs),
      '≤ 300 ms',
      met(cr.welcomeMs?.p50 <= 300),
    ),
    row(
      'spawn → welcome line, p50 of the last ten',
      ms(cr.lastTenWelcomeMs?.p50),
      `${ms(cr.firstWelcomeMs)} (the first)`,
      ratio(cr.lastTenWelcomeMs?.p50, cr.firstWelcomeMs),
      '—',
      '—',
    ),
    row('spawn → first table, p50', ms(cr.tableMs?.p50), '—', '—', '—', '—'),
    row(
      'tables complete (online lists every nick)',
      `${int(cr.tablesComplete)} of ${int(cr.crowd)}`,
      '—',
      '—',
      'all',
      met(cr.tablesComplete === cr.crowd),
    ),
    '',
  );
});

// 11. nodes on a Redis Cluster
const cl = results.cluster ?? {};
section('## 11. Three nodes on a Redis Cluster: registration, and a node killed', cl, () => {
  say(
    `${int(cl.n)} simulated clients (bare Endpoints, \`bench/lib/cluster-clients.mjs\`) spread over ${int(cl.nodes)} registry nodes (each a process of its own, sharing one Redis Cluster under a key prefix of this run); then node 0 is killed (SIGKILL) while ${int(cl.watched)} of its clients heartbeat as a ChatClient with several nodes does (every second, 1.5 s to answer), and each one's time from the kill to its registration with the next node is measured. ` +
      'Only those clients heartbeat: every client beating once a second is as many signed heartbeats a second as there are clients, more than this 2-core machine can sign, send and check besides the nodes. So the nodes take a silent client for gone only after an hour (`missedHeartbeats` 360): with the default 30 s, every sweep probes the silent thousands (up to 1,000 a second per node); when the sweeps still probed them all at once, the simulated clients fell tens of seconds behind on a loaded machine, and a kill in such a stall delayed every move by it. Baseline: the heartbeat interval (1 s), the least a move can take.' +
      (cl.movedBeforeKill
        ? ` ${int(cl.movedBeforeKill)} clients moved before the kill (a heartbeat unanswered in time): not counted.`
        : ''),
    '',
    ...HEAD,
    row(
      'time to register every client',
      `${cl.registerSeconds} s (${int(cl.registrationsPerSecond)}/s)`,
      '—',
      '—',
      '—',
      '—',
    ),
    row(
      "nodes' CPU per registration (all three)",
      `${int(cl.nodeCpuPerRegistrationMicros)} µs`,
      '—',
      '—',
      '—',
      '—',
    ),
    row(
      'node killed → its client registered with the next, p50',
      ms(cl.switch?.p50),
      '1 s (heartbeat interval)',
      ratio(cl.switch?.p50, 1000),
      '—',
      '—',
    ),
    row(
      'node killed → its client registered with the next, max',
      ms(cl.switch?.max),
      '1 s (heartbeat interval)',
      ratio(cl.switch?.max, 1000),
      '< 3 s',
      met(cl.switch?.max < 3000),
    ),
    '',
  );
});

// Notes: only what this run measured.
say('## Notes', '');
const crypto = direct.crypto;
if (crypto && !crypto.error) {
  const session = isNum(crypto.sessionSealUs)
    ? `; in a per-peer session (what each message costs once the session is set up) seal ${crypto.sessionSealUs} µs, open ${crypto.sessionOpenUs} µs`
    : '';
  const perMessage =
    (isNum(crypto.sessionSealUs)
      ? crypto.sessionSealUs + crypto.sessionOpenUs
      : crypto.hpkeSealUs + crypto.hpkeOpenUs) +
    2 * crypto.signUs +
    2 * crypto.verifyUs;
  say(
    `- Crypto, measured in \`bench/direct.mjs\` (mean of ${int(crypto.rounds)} calls on the built modules): one-shot HPKE seal ${crypto.hpkeSealUs} µs, open ${crypto.hpkeOpenUs} µs (a session set-up costs about this)${session}; Ed25519 sign ${crypto.signUs} µs, verify ${crypto.verifyUs} µs (a ${crypto.signedChatBytes}-byte chat datagram). ` +
      `Signed, a direct message would be sealed and opened once and signed and checked twice (chat and ACK): about ${Math.round(perMessage)} µs of CPU, against a floor round trip of ${ms(floor.rttMs?.p50)}. ` +
      "That is why only the first message of a session is signed: from the second on, the chat and its ACK carry an HMAC-SHA256 under the session's datagram key (a few µs each), and the registry's pushes, and each client's requests to the registry once it holds the client's session, go under that session.",
  );
}
const binaryWarm = direct.binary?.warm;
const relayWarm = direct.relayFloor?.warm;
if (
  !failed(direct) &&
  isNum(direct.binary?.cpuMsPerMessage?.sender) &&
  isNum(binaryWarm?.cpuMsPerMessage?.sender) &&
  isNum(relayWarm?.cpuMsPerMessage?.sender)
) {
  const bin = direct.binary;
  const relay = direct.relayFloor;
  say(
    `- The binary right after start and warm (figure 2): the sender's CPU per message is ${ms(bin.cpuMsPerMessage.sender)} over its first ${int(bin.latencyMs?.n)} messages and ${ms(binaryWarm.cpuMsPerMessage.sender)} after ${int(binaryWarm.after)}, the receiver's ${ms(bin.cpuMsPerMessage.receiver)} and ${ms(binaryWarm.cpuMsPerMessage.receiver)}; send→delivered p50 ${ms(bin.latencyMs?.p50)} and ${ms(binaryWarm.latencyMs?.p50)}. ` +
      `The bare relay moves too (sender ${ms(relay.cpuMsPerMessage?.sender)}, then ${ms(relayWarm.cpuMsPerMessage.sender)}): a process woken from sleep for each message pays more than one kept busy. ` +
      'The rest is V8: it optimises a function only after the function has run a while, and most of what a message runs, runs once per message, so for the first few thousand messages the client runs code not yet optimised and its other threads compile it (`node --trace-opt`: about 30 functions compiled per 1,000 messages all the way through the first 3,000). ' +
      'The targets are for the first figures: a user sends far fewer messages than that, seconds apart.',
  );
  const split = (figures, side) => figures.threadsMsPerMessage?.[side];
  const [senderCold, senderWarm] = [split(bin, 'sender'), split(binaryWarm, 'sender')];
  const [receiverCold, receiverWarm] = [split(bin, 'receiver'), split(binaryWarm, 'receiver')];
  if ([senderCold, senderWarm, receiverCold, receiverWarm].every((t) => isNum(t?.main)))
    say(
      `- The same CPU by thread (/proc/<pid>/task/*/schedstat, to the nanosecond): right after start, the sender's main thread spends ${ms(senderCold.main)} a message and its other threads (V8's compiler and the garbage collector's helpers) ${ms(senderCold.others)}; the receiver's, ${ms(receiverCold.main)} and ${ms(receiverCold.others)}. ` +
        `Warm: the sender ${ms(senderWarm.main)} and ${ms(senderWarm.others)}, the receiver ${ms(receiverWarm.main)} and ${ms(receiverWarm.others)}. ` +
        (senderCold.main >= 3 * senderCold.others && receiverCold.main >= 3 * receiverCold.others
          ? 'So right after start the cost is mostly the main thread running what a message runs before V8 has optimised it, not the compiling beside it.'
          : 'So right after start a good part of the cost is the compiling beside the main thread.'),
    );
}
/** Messages/s if each side of a stream had a core to itself: the busier side's CPU per message sets it. */
const oneCoreEach = ({ sender, receiver }) =>
  Math.round(1e6 / Math.max(sender, receiver)).toLocaleString('en-US');
if (
  !failed(tp) &&
  tp.noLoss &&
  !tp.noLoss.error &&
  isNum(tp.noLoss.perSecond) &&
  isNum(direct.api?.latencyMs?.p50)
) {
  const perMessage = 1000 / tp.noLoss.perSecond;
  const gain = direct.api.latencyMs.p50 / perMessage;
  say(
    `- Throughput: ${int(tp.noLoss.perSecond)} messages/s is ${ms(perMessage)} per message in the stream, against ${ms(direct.api.latencyMs.p50)} for one send→ACK alone (figure 2, p50): ` +
      `with ${tp.noLoss.window} \`send()\`s outstanding, messages go ${gain.toFixed(1)}× as fast as one at a time; the floor goes ${isNum(floor.pipelined?.perSecond) && isNum(floor.rttMs?.p50) ? ((floor.pipelined.perSecond * floor.rttMs.p50) / 1000).toFixed(1) : '—'}× as fast with ${floor.pipelined?.window ?? 64} in flight. ` +
      (tp.noLoss.cpuPerMessageUs
        ? `CPU per message in the stream: ${tp.noLoss.cpuPerMessageUs.sender} µs in the sender's process, ${tp.noLoss.cpuPerMessageUs.receiver} µs in the receiver's (${oneCoreEach(tp.noLoss.cpuPerMessageUs)} messages/s if the busier side had a core to itself).`
        : '') +
      (isNum(tp.noLossWarm?.perSecond) && tp.noLossWarm.cpuPerMessageUs
        ? ` Warm (after ${int(tp.noLossWarm.after)} messages): ${int(tp.noLossWarm.perSecond)} messages/s, ${tp.noLossWarm.cpuPerMessageUs.sender} µs and ${tp.noLossWarm.cpuPerMessageUs.receiver} µs a message (${oneCoreEach(tp.noLossWarm.cpuPerMessageUs)} messages/s with a core each).`
        : ''),
  );
}
if (!failed(reg)) {
  const done = (reg.sizes ?? []).filter((s) => isNum(s.consistentSeconds));
  if (done.length > 0) {
    say(
      `- Registry bytes: ${done.map((s) => `N=${int(s.n)}: ${mib(s.bytesSent)} for N registrations (${int(Math.round(s.bytesSent / s.n))} bytes per registration, table ${int(s.tableBytes)} bytes)`).join('; ')}. ` +
        'Every newcomer receives the whole table, so N registrations cost about N²/2 table entries on the wire; one change, by contrast, is one datagram per online client.',
    );
    const big = done[done.length - 1];
    const entryBytes = big.tableBytes / big.n;
    const bytesPerCpuSecond = big.bytesSent / big.registryCpuSeconds;
    const lower10k = (entryBytes * 10_000 * 10_001) / 2;
    if (isNum(entryBytes) && isNum(bytesPerCpuSecond)) {
      say(
        `- Extrapolated from N=${int(big.n)} (not measured at 10,000): a table entry is ${Math.round(entryBytes)} bytes of JSON, so 10,000 registrations need at least ${mib(lower10k)} of whole tables on the wire; ` +
          `the registry sent ${mib(bytesPerCpuSecond)} per CPU-second here (${Math.round((big.registryCpuSeconds * 1e6) / big.datagramsSent)} µs of CPU per datagram sent: encoding, cutting into fragments, authenticating under each client's session key and checking its ACK), which puts 10,000 registrations at about ${int(lower10k / bytesPerCpuSecond)} CPU-seconds of registry work, against the 10 s target. ` +
          `One change at N=${int(big.n)} took ${ms(big.change?.registryCpuMs)} of registry CPU, ${Math.round((big.change?.registryCpuMs * 1000) / (big.n - 1))} µs per online client.`,
      );
    }
    if (big.clientCounters?.cpuMicros) {
      say(
        `- On this machine the simulated clients share the cores with the registry and need as much CPU (each datagram is checked and its ACK authenticated, as the registry authenticates it and checks the ACK): at N=${int(big.n)} they used ${(big.clientCounters.cpuMicros / 1e6).toFixed(2)} s of CPU against the registry's ${big.registryCpuSeconds} s; their event loop lagged up to ${int(big.clientCounters.loopDelayMaxMs)} ms. The registry figures are therefore a lower bound of what it does with its clients elsewhere.`,
      );
    }
  }
  const over = (reg.sizes ?? []).filter((s) => s.error);
  for (const s of over)
    say(
      `- Registry N=${int(s.n)}: ${s.error}${s.soFar ? `; by then the registry had sent ${int(s.soFar.datagramsSent)} datagrams (${mib(s.soFar.bytesSent)}) using ${s.soFar.registryCpuSeconds} s of CPU, ${int(s.soFar.retried)} of its requests retried, ${int(s.soFar.timeouts)} timed out` : ''}${s.clientCounters ? `; the clients asked for the whole table again ${int(s.clientCounters.resyncs)} times` : ''}.`,
    );
}
if (!failed(store)) {
  const big = (store.lowdb ?? []).find(
    (c) => c.stored === Math.max(...(store.lowdb ?? []).map((x) => x.stored)),
  );
  if (big && !big.error) {
    say(
      `- lowdb at ${int(big.stored)} stored messages (${mib(big.storeBytes)} on disk): one save rewrites ${mib(big.bytesPerSave)} in ${big.filesPerSave} file(s) and takes ${ms(big.latencyMs?.p50)} (p50) / ${ms(big.latencyMs?.p99)} (p99), against ${ms(big.baselineMs?.p50)} / ${ms(big.baselineMs?.p99)} to write those bytes once with fs.writeFile + rename.`,
    );
  }
}
const libMem = mem.library?.filled;
if (!failed(mem) && libMem?.touched) {
  say(
    `- Memory: with ${int(mem.clients)} clients and ${int(mem.messages)} messages, the registry's JS heap in use after GC is ${mb(libMem.started?.heapUsedMB)} after start and ${mb(libMem.touched.heapUsedMB)} with every mailbox read (empty store: ${mb(mem.library.empty?.started?.heapUsedMB)}); RSS ${mb(libMem.started?.rssMB)} and ${mb(libMem.touched.rssMB)}.`,
  );
}
if (!failed(direct) && isNum(direct.api?.latencyMs?.p50) && isNum(floor.rttMs?.p50)) {
  say(
    `- API send→ACK p50 is ${ms(direct.api.latencyMs.p50)} (${isNum(direct.api.warm?.latencyMs?.p50) ? `${ms(direct.api.warm.latencyMs.p50)} once warm` : 'not measured warm'}) against the floor's ${ms(floor.rttMs.p50)}: the floor's echo does one receive and one send; a message does, on top of those, ` +
      'a ChaCha20-Poly1305 seal and open, two JSON encodings and two parses checked against the protocol schema (zod), four HMAC-SHA256 (chat and ACK, made and checked), the duplicate and replay windows, ' +
      'the per-sender order check and the outcome bookkeeping (outbox, in order). Each is a few µs (see the crypto line above); together they are what stands between the message and 2× the floor.',
  );
}
if (!failed(st) && st.versionMs && !st.versionMs.error) {
  say(
    `- Start-up: \`node -e 0\` ${ms(st.nodeMs?.p50)}; \`udpchat --version\` (loads the CLI's entry point, yargs, and exits) ${ms(st.versionMs.p50)}; importing the library (\`dist/index.js\`) ${ms(st.importMs?.p50)}; a client to its welcome line ${ms(st.client?.welcomeMs?.p50)} (p50), which also includes the client's own modules, reading its identity and outbox, and the hello and register round trips.`,
  );
  if (st.nodeWithoutExtraCaMs)
    say(
      `- This machine sets \`NODE_EXTRA_CA_CERTS\`: node parses that CA bundle at every start, before any JavaScript runs. \`node -e 0\` without it: ${ms(st.nodeWithoutExtraCaMs.p50)} (p50), against ${ms(st.nodeMs?.p50)} with it. The baseline and \`udpchat --version\` are with it, as the machine is; a client (\`-c\`) is not: \`bin/udpchat\` starts node without it for a client, which opens no TLS connection (a registry keeps it, for a \`rediss://\` Redis).`,
    );
}
say('');

await writeFile(OUT, lines.join('\n'));
process.stderr.write(`\nwrote ${OUT} (${totalSeconds} s)\n`);

// The smoke run is CI's check that every benchmark still works: any failure (a skip, such
// as the loss figure without root, is not one) fails it.
if (SMOKE) {
  const failures = [];
  const walk = (value, path) => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'error' && typeof inner === 'string' && !inner.startsWith('skipped'))
        failures.push(`${path}: ${inner}`);
      else walk(inner, `${path}.${key}`);
    }
  };
  for (const [name, result] of Object.entries(results)) walk(result, name);
  if (failures.length > 0) {
    process.stderr.write(`\nbench smoke failed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}
