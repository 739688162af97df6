// Child process: a legitimate user while the registry is flooded. On each `register` it
// starts a ChatClient (hello, register, first table), reports how long that took, and
// closes it after a dereg. `returning`: always the same nick and keys (a user coming back);
// else a fresh nick each time (a newcomer).
import { ChatClient, generateIdentity } from '../../dist/index.js';
import { nowMs, serveParent } from './common.mjs';

let count = 0;
const identity = await generateIdentity();
serveParent(async (message) => {
  if (message.type !== 'register') return;
  const nick = message.returning ? message.prefix : `${message.prefix}${count++}`;
  const started = nowMs();
  try {
    const parts = message.returning ? { identity } : {};
    const client = await ChatClient.start(
      { nick, server: message.server, host: message.host, port: 0 },
      parts,
    );
    const ms = nowMs() - started;
    await client.deregister();
    await client.close();
    process.send({ type: 'registered', nick, ms });
  } catch (error) {
    process.send({
      type: 'registered',
      nick,
      ms: nowMs() - started,
      error: String(error?.code ?? error?.message ?? error),
    });
  }
});
