// UDP addresses: comparing, printing and normalising them (IPv4 seen on a dual-stack socket),
// and resolving a host name once so replies can be matched against it.
import type { LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

export interface Address {
  address: string;
  port: number;
}

/** `::ffff:1.2.3.4` (an IPv4 peer seen on a dual-stack socket) is `1.2.3.4`. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.port === b.port && normalizeIp(a.address) === normalizeIp(b.address);
}

export function formatAddress(a: Address): string {
  return isIP(a.address) === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/**
 * Resolves a host name once, so replies can be matched against a literal address: to its IPv4
 * address when it has one, else its IPv6 one. A registry listens on IPv4 unless given an IPv6
 * `--host`, and where `localhost` names ::1 first, that is not where it listens.
 */
export async function resolveAddress(
  host: string,
  port: number,
): Promise<Address & { family: 4 | 6 }> {
  const family = isIP(host);
  if (family === 4 || family === 6) return { address: host, port, family };
  // Loaded only for a name: a start with an address (the usual one) spares its loading.
  const { lookup } = await import('node:dns/promises');
  // Failing for IPv4 (no such address, or no name server to ask), it may still have an IPv6 one.
  const found = await lookup(host, { family: 4 }).catch(() => lookup(host, { family: 6 }));
  return { address: found.address, port, family: found.family === 6 ? 6 : 4 };
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string,
  family: number,
) => void;

/**
 * The `lookup` of the endpoint's sockets. What they bind and send to is an address already
 * (names are resolved once, by `resolveAddress`): taken as it is, at once. node:dgram's default
 * goes through node:dns for it, which loads node:dns at start-up and answers each datagram a
 * tick later. A name still goes to node:dns (loaded then).
 */
export function lookupLiteral(
  host: string,
  options: LookupOneOptions | number,
  callback: LookupCallback,
): void {
  const kind = isIP(host);
  if (kind !== 0) return callback(null, host, kind);
  import('node:dns').then(
    ({ lookup }) =>
      lookup(host, typeof options === 'number' ? { family: options } : options, callback),
    (error: NodeJS.ErrnoException) => callback(error, '', 0),
  );
}
