// Child process: one ChatClient (the receiver) driven over IPC. It counts what it shows
// ('message' and 'saved-message' events), to check that every message is shown exactly once.
import { ChatClient, generateIdentity } from '../../dist/index.js';
import { cpuMicros, serveParent } from './common.mjs';

let client;
let events = 0;
let shown = new Set();
let waiter;

const report = () => ({
  type: 'report',
  events,
  distinct: shown.size,
  duplicates: events - shown.size,
  cpuMicros: cpuMicros(),
  stats: client?.stats,
});
const count = ({ from, text }) => {
  events++;
  shown.add(`${from}|${text}`);
  if (waiter && shown.size >= waiter.count) {
    clearTimeout(waiter.timer);
    waiter = undefined;
    process.send(report());
  }
};

serveParent(
  async (message) => {
    if (message.type === 'start') {
      // `starts`: tries at starting (under loss a registration may time out, as for a user).
      const keys = { identity: await generateIdentity() }; // the same at each try: the nick may be bound by then
      for (let tried = 1; ; tried++) {
        try {
          client = await ChatClient.start(message.options, keys);
          break;
        } catch (error) {
          if (error?.code !== 'ERR_TIMEOUT' || tried >= (message.starts ?? 1)) throw error;
        }
      }
      client.on('message', count);
      client.on('saved-message', count);
      process.send({ type: 'ready', address: client.address() });
    } else if (message.type === 'wait-table') {
      // Until the table holds `nicks`, all online.
      const done = () =>
        message.nicks.every((nick) => client.table().some((e) => e.nick === nick && e.online));
      if (done()) return void process.send({ type: 'table-ok' });
      const onTable = () => {
        if (!done()) return;
        client.off('table', onTable);
        process.send({ type: 'table-ok' });
      };
      client.on('table', onTable);
    } else if (message.type === 'reset') {
      events = 0;
      shown = new Set();
      process.send({ type: 'reset-ok', cpuMicros: cpuMicros(), stats: client?.stats });
    } else if (message.type === 'wait') {
      if (shown.size >= message.count) return void process.send(report());
      waiter = {
        count: message.count,
        timer: setTimeout(() => ((waiter = undefined), process.send(report())), message.ms),
      };
    } else if (message.type === 'report') {
      process.send(
        message.texts
          ? { ...report(), texts: [...shown].map((key) => key.slice(key.indexOf('|') + 1)) }
          : report(),
      );
    }
  },
  () => client?.close(),
);
