import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Test } from 'tap';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether a Redis answers at REDIS_URL (within a second). */
export async function redisAnswers(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
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
