// Who is online, as the registry sees it: heartbeats, probes, and the sweep that takes a silent
// client for offline only once it also fails a probe.
import type { Logger } from 'pino';
import { isUdpchatError } from '../protocol/errors.js';
import type { ClientRecord } from '../store/store.js';
import { nodeClock, type Clock } from '../util/clock.js';

/** What presence needs of the registry around it. */
export interface PresenceContext {
  /** Heartbeats a client is expected to send every this long; it may miss `missedHeartbeats`. */
  readonly heartbeatIntervalMs: number;
  readonly missedHeartbeats: number;
  /**
   * Probes a sweep starts a second, at most: thousands found silent at once are probed over
   * seconds, not in one burst (each probe is a signature, and the answers come back together).
   */
  readonly sweepProbesPerSecond: number;
  readonly log: Logger;
  /** Every record of the table. */
  records(): Iterable<ClientRecord>;
  /** Whether this node serves `record` (heartbeats are this node's to watch). */
  serves(record: ClientRecord): boolean;
  /** Asks the client whether it is `record.nick` and online; resolves when answered, rejects ERR_TIMEOUT when not. */
  probe(record: ClientRecord): Promise<unknown>;
  /** A push or probe went unanswered: later ones go signed, not under its session (see client-sessions.ts). */
  forgetSession(nick: string): void;
  /** Writes records whose online state changed, telling nobody yet (see `publish`). */
  write(records: ClientRecord[]): Promise<void>;
  /** Records written go in the next table change, and the other nodes on the store hear of them. */
  publish(records: ClientRecord[]): void;
  /** These clients were taken for offline: out of their groups. */
  removeFromGroups(nick: string): Promise<void>;
  /** Delivers `nick`'s saved messages (settles once done or given up). */
  deliver(nick: string): Promise<void>;
  /** Tells this node's clients what changed, soon (see push.ts). */
  tellChanges(): void;
  /** Work nobody awaits: a failure is logged. */
  background(work: Promise<void>, what: string): void;
  /** A client was taken for offline. */
  markedOffline(nick: string): void;
  /**
   * `nick` proved it receives again after a push or probe to it went unanswered: it gets what
   * it may have missed meanwhile (no change went to it), or its view stays stale until the
   * next change.
   */
  catchUp(nick: string): void;
}

/** A sweep starts its probes in steps this far apart, each step its share of the second. */
export const SWEEP_STEP_MS = 50;

/**
 * Who is online, as the registry sees it: when each client was last heard from, probes
 * (`probe`: are you there?), the sweep that takes clients silent for `missedHeartbeats`
 * intervals for offline once they also fail a probe (never on silence alone), and the
 * clients whose last push or probe went unanswered, which get no more pushes until they prove
 * again that they receive. Memory only: a restarted registry gives everyone a fresh start.
 */
export class Presence {
  readonly #context: PresenceContext;
  readonly #clock: Clock;
  /** When each client was last heard from. */
  readonly #lastHeard = new Map<string, number>();
  /** Nicks whose last push or probe went unanswered (see `unresponsive`). */
  readonly #unresponsive = new Set<string>();
  #sweepTimer: unknown;
  /** The sweep under way, if any: the next interval's sweep is skipped while one runs. */
  #sweeping: Promise<void> | undefined;
  /** The wait before a sweep's next step of probes, ended early by `stop`. */
  #step: { timer: unknown; resume: () => void } | undefined;
  #stopped = false;

  constructor(context: PresenceContext, clock: Clock = nodeClock({ unref: true })) {
    this.#context = context;
    this.#clock = clock;
  }

  /** Sweeps every heartbeat interval from now on (unless the last sweep is still under way). */
  start(): void {
    this.#stopped = false;
    this.#sweepTimer = this.#clock.setInterval(() => {
      if (!this.#sweeping) this.#context.background(this.sweep(), 'heartbeat sweep');
    }, this.#context.heartbeatIntervalMs);
  }

  /** No more sweeps; one under way starts no more probes. */
  stop(): void {
    this.#stopped = true;
    if (this.#sweepTimer !== undefined) this.#clock.clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    if (this.#step) {
      this.#clock.clearTimeout(this.#step.timer);
      this.#step.resume();
    }
  }

  /**
   * `nick` was heard from at the address it is registered at (any request): it receives, so
   * pushes go to it again, and if some went unanswered it is caught up.
   */
  heard(nick: string): void {
    this.#lastHeard.set(nick, this.#clock.now());
    if (this.#unresponsive.delete(nick)) this.#context.catchUp(nick);
  }

  /** `nick` registered: it receives, and its registration brings it the table (no catching up). */
  registered(nick: string): void {
    this.#lastHeard.set(nick, this.#clock.now());
    this.#unresponsive.delete(nick);
  }

  /** Whether `nick`'s last push or probe went unanswered: it gets no pushes until it proves it receives. */
  unresponsive(nick: string): boolean {
    return this.#unresponsive.has(nick);
  }

  /**
   * A push or probe went unanswered: no more pushes until the client proves it receives. If it
   * went under the client's session key, later ones are signed (a client that could not check
   * that key is not left unreachable).
   */
  unanswered(nick: string): void {
    this.#context.forgetSession(nick);
    this.#unresponsive.add(nick);
  }

  /** True when the client answered; false when it stayed silent. Throws only when closing. */
  async probe(record: ClientRecord): Promise<boolean> {
    try {
      await this.#context.probe(record);
      if (this.#unresponsive.delete(record.nick)) this.#context.catchUp(record.nick);
      return true;
    } catch (error) {
      if (isUdpchatError(error, 'ERR_TIMEOUT')) {
        this.unanswered(record.nick);
        return false;
      }
      throw error; // closing: a probe cut short says nothing about the client
    }
  }

  /**
   * A client heard from again without registering (a heartbeat, a probe answered). Its
   * mailbox goes first and only then are the others told it is back, so nothing they send
   * directly can overtake what they saved for it earlier.
   */
  async markOnline(record: ClientRecord): Promise<void> {
    const context = this.#context;
    this.#lastHeard.set(record.nick, this.#clock.now());
    if (record.online) {
      context.background(context.deliver(record.nick), 'delivery of saved messages');
      return;
    }
    record.online = true;
    await context.write([record]);
    context.log.info({ nick: record.nick }, `${record.nick} is online again`);
    // Not published before its mailbox is delivered (or given up on): a round of changes that
    // went out meanwhile, for another client's, would tell the others early.
    const deliverThenTell = async () => {
      try {
        await context.deliver(record.nick);
      } finally {
        context.publish([record]);
        context.tellChanges();
      }
    };
    context.background(deliverThenTell(), 'return of a client');
  }

  /** Takes these clients for offline: one batch of writes, one change for the others. */
  async markOffline(records: readonly ClientRecord[]): Promise<void> {
    const context = this.#context;
    const going = records.filter((record) => record.online);
    if (going.length === 0) return;
    for (const record of going) record.online = false;
    await context.write(going);
    context.publish(going);
    for (const record of going) await context.removeFromGroups(record.nick);
    context.tellChanges();
    for (const record of going) {
      context.log.info({ nick: record.nick }, `${record.nick} is offline`);
      context.markedOffline(record.nick);
    }
  }

  /**
   * Takes clients silent for `missedHeartbeats` intervals for offline, once each has also
   * failed a probe: a client is never taken out of the table or its groups on silence alone.
   * The probes start at most `sweepProbesPerSecond` a second, in steps of SWEEP_STEP_MS; a
   * client heard from before its turn is not probed.
   */
  sweep(): Promise<void> {
    if (this.#sweeping) return this.#sweeping;
    const found = [...this.#context.records()].filter((record) => this.#silent(record));
    if (found.length === 0) return Promise.resolve();
    this.#sweeping = this.#probeAll(found).finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Online, served here, and not heard from for `missedHeartbeats` intervals. */
  #silent(record: ClientRecord): boolean {
    const context = this.#context;
    const limit = context.heartbeatIntervalMs * context.missedHeartbeats;
    return (
      record.online &&
      context.serves(record) &&
      this.#clock.now() - (this.#lastHeard.get(record.nick) ?? 0) > limit
    );
  }

  async #probeAll(found: ClientRecord[]): Promise<void> {
    const context = this.#context;
    const perStep = Math.max(1, Math.floor((context.sweepProbesPerSecond * SWEEP_STEP_MS) / 1000));
    const probed: Array<{ record: ClientRecord; answered: Promise<boolean> }> = [];
    for (let next = 0; next < found.length && !this.#stopped; next += perStep) {
      if (next > 0) await this.#nextStep();
      for (const record of found.slice(next, next + perStep))
        if (!this.#stopped && this.#silent(record))
          probed.push({ record, answered: this.probe(record) });
    }
    const answered = await Promise.all(probed.map((probe) => probe.answered));
    probed.forEach(
      ({ record }, i) => answered[i] && this.#lastHeard.set(record.nick, this.#clock.now()),
    );
    const gone = probed
      .filter(({ record }, i) => !answered[i] && record.online)
      .map(({ record }) => record);
    for (const record of gone)
      context.log.info(
        { nick: record.nick },
        `${record.nick} missed ${context.missedHeartbeats} heartbeats and a probe: offline`,
      );
    await this.markOffline(gone);
  }

  /** Resolves after SWEEP_STEP_MS, or at once when stopped. */
  #nextStep(): Promise<void> {
    return new Promise((resolve) => {
      const resume = () => {
        this.#step = undefined;
        resolve();
      };
      this.#step = { timer: this.#clock.setTimeout(resume, SWEEP_STEP_MS), resume };
    });
  }
}
