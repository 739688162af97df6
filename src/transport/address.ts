// UDP addresses: comparing, printing and normalising them (IPv4 seen on a dual-stack socket),
// and resolving a host name once so replies can be matched against it.
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

/** Resolves a host name once, so replies can be matched against a literal address. */
export async function resolveAddress(
  host: string,
  port: number,
): Promise<Address & { family: 4 | 6 }> {
  const family = isIP(host);
  if (family === 4 || family === 6) return { address: host, port, family };
  // Loaded only for a name: a start with an address (the usual one) spares its loading.
  const { lookup } = await import('node:dns/promises');
  const found = await lookup(host);
  return { address: found.address, port, family: found.family === 6 ? 6 : 4 };
}
