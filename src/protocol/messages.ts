// Every datagram udpchat exchanges, as zod schemas. Requests carry an `id` and are answered
// by exactly one reply carrying `re` (the request's id). Replies are never retried and
// never answered. See docs/protocol.md for the flow of each.
import * as z from 'zod/mini';
import {
  WireError,
  MAX_DELIVERY_BATCH,
  MAX_FRAGMENTS,
  MAX_MERGED_ACKS,
  HELLO_PAD_CHARS,
  MAX_GROUPS,
  MAX_PAGE_ENTRIES,
  MAX_TABLE_PAGES,
  MAX_WATCH,
  LIST_PAGE,
  PROTOCOL_VERSION,
  WATCH_BATCH,
} from './constants.js';
import {
  after,
  afterTaken,
  endpointAddressSchema,
  id,
  localAddresses,
  natMappingSchema,
  nick,
  port,
  publicKey,
  savedMessageSchema,
  sealedSchema,
  seqSchema,
  tableEntrySchema,
  tableSnapshotSchema,
  text,
} from './fields.js';

const version = z.literal(PROTOCOL_VERSION);

/**
 * Set on a request by a sender that takes its `ack` merged with others in one `acks` reply (a
 * client does): a receiver answers a request without it with an `ack` of its own.
 */
const acks = z.optional(z.literal(true));
const request = <T extends string, S extends z.core.$ZodShape>(type: T, shape: S) =>
  z.object({ v: version, t: z.literal(type), id, acks, ...shape });
const reply = <T extends string, S extends z.core.$ZodShape>(type: T, shape: S) =>
  z.object({ v: version, t: z.literal(type), re: id, ...shape });

const requestSchemas = {
  /** client → registry: your keys, please (answered `server_hello`; pinned on first use). */
  hello: () =>
    request('hello', {
      nick,
      sk: publicKey,
      pad: z.string().check(z.minLength(HELLO_PAD_CHARS), z.maxLength(1024)),
    }),
  /**
   * client → registry: put me in the table at the address this came from, bound to these
   * keys. `password` (sealed to the registry) logs in to an account, or with
   * `account: 'create'` makes one.
   */
  register: () =>
    request('register', {
      nick,
      sk: publicKey,
      ek: publicKey,
      password: z.optional(sealedSchema),
      account: z.optional(z.enum(['login', 'create'])),
      /**
       * The `enc` of an HPKE session the client set up with the registry's key (Auth mode,
       * with its own `ek`): the registry then authenticates what it sends this client under
       * the session's datagram key instead of signing it (see docs/security.md).
       */
      session: z.optional(z.string().check(z.maxLength(64))),
      /**
       * The cookie of a `server_hello` this address received lately: proof that it receives
       * what is sent to it. Without a valid one the registry keeps nothing and sends nothing
       * larger than an error.
       */
      cookie: z.optional(z.string().check(z.maxLength(64))),
      /** The client's addresses on its own networks, told only to peers behind the same public address. */
      local: z.optional(localAddresses),
    }),
  /** client → registry: mark me offline. */
  deregister: () => request('deregister', { nick }),
  /** client → registry: keep (or relay) this message for `to`. */
  save: () =>
    request('save', { from: nick, to: nick, mid: id, after, afterTaken, sealed: sealedSchema }),
  /** client → client: a direct chat message. */
  chat: () =>
    request('chat', {
      from: nick,
      mid: id,
      after,
      afterTaken,
      sealed: sealedSchema,
      /** Sent to everyone online (broadcast), not to this recipient alone. */
      all: z.optional(z.literal(true)),
    }),
  /** client → registry: create, join, leave or list groups, or list a group's members. */
  group: () =>
    request('group', {
      from: nick,
      op: z.enum(['create', 'join', 'leave', 'list', 'members']),
      group: z.optional(nick),
      /** `list` and `members`: the page from this position on (the `next` of the page before). */
      start: z.optional(z.int().check(z.nonnegative(), z.lte(MAX_GROUPS))),
    }),
  /** client → registry: a message to the sender's group; answered once the registry has it. */
  group_send: () => request('group_send', { from: nick, group: nick, mid: id, text }),
  /** registry → member: a message in its group; a member that does not ACK is removed. */
  group_msg: () => request('group_msg', { group: nick, from: nick, mid: id, text }),
  /** registry → member: `nick` left or was removed from the group (it may be the member itself). */
  group_removed: () =>
    request('group_removed', {
      group: nick,
      nick,
      reason: z.enum(['left', 'removed']),
    }),
  /** client → registry: still here (every heartbeat interval while online). */
  heartbeat: () => request('heartbeat', { nick, sk: publicKey }),
  /**
   * Piece `i` of `n` of a request too large for one datagram (base64 of its bytes).
   * Every piece but the last is answered `ack`; the last is sent once the others are
   * acknowledged, and its reply is the reply to the whole request.
   */
  frag: () =>
    request('frag', {
      of: id,
      i: z.int().check(z.nonnegative()),
      n: z.int().check(z.gte(2), z.lte(MAX_FRAGMENTS)),
      data: z.string().check(z.maxLength(1200)),
    }),
  /** registry → client: are you `nick`, and online? */
  probe: () => request('probe', { nick }),
  /** registry → client: the client table changed. */
  table: () =>
    request('table', {
      table: z.extend(tableSnapshotSchema, {
        entries: z.array(tableEntrySchema).check(z.maxLength(MAX_PAGE_ENTRIES)),
      }),
      /**
       * A table of more than MAX_PAGE_ENTRIES nicks comes in `pages` pages of one version,
       * numbered from 0; the client takes it once it holds them all.
       */
      page: z.optional(z.int().check(z.nonnegative(), z.lte(MAX_TABLE_PAGES - 1))),
      pages: z.optional(z.int().check(z.gte(1), z.lte(MAX_TABLE_PAGES))),
      /** Take it even if not newer: the classic refresh after "Client <nick> exists!!". */
      refresh: z.optional(z.literal(true)),
    }),
  /**
   * registry → client: what changed between two versions of the table (entries added or
   * changed). A client holding version `from` of `epoch` applies it; any other asks for
   * the whole table with `table_sync`.
   */
  table_delta: () =>
    request('table_delta', {
      epoch: z.string().check(z.minLength(1), z.maxLength(32)),
      from: z.int().check(z.nonnegative()),
      to: z.int().check(z.positive()),
      entries: z.array(tableEntrySchema).check(z.maxLength(MAX_PAGE_ENTRIES)),
    }),
  /**
   * registry → client, beyond the table limit (see `registered.presence`): what changed of
   * the nicks this client watches, each entry as of table version `version` (an entry older
   * than the one held is ignored). `watch: true` alone tells a client that held the whole
   * table that the table outgrew the limit: it now holds only what it watches.
   */
  presence: () =>
    request('presence', {
      epoch: z.string().check(z.minLength(1), z.maxLength(32)),
      version: z.int().check(z.nonnegative()),
      entries: z.array(tableEntrySchema).check(z.maxLength(MAX_PAGE_ENTRIES)),
      watch: z.optional(z.literal(true)),
      /**
       * A notice: sent once and never answered, numbered 1, 2, 3, … for each watcher by the
       * node that serves it; a client that misses a number watches its contacts again (see
       * docs/protocol.md, presence notices). Without it, a request like any other, answered `ack`.
       */
      seq: z.optional(seqSchema),
    }),
  /**
   * client → registry: watch these nicks (their changes come as `presence`), or stop.
   * Answered `watched` with the entries of the nicks added that the table holds.
   */
  watch: () =>
    request('watch', {
      nick,
      add: z.optional(z.array(nick).check(z.maxLength(WATCH_BATCH))),
      remove: z.optional(z.array(nick).check(z.maxLength(MAX_WATCH))),
      /** Stop watching every nick first. */
      clear: z.optional(z.literal(true)),
    }),
  /** client → registry: one page of the users (`online`: those online only), LIST_PAGE nicks a page. */
  list: () =>
    request('list', {
      nick,
      online: z.boolean(),
      page: z.int().check(z.nonnegative(), z.lte(1_000_000)),
    }),
  /**
   * client → registry: `from` has no direct path to `to` (see docs/nat.md). Answered
   * `introduced` with `to`'s addresses; `to` gets `from`'s as an `introduction`; both then punch.
   */
  introduce: () => request('introduce', { from: nick, to: nick }),
  /**
   * registry → client: `peer` wants a direct path to you: punch towards the address the
   * registry sees it at (and, behind the same public address, its local ones).
   */
  introduction: () =>
    request('introduction', {
      peer: nick,
      ip: z.string().check(z.minLength(1), z.maxLength(64)),
      port,
      local: localAddresses,
      nat: z.optional(natMappingSchema),
    }),
  /**
   * client → client: opens the NATs between two peers (both send at once after an
   * introduction); answered `ack`. Signed by `from`, so only a peer the table knows opens a path.
   */
  punch: () => request('punch', { from: nick, to: nick }),
  /**
   * client → the registry's second port (`registered.natProbe`): where do you see me from
   * here? Answered `nat_seen`, no larger than the request (the address it came from has not
   * proved it receives): `pad` makes room for the answer.
   */
  nat_probe: () => request('nat_probe', { from: nick, pad: z.string().check(z.maxLength(96)) }),
  /** client → registry: send me the whole table (I missed a version). */
  table_sync: () => request('table_sync', { nick }),
  /**
   * client → registry: the session of `register.session`, set up after the registration
   * (so that its cost does not delay the first start): what the registry sends this client
   * from now on goes under its datagram key.
   */
  session: () => request('session', { nick, session: z.string().check(z.maxLength(64)) }),
  /** registry → client: messages saved for you, oldest first. */
  deliver: () =>
    request('deliver', {
      /** `saved`: kept while the recipient was offline. `relayed`: passed on live. */
      kind: z.enum(['saved', 'relayed']),
      messages: z.array(savedMessageSchema).check(z.minLength(1), z.maxLength(MAX_DELIVERY_BATCH)),
      first: z.boolean(),
    }),
} as const;

const replySchemas = {
  ack: () =>
    reply('ack', {
      /**
       * Answering a heartbeat beyond the table limit: the number of the last presence notice
       * this node sent the client, so that it can tell whether it missed one, and the node's
       * table epoch (another than its watches were answered in: the node restarted, and no
       * longer knows what the client watches).
       */
      seq: z.optional(seqSchema),
      epoch: z.optional(z.string().check(z.minLength(1), z.maxLength(32))),
    }),
  /**
   * A plain `ack` of several requests that came from one sender within one turn of the
   * receiver's event loop, under one signature or MAC: `re`, then each of `more`. Only to
   * requests marked `acks` (see docs/protocol.md, merged ACKs).
   */
  acks: () =>
    reply('acks', { more: z.array(id).check(z.minLength(1), z.maxLength(MAX_MERGED_ACKS - 1)) }),
  server_hello: () =>
    reply('server_hello', {
      sk: publicKey,
      ek: publicKey,
      cookie: z.string().check(z.maxLength(64)),
    }),
  /** The table follows as a `table` push (a request, so it may be fragmented). */
  registered: () =>
    reply('registered', {
      /** Saved messages waiting; they are delivered right after this reply. */
      pending: z.optional(z.int().check(z.nonnegative())),
      /**
       * `watch`: the table is beyond the registry's table limit. No table follows; the client
       * says which nicks it watches (`watch`) and hears of those alone (`presence`).
       */
      presence: z.optional(z.literal('watch')),
      /** The address the registry sees this client at (its reflexive address, as STUN tells it). */
      seen: z.optional(endpointAddressSchema),
      /** The registry's second port, where `nat_probe` tells whether this client's NAT maps consistently. */
      natProbe: z.optional(port),
    }),
  /**
   * The answer to `introduce`: where `peer` is (its reflexive address, and local ones behind
   * the same public address), and how its NAT maps when the registry knows.
   */
  introduced: () =>
    reply('introduced', {
      peer: nick,
      ip: z.string().check(z.minLength(1), z.maxLength(64)),
      port,
      local: localAddresses,
      nat: z.optional(natMappingSchema),
    }),
  /** The answer to `nat_probe`: the address the probe came from. */
  nat_seen: () =>
    reply('nat_seen', { ip: z.string().check(z.minLength(1), z.maxLength(64)), port }),
  /**
   * The answer to `watch`: the entries of the nicks added that the table holds, as of table
   * version `version`; `missing` those it does not hold (watched all the same: they may
   * register later); `full` when the watch list is full (the nicks past the limit were not added).
   */
  watched: () =>
    reply('watched', {
      epoch: z.string().check(z.minLength(1), z.maxLength(32)),
      version: z.int().check(z.nonnegative()),
      entries: z.array(tableEntrySchema).check(z.maxLength(WATCH_BATCH)),
      missing: z.array(nick).check(z.maxLength(WATCH_BATCH)),
      full: z.optional(z.literal(true)),
      /** The number of the last presence notice this node sent the client (0: none yet). */
      seq: z.optional(seqSchema),
    }),
  /** One page of `list`: `pages` in all. */
  listing: () =>
    reply('listing', {
      entries: z.array(z.object({ nick, online: z.boolean() })).check(z.maxLength(LIST_PAGE)),
      page: z.int().check(z.nonnegative()),
      pages: z.int().check(z.nonnegative()),
    }),
  /**
   * `saved`: stored for an offline recipient. `relayed`: the recipient was in fact online
   * and the registry delivered it (the classic "Client <nick> exists!!" case).
   */
  save_result: () => reply('save_result', { outcome: z.enum(['saved', 'relayed']) }),
  group_info: () =>
    reply('group_info', {
      status: z.optional(z.enum(['created', 'exists', 'joined', 'missing', 'left'])),
      groups: z.optional(z.array(nick).check(z.maxLength(MAX_GROUPS))),
      members: z.optional(z.array(nick).check(z.maxLength(MAX_GROUPS))),
      /** A listing continues: ask again with this `start`. A listing goes in pages that fit a datagram. */
      next: z.optional(z.int().check(z.positive(), z.lte(MAX_GROUPS))),
    }),
  err: () => reply('err', { code: z.int(), message: z.string().check(z.maxLength(300)) }),
} as const;

// Each message type's schema is built the first time a datagram of that type is checked: zod
// builds a schema at some cost, and a client starting up meets a handful of the types (every
// schema built at once was about a third of the CLI's start-up of its own).
type Builders = typeof requestSchemas & typeof replySchemas;
type Schemas = { [T in keyof Builders]: ReturnType<Builders[T]> };
export type MessageType = keyof Schemas;
export type MessageOf<T extends MessageType> = z.infer<Schemas[T]>;

export type RequestType = keyof typeof requestSchemas;
export type ReplyType = keyof typeof replySchemas;
export type Request = { [T in RequestType]: MessageOf<T> }[RequestType];
export type Reply = { [T in ReplyType]: MessageOf<T> }[ReplyType];
export type Message = Request | Reply;

/** A message before the envelope (`v`, and `id` or `re`) is filled in. */
export type RequestBody = { [T in RequestType]: Omit<MessageOf<T>, 'v' | 'id'> }[RequestType];
export type ReplyBody = { [T in ReplyType]: Omit<MessageOf<T>, 'v' | 're'> }[ReplyType];

const builders: Builders = { ...requestSchemas, ...replySchemas };
/** Each type's schema once built, and how many datagrams it has checked. */
const built = new Map<string, { schema: z.ZodMiniType; uses: number }>();

/** Every message type there is. */
export const MESSAGE_TYPES: ReadonlySet<string> = new Set(Object.keys(builders));

/**
 * Datagrams of one type checked by its schema as written before it is compiled: compiling
 * takes 0.2 to 5 ms a type, and the types a client meets once or twice as it starts (the
 * registry's hello, its registration, the first table) are never worth it.
 */
export const COMPILE_AFTER = 16;

/** The schema of one message type (`t`) as written above, built anew. */
export function buildSchema<T extends MessageType>(type: T): Schemas[T] {
  return builders[type]() as Schemas[T];
}

/**
 * The schema of one message type (`t`), built on first use and, once it has checked
 * COMPILE_AFTER datagrams, compiled by zod (`z.compile`): one generated function checks a
 * datagram of that type, where the schema as written is a tree of checks walked at each parse.
 * A datagram it refuses goes through that tree for the reason. Right after start, when a
 * client runs code V8 has not optimised yet, that was about 60 µs of CPU less a message at a
 * sender and 100 µs at a receiver, measured through the binary.
 */
export function schemaOf<T extends MessageType>(type: T): Schemas[T] {
  let entry = built.get(type);
  if (entry === undefined) built.set(type, (entry = { schema: buildSchema(type), uses: 0 }));
  else if (++entry.uses === COMPILE_AFTER) entry.schema = z.compile(entry.schema);
  return entry.schema as Schemas[T];
}

export function isReply(message: Message): message is Reply {
  return 're' in message;
}

/** An `err` reply: the wire code of error `name`, and a message for people. */
export function errorReply(name: keyof typeof WireError, message: string): ReplyBody {
  return { t: 'err', code: WireError[name], message };
}
