// Keepalives of punched paths (see paths.ts and docs/nat.md): a punch every `keepaliveMs` while
// the path was used in the last `idleMs`; one unanswered, or the path unused for long, and it is
// closed (the next message punches again).
import type { Address } from '../transport/address.js';
import { spreadTries } from '../transport/retry.js';
import type { Clock } from '../util/clock.js';
import type { Punch } from './birthday.js';

/** A peer's path state (paths.ts), the part its keepalive reads and keeps. */
export interface KeptPeer {
  open?: { address: Address; usedAt: number };
  keepalive?: unknown;
}

/** What keepalives need of the paths around them. */
export interface KeepaliveContext<Peer extends KeptPeer> {
  /** The client's side of the paths (see `PathContext` in paths.ts). */
  client: { clock: Clock; punch: Punch };
  timings: { keepaliveMs: number; idleMs: number; punchTimeoutMs: number; punchTries: number };
  counters: { punches: number };
  /** The paths are closed: keepalives stop. */
  closed(): boolean;
  /** Closes the path of `state` (which stops its keepalive). */
  close(state: Peer): void;
}

export class Keepalives<Peer extends KeptPeer> {
  readonly #context: KeepaliveContext<Peer>;

  constructor(context: KeepaliveContext<Peer>) {
    this.#context = context;
  }

  /** Keeps the path open on `state` (to `nick`) alive, from now on. */
  start(nick: string, state: Peer): void {
    this.stop(state);
    const { clock } = this.#context.client;
    const options = this.#context.timings;
    state.keepalive = clock.setInterval(() => {
      const open = state.open;
      if (!open || this.#context.closed()) return this.stop(state);
      // Unused for long: let the NAT forget it; the next message punches again.
      if (clock.now() - open.usedAt > options.idleMs) return this.#context.close(state);
      this.#context.counters.punches++;
      const tries = spreadTries(options.punchTimeoutMs, options.punchTries);
      this.#context.client.punch(nick, open.address, tries).catch(() => {
        if (state.open === open) this.#context.close(state);
      });
    }, options.keepaliveMs);
  }

  stop(state: Peer): void {
    if (state.keepalive === undefined) return;
    this.#context.client.clock.clearInterval(state.keepalive);
    state.keepalive = undefined;
  }
}
