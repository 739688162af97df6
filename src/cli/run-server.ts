// Runs a registry from the CLI: its store (lowdb file or Redis), identity file, optional metrics
// endpoint and logging, until SIGINT or SIGTERM.
import type { Logger } from 'pino';
import { formatAddress } from '../transport/address.js';
import { Registry } from '../registry/registry.js';
import { LowdbStore } from '../store/lowdb-store.js';
import { RedisStore } from '../store/redis-store.js';
import { loadOrCreateIdentity } from '../crypto/identity.js';

export interface ServerConfig {
  port: number;
  host: string | undefined;
  db: string;
  probeTimeoutMs: number | undefined;
  heartbeatIntervalMs: number | undefined;
  rateLimitPerSecond: number | undefined;
  /** Hellos answered a second from one address (see docs/security.md). */
  hellosPerAddress?: number | undefined;
  /** Live relays per pair of users per minute (messages, sealed bytes): see docs/nat.md. */
  relayMessagesPerPair?: number | undefined;
  relayBytesPerPair?: number | undefined;
  /** A second port where clients learn how their NAT maps (see docs/nat.md). */
  natProbePort?: number | undefined;
  /** Most messages kept for one user. */
  mailboxMessages?: number | undefined;
  /** Most of those from one sender. */
  mailboxMessagesPerSender?: number | undefined;
  maxClients: number | undefined;
  tableLimit: number | undefined;
  /** Keep the state in Redis (several nodes may share it) instead of the lowdb file. */
  redisUrl: string | undefined;
  /** The lowdb store: every write on disk before it is confirmed. */
  fsync?: boolean;
  /** This node's name among nodes sharing the store. */
  node: string | undefined;
  /** Serve /metrics and /healthz on this port (127.0.0.1). */
  metricsPort: number | undefined;
}

/** Runs the registry until SIGINT or SIGTERM; resolves with the exit status. */
export async function runServer(config: ServerConfig, log: Logger): Promise<number> {
  // With Redis the nodes share the registry identity kept there; alone, it lives beside the file.
  const identityFile = config.db.replace(/\.json$/, '') + '.identity.json';
  const identity = config.redisUrl ? undefined : await loadOrCreateIdentity(identityFile);
  const store = config.redisUrl
    ? new RedisStore({ url: config.redisUrl, logger: log })
    : new LowdbStore(config.db, { durable: config.fsync ?? false });
  const registry = await Registry.start(
    {
      port: config.port,
      host: config.host,
      probeTimeoutMs: config.probeTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      rateLimitPerSecond: config.rateLimitPerSecond,
      hellosPerAddress: config.hellosPerAddress,
      relayMessagesPerPair: config.relayMessagesPerPair,
      relayBytesPerPair: config.relayBytesPerPair,
      natProbePort: config.natProbePort,
      mailboxMessages: config.mailboxMessages,
      mailboxMessagesPerSender: config.mailboxMessagesPerSender,
      maxClients: config.maxClients,
      tableLimit: config.tableLimit,
      node: config.node,
    },
    { store, logger: log, ...(identity ? { identity } : {}) },
  );
  // The address bound, not the name given: `--host localhost` says which of its addresses.
  const where = formatAddress(registry.address());
  process.stdout.write(
    `udpchat registry listening on udp ${where}, storing in ${registry.storeLocation}\n`,
  );
  // prom-client is loaded only for --metrics.
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await (await import('../registry/metrics.js')).serveMetrics(registry, config.metricsPort);
  if (metrics) log.info({ port: config.metricsPort }, 'metrics on http://127.0.0.1:<port>/metrics');
  log.info(
    {
      address: where,
      store: registry.storeLocation,
      node: registry.nodeId,
      key: registry.publicKeys.sk,
    },
    'registry started',
  );
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping: flushing the store');
      metrics?.close();
      registry.close().then(
        () => resolve(0),
        (error: unknown) => {
          log.error({ err: error }, 'store did not close cleanly');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
