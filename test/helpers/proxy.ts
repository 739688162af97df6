import dgram from 'node:dgram';
import type { Address } from '../../src/transport/address.js';

export type Direction = 'forward' | 'back';

export interface ProxyHooks {
  /** Return true to drop this datagram. `n` counts datagrams per direction from 1. */
  drop?(datagram: Buffer, direction: Direction, n: number): boolean;
}

/**
 * A UDP proxy on 127.0.0.1 between senders and one target: each sender gets its own
 * upstream socket, so the target's replies find their way back. Faults come from hooks.
 */
export async function createProxy(target: Address, hooks: ProxyHooks = {}) {
  const front = dgram.createSocket('udp4');
  const upstreams = new Map<string, dgram.Socket>();
  const counts = { forward: 0, back: 0, dropped: 0 };
  const pass = (datagram: Buffer, direction: Direction) => {
    const n = ++counts[direction];
    if (hooks.drop?.(datagram, direction, n)) {
      counts.dropped++;
      return false;
    }
    return true;
  };
  front.on('message', async (datagram, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let upstream = upstreams.get(key);
    if (!upstream) {
      const socket = dgram.createSocket('udp4');
      upstream = socket;
      upstreams.set(key, socket);
      socket.on('message', (reply) => {
        if (pass(reply, 'back')) front.send(reply, rinfo.port, rinfo.address);
      });
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    }
    if (pass(datagram, 'forward')) upstream.send(datagram, target.port, target.address);
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: { address: '127.0.0.1', port: front.address().port } as Address,
    counts,
    async close() {
      await Promise.all([front, ...upstreams.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
