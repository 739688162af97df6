// Run inside a network namespace that drops a share of all UDP (see real-loss.test.ts).
// Three clients chat while one of them deregisters and comes back; prints one JSON verdict.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatClient, LowdbStore, Registry } from '../../dist/index.js';

const perPair = Number(process.argv[2] ?? 60);
const dir = mkdtempSync(join(tmpdir(), 'udpchat-loss-'));
const lossy = {
  ackTimeoutMs: 200,
  peerTries: 4,
  serverTimeoutMs: 100,
  serverTries: 10,
  heartbeatIntervalMs: 300,
  outboxRetryMs: 200,
};
const registry = await Registry.start(
  {
    host: '127.0.0.1',
    port: 0,
    probeTimeoutMs: 400,
    probeTries: 4,
    pushTimeoutMs: 100,
    pushTries: 10,
    deliverTimeoutMs: 100,
    deliverTries: 10,
    relayTries: 4,
    heartbeatIntervalMs: 300,
    missedHeartbeats: 6,
  },
  { store: new LowdbStore(join(dir, 'registry.json')) },
);
const server = { host: '127.0.0.1', port: registry.address().port };
const nicks = ['ann', 'ben', 'cat'];
const clients = {};
const shown = []; // [to, from, mid, text]
const finals = new Map(); // mid -> [outcomes]
const sent = []; // { from, to, mid?, text, index }
for (const nick of nicks) {
  const client = await ChatClient.start({ nick, server, host: '127.0.0.1', port: 0, ...lossy });
  clients[nick] = client;
  client.on('message', (m) => shown.push([nick, m.from, m.mid, m.text, 'live', Date.now()]));
  client.on('saved-message', (m) => shown.push([nick, m.from, m.mid, m.text, 'saved', Date.now()]));
  for (const event of ['delivered', 'saved', 'send-failed']) {
    client.on(event, (e) => finals.set(e.mid, [...(finals.get(e.mid) ?? []), event]));
  }
}
const waitUntil = async (check, ms) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
};
await waitUntil(
  () => nicks.every((n) => clients[n].table().filter((e) => e.online).length === 3),
  10_000,
);

const mids = new Map(); // text -> mid, learnt from the events (send() hides the id)
const loop = async (from, to) => {
  const client = clients[from];
  for (let i = 0; i < perPair; i++) {
    await waitUntil(() => client.state === 'online', 30_000);
    const text = `${from}>${to} #${i}`;
    sent.push({ from, to, text, index: i });
    await client.send(to, text);
  }
};
const churn = async () => {
  // ben leaves once a sixth of what is meant for him has arrived, whatever the pace
  await waitUntil(() => shown.filter(([to]) => to === 'ben').length >= perPair / 3, 30_000);
  await clients.ben.deregister();
  await new Promise((r) => setTimeout(r, 1000));
  await clients.ben.register();
};
const started = Date.now();
await Promise.all([
  ...nicks.flatMap((a) => nicks.filter((b) => b !== a).map((b) => loop(a, b))),
  churn(),
]);
const settled = await waitUntil(
  () => sent.every((m) => shown.some(([to, , , text]) => to === m.to && text === m.text)),
  30_000,
);
await new Promise((r) => setTimeout(r, 500)); // let any late duplicate show itself

const key = (to, text) => `${to}|${text}`;
const counts = new Map();
for (const [to, , , text] of shown) counts.set(key(to, text), (counts.get(key(to, text)) ?? 0) + 1);
const missing = sent.filter((m) => !counts.has(key(m.to, m.text))).map((m) => m.text);
const doubled = [...counts].filter(([, n]) => n > 1).map(([k]) => k);
const outOfOrder = [];
for (const from of nicks)
  for (const to of nicks) {
    if (from === to) continue;
    const seen = shown
      .filter(([t, f]) => t === to && f === from)
      .map(([, , , text]) => Number(text.split('#')[1]));
    for (let i = 1; i < seen.length; i++)
      if (seen[i] < seen[i - 1]) outOfOrder.push(`${from}>${to}: ${seen[i - 1]} then ${seen[i]}`);
    if (process.env.LOSS_DEBUG && outOfOrder.length) {
      const trace = shown
        .filter(([t, f]) => t === to && f === from)
        .map(([, , , text, path, at]) => `${text.split('#')[1]}:${path}@${at - started}`);
      process.stderr.write(`${from}>${to} ${trace.join(' ')}\n`);
    }
  }
for (const [, , mid, text] of shown) mids.set(text, mid);
const outcomes = sent.map((m) => finals.get(mids.get(m.text)) ?? []);
const verdict = {
  settled,
  seconds: (Date.now() - started) / 1000,
  sent: sent.length,
  shown: shown.length,
  missing,
  doubled,
  outOfOrder,
  withoutOutcome: sent.filter((_, i) => outcomes[i].length === 0).map((m) => m.text),
  withSeveralOutcomes: sent.filter((_, i) => outcomes[i].length > 1).map((m) => m.text),
  failed: outcomes.filter((o) => o.includes('send-failed')).length,
  saved: outcomes.filter((o) => o[0] === 'saved').length,
  retried: nicks.reduce((sum, n) => sum + clients[n].stats.retried, 0),
  deduplicated:
    nicks.reduce((sum, n) => sum + clients[n].stats.deduplicated, 0) + registry.stats.deduplicated,
};
await Promise.all(nicks.map((n) => clients[n].close()));
await registry.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(verdict)}\n`);
