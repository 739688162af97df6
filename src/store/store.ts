// The Store interface: everything the registry keeps across restarts (client records, mailboxes,
// groups). Two implementations, lowdb and Redis, pass one compliance suite.
import type { SavedMessage } from '../protocol/fields.js';

/** One row of the registry's client table. */
export interface ClientRecord {
  nick: string;
  ip: string;
  port: number;
  online: boolean;
  /** Offline because it said dereg (not because a probe went unanswered). */
  deregistered?: boolean;
  /** The keys the nick is bound to (raw, base64): Ed25519 signing, X25519 encryption. */
  sk: string;
  ek: string;
  /** scrypt hash of the account's password, when the nick has an account. */
  passwordHash?: string;
  /** The registry node the client registered with (it pushes tables to it and hears its heartbeats). */
  node?: string;
}

/**
 * A budget of so many uses per fixed window, per key: `consume` resolves while the key has
 * points left and rejects past them; `get` tells what is left (null: not used this window).
 * rate-limiter-flexible's limiters are budgets.
 */
export interface Budget {
  consume(key: string): Promise<unknown>;
  get(key: string): Promise<{ remainingPoints: number } | null>;
}

/**
 * Everything the registry keeps. Each mutating call resolves only once the change is
 * durable, so the registry may confirm it to a client. Implementations: lowdb (default).
 */
export interface Store {
  /** Where the data lives, for the operator. */
  readonly location: string;
  open(): Promise<void>;
  loadClients(): Promise<ClientRecord[]>;
  putClient(record: ClientRecord): Promise<void>;
  /** Saves a message for `to`; false (and no change) when `from`+`mid` is already saved. */
  saveMessage(to: string, message: SavedMessage): Promise<boolean>;
  /** Saved messages for `to`, oldest first. */
  pendingMessages(to: string, limit?: number): Promise<SavedMessage[]>;
  /** Saved messages for `to`; with `from`, only those from that sender. */
  countMessages(to: string, from?: string): Promise<number>;
  /** Deletes delivered messages, named by sender and message id. */
  deleteMessages(
    to: string,
    delivered: ReadonlyArray<Pick<SavedMessage, 'from' | 'mid'>>,
  ): Promise<void>;
  /**
   * Several registry nodes on one store: tell the others that `what` changed (a nick, or
   * `group:<name>`), and hear what they changed. Absent for a store one node owns alone.
   */
  announce?(what: string): Promise<void>;
  onAnnouncement?(listener: (what: string) => void): Promise<void>;
  /** One client record, fresh from the store (after an announcement). */
  loadClient?(nick: string): Promise<ClientRecord | undefined>;
  /**
   * A budget of `points` uses per `seconds` per key, spent by every node on this store (what
   * protects the shared table and accounts: new nicks, wrong passwords). Absent: each node
   * keeps its own.
   */
  budget?(name: string, points: number, seconds: number): Budget;
  /**
   * Takes `key` for `seconds`: true the first time in that span, false while it is held (by
   * any process on this store, one since restarted included), or when the store holds as many
   * as it may. The registry takes each signed request it handles this way (see
   * registry/signed-once.ts). Absent: a store that keeps none.
   */
  claim?(key: string, seconds: number): Promise<boolean>;
  /** The registry identity every node of the cluster shares: made once, kept in the store. */
  sharedIdentity?(make: () => Promise<string>): Promise<string>;
  /** Every group with its members, in the order they joined. */
  loadGroups(): Promise<Record<string, string[]>>;
  /** Writes a group's members (an empty list keeps the group, without members). */
  putGroup(name: string, members: readonly string[]): Promise<void>;
  close(): Promise<void>;
}
