// How this client's NAT maps: the registry's second port says where it sees the client from.
// The address the main port saw at registration again: the NAT maps one local port to one
// public port whoever it talks to (or there is no NAT); another: it maps each destination
// apart (symmetric), and a punched path cannot be predicted. The registry keeps the same
// verdict for introductions.
import { REGISTRY_NAME } from '../crypto/signing.js';
import type { NatMapping } from '../protocol/fields.js';
import { normalizeIp, type Address } from '../transport/address.js';
import type { RequestChannel } from './channel.js';

/** Characters of padding in `nat_probe`: room for the answer's address (an IPv6 one too) and the registry's longer name. */
export const NAT_PROBE_PAD = 64;

/**
 * Asks the probe port where it sees `nick` from, and compares with `seen` (where the main port
 * saw it): the mapping; undefined for an answer of another kind. Rejects as the request does
 * (ERR_TIMEOUT when the probe goes unanswered).
 */
export async function probeNat(
  channel: Pick<RequestChannel, 'request'>,
  nick: string,
  probe: Address,
  seen: { ip: string; port: number },
): Promise<NatMapping | undefined> {
  // Room for the answer: the registry answers an address not proved with no more bytes than it got.
  const reply = await channel.request(
    probe,
    { t: 'nat_probe', from: nick, pad: '.'.repeat(NAT_PROBE_PAD) },
    { timeoutMs: 500, tries: 3, signer: REGISTRY_NAME },
  );
  if (reply.t !== 'nat_seen') return undefined;
  return normalizeIp(reply.ip) === normalizeIp(seen.ip) && reply.port === seen.port
    ? 'consistent'
    : 'symmetric';
}
