// One registration of the client with the registry node in use, from the hello to the moment
// it may send: the request (with its local addresses and the session it offers), then, as the
// reply says, the first table (waited for, a while) or watch mode (its contacts said), the
// session with the registry, and, the first time only, the messages the outbox kept from an
// earlier run taken up again.
import type { OutboxEntry } from './outbox.js';
import { UdpchatError } from '../protocol/errors.js';
import type { Reply, RequestBody } from '../protocol/messages.js';
import type { DatagramMac } from '../crypto/signing.js';
import { settleWithin, type Timeouts } from '../util/clock.js';

/** What the registration's reply says of where the registry sees this client. */
export interface Seen {
  /** The address the registry saw the registration come from (this client's reflexive address). */
  address: { ip: string; port: number };
  /** The port of the node's NAT probe, which says where it sees this client from too (see nat-probe.ts). */
  natProbe: number | undefined;
}

/** What a registration needs of the client around it. */
export interface RegistrationContext {
  /** Longest to wait for the first table (and for saved messages named by the reply). */
  readonly patienceMs: number;
  readonly timers: Timeouts;
  readonly life: { registering(): void; registered(): void; registrationFailed(): void };
  readonly link: {
    registration(): Promise<{
      body: RequestBody;
      server: { ek: string };
      offered: DatagramMac | undefined;
    }>;
    register(body: RequestBody, offered?: DatagramMac): Promise<Reply>;
    shareSession(ek: string): void;
    sessionShared(): Promise<void>;
    resync(): void;
  };
  readonly table: {
    enterTableMode(): void;
    awaitFirstTable(): Promise<void>;
    stopAwaiting(): void;
    readonly awaitingFirstTable: boolean;
    enterWatchMode(keep: (nick: string) => boolean): void;
  };
  readonly inbox: { registering(): void; startCatchUp(pending: number, patienceMs: number): void };
  readonly outbox: { load(): Promise<OutboxEntry[]> };
  readonly sendQueue: { resume(entries: OutboxEntry[]): void; retryAll(): void };
  readonly groups: { registered(): void };
  /** Beyond the table limit: tells the registry which nicks this client watches. */
  watchContacts(): Promise<void>;
  isContact(nick: string): boolean;
  /** This client's local addresses, for peers behind the same NAT (none when they cannot be read). */
  localAddresses(): Array<{ ip: string; port: number }>;
  /** Where the registry sees this client (paths: its reflexive address, its NAT's mapping). */
  seen(seen: Seen): void;
  registeredEvent(): void;
  resumedEvent(left: OutboxEntry[]): void;
  warn(error: unknown, message: string): void;
}

/**
 * Registers with the node in use, as many times as asked. The outbox is taken up once, after
 * the first registration accepted: `unread` until then (each try reads it), `resumed` after.
 */
export class RegistrationFlow {
  readonly #context: RegistrationContext;
  #outbox: 'unread' | 'resumed' = 'unread';

  constructor(context: RegistrationContext) {
    this.#context = context;
  }

  /**
   * One registration (again: also when already online, which heals a registry that lost track
   * of this client). Rejects when the registry refuses it or does not answer; the life cycle
   * is told either way.
   */
  async register(): Promise<void> {
    const context = this.#context;
    context.life.registering();
    const { left, server, session, firstTable, reply } = await this.#request().catch(
      (error: unknown) => {
        context.life.registrationFailed();
        throw error;
      },
    );
    context.life.registered();
    context.inbox.startCatchUp(reply.pending ?? 0, context.patienceMs);
    context.registeredEvent();
    if (reply.presence === 'watch') {
      // Beyond the registry's table limit: no table comes; this client says what it watches.
      context.table.enterWatchMode((nick) => context.isContact(nick));
      // Its session with the registry first: watching its contacts takes a request per few,
      // which then go under the session's key rather than each signed (and checked there).
      if (!session) {
        context.link.shareSession(server.ek);
        await context.link.sessionShared();
      }
      await context
        .watchContacts()
        .catch((error: unknown) => context.warn(error, 'contacts not watched'));
    } else {
      // The table comes as a push right behind the reply; sends need it, so wait (a while).
      await settleWithin(firstTable, context.patienceMs, context.timers);
      if (context.table.awaitingFirstTable) context.link.resync(); // every try of the first table was lost: ask for it
      // Its session with the registry once the table is in: setting it up does not delay the start.
      if (!session) context.link.shareSession(server.ek);
    }
    context.groups.registered();
    if (this.#outbox === 'unread') {
      this.#outbox = 'resumed';
      if (left.length > 0) context.resumedEvent(left);
      context.sendQueue.resume(left);
    }
    context.sendQueue.retryAll();
  }

  /** Up to the registry's acceptance: hello, password, session, the request. */
  async #request() {
    const context = this.#context;
    const left = this.#outbox === 'unread' ? await context.outbox.load() : [];
    const link = await context.link.registration();
    const local = context.localAddresses();
    const body = (local.length > 0 ? { ...link.body, local } : link.body) as RequestBody;
    context.inbox.registering();
    // Awaited from before the request goes: the table push may overtake the reply. (A
    // registry beyond its table limit says so in the reply, and sends none.)
    context.table.enterTableMode();
    const firstTable = context.table.awaitFirstTable();
    const reply = await context.link.register(body, link.offered).catch((error: unknown) => {
      context.table.stopAwaiting(); // no table follows a refusal or silence
      throw error;
    });
    if (reply.t !== 'registered')
      throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    if (reply.seen) context.seen({ address: reply.seen, natProbe: reply.natProbe });
    return { left, server: link.server, session: link.offered !== undefined, firstTable, reply };
  }
}
