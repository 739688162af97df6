import net from 'node:net';
import type { Test } from 'tap';

/**
 * A TCP proxy on 127.0.0.1 in front of one target, for a network split: `cut()` stops
 * passing bytes either way without closing anything (packets dropped silently, as a split
 * does), `heal()` lets what was held through and carries on.
 */
export async function tcpProxy(t: Test, target: { host: string; port: number }) {
  let cut = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    if (cut) for (const socket of pair) socket.pause();
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const pair of pairs) for (const socket of pair) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const pair of pairs) for (const socket of pair) socket.pause();
    },
    heal() {
      cut = false;
      for (const pair of pairs) for (const socket of pair) socket.resume();
    },
  };
}
