// One try at delivering a private message: directly to the peer, then through the registry
// (relayed or saved). Each outcome is decided and told here, once. And a broadcast: one
// message to everyone online, directly.
import { isUdpchatError, UdpchatError } from '../protocol/errors.js';
import type { Reply, RequestBody } from '../protocol/messages.js';
import type { TableEntry } from '../protocol/fields.js';
import type { DatagramMac } from '../crypto/signing.js';
import type { Sealed } from '../crypto/sealing.js';
import { formatAddress, type Address } from '../transport/address.js';
import { fitTries, spreadTries } from '../transport/retry.js';
import type { RoundTrips } from '../transport/round-trips.js';
import type { RequestChannel } from './channel.js';
import type { OutboxEntry } from './outbox.js';

/** The first outcome of a `send`: a final one, or `queued` (its final one is emitted later). */
export type SendOutcome = 'delivered' | 'relayed' | 'saved' | 'failed' | 'queued';

/** The recipient acknowledged a message with this outcome (directly, or to the registry that relayed it). */
export function isTaken(outcome: SendOutcome): boolean {
  return outcome === 'delivered' || outcome === 'relayed';
}

/** What a try tells, as the client's events of the same names. */
export interface DeliveryEvents {
  delivered: { to: string; mid: string };
  fallback: { to: string; mid: string; reason: 'no-ack' | 'offline' };
  exists: { to: string };
  saved: { to: string; mid: string };
  queued: { to: string; mid: string; reason?: 'mailbox-full' };
  'send-failed': { to: string; mid: string; reason: string };
  'server-not-responding': { action: 'save' };
}

/** The end-to-end keys a try seals with (the client's sessions with its peers). */
export interface DeliveryKeys {
  /** `text` sealed to `peer`'s key, for message `mid`. */
  seal(peer: TableEntry, mid: string, text: string): Promise<Sealed>;
  /** The datagram key `sealed` may go under to the holder of `ek` (once it answered a message of that session). */
  macFor(ek: string, sealed: Sealed): DatagramMac | undefined;
  /** The holder of `ek` answered a message sealed as `sealed`, or stopped answering one. */
  confirm(ek: string, sealed: Sealed, holds: boolean): void;
}

/** What delivery needs of the client around it. */
export interface DeliveryContext {
  readonly nick: string;
  /** A direct try waits this long for the peer's ACK, over `peerTries` sends. */
  readonly ackTimeoutMs: number;
  readonly peerTries: number;
  /**
   * Round trips per path (round-trips.ts): once a path has answered, a direct try's resends
   * come after a few of its round trips, within the same `ackTimeoutMs`. Absent: `peerTries`
   * sends spread evenly over it.
   */
  readonly roundTrips?: Pick<RoundTrips, 'sample' | 'timeoutMs'>;
  readonly channel: Pick<RequestChannel, 'request'>;
  readonly keys: DeliveryKeys;
  /** The table's entry for `nick`, if any. */
  peer(nick: string): TableEntry | undefined;
  /**
   * Paths (paths.ts): where a direct try to `peer` goes (its open path, or one punched now),
   * or undefined when no punch got through (the try goes to the registry at once); how the
   * try fared, told back. Absent: the table's address, as ever.
   */
  paths?: {
    addressFor(peer: TableEntry): Address | undefined;
    afterMiss(peer: TableEntry, tried: Address): Promise<Address | undefined>;
    reached(peer: TableEntry, at: Address): void;
    relayed(nick: string): void;
    /** Aborted when a path to `peer` opens elsewhere than `tried` while the try is under way (see paths.ts). */
    watchTry?(peer: TableEntry, tried: Address): AbortSignal;
  };
  /**
   * Beyond the registry's table limit, `nick`'s entry asked of the registry (and watched from
   * then on); undefined when the registry does not know it. Rejects when it cannot be asked now.
   */
  lookup(nick: string): Promise<TableEntry | undefined>;
  /** The registry node in use, and a request to a node (its budget, its session: see server-link.ts). */
  server(): Address;
  askServer(server: Address, body: RequestBody): Promise<Reply>;
  /** `server` left a request unanswered (with several nodes the client moves on). */
  unanswered(server: Address): void;
  /** The registry does not know this client: register again. */
  registerAgain(reason: string): void;
  emit<K extends keyof DeliveryEvents>(event: K, payload: DeliveryEvents[K]): void;
  debug(fields: object, message: string): void;
}

/** What the tries at one message share: kept by the send queue from one try to the next. */
export interface TriesMade {
  /** The text sealed to the recipient's key `ek`, made at the first try. */
  sealed?: { ek: string; value: Sealed };
  /** Direct sends made, each under a request id of its own. */
  sends: number;
  /** Tries through the registry made; the first says `fallback`. */
  fallbacks: number;
}

/** One try at one message. */
export interface Try {
  entry: OutboxEntry;
  /** The message this one names as sent before it, and whether the recipient took that one. */
  after: { after?: string; afterTaken?: true };
  /** The try at the message ahead of it, not settled when this one began: awaited before the registry. */
  ahead?: Promise<SendOutcome>;
  made: TriesMade;
  /** Called once the direct part is over and the try turns to the registry. */
  fallingBack(): void;
  /** Called when the try ends `queued` only because the one ahead did (it never reached the registry). */
  heldBehind(): void;
}

/**
 * One try at a message: directly to the peer the table gives, then through the registry.
 * What happens when the peer does not ACK, or the registry does not answer, is here; each
 * outcome is told once as an event (a message's `fallback` and `queued` only at its first
 * registry try) and returned: `delivered`, `relayed`, `saved` and `failed` are final,
 * `queued` keeps the message for a later try.
 */
export class Delivery {
  readonly #context: DeliveryContext;

  constructor(context: DeliveryContext) {
    this.#context = context;
  }

  /**
   * `text` to each of `peers` at the address the table gives, sealed to each, as message `mid`:
   * directly only, with no fallback through the registry (a broadcast is for who is there
   * now). Says how many acknowledged it; a peer whose copy could not be sealed did not.
   */
  async broadcast(
    peers: readonly TableEntry[],
    mid: string,
    text: string,
  ): Promise<{ received: number; total: number }> {
    const context = this.#context;
    const tries = spreadTries(context.ackTimeoutMs, context.peerTries);
    const acks = await Promise.all(
      peers.map(async (peer) => {
        try {
          const sealed = await context.keys.seal(peer, mid, text);
          await context.channel.request(
            { address: peer.ip, port: peer.port },
            { t: 'chat', from: context.nick, mid, sealed, all: true },
            { ...tries, signer: peer.nick },
            `${mid}.${peer.nick}`,
          );
          return true;
        } catch {
          return false;
        }
      }),
    );
    return { received: acks.filter(Boolean).length, total: peers.length };
  }

  async attempt(job: Try): Promise<SendOutcome> {
    const context = this.#context;
    const { mid, to, text } = job.entry;
    const { made, after } = job;
    let peer = context.peer(to);
    if (!peer) {
      try {
        peer = await context.lookup(to);
      } catch {
        return 'queued'; // the registry could not be asked now: tried again later
      }
    }
    if (!peer) {
      context.emit('send-failed', { to, mid, reason: 'no such user' });
      return 'failed';
    }
    // Sealed once, to the key the table gives the recipient now; kept for every try.
    if (made.sealed?.ek !== peer.ek)
      made.sealed = { ek: peer.ek, value: await context.keys.seal(peer, mid, text) };
    const sealed = made.sealed.value;
    // Paths: the open path to the peer, else its table address (a punch runs beside); none when relayed.
    let target = !peer.online
      ? undefined
      : context.paths
        ? context.paths.addressFor(peer)
        : { address: peer.ip, port: peer.port };
    while (target) {
      // Signed until the peer has answered a message of this session; then under its key.
      const mac = context.keys.macFor(peer.ek, sealed);
      // Paths: a path that opens elsewhere meanwhile takes the next try at once (not after the timeout).
      const signal = context.paths?.watchTry?.(peer, target);
      const trips = context.roundTrips;
      const path = trips ? formatAddress(target) : '';
      const budget = fitTries(context.ackTimeoutMs, context.peerTries, trips?.timeoutMs(path));
      // Both objects of one shape whatever is absent (undefined, which JSON leaves out): built
      // by spreading optional parts in, the options alone cost 3 µs a message (against 0.1).
      const chat: RequestBody = {
        t: 'chat',
        from: context.nick,
        mid,
        sealed,
        after: after.after,
        afterTaken: after.afterTaken,
      };
      try {
        await context.channel.request(
          target,
          chat,
          {
            timeoutMs: budget.timeoutMs,
            tries: budget.tries,
            backoff: budget.backoff,
            totalMs: budget.totalMs,
            onRoundTrip: trips ? (ms: number) => trips.sample(path, ms) : undefined,
            signer: to,
            mac,
            signal,
          },
          `${mid}.${++made.sends}`,
        );
        context.keys.confirm(peer.ek, sealed, true);
        context.paths?.reached(peer, target);
        context.emit('delivered', { to, mid });
        return 'delivered';
      } catch (error) {
        // The peer may have lost the session (say, it restarted): the next message is signed.
        if (mac) context.keys.confirm(peer.ek, sealed, false);
        // No ACK, or the peer refused it (say, its reassembly buffer was full): the registry
        // is the other way there. Only a client shutting down stops here.
        if (isUdpchatError(error, 'ERR_CLOSED')) return 'queued';
        const missed = isUdpchatError(error, 'ERR_TIMEOUT') || signal?.aborted === true;
        if (!missed) context.debug({ err: error, to }, 'direct send refused');
        // Paths: one more try on a path the punch opened elsewhere meanwhile (a dead one is closed).
        target = missed && context.paths ? await context.paths.afterMiss(peer, target) : undefined;
      }
    }
    job.fallingBack();
    // The registry keeps messages in the order they reach it: none goes ahead of an earlier one.
    if (job.ahead && (await job.ahead) === 'queued') {
      job.heldBehind();
      return 'queued';
    }
    const first = made.fallbacks++ === 0;
    if (first) context.emit('fallback', { to, mid, reason: peer.online ? 'no-ack' : 'offline' });
    let reply;
    const server = context.server();
    try {
      reply = await context.askServer(server, {
        t: 'save',
        from: context.nick,
        to,
        mid,
        sealed,
        after: after.after,
        afterTaken: after.afterTaken,
      });
    } catch (error) {
      if (isUdpchatError(error, 'ERR_TIMEOUT')) {
        context.unanswered(server); // kept in the outbox: tried again once registered with the next node
        if (first) {
          context.emit('server-not-responding', { action: 'save' });
          context.emit('queued', { to, mid });
        }
        return 'queued';
      }
      // The recipient's mailbox is full: kept, tried again later (it may have read it by then).
      if (isUdpchatError(error, 'ERR_MAILBOX_FULL')) {
        if (first) context.emit('queued', { to, mid, reason: 'mailbox-full' });
        return 'queued';
      }
      return this.#failed(error, job.entry);
    }
    if (reply.t !== 'save_result')
      return this.#failed(new UdpchatError('ERR_REMOTE', `unexpected ${reply.t}`), job.entry);
    if (reply.outcome === 'saved') {
      context.emit('saved', { to, mid });
      return 'saved';
    }
    context.paths?.relayed(to); // Paths: told when no path could be punched
    context.emit('exists', { to }); // the registry pushes this client a fresh table too
    context.emit('delivered', { to, mid });
    return 'relayed';
  }

  /** The registry refused the message: kept when it may take it later, else failed. */
  #failed(error: unknown, { mid, to }: OutboxEntry): SendOutcome {
    if (isUdpchatError(error, 'ERR_CLOSED')) return 'queued'; // kept in the outbox for the next start
    // The registry could not keep it right now (its store is down): kept, tried again later.
    // So can a relay past the pair's budget (paths that could not be punched: see docs/nat.md).
    if (
      isUdpchatError(error, 'ERR_STORE_FAILED') ||
      isUdpchatError(error, 'ERR_INTERNAL') ||
      isUdpchatError(error, 'ERR_TRY_LATER')
    )
      return 'queued';
    if (isUdpchatError(error, 'ERR_NOT_REGISTERED')) {
      // The registry lost track of us: register again, then this message goes on (unless
      // the user has just said dereg: then it waits for reg).
      this.#context.registerAgain('the registry does not know this client here');
      return 'queued';
    }
    const reason = isUdpchatError(error, 'ERR_UNKNOWN_NICK')
      ? 'no such user'
      : (error as Error).message;
    this.#context.emit('send-failed', { to, mid, reason });
    return 'failed';
  }
}
