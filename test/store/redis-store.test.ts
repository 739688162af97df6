import t from 'tap';
import { RedisStore } from '../../src/store/redis-store.js';
import { REDIS_URL, redisPrefix, redisSkip } from '../helpers/redis.js';
import { storeCompliance } from './compliance.js';

const skip = await redisSkip();
if (skip) {
  t.test('the Store compliance suite on Redis', { skip }, () => undefined);
} else {
  storeCompliance(t, (t) => {
    const prefix = redisPrefix(t);
    return async () => new RedisStore({ url: REDIS_URL, prefix });
  });
}
