// What an operator watches: /metrics in Prometheus text format (prom-client), and /healthz
// (200 while the registry runs). Counters come from the registry's transport stats.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry as MetricsRegistry, collectDefaultMetrics } from 'prom-client';
import type { Registry } from './registry.js';

/** What the metrics read of a running registry. */
export type MetricsSource = Pick<Registry, 'snapshot' | 'stats'>;

type Stats = Registry['stats'];
/** The registry's stats that are a count. */
type Count = { [K in keyof Stats]: Stats[K] extends number ? K : never }[keyof Stats];

export async function serveMetrics(
  registry: MetricsSource,
  port: number,
  host = '127.0.0.1',
): Promise<Server> {
  const metrics = new MetricsRegistry();
  collectDefaultMetrics({ register: metrics });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics],
      collect() {
        this.set(read());
      },
    });
  gauge('udpchat_clients', 'nicks in the client table', () => registry.snapshot().entries.length);
  gauge(
    'udpchat_clients_online',
    'nicks online',
    () => registry.snapshot().entries.filter((e) => e.online).length,
  );
  // The transport's counts since start, each a counter udpchat_<name>_total (read afresh at
  // each scrape: set to the count, as a counter that only ever went up by that much).
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [metrics],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const counters: Array<[string, string, Count]> = [
    ['datagrams_received', 'datagrams received', 'received'],
    ['datagrams_sent', 'datagrams sent', 'sent'],
    ['retransmissions', 'requests sent again after a timeout', 'retried'],
    ['duplicates', 'retransmitted requests answered from the dedup window', 'deduplicated'],
    [
      'unchecked_requests',
      'requests answered without a check (hellos, heartbeats from nicks not in the table: each answer smaller than its request)',
      'unchecked',
    ],
    [
      'hellos_dropped',
      'hellos (and heartbeats from nicks not in the table) dropped unanswered, past their budgets',
      'hellosDropped',
    ],
    [
      'replies_withheld',
      'replies not sent: larger than the request, to an address that has not shown it receives',
      'withheld',
    ],
    [
      'signatures_checked',
      'Ed25519 signatures checked (the costly check a session key saves)',
      'signaturesChecked',
    ],
    [
      'session_authenticated',
      'datagrams taken under a session key instead of a signature',
      'sessionAuthenticated',
    ],
    [
      'bundles_received',
      'bundles received (several datagrams in one; each is counted as received too)',
      'bundlesReceived',
    ],
    ['bundles_refused', 'malformed bundles dropped whole', 'bundlesRefused'],
    [
      'signed_taken_before',
      'signed requests the store says were taken already (by another node, or by this one before a restart), dropped unanswered',
      'signedTakenBefore',
    ],
  ];
  for (const [name, help, stat] of counters)
    counter(`udpchat_${name}_total`, help, () => registry.stats[stat]);
  const dropped = new Counter({
    name: 'udpchat_datagrams_dropped_total',
    help: 'datagrams dropped, by reason',
    labelNames: ['reason'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(registry.stats.dropped))
        this.inc({ reason }, count);
    },
  });
  void dropped;
  const server = createServer((request, response) => {
    if (request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    metrics.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
