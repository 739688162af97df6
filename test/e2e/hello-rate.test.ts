// The registry binary's --hello-rate: hellos answered a second from one address (see
// docs/security.md); past it, dropped unanswered and counted.
import { createSocket } from 'node:dgram';
import t, { type Test } from 'tap';
import { freeTcpPort } from '../helpers/binary.js';
import { e2e, startServer } from '../helpers/e2e.js';
import { eventually } from '../helpers/testnet.js';
import { uncheckedRequests } from '../helpers/unchecked.js';

const BURST = 20;

/** A counter of the registry's /metrics (NaN while the endpoint does not answer yet). */
async function metric(metricsPort: number, name: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** BURST hellos at once from one address; how many were answered, once each is answered or dropped. */
async function burst(t: Test, extra: string[]): Promise<{ answered: number; dropped: number }> {
  const space = e2e(t);
  const metricsPort = await freeTcpPort();
  const { serverPort } = await startServer(space, undefined, [
    '--metrics',
    String(metricsPort),
    ...extra,
  ]);
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => socket.close());
  let answered = 0;
  socket.on('message', () => answered++);
  for (const datagram of uncheckedRequests(BURST, 'h'))
    socket.send(datagram, serverPort, '127.0.0.1');
  let dropped = 0;
  await eventually(
    async () => {
      dropped = await metric(metricsPort, 'udpchat_hellos_dropped_total');
      return answered + dropped === BURST;
    },
    15_000,
    'every hello answered or dropped',
    50,
  );
  return { answered, dropped };
}

t.test('by default a burst of 20 hellos from one address is answered in full', async (t) => {
  t.same(await burst(t, []), { answered: BURST, dropped: 0 });
});

t.test('--hello-rate 1: most of the burst dropped unanswered, and counted', async (t) => {
  const { answered, dropped } = await burst(t, ['--hello-rate', '1']);
  // One a second: more than a few answered only if taking 20 datagrams spanned as many seconds.
  t.ok(answered >= 1 && answered <= 5, `${answered} answered`);
  t.equal(dropped, BURST - answered);
});
