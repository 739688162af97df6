// This client's own addresses on the networks it is on: what a peer behind the same NAT reaches
// it at (sent at registration; the registry tells them to such peers alone; see docs/nat.md).
import { networkInterfaces } from 'node:os';
import { MAX_LOCAL_ADDRESSES } from '../protocol/constants.js';
import type { EndpointAddress } from '../protocol/fields.js';
import type { Address } from '../transport/address.js';

/**
 * This client's addresses on its own networks, with the port its socket is bound to: what a
 * peer behind the same NAT reaches it at. Only IPv4 and IPv6 of the family bound; loopback
 * left out unless bound to it.
 */
export function localAddresses(bound: Address): EndpointAddress[] {
  const family = bound.address.includes(':') ? 'IPv6' : 'IPv4';
  const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
  if (!wildcard) return [{ ip: bound.address, port: bound.port }];
  const found: EndpointAddress[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.internal || address.family !== family || address.address.startsWith('fe80:'))
        continue;
      found.push({ ip: address.address, port: bound.port });
    }
  }
  return found.slice(0, MAX_LOCAL_ADDRESSES);
}
