import t from 'tap';
import { clusterNodes, RedisStore } from '../../src/store/redis-store.js';
import { REDIS_CLUSTER_URL, redisClusterPrefix, redisClusterSkip } from '../helpers/redis.js';
import { storeCompliance } from './compliance.js';

t.test('a redis-cluster:// URL names the seed nodes and credentials', async (t) => {
  t.same(clusterNodes('redis-cluster://127.0.0.1:7101,[::1]:7102'), {
    nodes: [
      { host: '127.0.0.1', port: 7101 },
      { host: '::1', port: 7102 },
    ],
    tls: false,
  });
  t.same(clusterNodes('rediss-cluster://user:p%40ss:word@h:1'), {
    nodes: [{ host: 'h', port: 1 }],
    tls: true,
    username: 'user',
    password: 'p@ss:word',
  });
  t.same(clusterNodes('redis-cluster://secret@h:1'), {
    nodes: [{ host: 'h', port: 1 }],
    tls: false,
    password: 'secret',
  });
  t.equal(clusterNodes('redis://127.0.0.1:6379'), undefined, 'one Redis is not a cluster');
});

const skip = await redisClusterSkip();
if (skip) {
  t.test('the Store compliance suite on a Redis Cluster', { skip }, () => undefined);
} else {
  t.test('on a Redis Cluster', async (t) => {
    storeCompliance(t, (t) => {
      const prefix = redisClusterPrefix(t);
      return async () => new RedisStore({ url: REDIS_CLUSTER_URL, prefix });
    });

    t.test('announcements go by sharded pub/sub to every node', async (t) => {
      const prefix = redisClusterPrefix(t);
      const [a, b] = [
        new RedisStore({ url: REDIS_CLUSTER_URL, prefix }),
        new RedisStore({ url: REDIS_CLUSTER_URL, prefix }),
      ];
      t.teardown(() => Promise.all([a.close(), b.close()]));
      await Promise.all([a.open(), b.open()]);
      const heard = new Promise<string>((resolve) => void b.onAnnouncement(resolve));
      // The subscription is in place once SSUBSCRIBE answered: announce until it is heard.
      const timer = setInterval(() => void a.announce('node-a alice').catch(() => undefined), 100);
      t.teardown(() => clearInterval(timer));
      t.equal(await heard, 'node-a alice');
    });
  });
}
