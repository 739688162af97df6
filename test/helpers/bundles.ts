import { Coalescer, isBundle, unbundle } from '../../src/transport/bundle.js';

/**
 * What a client's coalescer puts on the wire for `given`, all sent to one address in one turn:
 * the first alone, then bundles.
 */
export function onTheWire(given: Buffer[]): Buffer[] {
  const wire: Buffer[] = [];
  const flushes: Array<() => void> = [];
  const coalescer = new Coalescer({
    send: (_to, bytes) => wire.push(bytes),
    defer: (flush) => void flushes.push(flush),
    counters: { bundlesSent: 0, bundled: 0 },
  });
  for (const one of given) coalescer.send({ address: '127.0.0.1', port: 4000 }, one);
  for (const flush of flushes) flush();
  return wire;
}

/** What the far end takes from what went on the wire: each bundle opened (undefined for a malformed one), the rest as they are. */
export function opened(wire: Buffer[]): Array<Buffer | undefined> {
  return wire.flatMap((one) => (isBundle(one) ? (unbundle(one) ?? [undefined]) : [one]));
}
