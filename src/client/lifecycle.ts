// The client's life cycle: register, re-register, deregister, heartbeats and failover between
// registry nodes, as explicit phases (drawn below). It decides; the client sends.
import { isUdpchatError } from '../protocol/errors.js';
import type { Address } from '../transport/address.js';
import { nodeClock, type Intervals } from '../util/clock.js';

/*
 * The client's life cycle, as phases:
 *
 *   unregistered ──register()──▶ registering ──accepted──▶ online ──deregister()──▶ leaving
 *        ▲                        │     ▲                  │   ▲  ▲                  │   │
 *        └─────────failed─────────┘     │    register(),   │   │  └──not answered────┘   │ answered
 *        (to offline, if it came        │    registerAgain ▼   │ accepted / failed       ▼
 *         from there)                   │            reregistering                    offline
 *                                       └───────────────────register()──────────────────┘
 *
 *   reregistering ──deregister()──▶ leaving   (the dereg waits for that registration)
 *   any phase ──close()──▶ closed
 *
 * The public `state` is `online` in online, reregistering and leaving; registering shows the
 * state it came from. Heartbeats run in `online` and `reregistering` only: `#enter` starts the
 * interval anew at each accepted registration (and after a dereg not answered) and stops it in
 * any other phase. A registration that ends while a dereg is on its way leaves it `leaving`.
 */
export type Phase =
  'unregistered' | 'registering' | 'online' | 'reregistering' | 'leaving' | 'offline' | 'closed';

/** The client's state as its public API says it. */
export type ClientState = 'unregistered' | 'online' | 'offline' | 'closed';

/** What the life cycle needs of the client around it (no socket: requests are its callbacks). */
export interface LifecycleContext {
  /** The registry nodes, the first in use at the start; the rest to fail over to, in order, round. */
  readonly servers: readonly Address[];
  readonly heartbeatIntervalMs: number;
  /** With several nodes: how soon after its node stops answering a client is on the next one. */
  readonly failoverMs: number;
  /** A whole registration with the node in use (it calls `registering`, then `registered` or `registrationFailed`). */
  register(): Promise<void>;
  /** One heartbeat to `server`; rejects as the request does (`ERR_TIMEOUT`, `ERR_NOT_REGISTERED`, …). */
  heartbeat(server: Address): Promise<unknown>;
  /** A heartbeat was answered: what waits for the registry may go now. */
  answered(): void;
  /** Heartbeats stopped being answered (one node only): said once per outage. */
  serverSilent(): void;
  /** Heartbeats are answered again after an outage. */
  serverBack(): void;
  /** The node in use is now `to` (was `from`). */
  switched(from: Address, to: Address): void;
  info(message: string): void;
  warn(error: unknown, message: string): void;
}

/**
 * Register, re-register, deregister, heartbeats and failover between registry nodes: the
 * client's phase, entered through `#enter` only, which starts and stops the heartbeat. It
 * sends nothing itself: registrations, deregs and heartbeats are handed in by the client.
 */
export class Lifecycle {
  readonly #context: LifecycleContext;
  readonly #timers: Intervals;
  #phase: Phase = 'unregistered';
  /** Where a `registering` goes back to when it fails. */
  #before: 'unregistered' | 'offline' = 'unregistered';
  /** Registrations under way (more than one only when the caller overlaps them). */
  #registrations = 0;
  #server: Address;
  #heartbeat: unknown;
  #beating = false;
  /** Heartbeats are not answered (one node only): said once per outage. */
  #serverSilent = false;
  /** A registration started by the client itself (a dereg waits for it, then goes after it). */
  #reregistering: Promise<void> = Promise.resolve();
  /** A move to the next node under way (one at a time, however many requests went unanswered). */
  #movingOn: Promise<void> | undefined;

  // Unref'd by default: heartbeats keep no process alive.
  constructor(context: LifecycleContext, timers: Intervals = nodeClock({ unref: true })) {
    if (context.servers.length === 0) throw new Error('no registry node');
    this.#context = context;
    this.#timers = timers;
    this.#server = context.servers[0]!;
  }

  get phase(): Phase {
    return this.#phase;
  }

  get state(): ClientState {
    switch (this.#phase) {
      case 'registering':
        return this.#before;
      case 'reregistering':
      case 'leaving':
        return 'online';
      default:
        return this.#phase;
    }
  }

  /** Heartbeats go unanswered (one node only): the table is as it last was, until one is answered. */
  get serverSilent(): boolean {
    return this.#serverSilent;
  }

  /** Registered with the node in use (also while registering again, or while a dereg is on its way). */
  get online(): boolean {
    return this.state === 'online';
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  /** The registry node in use. */
  get server(): Address {
    return this.#server;
  }

  /** How many registry nodes there are to use. */
  get nodes(): number {
    return this.#context.servers.length;
  }

  /** How often an online client sends a heartbeat: with several nodes, often enough to fail over in time. */
  get heartbeatEveryMs(): number {
    const { heartbeatIntervalMs, failoverMs, servers } = this.#context;
    return servers.length > 1 ? Math.min(heartbeatIntervalMs, failoverMs / 3) : heartbeatIntervalMs;
  }

  /** A registration begins. */
  registering(): void {
    this.#registrations++;
    if (this.#phase === 'unregistered' || this.#phase === 'offline') {
      this.#before = this.#phase;
      this.#enter('registering');
    } else if (this.#phase === 'online') {
      this.#enter('reregistering');
    }
  }

  /** The registry accepted a registration: online, heartbeats from now on (unless a dereg is on its way). */
  registered(): void {
    this.#registrations = Math.max(0, this.#registrations - 1);
    this.#serverSilent = false;
    if (this.#phase === 'leaving' || this.#phase === 'closed') return;
    this.#enter('online', true);
  }

  /** A registration was refused or not answered: back where it was, unless another is still under way. */
  registrationFailed(): void {
    this.#registrations = Math.max(0, this.#registrations - 1);
    if (this.#registrations > 0) return;
    if (this.#phase === 'registering') this.#enter(this.#before);
    else if (this.#phase === 'reregistering') this.#enter('online');
  }

  /** Registers with the first node that answers, trying each in turn. */
  async registerAnywhere(): Promise<void> {
    for (let tried = 1; ; tried++) {
      try {
        return await this.#context.register();
      } catch (error) {
        if (!isUdpchatError(error, 'ERR_TIMEOUT') || tried >= this.#context.servers.length)
          throw error;
        this.#switchServer();
      }
    }
  }

  /**
   * Deregisters through `deregister` (the request): heartbeats stop first, so none answered
   * "not registered" brings the client back behind the dereg; a registration the client
   * started itself goes first. Offline once answered; online again (heartbeats restarted) if not.
   */
  async leave(deregister: () => Promise<unknown>): Promise<void> {
    this.#enter('leaving');
    try {
      await this.#reregistering;
      await deregister();
    } catch (error) {
      if (this.#phase === 'leaving') this.#enter('online', true); // still registered: keep saying so
      throw error;
    }
    if (this.#phase !== 'closed') this.#enter('offline');
  }

  /**
   * Registers again by itself (a heartbeat or a save answered "not registered", a failover),
   * unless it is no longer online or a dereg is on its way; a dereg waits for it.
   */
  registerAgain(why: string, failure = 'registering again failed'): Promise<void> {
    if (!this.online || this.#phase === 'leaving') return Promise.resolve();
    this.#context.info(`${why}: registering again`);
    this.#reregistering = this.#context
      .register()
      .catch((error: unknown) => this.#context.warn(error, failure));
    return this.#reregistering;
  }

  /**
   * A request to the node in use went unanswered through all its tries: with other nodes to
   * go to, and online, the client moves on at once rather than at its next heartbeat.
   * `to` is where the request went: one to a node already left says nothing of the new one.
   */
  unanswered(to: Address): void {
    if (
      this.#context.servers.length < 2 ||
      !this.online ||
      this.#phase === 'leaving' ||
      to !== this.#server
    )
      return;
    void this.#failover();
  }

  /** One heartbeat now (one at a time, online only). A registry that does not know us here gets a fresh registration. */
  async beat(): Promise<void> {
    if (this.#beating || !this.online) return;
    this.#beating = true;
    try {
      await this.#context.heartbeat(this.#server);
      if (this.#serverSilent) {
        this.#serverSilent = false;
        this.#context.serverBack();
      }
      // The registry answers: whatever waits for it need not wait for the retry timer.
      this.#context.answered();
    } catch (error) {
      if (isUdpchatError(error, 'ERR_NOT_REGISTERED')) {
        await this.registerAgain('the registry does not know this client here');
      } else if (isUdpchatError(error, 'ERR_TIMEOUT') && this.online && this.#phase !== 'leaving') {
        if (this.#context.servers.length > 1) {
          await this.#failover();
        } else if (!this.#serverSilent) {
          this.#serverSilent = true; // said once per outage, not every interval
          this.#context.serverSilent();
        }
      }
    } finally {
      this.#beating = false;
    }
  }

  /** Idempotent: no more heartbeats. */
  close(): void {
    this.#enter('closed');
  }

  /**
   * The one way into a phase. Heartbeats run in `online` and `reregistering`: `restart` (an
   * accepted registration, a failed dereg) starts the interval anew; any other phase stops it.
   */
  #enter(next: Phase, restart = false): void {
    this.#phase = next;
    if (next === 'online' || next === 'reregistering') {
      if (restart || this.#heartbeat === undefined) this.#startHeartbeat();
    } else {
      this.#stopHeartbeat();
    }
  }

  #startHeartbeat(): void {
    this.#stopHeartbeat();
    this.#heartbeat = this.#timers.setInterval(() => void this.beat(), this.heartbeatEveryMs);
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat === undefined) return;
    this.#timers.clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  /**
   * The node in use stopped answering: register with the next one (same store, same key),
   * which brings a fresh table and the mailbox; what waits in the outbox goes on there.
   */
  #failover(): Promise<void> {
    if (this.#movingOn) return this.#movingOn;
    this.#switchServer();
    this.#movingOn = this.registerAgain(
      'switched to the next node',
      'registering with the next node failed',
    ).finally(() => (this.#movingOn = undefined));
    return this.#movingOn;
  }

  /** The next registry node in the list (round). */
  #switchServer(): void {
    const { servers } = this.#context;
    const from = this.#server;
    this.#server = servers[(servers.indexOf(from) + 1) % servers.length]!;
    this.#context.switched(from, this.#server);
  }
}
