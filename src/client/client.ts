import pino, { type Logger } from 'pino';
import { HELLO_PAD_CHARS, MAX_TEXT_BYTES, MAX_WATCH, WireError } from '../protocol/constants.js';
import { UdpchatError, isUdpchatError } from '../protocol/errors.js';
import { groupNameProblem, nickProblem } from '../protocol/nick.js';
import { CONTROL_CHARACTER, encodedTextBytes, isReply, type Message, type MessageOf, type Request, type RequestBody, type TableEntry } from '../protocol/messages.js';
import { formatAddress, resolveAddress, type Address } from '../transport/address.js';
import { DedupWindow } from '../transport/dedup.js';
import { Endpoint, type RequestOptions, type Respond } from '../transport/endpoint.js';
import { spreadTries } from '../transport/retry.js';
import { definedOnly } from '../util/options.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { generateIdentity, cachedSigningKey, type Identity } from '../crypto/identity.js';
import { messageAad, passwordAad, seal, Sessions, type Sealed } from '../crypto/sealing.js';
import { REGISTRY_NAME } from '../crypto/signing.js';
import type { KeyObject } from 'node:crypto';
import { ReceiveOrder, type Arrival } from './receive-order.js';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { MemoryOutbox, type Outbox, type OutboxEntry } from './outbox.js';
import { TableReplica } from './table-replica.js';
import { Lifecycle, type ClientState } from './lifecycle.js';
import { Contacts, type ContactsStore } from './contacts.js';
import { Watching, type UsersPage, type WatchOutcome } from './watching.js';
import { localAddresses, PATH_DEFAULTS, Paths, type PathKind } from './paths.js';
import { nodeClock } from '../util/clock.js';

export const CLIENT_DEFAULTS = {
  /** How long a direct message waits for the peer's ACK before going to the server. */
  ackTimeoutMs: 500,
  /** How many times a direct message is sent within ackTimeoutMs. */
  peerTries: 3,
  /** Requests to the registry: wait per try, and tries ("5 tries x 500 ms"). */
  serverTimeoutMs: 500,
  serverTries: 5,
  /** How often an online client tells the registry it is still here. */
  heartbeatIntervalMs: 10_000,
  /**
   * With several registry nodes (`servers`): how soon after its node stops answering a
   * client is on the next one. Its heartbeats then go every third of this (or more often),
   * each with half of it to be answered; any request to the node left unanswered moves it too.
   */
  failoverMs: 3_000,
  /** How soon a message kept because the registry did not answer is tried again. */
  outboxRetryMs: 5_000,
  /** Longest a message waits for the one its sender sent before it (see `after`). */
  holdTimeoutMs: 10_000,
  /** Messages to one recipient on their way at once; each names the one before it (`after`). */
  sendWindow: 32,
  /**
   * Key agreements (HPKE, ~1 ms each: a new sealed session, or a one-shot seal) one peer may
   * make this client do per `peerSessionWindowMs`; past it, its messages are not opened.
   */
  peerSessions: 20,
  peerSessionWindowMs: 10_000,
  /**
   * Chats one peer may send this client directly per `peerChatWindowMs`; past it they are
   * dropped unanswered (its client then hands them to the registry, rate-limited too).
   */
  peerChats: 1_000,
  peerChatWindowMs: 1_000,
  /** Hole punching across NATs and keepalives of punched paths (see paths.ts and docs/nat.md). */
  ...PATH_DEFAULTS,
} as const;

export type ClientTimings = { [K in keyof typeof CLIENT_DEFAULTS]: number };

export type ChatClientOptions = Partial<ClientTimings> & {
  nick: string;
  server: { host: string; port: number };
  /** Local port; 0 picks a free one. */
  port?: number;
  /** Local address to bind; all interfaces when absent. */
  host?: string;
  /** Other registry nodes (sharing one store) to switch to when the one in use stops answering. */
  servers?: Array<{ host: string; port: number }>;
  /** The registry's signing key as pinned earlier (base64); a different one is refused. */
  serverKey?: string;
  /** The nick's account password: log in (default) or, with account 'create', make the account. */
  password?: string;
  account?: 'login' | 'create';
};

export interface ChatClientParts {
  logger?: Logger;
  /** Where unsettled messages are kept; in memory unless given (the CLI keeps a file). */
  outbox?: Outbox;
  /** This client's keys (the CLI keeps them per nick in the data directory); made anew when absent. */
  identity?: Identity;
  /** Where its contacts are kept (see contacts.ts); in memory unless given (the CLI keeps a file). */
  contacts?: ContactsStore;
}

/** A hello's padding (see HELLO_PAD_CHARS). */
const HELLO_PAD = '.'.repeat(HELLO_PAD_CHARS);

/** Sessions with the registry whose keys a client still takes (see #registryKeys). */
const REGISTRY_SESSIONS_KEPT = 4;
/** How far past the first unsettled message (in windows) tries may run ahead. */
const SPAN_WINDOWS = 4;
/** How long a settled message is named as `after` by the sender's next message. */
const AFTER_WINDOW_MS = 60_000;

/** The first outcome of a `send`: a final one, or `queued` (its final one is emitted later). */
export type SendOutcome = 'delivered' | 'relayed' | 'saved' | 'failed' | 'queued';

interface QueuedMessage {
  entry: OutboxEntry;
  attempts: number;
  /** Resolves the caller's `send()` at the first outcome. */
  settle: ((outcome: SendOutcome) => void) | undefined;
  /** Settles once the entry is in the outbox. */
  durable: Promise<void>;
  /** The text sealed to the recipient's key `ek`, made at the first try. */
  sealed?: { ek: string; value: Sealed };
  /** The try under way or last made, and its outcome once it has one. */
  running?: Promise<SendOutcome>;
  outcome?: SendOutcome;
  /** Direct sends made, each under a request id of its own. */
  sends: number;
}

/** A private message taken, waiting for its turn to be shown; `text` is absent when it could not be opened. */
interface Received extends Arrival {
  text?: string;
  ts?: number;
  all?: boolean;
}

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
  'server-not-responding': { action: 'register' | 'deregister' | 'save' | 'heartbeat' | 'group' | 'watch' };
  /** Heartbeats are answered again after an outage. */
  'server-back': Record<string, never>;
  /** The registry node stopped answering; this client moved to the next one and registered there. */
  'server-switched': { from: string; to: string };
  /** The registry did not answer: the message is kept and will be tried again. */
  queued: { to: string; mid: string };
  /** A final outcome: the message will not be delivered. */
  'send-failed': { to: string; mid: string; reason: string };
  /** Messages left unsettled by an earlier run are being sent. */
  resumed: { count: number };
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
  /** Group messages already shown, by sender and message id (private ones: see #order). */
  readonly #shown = new DedupWindow();
  readonly #identity: Identity;
  #account: Pick<ChatClientOptions, 'serverKey' | 'password' | 'account'>;
  /** The registry's keys, once its hello checked out. */
  #serverKeys: { sk: string; ek: string } | undefined;
  /** End-to-end sealing, one HPKE setup per peer and session rather than per message. */
  readonly #sessions: Sessions;
  /**
   * The datagram keys of the sessions this client set up with the registry (see
   * `register.session`), by session id: the last few, since a node it registered with
   * earlier may still use an older one.
   */
  readonly #registryKeys = new Map<string, Buffer>();
  /** Messages being opened right now, by sender and id. */
  readonly #opening = new Set<string>();
  readonly #outbox: Outbox;
  /** Per recipient, the messages not yet settled, in the order typed. */
  readonly #queues = new Map<string, QueuedMessage[]>();
  readonly #draining = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;
  #resumed = false;
  /** Private messages taken, each once, and shown in their sender's order (see receive-order.ts). */
  readonly #order: ReceiveOrder<Received>;
  /** Key agreements per peer (see `peerSessions`). */
  readonly #peerSessions: RateLimiterMemory;
  #sessionBudgetRefusals = 0;
  /** Direct chats per peer (see `peerChats`). */
  readonly #peerChats: RateLimiterMemory;
  #chatBudgetRefusals = 0;
  /** The next saved message shown opens with the saved-messages line (a new catch-up began). */
  #savedLineDue = false;
  /** The group this client is in, if any; private messages wait until it leaves. */
  #group: string | undefined;
  readonly #heldForGroup: Array<{ event: string; show: () => void }> = [];
  /**
   * Per recipient: the last message settled, which the next one names (`after`), saying
   * whether the recipient acknowledged it (so took it) or it was only saved.
   */
  readonly #lastSettled = new Map<string, { mid: string; at: number; taken: boolean }>();
  /** Per peer, the direct path and hole punching across NATs (see paths.ts). */
  readonly #paths: Paths;

  private constructor(
    options: ChatClientOptions,
    servers: Array<Address & { family: 4 | 6 }>,
    parts: ChatClientParts & { identity: Identity },
  ) {
    super();
    this.nick = options.nick;
    this.#identity = parts.identity;
    this.#sessions = new Sessions(parts.identity.agreement);
    this.#account = options;
    this.#options = { ...CLIENT_DEFAULTS, ...definedOnly(options) };
    this.#peerSessions = new RateLimiterMemory({
      points: this.#options.peerSessions,
      duration: Math.max(1, Math.round(this.#options.peerSessionWindowMs / 1000)),
    });
    this.#peerChats = new RateLimiterMemory({
      points: this.#options.peerChats,
      duration: Math.max(1, Math.round(this.#options.peerChatWindowMs / 1000)),
    });
    this.#order = new ReceiveOrder<Received>({
      holdTimeoutMs: this.#options.holdTimeoutMs,
      show: (message) => this.#showPrivate(message),
    });
    this.#log = parts.logger ?? pino({ level: 'silent' });
    this.#table = new TableReplica({
      nick: this.nick,
      serverTimeoutMs: this.#options.serverTimeoutMs,
      serverTries: this.#options.serverTries,
      resync: () => this.#resync(),
      changed: (entries) => this.emit('table', { entries }),
      joined: (nick) => this.emit('joined', { nick }),
      left: (nick) => this.emit('left', { nick }),
      applied: () => this.#retryAll(),
      correctPresence: () => this.#correctPresence(),
      watchModeStarted: () => this.#enterWatchMode(),
    });
    this.#contacts = new Contacts(MAX_WATCH, parts.contacts);
    this.#watching = new Watching(
      {
        nick: this.nick,
        request: (body) => this.#requestServer(body, 'watch'),
        online: () => this.#life.online,
        log: (error, message) => this.#log.debug({ err: error }, message),
      },
      this.#table,
      this.#contacts,
    );
    this.#outbox = parts.outbox ?? new MemoryOutbox();
    this.#life = new Lifecycle({
      servers,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      failoverMs: this.#options.failoverMs,
      register: () => this.register(),
      heartbeat: (server) =>
        this.#endpoint.request(server, { t: 'heartbeat', nick: this.nick, sk: this.#identity.public.sk }, this.#heartbeatOptions()),
      answered: () => this.#retryAll(),
      serverSilent: () => this.emit('server-not-responding', { action: 'heartbeat' }),
      serverBack: () => this.emit('server-back', {}),
      switched: (from, to) => this.emit('server-switched', { from: formatAddress(from), to: formatAddress(to) }),
      info: (message) => this.#log.info(message),
      warn: (error, message) => this.#log.warn({ err: error }, message),
    });
    this.#endpoint = new Endpoint({
      type: servers[0]!.family === 6 ? 'udp6' : 'udp4',
      logger: this.#log.child({ component: 'transport' }),
      auth: {
        name: options.nick,
        privateKey: parts.identity.signing.privateKey,
        keyFor: (by, message) => this.#keyFor(by, message),
        macKeyFor: (by, sid, message) => this.#macKeyFor(by, sid, message),
      },
    });
    this.#endpoint.onRequest((request, from, respond, by) => this.#onRequest(request, from, respond, by));
    this.#paths = new Paths(
      {
        clock: nodeClock({ unref: true }),
        punch: async (peer, to, tries, signal) => {
          await this.#endpoint.request(to, { t: 'punch', from: this.nick, to: peer }, { ...tries, signer: peer, ...(signal ? { signal } : {}) });
        },
        introduce: async (peer) => {
          if (!this.#life.online) return undefined;
          const budget = spreadTries(this.#options.punchTimeoutMs, 2);
          const reply = await this.#endpoint.request(this.#life.server, { t: 'introduce', from: this.nick, to: peer }, { ...this.#toServer(), ...budget });
          return reply.t === 'introduced' && reply.peer === peer ? reply : undefined;
        },
        entry: (nick) => this.#table.get(nick),
        changed: (nick, kind, address) => this.emit('path', { nick, kind, address }),
      },
      this.#options,
    );
  }

  /** Resolves the server and binds the local port; `register()` comes next. */
  static async open(options: ChatClientOptions, parts: ChatClientParts = {}): Promise<ChatClient> {
    const problem = nickProblem(options.nick);
    if (problem) throw new UdpchatError('ERR_INVALID_NICK', problem);
    const servers = await Promise.all([options.server, ...(options.servers ?? [])].map((s) => resolveAddress(s.host, s.port)));
    const client = new ChatClient(options, servers, { ...parts, identity: parts.identity ?? (await generateIdentity()) });
    try {
      await client.#contacts.load();
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
    this.#account = { ...this.#account, password, account };
  }

  get state(): ClientState {
    return this.#life.state;
  }

  /** The transport's counters, and how often this client asked for the whole table. */
  get stats() {
    return { ...this.#endpoint.stats, resyncs: this.#resyncs, sessionBudgetRefusals: this.#sessionBudgetRefusals, chatBudgetRefusals: this.#chatBudgetRefusals };
  }

  address(): Address {
    return this.#endpoint.address();
  }

  /** The registry node this client speaks to, as `host:port`. */
  get server(): string {
    return formatAddress(this.#life.server);
  }

  get group(): string | undefined {
    return this.#group;
  }

  async createGroup(name: string): Promise<'created' | 'exists'> {
    const reply = await this.#groupRequest('create', name);
    return reply.status === 'exists' ? 'exists' : 'created';
  }

  async listGroups(): Promise<string[]> {
    return this.#listing('list');
  }

  /** Enters group mode: private messages are held until leaveGroup(). */
  async joinGroup(name: string): Promise<'joined' | 'missing'> {
    if (this.#group) throw new UdpchatError('ERR_IN_GROUP', `already in ${this.#group}`);
    const reply = await this.#groupRequest('join', name);
    if (reply.status !== 'joined') return 'missing';
    this.#group = name;
    return 'joined';
  }

  /** Leaves group mode, even when the registry does not answer (it drops the member itself). */
  async leaveGroup(): Promise<string> {
    const group = this.#inGroup();
    try {
      await this.#groupRequest('leave', group);
    } finally {
      this.#leftGroup(() => this.emit('left-group', { group }));
    }
    return group;
  }

  async listMembers(): Promise<string[]> {
    return this.#listing('members', this.#inGroup());
  }

  /** A listing, page by page (each reply fits one datagram); a name seen twice, as a change meanwhile can cause, once. */
  async #listing(op: 'list' | 'members', group?: string): Promise<string[]> {
    const names = new Set<string>();
    for (let start: number | undefined; ; ) {
      const reply = await this.#groupRequest(op, group, start);
      for (const name of (op === 'list' ? reply.groups : reply.members) ?? []) names.add(name);
      if (reply.next === undefined || reply.next <= (start ?? 0)) return [...names];
      start = reply.next;
    }
  }

  /** Resolves once the registry has the message; it relays it to every other member. */
  async sendGroup(text: string): Promise<void> {
    const group = this.#inGroup();
    const problem = textProblem(text);
    if (problem) throw problem;
    await this.#requestServer({ t: 'group_send', from: this.nick, group, mid: this.#endpoint.newId(), text }, 'group').catch(
      (error: unknown) => this.#outOfGroup(error),
    );
  }

  /** Sends to everyone online but this client, directly; says how many acknowledged it. */
  async broadcast(text: string): Promise<{ received: number; total: number }> {
    if (!this.#life.online) throw new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
    const problem = textProblem(text);
    if (problem) throw problem;
    const mid = this.#endpoint.newId();
    const peers = this.table().filter((entry) => entry.online && entry.nick !== this.nick);
    const acks = await Promise.all(
      peers.map(async (peer) =>
        this.#endpoint
          .request(
            { address: peer.ip, port: peer.port },
            { t: 'chat', from: this.nick, mid, sealed: await this.#sealFor(peer, mid, text), all: true },
            { ...spreadTries(this.#options.ackTimeoutMs, this.#options.peerTries), signer: peer.nick },
            `${mid}.${peer.nick}`,
          )
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    return { received: acks.filter(Boolean).length, total: peers.length };
  }

  #inGroup(): string {
    if (!this.#group) throw new UdpchatError('ERR_NOT_IN_GROUP', 'not in a group');
    return this.#group;
  }

  async #groupRequest(op: MessageOf<'group'>['op'], group?: string, start?: number) {
    if (!this.#life.online) throw new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
    if (group !== undefined) {
      const problem = groupNameProblem(group);
      if (problem) throw new UdpchatError('ERR_INVALID_GROUP', problem);
    }
    const reply = await this.#requestServer(
      { t: 'group', from: this.nick, op, ...(group === undefined ? {} : { group }), ...(start === undefined ? {} : { start }) },
      'group',
    )
      .catch((error: unknown) => this.#outOfGroup(error));
    if (reply.t !== 'group_info') throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    return reply;
  }

  /** The registry says this client is in no group: group mode ends here too. */
  #outOfGroup(error: unknown): never {
    const group = this.#group;
    if (group && isUdpchatError(error, 'ERR_NOT_IN_GROUP')) this.#leftGroup(() => this.emit('removed-from-group', { group }));
    throw error;
  }

  /** Out of group mode: `announce` says so, then what was held is shown, in order. */
  #leftGroup(announce: () => void): void {
    const group = this.#group;
    this.#group = undefined;
    announce();
    const held = this.#heldForGroup.splice(0);
    const count = held.filter((item) => item.event !== 'saved-messages').length;
    if (group && count > 0) this.emit('held-messages', { group, count });
    for (const item of held) item.show();
  }

  /** Private lines wait while the user is in a group (spec §3). */
  #emitPrivate<K extends 'message' | 'saved-messages' | 'saved-message' | 'unreadable'>(event: K, payload: ClientEvents[K]): void {
    if (this.#group) this.#heldForGroup.push({ event, show: () => this.emit(event, payload) });
    else this.emit(event, payload);
  }

  /** Messages without a final outcome yet (kept in the outbox across restarts). */
  get unsettled(): number {
    let count = 0;
    for (const queue of this.#queues.values()) count += queue.length;
    return count;
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
  async register(): Promise<void> {
    this.#life.registering();
    const { left, server, session, firstTable, reply } = await this.#registration().catch((error: unknown) => {
      this.#life.registrationFailed();
      throw error;
    });
    this.#life.registered();
    this.#order.startCatchUp(reply.pending ?? 0, this.#options.serverTimeoutMs * this.#options.serverTries);
    this.emit('registered', { nick: this.nick });
    if (reply.presence === 'watch') {
      // Beyond the registry's table limit: no table comes; this client says what it watches.
      this.#table.enterWatchMode((nick) => this.#contacts.has(nick));
      await this.#watching.watchContacts().catch((error: unknown) => this.#log.warn({ err: error }, 'contacts not watched'));
    } else {
      // The table comes as a push right behind the reply; sends need it, so wait (a while).
      const patience = this.#options.serverTimeoutMs * this.#options.serverTries;
      await Promise.race([firstTable, new Promise((resolve) => setTimeout(resolve, patience).unref())]);
      if (this.#table.awaitingFirstTable) this.#resync(); // every try of the first table was lost: ask for it
    }
    if (!session) this.#sharing = this.#shareSession(server.ek);
    // The registry starts every registration outside any group; so does the client.
    const group = this.#group;
    if (group) this.#leftGroup(() => this.emit('removed-from-group', { group }));
    if (!this.#resumed) {
      this.#resumed = true;
      if (left.length > 0) this.emit('resumed', { count: left.length });
      for (const entry of left) this.#enqueue(entry);
    }
    this.#retryAll();
  }

  /** A registration up to the registry's acceptance: hello, password, session, the request. */
  async #registration() {
    const left = this.#resumed ? [] : await this.#outbox.load();
    const server = await this.#hello();
    const { password, account } = this.#account;
    const { sk, ek } = this.#identity.public;
    const sealedPassword =
      password === undefined
        ? undefined
        : await seal(new TextEncoder().encode(password), server.ek, passwordAad(this.nick, sk, ek, account ?? 'login'));
    // A session with the registry's key: what it sends this client then comes under the
    // session's datagram key instead of signed (cheaper for both, above all for big tables).
    // Made already, it goes with the registration; else it is made once registered, so
    // that setting it up (HPKE's first use) does not delay the start.
    const session = this.#sessions.has(server.ek) ? await this.#registrySession(server.ek) : undefined;
    this.#order.registering();
    // Awaited from before the request goes: the table push may overtake the reply. (A
    // registry beyond its table limit says so in the reply, and sends none.)
    this.#table.enterTableMode();
    const firstTable = this.#table.awaitFirstTable();
    const reply = await this.#requestServer(
      {
        t: 'register',
        nick: this.nick,
        ...this.#identity.public,
        ...(sealedPassword ? { password: sealedPassword, account: account ?? 'login' } : {}),
        ...(session ? { session: session.enc } : {}),
        cookie: server.cookie,
        // Paths: for peers behind the same NAT (the registry tells them to those alone).
        ...this.#localFields(),
      },
      'register',
    ).catch((error: unknown) => {
      this.#table.stopAwaiting(); // no table follows a refusal or silence
      throw error;
    });
    if (reply.t !== 'registered') throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    if (reply.seen) this.#paths.reflexive = { address: reply.seen.ip, port: reply.seen.port };
    return { left, server, session, firstTable, reply };
  }

  /** This client's local addresses, for `register.local`. */
  #localFields(): { local?: Array<{ ip: string; port: number }> } {
    try {
      const local = localAddresses(this.#endpoint.address());
      return local.length > 0 ? { local } : {};
    } catch {
      return {};
    }
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
    await this.#life.leave(() => this.#requestServer({ t: 'deregister', nick: this.nick }, 'deregister'));
    this.emit('deregistered', { nick: this.nick });
  }

  /** Why `send(to, text)` would be refused right now, or undefined: lets a caller answer at once. */
  checkSend(to: string, text: string): UdpchatError | undefined {
    if (!this.#life.online) return new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
    const problem = textProblem(text);
    if (problem) return problem;
    return this.checkPeer(to);
  }

  /**
   * Why `to` cannot be written to (this client itself, or a nick not in the table), or
   * undefined. Beyond the table limit a nick not held is looked up by `send`.
   */
  checkPeer(to: string): UdpchatError | undefined {
    if (to === this.nick) return new UdpchatError('ERR_SELF_MESSAGE', 'message to yourself');
    if (!this.#table.has(to) && !this.#watching.active) return new UdpchatError('ERR_UNKNOWN_NICK', `no user ${to}`);
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
    if (!this.#life.online && this.#watching.active) throw new UdpchatError('ERR_NOT_ONLINE', 'you are offline');
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
    if (!this.#life.online) throw new UdpchatError('ERR_NOT_ONLINE', 'the user list is not kept while offline');
    if (this.#watching.active) return this.#watching.page(online, page);
    const entries = this.table().filter((entry) => !online || entry.online).map(({ nick, online }) => ({ nick, online }));
    return { entries, page: 0, pages: 1 };
  }

  /**
   * Sends one message. It is kept in the outbox until its final outcome; messages to one
   * recipient go one after another, in the order typed. Resolves with the first outcome:
   * a final one, or `queued` when the registry does not answer (it is retried, and its
   * final outcome is emitted later). Bad input rejects before anything is kept or sent.
   */
  async send(to: string, text: string): Promise<SendOutcome> {
    const problem = this.checkSend(to, text);
    if (problem) throw problem;
    // Beyond the table limit a nick not held is looked up first (and watched from then on).
    if (!this.#table.has(to) && !(await this.#watching.lookup(to))) throw new UdpchatError('ERR_UNKNOWN_NICK', `no user ${to}`);
    this.#watching.touch(to);
    const entry: OutboxEntry = { mid: this.#endpoint.newId(), to, text, at: Date.now() };
    // Queued now, in call order; it goes out only once it is on disk.
    const durable = this.#outbox.add(entry).catch((error: unknown) => {
      this.#log.warn({ err: error }, 'outbox write failed: sending without a copy on disk');
    });
    return new Promise<SendOutcome>((settle) => this.#enqueue(entry, settle, durable));
  }

  /** Idempotent: frees the port and rejects whatever is under way. */
  async close(): Promise<void> {
    if (this.#life.closed) return;
    this.#life.close();
    clearTimeout(this.#retryTimer);
    this.#table.close();
    this.#order.close();
    this.#paths.close();
    await this.#endpoint.close();
    await this.#outbox.close?.().catch((error: unknown) => this.#log.warn({ err: error }, 'outbox close failed'));
  }

  /**
   * The registry's keys, checked against the pin (pinned on first use), and a cookie for
   * this client's address, which the registration must carry: asked before each one. The
   * hello is padded to be larger than its answer (see HELLO_PAD_CHARS).
   */
  async #hello(): Promise<{ sk: string; ek: string; cookie: string }> {
    const hello = { t: 'hello', nick: this.nick, sk: this.#identity.public.sk, pad: HELLO_PAD } as const;
    const reply = await this.#requestServer(hello, 'register');
    if (reply.t !== 'server_hello') throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    const pinned = this.#account.serverKey ?? this.#serverKeys?.sk;
    if (pinned !== undefined && pinned !== reply.sk) {
      throw new UdpchatError('ERR_SERVER_KEY_CHANGED', 'the server answered with another key than the one pinned');
    }
    if (this.#account.serverKey === undefined && this.#serverKeys === undefined) this.emit('server-key', { sk: reply.sk });
    this.#serverKeys = { sk: reply.sk, ek: reply.ek };
    return { ...this.#serverKeys, cookie: reply.cookie };
  }

  /** The session with the registry's key `ek`, its datagram key taken among the ones the registry may use. */
  async #registrySession(ek: string): Promise<{ enc: string }> {
    const session = await this.#sessions.datagramSession(ek);
    this.#registryKeys.delete(session.mac.sid);
    this.#registryKeys.set(session.mac.sid, session.mac.key);
    if (this.#registryKeys.size > REGISTRY_SESSIONS_KEPT) this.#registryKeys.delete(this.#registryKeys.keys().next().value!);
    return session;
  }

  #sharing: Promise<void> = Promise.resolve();

  /**
   * Settles once the session with the registry that a registration set up afterwards has
   * been told to the registry (or could not be): from then on its pushes come under it.
   */
  registrySessionShared(): Promise<void> {
    return this.#sharing;
  }

  /** Sets the session with the registry up after the registration, and tells the registry (best effort). */
  async #shareSession(ek: string): Promise<void> {
    try {
      const session = await this.#registrySession(ek);
      if (!this.#life.online) return;
      await this.#endpoint.request(this.#life.server, { t: 'session', nick: this.nick, session: session.enc }, this.#toServer());
    } catch (error) {
      this.#log.debug({ err: error }, 'session with the registry not set up: its datagrams stay signed');
    }
  }

  /**
   * A peer's chats (and their fragments) may come authenticated under the datagram key of
   * a session it sealed an earlier message in, instead of signed; the registry's requests
   * under the key of the session this client set up with it; nothing else may.
   */
  #macKeyFor(by: string, sid: string, message: Message): Buffer | undefined {
    // The registry's requests, under the session this client set up with it at registration.
    if (by === REGISTRY_NAME) return this.#registryKeys.get(sid);
    if (message.t !== 'chat' && message.t !== 'frag') return undefined;
    if (message.t === 'chat' && message.from !== by) return undefined;
    const entry = this.#table.get(by);
    return entry ? this.#sessions.incomingMac(sid, entry.ek) : undefined;
  }

  /**
   * Whose key checks a datagram: the registry's (its hello is self-signed: the pin decides),
   * or the one the registry's table binds to the peer's nick, who may speak only for itself.
   */
  #keyFor(by: string, message: Message): KeyObject | undefined {
    if (by === REGISTRY_NAME) {
      // A pinned registry's hello must be signed by the pinned key (a forged one is dropped);
      // an unpinned one is self-signed, and its key is pinned (trust on first use).
      const pinned = this.#account.serverKey;
      if (message.t === 'server_hello') return cachedSigningKey(pinned ?? message.sk);
      return this.#serverKeys ? cachedSigningKey(this.#serverKeys.sk) : undefined;
    }
    const entry = this.#table.get(by);
    if (!entry) {
      // Beyond the table limit a peer that writes (or punches) first is looked up, for its next try.
      if (message.t === 'chat' || message.t === 'frag' || message.t === 'punch') this.#watching.learn(by);
      return undefined;
    }
    if (!isReply(message) && 'from' in message && message.from !== by) return undefined;
    return cachedSigningKey(entry.sk);
  }

  #sealFor(peer: TableEntry, mid: string, text: string): Promise<Sealed> {
    return this.#sessions.seal(new TextEncoder().encode(text), peer.ek, messageAad(this.nick, peer.nick, mid));
  }

  /**
   * The text of a message sealed to this client by `from` (whose key the table gives):
   * undefined when it does not open, null when the table does not know `from` yet.
   */
  async #openFrom(from: string, mid: string, sealed: Sealed): Promise<string | undefined | null> {
    const sender = this.#table.get(from);
    if (!sender) return null;
    // A peer making this client agree on keys again and again (fresh sessions, one-shot
    // seals) is held to its budget: past it, nothing more of it is opened for a while.
    if (!this.#sessions.opensCheaply(sealed, sender.ek)) {
      try {
        await this.#peerSessions.consume(from);
      } catch {
        this.#sessionBudgetRefusals++;
        return null;
      }
    }
    try {
      const bytes = await this.#sessions.open(sealed, messageAad(from, this.nick, mid), sender.ek);
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return undefined;
    }
  }

  /** Requests to the registry: its retry budget, and only its signature answers them. */
  #toServer(): RequestOptions {
    return { timeoutMs: this.#options.serverTimeoutMs, tries: this.#options.serverTries, signer: REGISTRY_NAME };
  }

  /** A heartbeat's budget: the usual one, or with several nodes half of `failoverMs` (spread over three tries). */
  #heartbeatOptions(): RequestOptions {
    if (this.#life.nodes < 2) return this.#toServer();
    return { ...this.#toServer(), ...spreadTries(Math.min(this.#options.failoverMs / 2, this.#options.serverTimeoutMs * this.#options.serverTries), 3) };
  }

  #enqueue(entry: OutboxEntry, settle?: (outcome: SendOutcome) => void, durable: Promise<void> = Promise.resolve()): void {
    let queue = this.#queues.get(entry.to);
    if (!queue) this.#queues.set(entry.to, (queue = []));
    queue.push({ entry, attempts: 0, sends: 0, settle, durable });
    void this.#drain(entry.to);
  }

  /**
   * Starts a try for every message within the window at the head of `to`'s queue that has
   * none under way (or whose last try left it queued). Each waits for the one before it
   * before going to the registry, so the mailbox keeps them in order.
   */
  #launch(to: string): void {
    const queue = this.#queues.get(to);
    if (!queue || !this.#life.online) return;
    // The window counts tries under way: those done wait to settle in order but free their
    // place, so one slow message (say, gone to the registry) does not stall the rest, up to
    // a span of SPAN_WINDOWS windows from the head.
    const window = Math.max(1, this.#options.sendWindow);
    // Every message ever started lies within the span: the head only moves forward.
    const span = Math.min(queue.length, window * SPAN_WINDOWS);
    let underway = 0;
    for (let i = 0; i < span; i++) if (queue[i]!.running && queue[i]!.outcome === undefined) underway++;
    for (let i = 0; i < span && underway < window; i++) {
      const item = queue[i]!;
      if (item.running && item.outcome !== 'queued') continue;
      underway++;
      const before = i > 0 ? queue[i - 1] : undefined;
      item.outcome = undefined;
      const running = item.durable.then(() => this.#attempt(item, before));
      item.running = running;
      void running.then((outcome) => {
        if (item.running !== running) return;
        item.outcome = outcome;
        if (outcome !== 'queued' && this.#draining.has(to)) this.#launch(to); // its place is free
      });
    }
  }

  /** Works through one recipient's queue in order; stops at a message that must wait. */
  async #drain(to: string): Promise<void> {
    if (this.#draining.has(to)) return this.#launch(to);
    this.#draining.add(to);
    try {
      const queue = this.#queues.get(to) ?? [];
      while (queue.length > 0 && this.#life.online) {
        this.#launch(to);
        const item = queue[0]!;
        const outcome = await item.running!;
        if (outcome === 'queued') {
          item.settle?.('queued');
          item.settle = undefined;
          this.#scheduleRetry();
          return;
        }
        queue.shift();
        // Settled in the order typed: the next one names it (a failed one never arrives).
        if (outcome !== 'failed') this.#lastSettled.set(to, { mid: item.entry.mid, at: Date.now(), taken: isTaken(outcome) });
        await this.#outbox.remove(item.entry.mid).catch((error: unknown) => this.#log.warn({ err: error }, 'outbox write failed'));
        item.settle?.(outcome);
      }
      if (queue.length === 0) this.#queues.delete(to);
    } finally {
      this.#draining.delete(to);
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#life.closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retryAll();
    }, this.#options.outboxRetryMs);
    this.#retryTimer.unref();
  }

  #retryAll(): void {
    for (const to of this.#queues.keys()) void this.#drain(to);
  }

  /**
   * One try at a message: directly, else through the registry. Progress is told once.
   * `before` is the message ahead of it in the queue (not yet settled in order): named as `after`.
   */
  async #attempt(item: QueuedMessage, before?: QueuedMessage): Promise<SendOutcome> {
    const { mid, to, text } = item.entry;
    const prior = before?.running;
    const after = before
      ? { after: before.entry.mid, ...(before.outcome && isTaken(before.outcome) ? { afterTaken: true as const } : {}) }
      : this.#afterFor(to);
    const peer = this.#table.get(to) ?? (await this.#watching.lookup(to).catch(() => undefined));
    if (!peer) {
      if (this.#watching.active && !this.#life.online) return 'queued'; // looked up once online again
      this.emit('send-failed', { to, mid, reason: 'no such user' });
      return 'failed';
    }
    // Sealed once, to the key the table gives the recipient now; kept for every try.
    if (item.sealed?.ek !== peer.ek) item.sealed = { ek: peer.ek, value: await this.#sealFor(peer, mid, text) };
    const sealed = item.sealed.value;
    // Paths (paths.ts): the open path to the peer, or one punched now; none when nothing answered the punch.
    const target = peer.online ? await this.#paths.addressFor(peer) : undefined;
    if (target) {
      // Signed until the peer has answered a message of this session; then under its key.
      const mac = this.#sessions.macFor(peer.ek, sealed);
      try {
        await this.#endpoint.request(
          target,
          { t: 'chat', from: this.nick, mid, sealed, ...after },
          { ...spreadTries(this.#options.ackTimeoutMs, this.#options.peerTries), signer: to, ...(mac ? { mac } : {}) },
          `${mid}.${++item.sends}`,
        );
        this.#sessions.confirm(peer.ek, sealed, true);
        this.emit('delivered', { to, mid });
        return 'delivered';
      } catch (error) {
        // Paths: the path died (say, a NAT forgot it); the next message punches again.
        if (isUdpchatError(error, 'ERR_TIMEOUT')) this.#paths.unreached(to);
        // The peer may have lost the session (say, it restarted): the next message is signed.
        if (mac) this.#sessions.confirm(peer.ek, sealed, false);
        // No ACK, or the peer refused it (say, its reassembly buffer was full): the registry
        // is the other way there. Only a client shutting down stops here.
        if (isUdpchatError(error, 'ERR_CLOSED')) return 'queued';
        if (!isUdpchatError(error, 'ERR_TIMEOUT')) this.#log.debug({ err: error, to }, 'direct send refused');
      }
    }
    // The registry keeps messages in the order they reach it: none goes ahead of an earlier one.
    if (prior && (await prior) === 'queued') return 'queued';
    const first = item.attempts++ === 0;
    if (first) this.emit('fallback', { to, mid, reason: peer.online ? 'no-ack' : 'offline' });
    let reply;
    const server = this.#life.server;
    try {
      reply = await this.#endpoint.request(
        server,
        { t: 'save', from: this.nick, to, mid, sealed, ...after },
        this.#toServer(),
      );
    } catch (error) {
      if (isUdpchatError(error, 'ERR_TIMEOUT')) {
        this.#life.unanswered(server); // kept in the outbox: tried again once registered with the next node
        if (first) {
          this.emit('server-not-responding', { action: 'save' });
          this.emit('queued', { to, mid });
        }
        return 'queued';
      }
      return this.#attemptFailed(error, item);
    }
    if (reply.t !== 'save_result') return this.#attemptFailed(new UdpchatError('ERR_REMOTE', `unexpected ${reply.t}`), item);
    if (reply.outcome === 'saved') {
      this.emit('saved', { to, mid });
      return 'saved';
    }
    this.#paths.relayed(to); // Paths: told when no path could be punched
    this.emit('exists', { to }); // the registry pushes this client a fresh table too
    this.emit('delivered', { to, mid });
    return 'relayed';
  }

  /**
   * The next message names the one settled before it, so the recipient shows them in order
   * whatever path each took: a saved one may still be in the mailbox when the recipient comes
   * online, an acknowledged one may still wait there for its own predecessor. Past the
   * recipient's memory of what it has taken (a minute is well inside it) there is no race.
   */
  #afterFor(to: string): { after?: string; afterTaken?: true } {
    const last = this.#lastSettled.get(to);
    if (!last) return {};
    if (Date.now() - last.at > AFTER_WINDOW_MS) {
      this.#lastSettled.delete(to);
      return {};
    }
    return { after: last.mid, ...(last.taken ? { afterTaken: true as const } : {}) };
  }

  #attemptFailed(error: unknown, item: QueuedMessage): SendOutcome {
    const { mid, to } = item.entry;
    if (isUdpchatError(error, 'ERR_CLOSED')) return 'queued'; // kept in the outbox for the next start
    // The registry could not keep it right now (its store is down): kept, tried again later.
    // So can a relay past the pair's budget (paths that could not be punched: see docs/nat.md).
    if (isUdpchatError(error, 'ERR_STORE_FAILED') || isUdpchatError(error, 'ERR_INTERNAL') || isUdpchatError(error, 'ERR_TRY_LATER')) return 'queued';
    if (isUdpchatError(error, 'ERR_NOT_REGISTERED')) {
      // The registry lost track of us: register again, then this message goes on (unless
      // the user has just said dereg: then it waits for reg).
      void this.#life.registerAgain('the registry does not know this client here');
      return 'queued';
    }
    const reason = isUdpchatError(error, 'ERR_UNKNOWN_NICK') ? 'no such user' : (error as Error).message;
    this.emit('send-failed', { to, mid, reason });
    return 'failed';
  }

  async #requestServer(body: RequestBody, action: ClientEvents['server-not-responding']['action']) {
    const server = this.#life.server;
    try {
      return await this.#endpoint.request(server, body, this.#toServer());
    } catch (error) {
      if (isUdpchatError(error, 'ERR_TIMEOUT')) {
        this.emit('server-not-responding', { action });
        if (action === 'group' || action === 'watch') this.#life.unanswered(server);
      }
      throw error;
    }
  }

  /**
   * The registry's table outgrew its limit while this client held it whole: from now on it
   * holds only its contacts, and says so to the registry.
   */
  #enterWatchMode(): void {
    this.#table.enterWatchMode((nick) => this.#contacts.has(nick));
    if (!this.#life.online) return;
    void this.#watching.watchContacts().catch((error: unknown) => this.#log.warn({ err: error }, 'contacts not watched'));
  }

  /**
   * The table replica found this client offline in the table: while it is online (a presence
   * probe of the registry's went unanswered, say on a lossy link), a heartbeat now puts it
   * right, rather than the next one up to an interval later.
   */
  #correctPresence(): void {
    if (this.#life.online) void this.#life.beat();
  }

  #resyncing = false;
  #resyncs = 0;

  /** Asks for the whole table (it comes as a `table` push); one request at a time. */
  #resync(): void {
    if (this.#resyncing || !this.#life.online) return;
    this.#resyncing = true;
    this.#resyncs++;
    this.#endpoint
      .request(this.#life.server, { t: 'table_sync', nick: this.nick }, this.#toServer())
      .catch((error: unknown) => this.#log.debug({ err: error }, 'table resync not answered'))
      .finally(() => (this.#resyncing = false));
  }

  #onRequest(request: Request, from: Address, respond: Respond, by: string | undefined): void {
    // Paths: a peer's punch (signed by it: the transport checked) opens the path it came by.
    if (request.t === 'punch') {
      if (this.#life.online && by === request.from && request.to === this.nick && this.#paths.onPunch(request.from, from)) respond({ t: 'ack' });
      return;
    }
    // What only the registry may say (tables, deliveries, probes, group traffic) must carry
    // its signature, not merely come from its address: any user could sign from there.
    // From any node's address: nodes of one cluster share the registry's key.
    if (request.t !== 'chat' && by !== REGISTRY_NAME) {
      this.#log.debug({ type: request.t, by }, 'not signed by the registry');
      return;
    }
    switch (request.t) {
      case 'chat':
        return void this.#onChat(request, from, respond).catch((error: unknown) => this.#log.warn({ err: error }, 'chat failed'));
      case 'deliver':
        return void this.#onDeliver(request, respond).catch((error: unknown) => this.#log.warn({ err: error }, 'delivery failed'));
      case 'table': {
        // Taken in any state: the first one may overtake the registration's own reply.
        if (this.#life.closed) return;
        respond({ t: 'ack' });
        return this.#table.onTable(request);
      }
      case 'group_msg':
        // Only a member in group mode answers; silence gets a stale member removed.
        if (!this.#life.online || this.#group !== request.group) return;
        respond({ t: 'ack' });
        if (this.#shown.add(`${request.from}|${request.mid}`, true)) {
          this.emit('group-message', { group: request.group, from: request.from, text: request.text, mid: request.mid });
        }
        return;
      case 'group_removed':
        respond({ t: 'ack' });
        if (this.#group !== request.group) return;
        if (request.nick === this.nick) {
          this.#leftGroup(() => this.emit('removed-from-group', { group: request.group }));
        } else {
          this.emit('group-member-gone', { group: request.group, nick: request.nick, reason: request.reason });
        }
        return;
      case 'table_delta': {
        if (this.#life.closed) return;
        respond({ t: 'ack' });
        return this.#table.onDelta(request);
      }
      case 'presence': {
        if (this.#life.closed) return;
        respond({ t: 'ack' });
        return this.#table.onPresence(request);
      }
      case 'introduction':
        // Paths: a peer has no path to this client; both punch now.
        respond({ t: 'ack' });
        if (this.#life.online) this.#paths.onIntroduction(request.peer, request);
        return;
      case 'probe':
        // Silence is the answer of a client that is offline or is not the one asked for.
        if (this.#life.online && request.nick === this.nick) respond({ t: 'ack' });
        return;
      default:
        this.#log.debug({ type: request.t }, 'request a client does not take');
    }
  }

  async #onChat(request: MessageOf<'chat'>, from: Address, respond: Respond): Promise<void> {
    // After dereg a client does not answer peers: their messages go to the registry.
    if (!this.#life.online) return;
    const peer = this.#table.get(request.from);
    // Paths: its table address, or the path punched to it.
    if (!peer || !this.#paths.accepts(peer, from)) {
      this.#log.debug({ claimed: request.from }, 'chat from an address the table does not give that nick');
      return;
    }
    const key = `${request.from}|${request.mid}`;
    if (this.#order.has(request.from, request.mid)) return respond({ t: 'ack' }); // already taken (it came another way too)
    if (this.#opening.has(key)) return; // a copy is being opened right now; the sender tries again
    if (!(await this.#peerChats.consume(request.from).then(() => true, () => false))) {
      this.#chatBudgetRefusals++;
      return; // unanswered: past its budget, the sender's copies go by the registry
    }
    if (this.#opening.has(key)) return;
    this.#opening.add(key);
    const text = await this.#openFrom(request.from, request.mid, request.sealed);
    this.#opening.delete(key);
    // Only what could be opened is acknowledged: the sender learns of anything else.
    if (text === undefined || text === null) {
      return respond({ t: 'err', code: WireError.BAD_REQUEST, message: 'the message could not be opened' });
    }
    respond({ t: 'ack' });
    this.#watching.touch(request.from);
    this.#order.receive({
      path: 'live',
      from: request.from,
      mid: request.mid,
      text,
      ...(request.after === undefined ? {} : { after: request.after }),
      ...(request.afterTaken ? { afterTaken: true } : {}),
      ...(request.all ? { all: true } : {}),
    });
  }

  /**
   * Saved or relayed messages from the registry, opened one by one in order, and
   * acknowledged (so deleted from the mailbox) once all are opened. One that cannot be
   * opened (sealed to a key this nick had before) is said so, not dropped in silence.
   */
  async #onDeliver(request: MessageOf<'deliver'>, respond: Respond): Promise<void> {
    if (this.#life.closed) return;
    // Beyond the table limit, senders this client does not hold are looked up first.
    const senders = new Set(request.messages.map((message) => message.from));
    for (const sender of senders) {
      if (this.#table.has(sender) || !this.#watching.active) continue;
      await this.#watching.lookup(sender).catch((error: unknown) => this.#log.debug({ err: error }, 'look-up of a sender failed'));
    }
    for (const sender of senders) this.#watching.touch(sender);
    const opened: Array<string | null | undefined> = [];
    for (const { from: sender, mid, sealed } of request.messages) {
      if (this.#order.has(sender, mid)) {
        opened.push(null);
        continue;
      }
      const text = await this.#openFrom(sender, mid, sealed);
      // A sender this client's table does not know yet (the table is still on its way):
      // not acknowledged, so the registry keeps the batch and tries again.
      if (text === null) return;
      opened.push(text);
    }
    respond({ t: 'ack' });
    const path = request.kind === 'relayed' ? 'live' : 'saved';
    if (path === 'saved' && request.first) this.#savedLineDue = true;
    // In the batch's order: saved ones are in the order their senders sent them.
    request.messages.forEach(({ from: sender, ts, mid, after, afterTaken }, index) => {
      const text = opened[index];
      if (text === null) return;
      this.#order.receive({
        path,
        from: sender,
        mid,
        ts,
        ...(after === undefined ? {} : { after }),
        ...(afterTaken ? { afterTaken } : {}),
        ...(text === undefined ? {} : { text }),
      });
    });
    if (path === 'saved') this.#order.caughtUp(request.messages.length);
  }

  /** A private message whose turn has come (see ReceiveOrder). */
  #showPrivate(message: Received): void {
    const { from, mid, text } = message;
    if (text === undefined) return this.#emitPrivate('unreadable', { from, mid });
    if (message.path === 'live') {
      return this.#emitPrivate('message', { from, text, mid, ...(message.all ? { all: true } : {}) });
    }
    if (this.#savedLineDue) {
      this.#savedLineDue = false;
      this.#emitPrivate('saved-messages', {});
    }
    this.#emitPrivate('saved-message', { from, text, ts: message.ts ?? Date.now(), mid });
  }
}

/** The recipient acknowledged a message with this outcome (directly, or to the registry that relayed it). */
function isTaken(outcome: SendOutcome): boolean {
  return outcome === 'delivered' || outcome === 'relayed';
}

function textProblem(text: string): UdpchatError | undefined {
  if (text.trim() === '') return new UdpchatError('ERR_EMPTY_MESSAGE', 'empty message');
  if (CONTROL_CHARACTER.test(text)) return new UdpchatError('ERR_CONTROL_CHARACTER', 'a message may hold no control character but tab');
  if (encodedTextBytes(text) > MAX_TEXT_BYTES) {
    return new UdpchatError('ERR_TEXT_TOO_LONG', `a message is at most ${MAX_TEXT_BYTES} bytes`);
  }
  return undefined;
}
