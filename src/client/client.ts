// The client's facade, ChatClient: its public API and events, built from the modules beside it
// (sending, receiving, keys, the registry link, registration, the life cycle, the table), each
// handed a narrow context. Incoming requests reach those modules through inbound.ts's handler
// table.
import type { Logger } from 'pino';
import { MAX_WATCH } from '../protocol/constants.js';
import { UdpchatError } from '../protocol/errors.js';
import { nickProblem } from '../protocol/nick.js';
import { type NatMapping, type TableEntry } from '../protocol/fields.js';
import { formatAddress, resolveAddress, type Address } from '../transport/address.js';
import { Endpoint } from '../transport/endpoint.js';
import { spreadTries } from '../transport/retry.js';
import { definedOnly } from '../util/options.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { generateIdentity, type Identity } from '../crypto/identity.js';
import { REGISTRY_NAME } from '../crypto/signing.js';
import { Inbox } from './inbox.js';
import { GroupMode } from './group-mode.js';
import { textProblem } from './text.js';
import { Keyring } from './keyring.js';
import { ServerLink } from './server-link.js';
import { MemoryOutbox, type Outbox } from './outbox.js';
import { Delivery, type SendOutcome } from './delivery.js';
import { SendQueue } from './send-queue.js';
import { TableReplica } from './table-replica.js';
import { Lifecycle, type ClientState } from './lifecycle.js';
import { Contacts } from './contacts.js';
import { Watching, type UsersPage, type WatchOutcome } from './watching.js';
import { localAddresses, Paths, type PathKind } from './paths.js';
import { nodeClock } from '../util/clock.js';
import { RoundTrips } from '../transport/round-trips.js';
import { SILENT_LOG } from '../util/silent-log.js';
import { routeRequest, type InboundContext } from './inbound.js';
import { RegistrationFlow, type Seen } from './registration-flow.js';
import { probeNat } from './nat-probe.js';
import { pathSockets } from './path-sockets.js';
import {
  CLIENT_DEFAULTS,
  type ChatClientOptions,
  type ChatClientParts,
  type ClientTimings,
} from './options.js';
import { SignedTakenCheck } from './signed-taken.js';

export type { SendOutcome } from './delivery.js';

export interface ClientEvents {
  /** Registration accepted; the table follows as a `table` event. */
  registered: { nick: string };
  table: { entries: TableEntry[] };
  /** A private message (`all` when it was a broadcast to everyone online). */
  message: { from: string; text: string; mid: string; all?: boolean };
  'group-message': { group: string; from: string; text: string; mid: string };
  /** Another member left the group, or was removed for not acknowledging. */
  'group-member-gone': { group: string; nick: string; reason: 'left' | 'removed' };
  /** This client was removed from its group by the registry. */
  'removed-from-group': { group: string };
  /** This client left its group (leave_group); held private messages follow. */
  'left-group': { group: string };
  /** Out of a group: `count` private messages held while in it follow now, in the order they came. */
  'held-messages': { group: string; count: number };
  /** Someone came online, or went offline (seen in a table push). */
  joined: { nick: string };
  left: { nick: string };
  /** Saved messages follow, oldest first. */
  'saved-messages': Record<string, never>;
  'saved-message': { from: string; text: string; ts: number; mid: string };
  delivered: { to: string; mid: string };
  fallback: { to: string; mid: string; reason: 'no-ack' | 'offline' };
  exists: { to: string };
  saved: { to: string; mid: string };
  'server-not-responding': {
    action: 'register' | 'deregister' | 'save' | 'heartbeat' | 'group' | 'watch';
  };
  /** Heartbeats are answered again after an outage. */
  'server-back': Record<string, never>;
  /** The registry node stopped answering; this client moved to the next one and registered there. */
  'server-switched': { from: string; to: string };
  /**
   * The message is kept and will be tried again: the registry did not answer, or (`reason`
   * `mailbox-full`) it holds as many messages for `to` as it keeps, in all or from this sender.
   */
  queued: { to: string; mid: string; reason?: 'mailbox-full' };
  /** A final outcome: the message will not be delivered. */
  'send-failed': { to: string; mid: string; reason: string };
  /**
   * Messages left unsettled by an earlier run are being sent, oldest first: each then has its
   * outcome told as any other (`delivered`, `saved`, …), under its `mid`.
   */
  resumed: { count: number; messages: Array<{ mid: string; to: string; text: string }> };
  /** A message for this nick that could not be opened (sealed to a key it had before). */
  unreadable: { from: string; mid: string };
  /** The registry's key, learnt on first contact: keep it and pass it as `serverKey` next time. */
  'server-key': { sk: string };
  deregistered: { nick: string };
  /**
   * How `nick` is reached, when that is news: `punched` (directly, through NATs, after a hole
   * punch), `relayed` (no direct path: messages go through the registry), or `direct` again
   * after one of those. A plain direct path is not told.
   */
  path: { nick: string; kind: PathKind; address: string };
}

/**
 * A udpchat client: keeps its copy of the table, sends chat directly to peers, falls back to
 * the registry when a peer does not ACK, and answers the registry's probes and pushes.
 *
 * The facade over the client's modules, each handed a narrow context: its public API and
 * events. Sending: `send` → `SendQueue` → `Delivery`; receiving: `routeRequest` (inbound.ts)
 * → `Inbox`; keys: `Keyring`; the registry: `ServerLink` and `Lifecycle`; the table:
 * `TableReplica`; groups: `GroupMode`.
 */
export class ChatClient extends TypedEmitter<ClientEvents> {
  readonly nick: string;
  readonly #options: ClientTimings;
  readonly #log: Logger;
  readonly #endpoint: Endpoint;
  /** Register, dereg, heartbeats, and the registry node in use (see lifecycle.ts). */
  readonly #life: Lifecycle;
  /** The local copy of the client table, kept by the registry's pushes (see table-replica.ts). */
  readonly #table: TableReplica;
  /** Beyond the registry's table limit: the nicks watched, look-ups, pages of users (see watching.ts). */
  readonly #watching: Watching;
  readonly #contacts: Contacts;
  /** Identity, end-to-end sessions, the keys datagrams are checked with (see keyring.ts). */
  readonly #keys: Keyring;
  /** Requests to the registry: hello, key pin, what a registration carries, the session with it (see server-link.ts). */
  readonly #link: ServerLink;
  readonly #outbox: Outbox;
  /** Messages not settled yet, per recipient in the order typed (see send-queue.ts). */
  readonly #sendQueue: SendQueue;
  /** A try at one message, directly then through the registry; broadcasts (see delivery.ts). */
  readonly #delivery: Delivery;
  /** A registration, from the hello to the moment it may send (see registration-flow.ts). */
  readonly #registration: RegistrationFlow;
  /** What reaches this client for its user: dedup, opening, order, the group-mode hold (see inbox.ts). */
  readonly #inbox: Inbox;
  /** Per peer, the direct path and hole punching across NATs (see paths.ts). */
  readonly #paths: Paths;
  /** Group mode (see group-mode.ts): the group this client is in, and the requests about groups. */
  readonly #groups: GroupMode;
  /** Signed requests taken before a restart (see signed-taken.ts). */
  readonly #signedTaken: SignedTakenCheck;

  private constructor(
    options: ChatClientOptions,
    servers: Array<Address & { family: 4 | 6 }>,
    parts: ChatClientParts & { identity: Identity },
  ) {
    super();
    this.nick = options.nick;
    this.#options = { ...CLIENT_DEFAULTS, ...definedOnly(options) };
    this.#log = parts.logger ?? SILENT_LOG;
    this.#signedTaken = new SignedTakenCheck(parts.signedTaken, this.#log);
    // The timers the modules wait with; none keeps the process alive.
    const clock = nodeClock({ unref: true });
    this.#keys = new Keyring(parts.identity, {
      nick: this.nick,
      peerSessions: this.#options.peerSessions,
      peerSessionWindowMs: this.#options.peerSessionWindowMs,
      peer: (nick) => this.#table.get(nick),
      serverKey: () => this.#link.serverKey,
    });
    this.#endpoint = new Endpoint({
      type: servers[0].family === 6 ? 'udp6' : 'udp4',
      logger: this.#log.child({ component: 'transport' }),
      coalesce: true, // a stream to a peer, and its ACKs, go a bundle at a time
      auth: {
        name: options.nick,
        privateKey: parts.identity.signing.privateKey,
        keyFor: (by, message) => {
          const key = this.#keys.keyFor(by, message);
          // Beyond the table limit a peer that writes first is looked up, for its next try.
          if (
            !key &&
            by !== REGISTRY_NAME &&
            (message.t === 'chat' || message.t === 'frag' || message.t === 'punch') &&
            !this.#table.has(by)
          )
            this.#watching.learn(by);
          return key;
        },
        macKeyFor: (by, sid, message) => this.#keys.macKeyFor(by, sid, message),
      },
    });
    this.#link = new ServerLink(
      {
        nick: this.nick,
        serverTimeoutMs: this.#options.serverTimeoutMs,
        serverTries: this.#options.serverTries,
        failoverMs: this.#options.failoverMs,
        channel: this.#endpoint,
        keys: this.#keys,
        server: () => this.#life.server,
        nodes: () => this.#life.nodes,
        online: () => this.#life.online,
        unanswered: (server) => this.#life.unanswered(server),
        // Each of the link's events is a client event of the same name and payload.
        emit: (event, payload) => this.emit(event, payload as ClientEvents[typeof event]),
        debug: (fields, message) => this.#log.debug(fields, message),
      },
      options,
    );
    this.#groups = new GroupMode({
      nick: this.nick,
      online: () => this.#life.online,
      request: (body) => this.#link.request(body, 'group'),
      newId: () => this.#endpoint.newId(),
      release: (group) => this.#inbox.release(group),
      // Each of group mode's events is a client event of the same name and payload.
      emit: (event, payload) => this.emit(event, payload as ClientEvents[typeof event]),
    });
    this.#inbox = new Inbox({
      nick: this.nick,
      holdTimeoutMs: this.#options.holdTimeoutMs,
      peerChats: this.#options.peerChats,
      peerChatWindowMs: this.#options.peerChatWindowMs,
      online: () => this.#life.online,
      closed: () => this.#life.closed,
      group: () => this.#groups.current,
      peer: (nick) => this.#table.get(nick),
      accepts: (peer, from) => this.#paths.accepts(peer, from),
      open: (from, mid, sealed) => this.#keys.open(from, mid, sealed),
      // Each of the inbox's events is a client event of the same name and payload.
      emit: (event, payload) => this.emit(event, payload as ClientEvents[typeof event]),
      debug: (fields, message) => this.#log.debug(fields, message),
    });
    this.#table = new TableReplica({
      nick: this.nick,
      serverTimeoutMs: this.#options.serverTimeoutMs,
      serverTries: this.#options.serverTries,
      resync: () => this.#link.resync(),
      changed: (entries) => this.emit('table', { entries }),
      joined: (nick) => this.emit('joined', { nick }),
      left: (nick) => this.emit('left', { nick }),
      applied: () => this.#sendQueue.retryAll(),
      correctPresence: () => this.#correctPresence(),
      watchModeStarted: () => this.#enterWatchMode(),
    });
    this.#contacts = new Contacts(MAX_WATCH, parts.contacts);
    this.#watching = new Watching(
      {
        nick: this.nick,
        request: (body) => this.#link.request(body, 'watch'),
        online: () => this.#life.online,
        log: (error, message) => this.#log.debug({ err: error }, message),
        timers: clock,
      },
      this.#table,
      this.#contacts,
    );
    this.#outbox = parts.outbox ?? new MemoryOutbox();
    this.#delivery = new Delivery({
      nick: this.nick,
      ackTimeoutMs: this.#options.ackTimeoutMs,
      peerTries: this.#options.peerTries,
      roundTrips: new RoundTrips(),
      channel: this.#endpoint,
      keys: this.#keys,
      peer: (nick) => this.#table.get(nick),
      paths: {
        addressFor: (peer) => this.#paths.addressFor(peer),
        afterMiss: (peer, tried) => this.#paths.afterMiss(peer, tried),
        reached: (peer, at) => this.#paths.reached(peer, at),
        relayed: (nick) => this.#paths.relayed(nick),
        watchTry: (peer, tried) => this.#paths.watchTry(peer, tried),
      },
      lookup: (nick) => this.#watching.lookup(nick),
      server: () => this.#life.server,
      askServer: (server, body) => this.#link.ask(server, body),
      unanswered: (server) => this.#life.unanswered(server),
      registerAgain: (reason) => void this.#life.registerAgain(reason),
      // Each of delivery's events is a client event of the same name and payload.
      emit: (event, payload) => this.emit(event, payload as ClientEvents[typeof event]),
      debug: (fields, message) => this.#log.debug(fields, message),
    });
    this.#sendQueue = new SendQueue({
      sendWindow: this.#options.sendWindow,
      outboxLimit: { messages: this.#options.outboxMessages, bytes: this.#options.outboxBytes },
      outboxRetryMs: this.#options.outboxRetryMs,
      outbox: this.#outbox,
      newId: () => this.#endpoint.newId(),
      online: () => this.#life.online,
      attempt: (job) => this.#delivery.attempt(job),
      warn: (error, message) => this.#log.warn({ err: error }, message),
    });
    this.#life = new Lifecycle({
      servers,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      failoverMs: this.#options.failoverMs,
      register: () => this.register(),
      heartbeat: async (server) => {
        const reply = await this.#link.heartbeat(server);
        // Beyond the limit, the number of the last presence notice sent: was one missed? And
        // the node's epoch: did it restart (and forget what this client watches)?
        if (reply.t === 'ack' && reply.seq !== undefined)
          this.#watching.sent(reply.seq, reply.epoch);
        return reply;
      },
      answered: () => this.#sendQueue.retryAll(),
      serverSilent: () => this.emit('server-not-responding', { action: 'heartbeat' }),
      serverBack: () => this.emit('server-back', {}),
      switched: (from, to) =>
        this.emit('server-switched', { from: formatAddress(from), to: formatAddress(to) }),
      info: (message) => this.#log.info(message),
      warn: (error, message) => this.#log.warn({ err: error }, message),
    });
    this.#paths = new Paths(
      {
        clock,
        ...pathSockets(this.#endpoint, this.nick),
        introduce: async (peer) => {
          if (!this.#life.online) return undefined;
          const budget = spreadTries(this.#options.punchTimeoutMs, 2);
          const reply = await this.#link.ask(
            this.#life.server,
            { t: 'introduce', from: this.nick, to: peer },
            budget,
          );
          return reply.t === 'introduced' && reply.peer === peer ? reply : undefined;
        },
        entry: (nick) => this.#table.get(nick),
        changed: (nick, kind, address) => this.emit('path', { nick, kind, address }),
      },
      this.#options,
    );
    this.#registration = new RegistrationFlow({
      patienceMs: this.#options.serverTimeoutMs * this.#options.serverTries,
      timers: clock,
      life: this.#life,
      link: this.#link,
      table: this.#table,
      inbox: this.#inbox,
      outbox: this.#outbox,
      sendQueue: this.#sendQueue,
      groups: this.#groups,
      watchContacts: () => this.#watching.watchContacts(),
      isContact: (nick) => this.#contacts.has(nick),
      localAddresses: () => {
        try {
          return localAddresses(this.#endpoint.address());
        } catch {
          return [];
        }
      },
      seen: (seen) => this.#seen(seen),
      registeredEvent: () => this.emit('registered', { nick: this.nick }),
      resumedEvent: (left) =>
        this.emit('resumed', {
          count: left.length,
          messages: left.map(({ mid, to, text }) => ({ mid, to, text })),
        }),
      warn: (error, message) => this.#log.warn({ err: error }, message),
    });
    const inbound: InboundContext = {
      nick: this.nick,
      online: () => this.#life.online,
      closed: () => this.#life.closed,
      paths: this.#paths,
      inbox: this.#inbox,
      table: this.#table,
      groups: this.#groups,
      watching: this.#watching,
      log: this.#log,
      takenBefore: (signed) => this.#signedTaken.takenBefore(signed),
    };
    this.#endpoint.onRequest((request, from, respond, by, _size, via, signed) =>
      routeRequest(request, { from, by, via, signed, respond }, inbound),
    );
  }

  /** Resolves the server and binds the local port; `register()` comes next. */
  static async open(options: ChatClientOptions, parts: ChatClientParts = {}): Promise<ChatClient> {
    const problem = nickProblem(options.nick);
    if (problem) throw new UdpchatError('ERR_INVALID_NICK', problem);
    const servers = await Promise.all(
      [options.server, ...(options.servers ?? [])].map((s) => resolveAddress(s.host, s.port)),
    );
    const client = new ChatClient(options, servers, {
      ...parts,
      identity: parts.identity ?? (await generateIdentity()),
    });
    try {
      await client.#contacts.load();
      await client.#signedTaken.open();
      await client.#endpoint.listen(options.port ?? 0, options.host);
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** `open()` and `register()`; rejects (and frees the port) when either fails. */
  static async start(options: ChatClientOptions, parts: ChatClientParts = {}): Promise<ChatClient> {
    const client = await ChatClient.open(options, parts);
    try {
      await client.registerAnywhere();
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** The password (and whether to log in or make the account) for the next register(). */
  useAccount(password: string, account: 'login' | 'create' = 'login'): void {
    this.#link.useAccount(password, account);
  }

  get state(): ClientState {
    return this.#life.state;
  }

  /** The transport's counters, and how often this client asked for the whole table. */
  get stats() {
    return {
      ...this.#endpoint.stats,
      resyncs: this.#link.resyncs,
      sessionBudgetRefusals: this.#keys.sessionBudgetRefusals,
      chatBudgetRefusals: this.#inbox.chatBudgetRefusals,
      signedTakenBefore: this.#signedTaken.signedTakenBefore,
    };
  }

  address(): Address {
    return this.#endpoint.address();
  }

  /** The registry node this client speaks to, as `host:port`. */
  get server(): string {
    return formatAddress(this.#life.server);
  }

  /** The group this client is in (group mode: private messages are held until it leaves). */
  get group(): string | undefined {
    return this.#groups.current;
  }

  createGroup(name: string): Promise<'created' | 'exists'> {
    return this.#groups.create(name);
  }

  listGroups(): Promise<string[]> {
    return this.#groups.list();
  }

  /** Enters group mode: private messages are held until leaveGroup(). */
  joinGroup(name: string): Promise<'joined' | 'missing'> {
    return this.#groups.join(name);
  }

  /** Leaves group mode, even when the registry does not answer (it drops the member itself). */
  leaveGroup(): Promise<string> {
    return this.#groups.leave();
  }

  listMembers(): Promise<string[]> {
    return this.#groups.members();
  }

  /** Resolves once the registry has the message; it relays it to every other member. */
  sendGroup(text: string): Promise<void> {
    return this.#groups.send(text);
  }

  /** Sends to everyone online but this client, directly; says how many acknowledged it. */
  broadcast(text: string): Promise<{ received: number; total: number }> {
    if (!this.#life.online)
      return Promise.reject(new UdpchatError('ERR_NOT_ONLINE', 'you are offline'));
    const problem = textProblem(text);
    if (problem) return Promise.reject(problem);
    const peers = this.table().filter((entry) => entry.online && entry.nick !== this.nick);
    return this.#delivery.broadcast(peers, this.#endpoint.newId(), text);
  }

  /** Messages without a final outcome yet (kept in the outbox across restarts). */
  get unsettled(): number {
    return this.#sendQueue.unsettled;
  }

  /** The local copy of the client table. */
  table(): TableEntry[] {
    return this.#table.entries();
  }

  /** Registers with the first node that answers, trying each in turn. */
  registerAnywhere(): Promise<void> {
    return this.#life.registerAnywhere();
  }

  /**
   * Registers (again): also when already online, which heals a registry that lost track
   * of this client (restarted on another store, or took it for offline).
   */
  register(): Promise<void> {
    return this.#registration.register();
  }

  /** Paths: where the registry sees this client from, and how its NAT maps (asked of the probe port). */
  #seen({ address, natProbe }: Seen): void {
    this.#paths.reflexive = { address: address.ip, port: address.port };
    if (natProbe === undefined) return;
    const probe = { address: this.#life.server.address, port: natProbe };
    probeNat(this.#endpoint, this.nick, probe, address).then(
      (nat) => {
        if (nat === undefined) return;
        this.#paths.nat = nat;
        this.#log.debug({ nat }, 'NAT mapping probed');
      },
      (error: unknown) => this.#log.debug({ err: error }, 'NAT probe unanswered'),
    );
  }

  /** How this client's NAT maps, as the registry's probe port showed; undefined when not known. */
  get natMapping(): NatMapping | undefined {
    return this.#paths.nat;
  }

  /** How `nick` is reached now: directly, after a punch, or relayed; undefined before any message went. */
  pathTo(nick: string): { kind: PathKind; address: string } | undefined {
    return this.#paths.pathTo(nick);
  }

  /** The address the registry sees this client at (its reflexive address), once registered. */
  get reflexiveAddress(): Address | undefined {
    return this.#paths.reflexive;
  }

  async deregister(): Promise<void> {
    if (!this.#life.online) throw new UdpchatError('ERR_NOT_ONLINE', 'not registered');
    // No heartbeat may register this client again behind the dereg (see Lifecycle.leave).
    await this.#life.leave(() =>
      this.#link.request({ t: 'deregister', nick: this.nick }, 'deregister'),
    );
    this.emit('deregistered', { nick: this.nick });
  }

  /** Why `send(to, text)` would be refused right now, or undefined: lets a caller answer at once. */
  checkSend(to: string, text: string): UdpchatError | undefined {
    if (!this.#life.online) return new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
    const problem = textProblem(text) ?? this.checkPeer(to);
    if (problem) return problem;
    return this.#sendQueue.checkRoom(text);
  }

  /**
   * Why `to` cannot be written to (this client itself, or a nick not in the table), or
   * undefined. Beyond the table limit a nick not held is looked up by `send`.
   */
  checkPeer(to: string): UdpchatError | undefined {
    if (to === this.nick) return new UdpchatError('ERR_SELF_MESSAGE', 'message to yourself');
    if (!this.#table.has(to) && !this.#watching.active)
      return new UdpchatError('ERR_UNKNOWN_NICK', `no user ${to}`);
    return undefined;
  }

  /** The entry of `nick`: from the table, or (beyond the table limit) looked up and watched from now on. */
  async lookup(nick: string): Promise<TableEntry | undefined> {
    if (!this.#life.online) throw new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
    return this.#watching.lookup(nick);
  }

  /** Whether the registry is beyond its table limit: this client holds only the nicks it watches. */
  get watchMode(): boolean {
    return this.#watching.active;
  }

  /** Watch `nick`: its presence changes come to this client (beyond the table limit; kept across restarts). */
  async watch(nick: string): Promise<WatchOutcome> {
    const problem = nickProblem(nick);
    if (problem) throw new UdpchatError('ERR_INVALID_NICK', problem);
    if (nick === this.nick) throw new UdpchatError('ERR_SELF_MESSAGE', 'you cannot watch yourself');
    if (!this.#life.online && this.#watching.active)
      throw new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
    return this.#watching.watch(nick);
  }

  /** Stop watching `nick`; false when it was not watched. */
  unwatch(nick: string): Promise<boolean> {
    return this.#watching.unwatch(nick);
  }

  /** The nicks watched: those asked for with `watch`, and the other contacts. */
  watching(): { pinned: string[]; contacts: string[] } {
    return this.#watching.watching();
  }

  /**
   * One page of the users (`online`: those online only). Within the table limit, the table
   * held, whole, as one page; beyond it, a page asked of the registry (from 0).
   */
  async users(online: boolean, page = 0): Promise<UsersPage> {
    if (!this.#life.online)
      throw new UdpchatError('ERR_NOT_ONLINE', 'the user list is not kept while offline');
    if (this.#watching.active) return this.#watching.page(online, page);
    const entries = this.table()
      .filter((entry) => !online || entry.online)
      .map(({ nick, online }) => ({ nick, online }));
    return { entries, page: 0, pages: 1, ...(this.#life.serverSilent ? { stale: true } : {}) };
  }

  /**
   * Sends one message. It is kept in the outbox until its final outcome; messages to one
   * recipient go one after another, in the order typed. Resolves with the first outcome:
   * a final one, or `queued` when it is kept for a later try (the registry did not answer,
   * the recipient's mailbox is full, or a message ahead of it is kept): it is retried, and
   * its final outcome is emitted later. Bad input rejects before anything is kept or sent.
   */
  async send(to: string, text: string): Promise<SendOutcome> {
    const problem = this.checkSend(to, text);
    if (problem) throw problem;
    // Beyond the table limit a nick not held is looked up first (and watched from then on).
    if (!this.#table.has(to) && !(await this.#watching.lookup(to)))
      throw new UdpchatError('ERR_UNKNOWN_NICK', `no user ${to}`);
    this.#watching.touch(to);
    return this.#sendQueue.push(to, text);
  }

  /**
   * Settles once the session with the registry that a registration set up afterwards has
   * been told to the registry (or could not be): from then on its pushes come under it.
   */
  registrySessionShared(): Promise<void> {
    return this.#link.sessionShared();
  }

  /** Idempotent: frees the port and rejects whatever is under way. */
  async close(): Promise<void> {
    if (this.#life.closed) return;
    this.#life.close();
    this.#sendQueue.close();
    this.#table.close();
    this.#inbox.close();
    this.#paths.close();
    await this.#endpoint.close();
    await this.#outbox
      .close?.()
      .catch((error: unknown) => this.#log.warn({ err: error }, 'outbox close failed'));
    // A contact changed just before (say, `watch bob` then `quit`) is kept before the CLI exits.
    await this.#contacts.flush();
    await this.#signedTaken
      .close()
      .catch((error: unknown) => this.#log.warn({ err: error }, 'signed-taken close failed'));
  }

  /**
   * The registry's table outgrew its limit while this client held it whole: from now on it
   * holds only its contacts, and says so to the registry.
   */
  #enterWatchMode(): void {
    this.#table.enterWatchMode((nick) => this.#contacts.has(nick));
    if (!this.#life.online) return;
    void this.#watching
      .watchContacts()
      .catch((error: unknown) => this.#log.warn({ err: error }, 'contacts not watched'));
  }

  /**
   * The table replica found this client offline in the table: while it is online (a presence
   * probe of the registry's went unanswered, say on a lossy link), a heartbeat now puts it
   * right, rather than the next one up to an interval later.
   */
  #correctPresence(): void {
    if (this.#life.online) void this.#life.beat();
  }
}
