// The counters an endpoint keeps of what crossed its sockets (`Endpoint.stats`): sent,
// received, dropped by reason, retried, deduplicated, bundled, merged; the modules under the
// endpoint each count into it through a narrow view of their own.
import type { DropReason } from '../protocol/codec.js';
import type { AuthDropReason } from './datagram-auth.js';
import type { BundleCounters } from './sockets.js';

export interface EndpointStats extends BundleCounters {
  sent: number;
  received: number;
  retried: number;
  timeouts: number;
  /** Retransmitted requests recognised and answered from the dedup window. */
  deduplicated: number;
  /** Replies not sent: larger than their request allowed (see `Respond`). */
  withheld: number;
  /** Replies that matched no request under way, or came from the wrong address. */
  strayReplies: number;
  dropped: Record<DropReason | AuthDropReason, number>;
  sendErrors: number;
  /** Requests sent in fragments, and fragments refused (inconsistent, too large, buffer full). */
  fragmented: number;
  fragmentsRefused: number;
  /** Datagrams taken as authenticated under a session key rather than a signature. */
  sessionAuthenticated: number;
  /** Signatures checked (whatever the outcome): the costly check a session key saves. */
  signaturesChecked: number;
  /** Requests taken without a check, as `EndpointAuth.unchecked` says (the registry's hellos). */
  unchecked: number;
  /** Merged `acks` replies sent, and the requests they acknowledged (see ack-merge.ts). */
  mergedAcks: number;
  acksMerged: number;
}

/** Every counter at zero. */
export function newEndpointStats(): EndpointStats {
  return {
    sent: 0,
    received: 0,
    retried: 0,
    timeouts: 0,
    deduplicated: 0,
    withheld: 0,
    strayReplies: 0,
    dropped: {
      oversized: 0,
      encoding: 0,
      json: 0,
      version: 0,
      'unknown-type': 0,
      schema: 0,
      unsigned: 0,
      'unknown-signer': 0,
      'bad-signature': 0,
      stale: 0,
      replayed: 0,
      'rate-limited': 0,
    },
    sendErrors: 0,
    fragmented: 0,
    fragmentsRefused: 0,
    sessionAuthenticated: 0,
    signaturesChecked: 0,
    unchecked: 0,
    bundlesSent: 0,
    bundled: 0,
    bundlesReceived: 0,
    bundlesRefused: 0,
    mergedAcks: 0,
    acksMerged: 0,
  };
}
