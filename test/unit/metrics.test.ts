import type { AddressInfo } from 'node:net';
import t from 'tap';
import { serveMetrics, type MetricsSource } from '../../src/registry/metrics.js';

/**
 * A registry as the metrics read it: a table of `online` and `offline` nicks, and the counts
 * the test sets (the others read as 0).
 */
function source(counts: Record<string, number>, dropped: Record<string, number>) {
  const entry = (nick: string, online: boolean) => ({ nick, online });
  const table = { online: ['ann', 'bob'], offline: ['cat'] };
  const fake = {
    snapshot: () => ({
      entries: [
        ...table.online.map((nick) => entry(nick, true)),
        ...table.offline.map((nick) => entry(nick, false)),
      ],
    }),
    get stats() {
      const read: Record<string, unknown> = { ...counts, dropped };
      return new Proxy(read, { get: (target, key) => target[key as string] ?? 0 });
    },
  };
  // Only what serveMetrics reads is there: the table's online flags and the counts.
  return { registry: fake as unknown as MetricsSource, table };
}

async function scrape(port: number, path = '/metrics') {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

t.test('the counts are Prometheus counters, read afresh at each scrape', async (t) => {
  const counts = { sent: 7, received: 9, signaturesChecked: 2, bundlesRefused: 4 };
  const dropped = { unsigned: 0, 'rate-limited': 3 };
  const { registry, table } = source(counts, dropped);
  const server = await serveMetrics(registry, 0);
  t.teardown(() => void server.close());
  const { port } = server.address() as AddressInfo;

  const first = await scrape(port);
  t.equal(first.status, 200);
  let text = first.text;
  t.match(text, /^# TYPE udpchat_datagrams_sent_total counter$/m, 'a counter, as its name says');
  t.match(text, /^udpchat_datagrams_sent_total 7$/m);
  t.match(text, /^udpchat_datagrams_received_total 9$/m);
  t.match(text, /^udpchat_signatures_checked_total 2$/m);
  t.match(text, /^udpchat_bundles_refused_total 4$/m);
  t.match(text, /^udpchat_bundles_received_total 0$/m);
  t.match(text, /^udpchat_retransmissions_total 0$/m);
  t.match(text, /^# TYPE udpchat_datagrams_dropped_total counter$/m);
  t.match(text, /^udpchat_datagrams_dropped_total\{reason="unsigned"\} 0$/m);
  t.match(text, /^udpchat_datagrams_dropped_total\{reason="rate-limited"\} 3$/m);
  t.match(text, /^# TYPE udpchat_clients gauge$/m, 'the table: gauges');
  t.match(text, /^udpchat_clients 3$/m);
  t.match(text, /^udpchat_clients_online 2$/m);
  t.match(text, /^process_cpu_seconds_total /m, "and prom-client's defaults");

  counts.sent = 12;
  dropped['rate-limited'] = 5;
  table.online.pop();
  ({ text } = await scrape(port));
  t.match(text, /^udpchat_datagrams_sent_total 12$/m, 'the count now, not what it was plus it');
  t.match(text, /^udpchat_datagrams_dropped_total\{reason="rate-limited"\} 5$/m);
  t.match(text, /^udpchat_clients_online 1$/m);
});

t.test('/healthz answers 200; any other path 404', async (t) => {
  const { registry } = source({}, {});
  const server = await serveMetrics(registry, 0);
  t.teardown(() => void server.close());
  const { port } = server.address() as AddressInfo;
  t.same(await scrape(port, '/healthz'), { status: 200, text: 'ok\n' });
  t.equal((await scrape(port, '/')).status, 404);
  t.equal((await scrape(port, '/metrics/x')).status, 404);
});
