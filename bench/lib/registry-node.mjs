// Child process: a Registry (LowdbStore in a scratch folder) driven over IPC. Every datagram
// it sends is counted with its bytes (node:dgram's send is wrapped before the registry loads).
import { wire } from './wire-count.mjs'; // first: the registry's sends are counted
import { join } from 'node:path';
import { cpuMicros, serveParent } from './common.mjs';

const { Endpoint, LowdbStore, Registry } = await import('../../dist/index.js');

// With `dropTables` (start): whole-table pushes are dropped before they are encoded, signed or
// sent, and fail at once (as an unanswered push does: no more pushes to that client), so what
// is measured is the rest of the registry's work. Building the snapshot and its pages stays.
let tablesDropped = 0;
const request = Endpoint.prototype.request;
const dropTables = function droppingTables(to, body, ...rest) {
  if (body?.t !== 'table') return request.call(this, to, body, ...rest);
  tablesDropped++;
  return Promise.reject(new Error('table push dropped by the benchmark'));
};

let registry;
let store;
serveParent(
  async (message) => {
    if (message.type === 'start') {
      if (message.dropTables) Endpoint.prototype.request = dropTables;
      store = new LowdbStore(join(message.dir, 'registry.json'));
      registry = await Registry.start(
        { port: 0, host: '127.0.0.1', ...message.options },
        { store },
      );
      process.send({
        type: 'started',
        port: registry.address().port,
        sk: registry.publicKeys.sk,
        ek: registry.publicKeys.ek,
      });
    } else if (message.type === 'stats') {
      if (message.gc && globalThis.gc) globalThis.gc();
      const snapshot = message.snapshot ? registry.snapshot() : undefined;
      process.send({
        type: 'stats',
        endpoint: JSON.parse(JSON.stringify(registry.stats)),
        wire: { ...wire },
        tablesDropped,
        rss: process.memoryUsage().rss,
        cpuMicros: cpuMicros(),
        heapUsed: process.memoryUsage().heapUsed,
        clients: snapshot?.entries.length,
        tableBytes: snapshot ? Buffer.byteLength(JSON.stringify(snapshot.entries)) : undefined,
      });
    } else if (message.type === 'touch') {
      // Reads every client's mailbox through the store (a store may load them lazily).
      let messages = 0;
      for (const { nick } of registry.snapshot().entries)
        messages += await store.countMessages(nick);
      process.send({ type: 'touched', messages });
    }
  },
  () => registry?.close(),
);
