// The registry server's facade, Registry: its events and life, the wiring of its modules (every
// request through request-gate.ts to the module that owns it), and the state those modules
// share. Its options are in options.ts.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { MAX_PAGE_ENTRIES, MAX_TABLE_PAGES, MAX_WATCH } from '../protocol/constants.js';
import { type Reply, type RequestBody } from '../protocol/messages.js';
import { type TableSnapshot } from '../protocol/fields.js';
import { isUdpchatError } from '../protocol/errors.js';
import type { Address } from '../transport/address.js';
import { Endpoint } from '../transport/endpoint.js';
import { spreadTries, type RetryBudget } from '../transport/retry.js';
import type { ClientRecord, Store } from '../store/store.js';
import { definedOnly } from '../util/options.js';
import { Groups } from './groups.js';
import { tableEntry, TableChanges } from './push.js';
import { Mailbox } from './mailbox.js';
import { Saves } from './saves.js';
import { HelloAdmission, NewNickAdmission, rateLimiter } from './admission.js';
import { budgetsIn } from './budgets.js';
import type { GuardContext } from './guards.js';
import { passGate, type GateContext } from './request-gate.js';
import { handlerTable } from './handlers.js';
import { REGISTRY_DEFAULTS, type RegistryOptions, type RegistryTimings } from './options.js';
import { generateIdentity, type Identity } from '../crypto/identity.js';
import { Sessions } from '../crypto/sealing.js';
import { REGISTRY_NAME } from '../crypto/signing.js';
import { hostname } from 'node:os';
import { PasswordGate } from './password-gate.js';
import { AddressCookies } from './address-cookies.js';
import { addressOf, ClientTable } from './client-table.js';
import { ClientPushes } from './client-pushes.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { Subscriptions } from './subscriptions.js';
import { ClientSessions } from './client-sessions.js';
import { RequestKeys } from './request-keys.js';
import { ClusterLink, sharedIdentity } from './cluster.js';
import { Presence } from './presence.js';
import { Registration } from './registration.js';
import { Introductions } from './introductions.js';
import { SILENT_LOG } from '../util/silent-log.js';
import { SignedOnce } from './signed-once.js';

export interface RegistryParts {
  store: Store;
  logger?: Logger;
  /** The registry's own keys (the CLI keeps them in a file beside the store); made anew when absent. */
  identity?: Identity;
}

export interface RegistryEvents {
  registered: { nick: string; address: Address };
  refused: { nick: string; address: Address; code: string };
  deregistered: { nick: string };
  'marked-offline': { nick: string };
  saved: { from: string; to: string; mid: string };
  relayed: { from: string; to: string; mid: string };
  delivered: { to: string; count: number };
}

/**
 * The registry server: the client table, its pushes, presence probes and the mailbox of
 * messages saved for offline users. It never prints; it logs and emits events.
 */
export class Registry extends TypedEmitter<RegistryEvents> {
  readonly #options: RegistryTimings;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #endpoint: Endpoint;
  readonly #clients = new ClientTable();
  /** Who is online: heartbeats, probes, the sweep, clients that do not answer (see presence.ts). */
  readonly #presence: Presence;
  readonly #epoch = randomBytes(4).toString('hex');
  /** This node among the nodes sharing the store, and their announcements (see cluster.ts). */
  readonly #cluster: ClusterLink;
  /** Each signed request taken once, by every node on the store and across restarts (see signed-once.ts). */
  readonly #signedOnce: SignedOnce;
  /** Relays, saves and deliveries of messages for users who could not take them directly (see mailbox.ts). */
  readonly #mailbox: Mailbox;
  /** The table's version, the changes since, and their paced rounds of `table_delta` (see push.ts). */
  readonly #changes: TableChanges;
  /** Whole tables and watched entries pushed to one client (see client-pushes.ts). */
  readonly #pushes: ClientPushes;
  readonly #groups: Groups;
  readonly #identity: Identity;
  /** Admission of nicks new to the table (see newNicksPerAddress and admission.ts). */
  readonly #newNicks: NewNickAdmission;
  /** Unchecked requests (hellos) answered a second, per address and in all (see admission.ts). */
  readonly #hellos: HelloAdmission;
  /** Proof that an address receives before it gets state or bytes (see address-cookies.ts). */
  readonly #cookies = new AddressCookies();
  /** Registrations refused for want of a valid cookie. */
  readonly #counters = { unvalidated: 0 };
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;
  /** The sessions clients set up with this node, and what goes under their keys (see client-sessions.ts). */
  readonly #clientSessions: ClientSessions;
  /** Beyond the table limit: who watches whom, the answers to watch and list, the holders of the whole table (see subscriptions.ts). */
  readonly #subscriptions: Subscriptions;
  /** Introductions of clients behind NATs to each other, and the relay budget per pair (see introductions.ts). */
  readonly #introductions: Introductions;
  /** The second port answering `nat_probe`, when one is open. */
  #natProbePort: number | undefined;
  /** The checks every request passes, then its handler (see request-gate.ts, handlers.ts). */
  readonly #gate: GateContext;

  private constructor(options: RegistryOptions, parts: RegistryParts & { identity: Identity }) {
    super();
    this.#identity = parts.identity;
    this.#options = { ...REGISTRY_DEFAULTS, ...definedOnly(options) };
    this.#subscriptions = new Subscriptions({
      maxWatch: Math.min(this.#options.maxWatch, MAX_WATCH),
      epoch: this.#epoch,
      version: () => this.#changes.version,
      record: (nick) => this.#clients.get(nick),
      records: () => this.#clients.values(),
      push: (record, entries, watch) => this.#pushes.presence(record, entries, watch),
    });
    this.#store = parts.store;
    this.#log = parts.logger ?? SILENT_LOG;
    this.#clientSessions = new ClientSessions(new Sessions(parts.identity.agreement), this.#log);
    this.#signedOnce = new SignedOnce({ store: this.#store, log: this.#log });
    this.#cluster = new ClusterLink({
      store: this.#store,
      log: this.#log,
      took: (records) => {
        for (const record of records) {
          // Registered with another node since: the session it set up here is no longer its.
          if (record.node !== this.nodeId) this.#clientSessions.forget(record.nick);
          this.#clients.set(record.nick, record);
          this.#changes.add(record.nick);
        }
        this.#subscriptions.changed();
        this.#tellChanges();
      },
      groupsChanged: (groups) => this.#groups.load(groups),
      background: (work, what) => this.#background(work, what),
      closed: () => this.#closed,
    });
    // The table and the cookie check, for the transport's checks and the guards alike.
    const guards: GuardContext = {
      record: (nick) => this.#clients.get(nick),
      addressValidated: (from, cookie) => this.#addressValidated(from, cookie),
    };
    // Which key checks each datagram (see request-keys.ts).
    const keys = new RequestKeys({
      ...guards,
      sessionKey: (nick, sid) => this.#clientSessions.keyOf(nick, sid),
    });
    this.#endpoint = new Endpoint({
      type: options.host?.includes(':') ? 'udp6' : 'udp4',
      logger: this.#log.child({ component: 'transport' }),
      admit: rateLimiter(this.#options.rateLimitPerSecond),
      auth: {
        name: REGISTRY_NAME,
        privateKey: parts.identity.signing.privateKey,
        keyFor: (by, message, from) => keys.keyFor(by, message, from),
        macKeyFor: (by, sid, message) => keys.macKeyFor(by, sid, message),
        noSession: (by, message, from) => keys.noSession(by, message, from),
        unchecked: (message) => keys.unchecked(message),
      },
    });
    this.#endpoint.onRequest((request, from, respond, by, size, via, signed) =>
      this.#track(passGate(request, { from, respond, by, size, via, signed }, this.#gate)),
    );
    this.#hellos = new HelloAdmission({
      perAddress: this.#options.hellosPerAddress,
      overall: this.#options.hellos,
      windowMs: this.#options.helloWindowMs,
    });
    // New nicks (per address and overall) and wrong passwords guard the table and the accounts,
    // which the nodes on one store share: so do these budgets. Hellos, password jobs and the
    // new-nick burst guard each node's own CPU and pushes.
    const budgets = budgetsIn(this.#store);
    this.#newNicks = new NewNickAdmission(
      {
        perAddress: this.#options.newNicksPerAddress,
        overall: this.#options.newNicks,
        windowMs: this.#options.newNickWindowMs,
      },
      budgets,
    );
    // scrypt, bounded: a few jobs at once, a few a minute per address (see password-gate.ts).
    const passwords = new PasswordGate({
      concurrent: this.#options.passwordJobs,
      perAddressPerMinute: this.#options.passwordJobsPerAddress,
    });
    // Whether a registration may have its nick here, and with which account (see registration.ts).
    const registration = new Registration({
      maxClients: Math.min(this.#options.maxClients, MAX_TABLE_PAGES * MAX_PAGE_ENTRIES), // what a client can take
      scryptCost: this.#options.scryptCost,
      log: this.#log,
      agreement: this.#identity.agreement,
      record: (nick) => this.#clients.get(nick),
      at: (address) => this.#clients.at(address),
      size: () => this.#clients.size,
      newNicks: this.#newNicks,
      passwords,
      budgets,
      probe: (record) => this.#presence.probe(record),
    });
    this.#groups = new Groups({
      store: this.#store,
      request: (nick, to, body, retry) => this.#requestTo(nick, to, body, retry),
      log: this.#log,
      ackTimeoutMs: this.#options.groupAckTimeoutMs,
      maxMembers: this.#options.maxGroupMembers,
      onlineAddress: (nick) => {
        const record = this.#clients.get(nick);
        return record?.online ? addressOf(record) : undefined;
      },
      lastAddress: (nick) => {
        const record = this.#clients.get(nick);
        return record ? addressOf(record) : undefined;
      },
      background: (work, what) => this.#background(work, what),
      changed: (group) => this.#cluster.groupChanged(group),
    });
    this.#presence = new Presence({
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      missedHeartbeats: this.#options.missedHeartbeats,
      sweepProbesPerSecond: this.#options.sweepProbesPerSecond,
      log: this.#log,
      records: () => this.#clients.values(),
      serves: (record) => this.#cluster.serves(record),
      probe: (record) =>
        this.#endpoint.request(
          addressOf(record),
          { t: 'probe', nick: record.nick },
          {
            ...spreadTries(this.#options.probeTimeoutMs, this.#options.probeTries),
            ...this.#clientSessions.to(record.nick),
          },
        ),
      forgetSession: (nick) => this.#clientSessions.forget(nick),
      write: (records) => this.#write(records),
      publish: (records) => this.#publish(records),
      removeFromGroups: (nick) => this.#groups.memberGone(nick, 'removed'),
      deliver: (nick) => this.#mailbox.deliver(nick),
      tellChanges: () => this.#tellChanges(),
      background: (work, what) => this.#background(work, what),
      markedOffline: (nick) => this.emit('marked-offline', { nick }),
      catchUp: (nick) => {
        // One taken for offline meanwhile is told when it comes back (its `table_delta` then
        // follows a gap, and it asks for the table).
        const record = this.#clients.get(nick);
        if (!record?.online || !this.#cluster.serves(record)) return;
        const watched = this.watchMode ? this.#subscriptions.watchedRecords(nick) : undefined;
        this.#background(this.#pushes.catchUp(record, watched), 'catching a client up');
      },
    });
    this.#changes = new TableChanges({
      epoch: this.#epoch,
      delayMs: this.#options.pushDelayMs,
      intervalMs: this.#options.pushIntervalMs,
      log: this.#log,
      record: (nick) => this.#clients.get(nick),
      records: () => this.#clients.values(),
      serves: (record) => this.#cluster.serves(record),
      unresponsive: (nick) => this.#presence.unresponsive(nick),
      watchMode: () => this.watchMode,
      watchersOf: (nick) => this.#subscriptions.watches.watchersOf(nick),
      takeWholeTableHolders: () => this.#subscriptions.takeWholeTableHolders(),
      send: (record, body) =>
        this.#endpoint.request(addressOf(record), body, this.#pushOptions(record)),
      notify: (record, body) =>
        this.#endpoint.notify(
          addressOf(record),
          { ...body, seq: this.#subscriptions.nextNotice(record.nick) },
          this.#clientSessions.to(record.nick).mac,
        ),
      unanswered: (nick) => this.#presence.unanswered(nick),
    });
    this.#pushes = new ClientPushes({
      epoch: this.#epoch,
      version: () => this.#changes.version,
      snapshot: () => this.snapshot(),
      send: (record, body) =>
        this.#endpoint.request(addressOf(record), body, this.#pushOptions(record)),
      unanswered: (nick) => this.#presence.unanswered(nick),
      closed: () => this.#closed,
      log: this.#log,
    });
    this.#introductions = new Introductions(
      {
        online: (nick) => {
          const record = this.#clients.get(nick);
          return record?.online ? record : undefined;
        },
        // A turn of the event loop later, so the asker's answer goes first: it punches first,
        // and its NAT is open by the time the peer's punch comes.
        tell: (record, body) =>
          setImmediate(() =>
            this.#background(
              this.#endpoint
                .request(addressOf(record), body, {
                  ...spreadTries(this.#options.probeTimeoutMs, 3),
                  ...this.#clientSessions.to(record.nick),
                })
                .then(
                  () => undefined,
                  (error: unknown) => {
                    if (isUdpchatError(error, 'ERR_CLOSED')) throw error;
                    this.#log.debug(
                      { nick: record.nick, err: error },
                      'introduction not acknowledged',
                    );
                  },
                ),
              'introduction',
            ),
          ),
        now: () => Date.now(),
      },
      {
        intervalMs: this.#options.introductionIntervalMs,
        relayMessages: this.#options.relayMessagesPerPair,
        relayBytes: this.#options.relayBytesPerPair,
        relayWindowMs: this.#options.relayWindowMs,
      },
    );
    this.#mailbox = new Mailbox({
      store: this.#store,
      log: this.#log,
      deliverTimeoutMs: this.#options.deliverTimeoutMs,
      deliverTries: this.#options.deliverTries,
      relayTries: this.#options.relayTries,
      batchBytes: this.#options.deliveryBatchBytes,
      mailboxMessages: this.#options.mailboxMessages,
      mailboxMessagesPerSender: this.#options.mailboxMessagesPerSender,
      onlineAddress: (nick) => {
        const record = this.#clients.get(nick);
        return record?.online ? addressOf(record) : undefined;
      },
      request: (nick, to, body, retry) => this.#requestTo(nick, to, body, retry),
      delivered: (nick, count) => this.emit('delivered', { to: nick, count }),
    });
    const saves = new Saves({
      log: this.#log,
      client: (nick) => this.#clients.get(nick),
      probe: (record) => this.#presence.probe(record),
      markOffline: (record) => this.#presence.markOffline([record]),
      markOnline: (record) => this.#presence.markOnline(record),
      mayRelay: (from, to, bytes) => this.#introductions.mayRelay(from, to, bytes),
      take: (to, message, reachable) =>
        this.#mailbox.take(to.nick, addressOf(to), message, reachable),
      // The classic "fresh table" for a sender whose copy was stale; beyond the limit, the
      // recipient's entry (the sender watches it).
      refreshSender: (sender, recipient) => {
        if (this.watchMode) void this.#pushes.presence(sender, [recipient]);
        else void this.#pushes.table(sender, true);
      },
      saved: (ids) => this.emit('saved', ids),
      relayed: (ids) => this.emit('relayed', ids),
      now: Date.now,
    });
    const handlers = handlerTable({
      log: this.#log,
      publicKeys: this.#identity.public,
      epoch: this.#epoch,
      store: this.#store,
      clients: this.#clients,
      cookies: this.#cookies,
      registration,
      clientSessions: this.#clientSessions,
      presence: this.#presence,
      subscriptions: this.#subscriptions,
      pushes: this.#pushes,
      mailbox: this.#mailbox,
      saves,
      groups: this.#groups,
      introductions: this.#introductions,
      nodeId: () => this.nodeId,
      natProbePort: () => this.#natProbePort,
      watchMode: () => this.watchMode,
      snapshot: () => this.snapshot(),
      persist: (records) => this.#persist(records),
      tellChanges: () => this.#tellChanges(),
      background: (work, what) => this.#background(work, what),
      registered: (event) => this.emit('registered', event),
      refused: (event) => this.emit('refused', event),
      deregistered: (event) => this.emit('deregistered', event),
    });
    this.#gate = {
      guards,
      handlers,
      admitUnchecked: (from) => this.#hellos.admit(from),
      firstToTake: (signed) => this.#signedOnce.first(signed),
      heard: (nick) => this.#presence.heard(nick),
      registered: (nick) => this.#presence.registered(nick),
    };
  }

  /** Opens the store, loads the table and binds the port. */
  static async start(options: RegistryOptions, parts: RegistryParts): Promise<Registry> {
    await parts.store.open();
    // Nodes sharing a store share one identity (kept in the store), so a client's pin holds on every node.
    const identity =
      parts.identity ?? (await sharedIdentity(parts.store)) ?? (await generateIdentity());
    const registry = new Registry(options, { ...parts, identity });
    await registry.#cluster.listen();
    registry.#groups.load(await parts.store.loadGroups());
    for (const record of await parts.store.loadClients()) {
      registry.#clients.set(record.nick, record);
      registry.#presence.registered(record.nick);
    }
    try {
      await registry.#endpoint.listen(options.port ?? 0, options.host);
      if (options.natProbePort !== undefined)
        registry.#natProbePort = await registry.#endpoint.openSocket(
          options.natProbePort,
          options.host,
        );
      // A node restarted where it ran before (host name and port) serves the clients it had.
      registry.#cluster.nodeId =
        options.node ?? `${hostname()}:${registry.#endpoint.address().port}`;
      registry.#presence.start();
    } catch (error) {
      await parts.store.close();
      throw error;
    }
    return registry;
  }

  address(): Address {
    return this.#endpoint.address();
  }

  /** This node's name among the nodes sharing its store (host name and port unless given). */
  get nodeId(): string {
    return this.#cluster.nodeId;
  }

  /** The registry's public keys, for clients to pin. */
  get publicKeys(): Identity['public'] {
    return this.#identity.public;
  }

  /** A snapshot: the transport's counters (see EndpointStats), the registry's, and the fragmented requests being put together. */
  get stats() {
    return {
      ...this.#endpoint.stats,
      ...this.#counters,
      ...this.#introductions.counters,
      signedTakenBefore: this.#signedOnce.signedTakenBefore,
      newNicksRefused: this.#newNicks.refused,
      hellosDropped: this.#hellos.dropped,
      reassembling: this.#endpoint.reassembling,
      reassembliesExpired: this.#endpoint.reassembliesExpired,
    };
  }

  get storeLocation(): string {
    return this.#store.location;
  }

  /** Whether the table is beyond `tableLimit`: clients then hold only what they watch. */
  get watchMode(): boolean {
    return this.#clients.size > this.#options.tableLimit;
  }

  snapshot(): TableSnapshot {
    return {
      epoch: this.#epoch,
      version: this.#changes.version,
      entries: [...this.#clients.values()].map(tableEntry),
    };
  }

  /** Idempotent: stops answering, waits for the store writes under way, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#presence.stop();
    this.#changes.close();
    this.#mailbox.close();
    await this.#endpoint.close();
    await Promise.allSettled([...this.#inFlight]);
    await this.#store.close();
  }

  #track(work: Promise<void>): Promise<void> {
    this.#inFlight.add(work);
    return work.finally(() => this.#inFlight.delete(work));
  }

  /** Work nobody awaits (deliveries, sweeps): a failure is logged, never an unhandled rejection. */
  #background(work: Promise<void>, what: string): void {
    this.#track(work).catch((error: unknown) => {
      if (!isUdpchatError(error, 'ERR_CLOSED')) this.#log.error({ err: error }, `${what} failed`);
    });
  }

  /** Whether `cookie` proves that `from` receives (see address-cookies.ts); a refusal is counted (`unvalidated`). */
  #addressValidated(from: Address, cookie: string | undefined): boolean {
    if (this.#cookies.check(from, cookie)) return true;
    this.#counters.unvalidated++;
    return false;
  }

  /** Writes `records` and publishes them (see `#publish`). */
  async #persist(records: ClientRecord[]): Promise<void> {
    await this.#write(records);
    this.#publish(records);
  }

  /** Writes `records` to the store; nobody is told yet. */
  async #write(records: ClientRecord[]): Promise<void> {
    await Promise.all(records.map((record) => this.#store.putClient(record)));
  }

  /** `records` changed: they go in the next table change, and the other nodes hear of them. */
  #publish(records: ClientRecord[]): void {
    this.#subscriptions.changed();
    for (const record of records) this.#changes.add(record.nick);
    this.#cluster.changed(records.map((record) => record.nick));
  }

  /**
   * Tells this node's clients what changed, soon: changes within `pushDelayMs` go out as one
   * new version, one `table_delta` datagram per online client, whatever the table's size,
   * in rounds paced as pacer.ts says (see push.ts).
   */
  #tellChanges(): void {
    if (this.#closed) return;
    this.#changes.tell();
  }

  /**
   * A request to client `nick` at `to` with that retry budget: under its session with this
   * node when it holds one, else signed; only `nick` may answer it (mailbox deliveries, group
   * messages).
   */
  #requestTo(nick: string, to: Address, body: RequestBody, retry: RetryBudget): Promise<Reply> {
    return this.#endpoint.request(to, body, { ...retry, ...this.#clientSessions.to(nick) });
  }

  /** Table pushes and changes: their retry budget, and only the client's signature answers them. */
  #pushOptions(record: ClientRecord) {
    return {
      timeoutMs: this.#options.pushTimeoutMs,
      tries: this.#options.pushTries,
      backoff: 2,
      ...this.#clientSessions.to(record.nick),
    };
  }
}
