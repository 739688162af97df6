import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { Test } from 'tap';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A Redis Cluster of three masters, as `.ci/run` starts one (REDIS_CLUSTER_URL to use another). */
export const REDIS_CLUSTER_URL =
  process.env.REDIS_CLUSTER_URL ?? 'redis-cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103';

const clusterSeeds = () =>
  REDIS_CLUSTER_URL.replace(/^rediss?-cluster:\/\/([^@]*@)?/, '')
    .split(',')
    .map((item) => ({
      host: item.slice(0, item.lastIndexOf(':')),
      port: Number(item.slice(item.lastIndexOf(':') + 1)),
    }));

/** A client of the test cluster that reports nothing and retries little. */
function clusterClient(): Cluster {
  return new Cluster(clusterSeeds(), {
    lazyConnect: true,
    clusterRetryStrategy: () => null,
    redisOptions: { connectTimeout: 1000, maxRetriesPerRequest: 1 },
  }).on('error', () => undefined);
}

/** The reason to skip the Redis Cluster tests, or false; under CI=true they run (and fail without one). */
export async function redisClusterSkip(): Promise<string | false> {
  if (process.env.CI === 'true') return false;
  const probe = clusterClient();
  try {
    await probe.connect();
    const info = String(await probe.cluster('INFO'));
    if (info.includes('cluster_state:ok')) return false;
  } catch {
    // no cluster
  } finally {
    probe.disconnect();
  }
  return `no Redis Cluster answers at ${REDIS_CLUSTER_URL} (.ci/run starts one; or set REDIS_CLUSTER_URL); runs under CI=true`;
}

/** A key prefix of this test's own on the cluster, its keys deleted from every master at teardown. */
export function redisClusterPrefix(t: Test): string {
  const prefix = `udpchat-test:${randomBytes(6).toString('hex')}:`;
  t.teardown(async () => {
    const cluster = clusterClient();
    try {
      await cluster.connect();
      for (const node of cluster.nodes('master')) {
        const keys = await node.keys(`${prefix}*`);
        for (const key of keys) await node.del(key);
      }
    } catch {
      // nothing to clean, or no cluster
    } finally {
      cluster.disconnect();
    }
  });
  return prefix;
}

/** Whether a Redis answers at REDIS_URL (within a second). */
export async function redisAnswers(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** The reason to skip Redis tests, or false: off CI a missing Redis skips them with one line; under CI=true it fails. */
export async function redisSkip(): Promise<string | false> {
  if (await redisAnswers()) return false;
  if (process.env.CI === 'true') return false; // let the test fail: CI must have Redis
  return `no Redis answers at ${REDIS_URL} (set REDIS_URL, or start redis-server); runs under CI=true`;
}

/** A key prefix of this test's own, deleted at teardown. */
export function redisPrefix(t: Test): string {
  const prefix = `udpchat-test:${randomBytes(6).toString('hex')}:`;
  t.teardown(async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const keys = await redis.keys(`${prefix}*`).catch(() => []);
    if (keys.length > 0) await redis.del(...keys).catch(() => undefined);
    redis.disconnect();
  });
  return prefix;
}

const CLAIM = 'udpchat-test:claim';
const OWNED = 'udpchat-test:owned';

async function scanDelete(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

async function hasKeys(redis: Redis, pattern: string): Promise<boolean> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) return true;
    cursor = next;
  } while (cursor !== '0');
  return false;
}

/**
 * A REDIS_URL on a logical database of this test's own, for the udpchat binary: its --store
 * takes no key prefix, so its nodes keep their keys under udpchat:*. Claims a database (not 0)
 * with no udpchat:* keys of anyone else's (a claim key set NX, with an expiry), and at teardown
 * deletes the udpchat:* keys there and the claim. A database left marked by a run that died
 * before its teardown is wiped and used again. Pub/sub is not per database: nodes on other
 * databases of the same Redis hear this one's announcements on udpchat:changes.
 */
export async function redisDatabase(t: Test): Promise<string> {
  const token = randomBytes(8).toString('hex');
  const base = REDIS_URL.replace(/\/\d+$/, '');
  const admin = new Redis(base, { maxRetriesPerRequest: 1 }).on('error', () => undefined);
  const [, count] = (await admin.config('GET', 'databases').catch(() => [])) as string[];
  admin.disconnect();
  for (let db = Number(count ?? 16) - 1; db >= 1; db--) {
    const redis = new Redis(base, { db, maxRetriesPerRequest: 1 }).on('error', () => undefined); // the commands fail instead
    try {
      if ((await redis.set(CLAIM, token, 'EX', 300, 'NX')) !== 'OK') continue; // another run has it
      if (await redis.exists(OWNED)) {
        await scanDelete(redis, 'udpchat:*'); // left by a run that died before its teardown
      } else if (await hasKeys(redis, 'udpchat:*')) {
        await redis.del(CLAIM); // someone's real data
        continue;
      }
      await redis.set(OWNED, token);
    } finally {
      redis.disconnect();
    }
    t.teardown(async () => {
      const redis = new Redis(base, { db, maxRetriesPerRequest: 1 }).on('error', () => undefined);
      await scanDelete(redis, 'udpchat:*').catch(() => undefined);
      await redis.del(OWNED, CLAIM).catch(() => undefined);
      redis.disconnect();
    });
    return `${base}/${db}`;
  }
  throw new Error(
    `no free Redis database at ${base} for udpchat:* keys (databases 1..${Number(count ?? 16) - 1} in use)`,
  );
}
