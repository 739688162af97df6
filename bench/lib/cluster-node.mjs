// Child process: one registry node on a shared store (a Redis Cluster, or one Redis), driven
// over IPC like registry-node.mjs: its CPU, RSS and datagrams on request.
import { wire } from './wire-count.mjs'; // first: the registry's sends are counted
import { cpuMicros, serveParent } from './common.mjs';

const { RedisStore, Registry } = await import('../../dist/index.js');

let registry;
serveParent(
  async (message) => {
    if (message.type === 'start') {
      const store = new RedisStore({ url: message.url, prefix: message.prefix });
      registry = await Registry.start(
        { port: 0, host: '127.0.0.1', node: message.node, ...message.options },
        { store },
      );
      process.send({
        type: 'started',
        port: registry.address().port,
        sk: registry.publicKeys.sk,
        ek: registry.publicKeys.ek,
      });
    } else if (message.type === 'stats') {
      process.send({
        type: 'stats',
        wire: { ...wire },
        rss: process.memoryUsage().rss,
        cpuMicros: cpuMicros(),
      });
    }
  },
  () => registry?.close(),
);
