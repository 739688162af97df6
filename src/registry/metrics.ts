// What an operator watches: /metrics in Prometheus text format (prom-client), and /healthz
// (200 while the registry runs). Counters come from the registry's transport stats.
import { createServer, type Server } from 'node:http';
import { Gauge, Registry as MetricsRegistry, collectDefaultMetrics } from 'prom-client';
import type { Registry } from './registry.js';

export async function serveMetrics(
  registry: Registry,
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
  gauge('udpchat_datagrams_received_total', 'datagrams received', () => registry.stats.received);
  gauge('udpchat_datagrams_sent_total', 'datagrams sent', () => registry.stats.sent);
  gauge(
    'udpchat_retransmissions_total',
    'requests sent again after a timeout',
    () => registry.stats.retried,
  );
  gauge(
    'udpchat_duplicates_total',
    'retransmitted requests answered from the dedup window',
    () => registry.stats.deduplicated,
  );
  gauge(
    'udpchat_unchecked_requests_total',
    'requests answered without a check (hellos: each answer smaller than its hello)',
    () => registry.stats.unchecked,
  );
  gauge(
    'udpchat_replies_withheld_total',
    'replies not sent: larger than the request, to an address that has not shown it receives',
    () => registry.stats.withheld,
  );
  gauge(
    'udpchat_signatures_checked_total',
    'Ed25519 signatures checked (the costly check a session key saves)',
    () => registry.stats.signaturesChecked,
  );
  gauge(
    'udpchat_session_authenticated_total',
    'datagrams taken under a session key instead of a signature',
    () => registry.stats.sessionAuthenticated,
  );
  const dropped = new Gauge({
    name: 'udpchat_datagrams_dropped_total',
    help: 'datagrams dropped, by reason',
    labelNames: ['reason'],
    registers: [metrics],
    collect() {
      for (const [reason, count] of Object.entries(registry.stats.dropped))
        this.set({ reason }, count);
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
