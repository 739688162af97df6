// The store in Redis (one server or a Cluster), for several registry nodes sharing their state;
// also how nodes announce their changes to each other (pub/sub).
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { SavedMessage } from '../protocol/fields.js';
import type { Budget, ClientRecord, Store } from './store.js';

export interface RedisStoreOptions {
  /**
   * `redis://host:port[/db]` (or `rediss://`, TLS) for one Redis; `redis-cluster://host:port[,host:port…]`
   * (or `rediss-cluster://`) for a Redis Cluster, given one or more of its nodes.
   */
  url: string;
  /** Every key starts with this (several clusters, or test runs, can share one Redis). */
  prefix?: string;
  /** Where connection trouble is told (ioredis would print it to stderr otherwise). */
  logger?: Logger;
  /** A command Redis does not answer within this fails (so a save fails, and is retried by its sender). */
  commandTimeoutMs?: number;
}

const CLUSTER_URL = /^(rediss?)-cluster:\/\/(?:([^@/]*)@)?([^@/]+)$/;

/** What a `redis-cluster://` URL gives: the seed nodes and the credentials. */
export interface ClusterSeeds {
  nodes: Array<{ host: string; port: number }>;
  tls: boolean;
  username?: string;
  password?: string;
}

/** The seed nodes and credentials of a `redis-cluster://` URL, or undefined for any other URL. */
export function clusterNodes(url: string): ClusterSeeds | undefined {
  const match = CLUSTER_URL.exec(url);
  if (!match) return undefined;
  const [, scheme, credentials, hosts] = match;
  const nodes = hosts.split(',').map((item) => {
    const cut = item.lastIndexOf(':');
    return { host: item.slice(0, cut).replace(/^\[|\]$/g, ''), port: Number(item.slice(cut + 1)) };
  });
  const [username, password] =
    credentials === undefined
      ? []
      : credentials.includes(':')
        ? credentials.split(/:(.*)/s)
        : [undefined, credentials];
  return {
    nodes,
    tls: scheme === 'rediss',
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
}

/**
 * The registry's state in Redis, for several registry nodes at once: the table in a hash,
 * one list per mailbox (appended on save, trimmed only once the recipient ACKs), groups in
 * a hash. Each call resolves once Redis has the change; durability beyond that is Redis's
 * (run it with appendonly yes). A mailbox is three keys: the list, the set of its ids, and a
 * hash of how many each sender has in it. On a Redis Cluster they carry the nick as their hash
 * tag (`mailbox:{bob}`, `mailbox-ids:{bob}`, `mailbox-senders:{bob}`), so the scripts that
 * touch them run on one node, and the announcements go by sharded pub/sub (SPUBLISH, SSUBSCRIBE).
 */
export class RedisStore implements Store {
  readonly location: string;
  readonly #options: RedisStoreOptions;
  readonly #cluster: boolean;
  readonly #prefix: string;
  /** Made by `open`: ioredis is loaded only then (it is most of what importing udpchat costs). */
  #client: Redis | Cluster | undefined;
  #opening: Promise<void> | undefined;

  readonly #log: Logger | undefined;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'udpchat:';
    this.#log = options.logger;
    // Shown and logged without the password a URL may carry.
    this.location = `${options.url.replace(/\/\/[^@/]*@/, '//***@')} (keys ${this.#prefix}*)`;
    this.#cluster = clusterNodes(options.url) !== undefined;
  }

  /** The connection to Redis, once `open` has made it. */
  get redis(): Redis | Cluster {
    if (!this.#client) throw new Error('the Redis store is not open: call open() first');
    return this.#client;
  }

  key(...parts: string[]): string {
    return `${this.#prefix}${parts.join(':')}`;
  }

  /** A mailbox's list and id set: in one hash slot on a cluster (the nick as hash tag). */
  #mailboxKeys(nick: string): { list: string; ids: string; senders: string } {
    const tag = this.#cluster ? `{${nick}}` : nick;
    return {
      list: this.key('mailbox', tag),
      ids: this.key('mailbox-ids', tag),
      senders: this.key('mailbox-senders', tag),
    };
  }

  /**
   * Connects (once; a second call waits for the first, and after a failed first, rejects the
   * same way: a store that could not connect is not tried again, a new one is made).
   */
  open(): Promise<void> {
    this.#opening ??= this.#connect();
    return this.#opening;
  }

  async #connect(): Promise<void> {
    // ioredis is CommonJS: its module object (the default import, in the bundle as under
    // Node's own loader) carries both classes; a bundled chunk has no named exports.
    const ioredis = (await import('ioredis')).default;
    const { Cluster, Redis } = ioredis;
    const options = this.#options;
    const connection = {
      maxRetriesPerRequest: 2,
      connectTimeout: 2000,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
    };
    const cluster = clusterNodes(options.url);
    const client = cluster
      ? new Cluster(cluster.nodes, {
          lazyConnect: true,
          enableOfflineQueue: true,
          shardedSubscribers: true,
          clusterRetryStrategy: connection.retryStrategy,
          redisOptions: {
            ...connection,
            ...(cluster.tls ? { tls: {} } : {}),
            ...(cluster.username ? { username: cluster.username } : {}),
            ...(cluster.password ? { password: cluster.password } : {}),
          },
        })
      : new Redis(options.url, { lazyConnect: true, enableOfflineQueue: true, ...connection });
    // What went wrong last: a failed connect rejects with "Connection is closed." alone.
    let trouble: string | undefined;
    client.on('error', (error: Error) => {
      trouble = error.message;
      this.#log?.warn({ err: error.message }, 'redis connection trouble');
    });
    this.#client = client;
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      client.disconnect();
      throw new Error(
        `cannot reach Redis at ${this.location.split(' ')[0]}: ${trouble ?? (error as Error).message}`,
        { cause: error },
      );
    }
  }

  /**
   * A budget every node on this Redis spends from (rate-limiter-flexible's `RateLimiterRedis`,
   * one key per budget key and window). A key this node saw overspent is refused from memory
   * for the rest of its window, so a flood past a budget costs Redis nothing more. While
   * Redis does not answer, each node counts on its own (its insurance limiter) rather than
   * refusing everyone.
   */
  budget(name: string, points: number, seconds: number): Budget {
    return new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix: this.key('budget', name),
      points,
      duration: seconds,
      inMemoryBlockOnConsumed: points + 1,
      insuranceLimiter: new RateLimiterMemory({ points, duration: seconds }),
    });
  }

  /** One `SET NX` with its expiry: the first node to set the key has it; the key goes with its time. */
  async claim(key: string, seconds: number): Promise<boolean> {
    return (await this.redis.set(this.key('claim', key), '1', 'EX', seconds, 'NX')) === 'OK';
  }

  async loadClients(): Promise<ClientRecord[]> {
    return Object.values(await this.redis.hgetall(this.key('clients'))).map(
      (json) => JSON.parse(json) as ClientRecord,
    );
  }

  async loadClient(nick: string): Promise<ClientRecord | undefined> {
    const json = await this.redis.hget(this.key('clients'), nick);
    return json === null ? undefined : (JSON.parse(json) as ClientRecord);
  }

  async putClient(record: ClientRecord): Promise<void> {
    await this.redis.hset(this.key('clients'), record.nick, JSON.stringify(record));
  }

  async saveMessage(to: string, message: SavedMessage): Promise<boolean> {
    // Idempotent by sender and id: the set says whether it is new, in the same transaction.
    const mailbox = this.#mailboxKeys(to);
    const result = await this.redis.eval(
      SAVE_MESSAGE,
      3,
      mailbox.ids,
      mailbox.list,
      mailbox.senders,
      `${message.from}|${message.mid}`,
      JSON.stringify(message),
      message.from,
    );
    return result === 1;
  }

  async pendingMessages(to: string, limit = 10_000): Promise<SavedMessage[]> {
    return (await this.redis.lrange(this.#mailboxKeys(to).list, 0, limit - 1)).map(
      (json) => JSON.parse(json) as SavedMessage,
    );
  }

  async countMessages(to: string, from?: string): Promise<number> {
    const mailbox = this.#mailboxKeys(to);
    if (from === undefined) return this.redis.llen(mailbox.list);
    return Number((await this.redis.hget(mailbox.senders, from)) ?? 0);
  }

  async deleteMessages(
    to: string,
    delivered: ReadonlyArray<Pick<SavedMessage, 'from' | 'mid'>>,
  ): Promise<void> {
    if (delivered.length === 0) return;
    // Delivery takes from the head, so the delivered batch is normally the first k entries:
    // trimmed in one step, O(k), not a scan of the whole mailbox per batch.
    const mailbox = this.#mailboxKeys(to);
    await this.redis.eval(
      TAKE_DELIVERED,
      3,
      mailbox.list,
      mailbox.ids,
      mailbox.senders,
      ...delivered.map((m) => `${m.from}|${m.mid}`),
    );
  }

  async announce(what: string): Promise<void> {
    if (this.#cluster) await (this.redis as Cluster).spublish(this.key('changes'), what);
    else await this.redis.publish(this.key('changes'), what);
  }

  /** A second connection, for subscribing (a subscribed connection can do nothing else). */
  #subscriber: Redis | Cluster | undefined;

  async onAnnouncement(listener: (what: string) => void): Promise<void> {
    if (!this.#subscriber) {
      this.#subscriber = this.redis.duplicate();
      this.#subscriber.on('error', (error: Error) =>
        this.#log?.warn({ err: error.message }, 'redis subscriber trouble'),
      );
    }
    const channel = this.key('changes');
    const subscriber = this.#subscriber;
    subscriber.on(this.#cluster ? 'smessage' : 'message', (from: string, what: string) => {
      if (from === channel) listener(what);
    });
    await (this.#cluster ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel));
  }

  async sharedIdentity(make: () => Promise<string>): Promise<string> {
    const kept = await this.redis.get(this.key('identity'));
    if (kept !== null) return kept;
    await this.redis.set(this.key('identity'), await make(), 'NX'); // the first node's stays
    return (await this.redis.get(this.key('identity')))!;
  }

  async loadGroups(): Promise<Record<string, string[]>> {
    const all = await this.redis.hgetall(this.key('groups'));
    return Object.fromEntries(
      Object.entries(all).map(([name, json]) => [name, JSON.parse(json) as string[]]),
    );
  }

  async putGroup(name: string, members: readonly string[]): Promise<void> {
    await this.redis.hset(this.key('groups'), name, JSON.stringify(members));
  }

  async close(): Promise<void> {
    this.#subscriber?.disconnect();
    const client = this.#client;
    if (client && client.status !== 'end') await client.quit().catch(() => client.disconnect());
  }
}

/**
 * Removes the messages with the given sender|id (ARGV) from a mailbox (KEYS[1]) and its id
 * set (KEYS[2]), atomically. Those at the head go with one LTRIM; any not found there (taken
 * by another node already, or not at the head) are looked for in the rest, so nothing else
 * is ever removed.
 */
const TAKE_DELIVERED = `
local wanted, left = {}, #ARGV
for i = 1, #ARGV do wanted[ARGV[i]] = true end
local function idOf(json)
  local m = cjson.decode(json)
  return tostring(m['from']) .. '|' .. tostring(m['mid'])
end
-- One message fewer from its sender (a nick holds no '|'); a count at 0 goes.
local function taken(id)
  local from = string.match(id, '^[^|]*')
  if redis.call('HINCRBY', KEYS[3], from, -1) <= 0 then redis.call('HDEL', KEYS[3], from) end
end
local head = redis.call('LRANGE', KEYS[1], 0, #ARGV - 1)
local n = 0
for _, json in ipairs(head) do
  local id = idOf(json)
  if not wanted[id] then break end
  wanted[id] = nil
  taken(id)
  n = n + 1
end
if n > 0 then redis.call('LTRIM', KEYS[1], n, -1) end
left = left - n
if left > 0 then
  for _, json in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    local id = idOf(json)
    if wanted[id] then
      redis.call('LREM', KEYS[1], 1, json)
      wanted[id] = nil
      taken(id)
    end
  end
end
redis.call('SREM', KEYS[2], unpack(ARGV))
return n
`;

/** Saves a message once (by sender and id), counting it to its sender. */
const SAVE_MESSAGE = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
return 1
`;
