// The client's conversation with the registry: the request budget, the hello and the pin of the
// registry's key, what a registration carries (password, session), the session its requests go
// under once the registry holds it, and asking for the table.
import { HELLO_PAD_CHARS } from '../protocol/constants.js';
import { isUdpchatError, UdpchatError } from '../protocol/errors.js';
import type { Reply, RequestBody } from '../protocol/messages.js';
import type { Sealed } from '../crypto/sealing.js';
import { REGISTRY_NAME, type DatagramMac } from '../crypto/signing.js';
import { sameAddress, type Address } from '../transport/address.js';
import type { RequestOptions } from '../transport/endpoint.js';
import { spreadTries } from '../transport/retry.js';
import type { RequestChannel } from './channel.js';

/** A hello's padding (see HELLO_PAD_CHARS). */
const HELLO_PAD = '.'.repeat(HELLO_PAD_CHARS);

/** What the server link tells, as the client's events of the same names. */
export interface ServerLinkEvents {
  'server-not-responding': {
    action: 'register' | 'deregister' | 'save' | 'heartbeat' | 'group' | 'watch';
  };
  'server-key': { sk: string };
}

/** The account a registration logs in to (or makes), and the registry's key as pinned earlier. */
export interface Account {
  serverKey?: string;
  password?: string;
  account?: 'login' | 'create';
}

/** The client's keys, as far as its registrations use them (see keyring.ts). */
export interface LinkKeys {
  readonly identity: { readonly public: { sk: string; ek: string } };
  sealPassword(password: string, ek: string, account: string): Promise<Sealed>;
  hasSession(ek: string): boolean;
  registrySession(ek: string): Promise<{ enc: string; mac: DatagramMac }>;
}

/** What the server link needs of the client around it. */
export interface ServerLinkContext {
  readonly nick: string;
  /** A request to the registry: wait per try, and tries. */
  readonly serverTimeoutMs: number;
  readonly serverTries: number;
  /** With several nodes: how soon after its node stops answering a client is on the next one. */
  readonly failoverMs: number;
  readonly channel: Pick<RequestChannel, 'request'>;
  readonly keys: LinkKeys;
  /** The registry node in use, and how many there are (see lifecycle.ts). */
  server(): Address;
  nodes(): number;
  online(): boolean;
  /** `server` left a request unanswered (with several nodes the client moves on). */
  unanswered(server: Address): void;
  emit<K extends keyof ServerLinkEvents>(event: K, payload: ServerLinkEvents[K]): void;
  debug(fields: object, message: string): void;
}

/**
 * The client's side of its conversation with the registry: the request budget, the hello
 * and the pin of the registry's key, what a registration carries (the password sealed to the
 * registry, the session with it), the session shared after a first registration, and asking
 * for the whole table. Which node it speaks to, and when to move on, is the life cycle's.
 */
export class ServerLink {
  readonly #context: ServerLinkContext;
  #account: Account;
  /** The registry's keys, once its hello checked out. */
  #serverKeys: { sk: string; ek: string } | undefined;
  #sharing: Promise<void> = Promise.resolve();
  /**
   * The session the registry node `server` holds for this client (it said so by answering
   * under its key): requests to that node go under it rather than signed. Dropped at each
   * registration, and when the node answers `NO_SESSION`.
   */
  #upstream: { server: Address; mac: DatagramMac } | undefined;
  /** A session was shared again after a `NO_SESSION` in this registration (once only). */
  #reshared = false;
  #resyncing = false;
  #resyncs = 0;

  constructor(context: ServerLinkContext, account: Account) {
    this.#context = context;
    this.#account = { ...account };
  }

  /** The password (and whether to log in or make the account) for the next registration. */
  useAccount(password: string, account: 'login' | 'create'): void {
    this.#account = { ...this.#account, password, account };
  }

  /** The registry's signing key as pinned by the caller, if it was. */
  get pinnedKey(): string | undefined {
    return this.#account.serverKey;
  }

  /** The registry's signing key once its hello checked out. */
  get serverKey(): string | undefined {
    return this.#serverKeys?.sk;
  }

  /** How often this client asked for the whole table. */
  get resyncs(): number {
    return this.#resyncs;
  }

  /** Requests to the registry: its retry budget, and only its signature answers them. */
  options(): RequestOptions {
    return {
      timeoutMs: this.#context.serverTimeoutMs,
      tries: this.#context.serverTries,
      signer: REGISTRY_NAME,
    };
  }

  /** Whether requests to the node in use go under a session it holds (else signed). */
  get underSession(): boolean {
    return this.#upstreamTo(this.#context.server()) !== undefined;
  }

  /**
   * A request to registry node `server` (its budget as `options`, with `extra` over it): under
   * the session it holds for this client, else signed. A node that no longer holds the session
   * answers `NO_SESSION`: the request goes again, signed, and a session is shared anew (once a
   * registration).
   */
  async ask(server: Address, body: RequestBody, extra: Partial<RequestOptions> = {}) {
    const options = { ...this.options(), ...extra };
    const mac = this.#upstreamTo(server);
    if (!mac) return this.#context.channel.request(server, body, options);
    try {
      return await this.#context.channel.request(server, body, { ...options, mac });
    } catch (error) {
      if (!isUdpchatError(error, 'ERR_NO_SESSION')) throw error;
      this.#context.debug(
        { server },
        'the registry holds no session for this client: signed again',
      );
      if (this.#upstream?.mac === mac) this.#upstream = undefined;
      if (!this.#reshared && this.#serverKeys) {
        this.#reshared = true;
        this.shareSession(this.#serverKeys.ek);
      }
      return this.#context.channel.request(server, body, options);
    }
  }

  #upstreamTo(server: Address): DatagramMac | undefined {
    const upstream = this.#upstream;
    return upstream && sameAddress(upstream.server, server) ? upstream.mac : undefined;
  }

  /** A request to the node in use; silence is told as `server-not-responding`, and for group requests reported to the life cycle. */
  async request(
    body: RequestBody,
    action: ServerLinkEvents['server-not-responding']['action'],
  ): Promise<Reply> {
    const server = this.#context.server();
    try {
      return await this.ask(server, body);
    } catch (error) {
      this.#unanswered(error, server, action);
    }
  }

  /** Rethrows `error`; silence (ERR_TIMEOUT) is told first, and for group and watch requests reported to the life cycle. */
  #unanswered(
    error: unknown,
    server: Address,
    action: ServerLinkEvents['server-not-responding']['action'],
  ): never {
    if (isUdpchatError(error, 'ERR_TIMEOUT')) {
      this.#context.emit('server-not-responding', { action });
      if (action === 'group' || action === 'watch') this.#context.unanswered(server);
    }
    throw error;
  }

  /** One heartbeat to `server`: the usual budget, or with several nodes half of `failoverMs` (spread over three tries). */
  heartbeat(server: Address): Promise<Reply> {
    const { nick, keys, failoverMs, serverTimeoutMs, serverTries } = this.#context;
    const options =
      this.#context.nodes() < 2
        ? this.options()
        : {
            ...this.options(),
            ...spreadTries(Math.min(failoverMs / 2, serverTimeoutMs * serverTries), 3),
          };
    return this.ask(server, { t: 'heartbeat', nick, sk: keys.identity.public.sk }, options);
  }

  /**
   * What a registration sends, once the registry's hello checked out: the `register` request
   * and the registry's keys. Without a session with the registry yet, it goes without one
   * (see `shareSession`).
   */
  async registration(): Promise<{
    body: RequestBody;
    server: { sk: string; ek: string };
    /** The session the registration offers (`register` takes it with the body), if any. */
    offered: DatagramMac | undefined;
  }> {
    const { nick, keys } = this.#context;
    // A registration ends whatever session the node held (see `register`).
    this.#upstream = undefined;
    this.#reshared = false;
    const server = await this.#hello();
    const { password, account } = this.#account;
    const sealedPassword =
      password === undefined
        ? undefined
        : await keys.sealPassword(password, server.ek, account ?? 'login');
    // A session with the registry's key: what it sends this client then comes under the
    // session's datagram key instead of signed (cheaper for both, above all for big tables).
    // Made already, it goes with the registration; else it is made once registered, so
    // that setting it up (HPKE's first use) does not delay the start.
    const session = keys.hasSession(server.ek) ? await keys.registrySession(server.ek) : undefined;
    const body: RequestBody = {
      t: 'register',
      nick,
      ...keys.identity.public,
      ...(sealedPassword ? { password: sealedPassword, account: account ?? 'login' } : {}),
      ...(session ? { session: session.enc } : {}),
      cookie: server.cookie,
    };
    return { body, server: { sk: server.sk, ek: server.ek }, offered: session?.mac };
  }

  /**
   * Sends the registration `registration()` made (the caller may add to its body) to the node
   * in use, signed: it binds the nick to the key that signs it. Once it is answered, what
   * follows goes under the session it `offered` (the node answers under it; one that could not
   * take it answers the next request `NO_SESSION`, see `ask`).
   */
  async register(body: RequestBody, offered?: DatagramMac): Promise<Reply> {
    const server = this.#context.server();
    try {
      const reply = await this.#context.channel.request(server, body, {
        ...this.options(),
        ...(offered ? { replyMac: offered } : {}),
      });
      if (offered && reply.t === 'registered') this.#upstream = { server, mac: offered };
      return reply;
    } catch (error) {
      this.#unanswered(error, server, 'register');
    }
  }

  /**
   * The registry's keys, checked against the pin (pinned on first use), and a cookie for
   * this client's address, which the registration must carry: asked before each one. The
   * hello is padded to be larger than its answer (see HELLO_PAD_CHARS).
   */
  async #hello(): Promise<{ sk: string; ek: string; cookie: string }> {
    const { nick, keys } = this.#context;
    const reply = await this.request(
      { t: 'hello', nick, sk: keys.identity.public.sk, pad: HELLO_PAD },
      'register',
    );
    if (reply.t !== 'server_hello')
      throw new UdpchatError('ERR_REMOTE', `unexpected reply ${reply.t}`);
    const pinned = this.#account.serverKey ?? this.#serverKeys?.sk;
    if (pinned !== undefined && pinned !== reply.sk) {
      throw new UdpchatError(
        'ERR_SERVER_KEY_CHANGED',
        'the server answered with another key than the one pinned',
      );
    }
    if (this.#account.serverKey === undefined && this.#serverKeys === undefined)
      this.#context.emit('server-key', { sk: reply.sk });
    this.#serverKeys = { sk: reply.sk, ek: reply.ek };
    return { ...this.#serverKeys, cookie: reply.cookie };
  }

  /**
   * Sets the session with the registry's key `ek` up after a registration that went without
   * one, and tells the registry (best effort: its datagrams otherwise stay signed).
   */
  shareSession(ek: string): void {
    this.#sharing = (async () => {
      try {
        const session = await this.#context.keys.registrySession(ek);
        if (!this.#context.online()) return;
        const server = this.#context.server();
        await this.#context.channel.request(
          server,
          { t: 'session', nick: this.#context.nick, session: session.enc },
          { ...this.options(), replyMac: session.mac },
        );
        this.#upstream = { server, mac: session.mac };
      } catch (error) {
        this.#context.debug(
          { err: error },
          'session with the registry not set up: its datagrams stay signed',
        );
      }
    })();
  }

  /** Settles once the session last shared has been told to the registry (or could not be). */
  sessionShared(): Promise<void> {
    return this.#sharing;
  }

  /** Asks for the whole table (it comes as a `table` push); one request at a time, online only. */
  resync(): void {
    if (this.#resyncing || !this.#context.online()) return;
    this.#resyncing = true;
    this.#resyncs++;
    this.ask(this.#context.server(), { t: 'table_sync', nick: this.#context.nick })
      .catch((error: unknown) => this.#context.debug({ err: error }, 'table resync not answered'))
      .finally(() => (this.#resyncing = false));
  }
}
