// Round trips to each peer, smoothed as TCP's retransmission timer smooths them (RFC 6298):
// how long a direct message waits before it is sent again, so a lost datagram is resent after
// a few round trips of that path, not after a fixed share of the ACK timeout.
import { setLatest } from '../util/latest.js';

/** Clock granularity in the retransmission timeout (RFC 6298's G): timers fire to the millisecond. */
const GRANULARITY_MS = 1;

/**
 * One path's smoothed round trip (SRTT) and its variation (RTTVAR), from samples of requests
 * answered at their only send (Karn's rule: a reply after a resend could answer any copy).
 */
export class RoundTrip {
  #srtt: number | undefined;
  #rttvar = 0;

  sample(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.#srtt === undefined) {
      this.#srtt = ms;
      this.#rttvar = ms / 2;
      return;
    }
    this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - ms);
    this.#srtt = 0.875 * this.#srtt + 0.125 * ms;
  }

  /** SRTT + max(G, 4 × RTTVAR); undefined before the first sample. */
  get timeoutMs(): number | undefined {
    return this.#srtt === undefined
      ? undefined
      : this.#srtt + Math.max(GRANULARITY_MS, 4 * this.#rttvar);
  }
}

/** Paths remembered at most: the least recently sampled goes first. */
export const ROUND_TRIP_PATHS = 1024;

/** A `RoundTrip` per path (a peer's address), for at most `maxPaths` paths. */
export class RoundTrips {
  readonly #paths = new Map<string, RoundTrip>();
  readonly #maxPaths: number;

  constructor(maxPaths = ROUND_TRIP_PATHS) {
    this.#maxPaths = Math.max(1, maxPaths);
  }

  get size(): number {
    return this.#paths.size;
  }

  sample(path: string, ms: number): void {
    const trip = this.#paths.get(path) ?? new RoundTrip();
    trip.sample(ms);
    setLatest(this.#paths, path, trip, this.#maxPaths); // the most recently sampled last
  }

  /** The retransmission timeout of `path`, undefined before its first sample. */
  timeoutMs(path: string): number | undefined {
    return this.#paths.get(path)?.timeoutMs;
  }
}
