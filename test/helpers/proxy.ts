import { decode } from '../../src/protocol/codec.js';
import { splitSigned } from '../../src/crypto/signing.js';
import type { Message } from '../../src/protocol/messages.js';
import dgram from 'node:dgram';
import type { Address } from '../../src/transport/address.js';
import { isBundle, unbundle } from '../../src/transport/bundle.js';

export type Direction = 'forward' | 'back';

/**
 * What becomes of one datagram: passed, dropped, sent twice, or held back (which reorders):
 * for `delayMs`, or until the hook calls the `send` that `held` is given (which waits on an
 * event rather than on the clock, so the order it makes holds however slow the machine).
 */
export type Fault =
  'pass' | 'drop' | 'duplicate' | { delayMs: number } | { held: (send: () => void) => void };

export interface ProxyHooks {
  /**
   * Bundles (several datagrams in one, as clients send them) are opened by default: the hooks
   * see, and the proxy sends on, each datagram on its own, as the far end would take them.
   * `whole`: the hooks see the bundle itself, and it goes on as it is.
   */
  bundles?: 'split' | 'whole';
  /** Return true to drop this datagram. `n` counts datagrams per direction from 1. */
  drop?(datagram: Buffer, direction: Direction, n: number): boolean;
  /** The general hook; `drop` is its shorthand. */
  fault?(datagram: Buffer, direction: Direction, n: number): Fault;
}

/**
 * A UDP proxy on 127.0.0.1 between senders and one target: each sender gets its own
 * upstream socket, so the target's replies find their way back. Faults come from hooks, per
 * datagram (a bundle's each on its own unless `bundles: 'whole'`).
 */
export async function createProxy(target: Address, hooks: ProxyHooks = {}) {
  const front = dgram.createSocket('udp4');
  const upstreams = new Map<string, dgram.Socket>();
  const counts = { forward: 0, back: 0, dropped: 0, duplicated: 0, delayed: 0 };
  let closed = false;
  /** Datagrams held back, cancelled at close (a send on a closed socket would throw). */
  const delayed = new Set<NodeJS.Timeout>();
  /** Sends `datagram` on with `send`, after the hooks have had their say. */
  const relayOne = (datagram: Buffer, direction: Direction, send: () => void) => {
    const n = ++counts[direction];
    const fault: Fault = hooks.drop?.(datagram, direction, n)
      ? 'drop'
      : (hooks.fault?.(datagram, direction, n) ?? 'pass');
    if (fault === 'drop') {
      counts.dropped++;
    } else if (fault === 'duplicate') {
      counts.duplicated++;
      send();
      send();
    } else if (fault === 'pass') {
      send();
    } else if ('held' in fault) {
      counts.delayed++;
      fault.held(() => {
        if (!closed) send();
      });
    } else {
      counts.delayed++;
      const timer = setTimeout(() => {
        delayed.delete(timer);
        send();
      }, fault.delayMs);
      delayed.add(timer);
    }
  };
  /** Each datagram of a bundle on its own (unless kept whole), else the datagram. */
  const relay = (datagram: Buffer, direction: Direction, send: (bytes: Buffer) => void) => {
    const parts =
      hooks.bundles !== 'whole' && isBundle(datagram)
        ? (unbundle(datagram) ?? [datagram])
        : [datagram];
    for (const part of parts) relayOne(part, direction, () => send(part));
  };
  const forward = async (datagram: Buffer, rinfo: dgram.RemoteInfo): Promise<void> => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let upstream = upstreams.get(key);
    if (!upstream) {
      const socket = dgram.createSocket('udp4');
      upstream = socket;
      upstreams.set(key, socket);
      socket.on('message', (reply) =>
        relay(reply, 'back', (bytes) => front.send(bytes, rinfo.port, rinfo.address)),
      );
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    }
    const socket = upstream;
    relay(datagram, 'forward', (bytes) => socket.send(bytes, target.port, target.address));
  };
  front.on('message', (datagram, rinfo) => void forward(datagram, rinfo));
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: { address: '127.0.0.1', port: front.address().port },
    counts,
    /**
     * Sends `datagram` to `to` from the upstream socket of `sender` (one that sent through this
     * proxy already): from where the target sees that sender, as someone on its path could.
     */
    sendAs(sender: Address, datagram: Buffer, to: Address) {
      const upstream = upstreams.get(`${sender.address}:${sender.port}`);
      if (!upstream) throw new Error(`no datagram came from ${sender.address}:${sender.port}`);
      upstream.send(datagram, to.port, to.address);
    },
    async close() {
      closed = true;
      for (const timer of delayed) clearTimeout(timer);
      delayed.clear();
      await Promise.all(
        [front, ...upstreams.values()].map((s) => new Promise<void>((r) => s.close(() => r()))),
      );
    },
  };
}

/** What a datagram says, read past its signature (undefined for what is not a message). */
export function peek(datagram: Buffer): Message | undefined {
  const decoded = decode(splitSigned(datagram)?.inner ?? datagram);
  return decoded.ok ? decoded.message : undefined;
}
