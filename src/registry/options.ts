// The registry's options: every timing, limit and budget an operator may set, with its
// default. The CLI's flags (docs/operations.md, "Every registry option") map onto these.
import {
  DEFAULT_MAX_CLIENTS,
  DEFAULT_TABLE_LIMIT,
  MAX_GROUPS,
  MAX_WATCH,
} from '../protocol/constants.js';
import { DEFAULT_SCRYPT_COST } from './accounts.js';
import { INTRODUCTION_DEFAULTS } from './introductions.js';

export const REGISTRY_DEFAULTS = {
  /** How long a presence probe waits for the client before taking it for offline. */
  probeTimeoutMs: 500,
  probeTries: 4,
  /** Table pushes: per try, and tries. A client that misses every try keeps its old table. */
  pushTimeoutMs: 500,
  pushTries: 3,
  /** Delivery of saved and relayed messages: per try, and tries. */
  deliverTimeoutMs: 500,
  deliverTries: 5,
  relayTries: 2,
  /** How often clients are expected to send a heartbeat. */
  heartbeatIntervalMs: 10_000,
  /** Heartbeats a client may miss before it is taken for offline. */
  missedHeartbeats: 3,
  /**
   * Presence probes a sweep starts a second, at most: when thousands of clients fall silent
   * at once (a network cut), their probes, each an Ed25519 signature, are spread over seconds.
   */
  sweepProbesPerSecond: 1000,
  /** Changes within this long go to the clients as one table version (0: those of one turn of the event loop). */
  pushDelayMs: 0,
  /**
   * Under a burst of changes (many registrations at once), rounds of table changes go out
   * at most once per this long (per 100 online clients), each carrying every change since
   * the last: one datagram per client per round rather than per change. The first
   * PUSH_BURST rounds go at once, so changes at a human pace are never held.
   */
  pushIntervalMs: 50,
  /** How long a group member has to ACK a group message before it is removed. */
  groupAckTimeoutMs: 500,
  /** Most members one group has (at most 500: the member list must fit its reply). */
  maxGroupMembers: MAX_GROUPS,
  /** Most nicks the table holds. */
  maxClients: DEFAULT_MAX_CLIENTS,
  /**
   * Up to this many nicks, every client gets the whole table and every change; beyond it, a
   * client gets only the nicks it watches and their changes (see docs/protocol.md).
   */
  tableLimit: DEFAULT_TABLE_LIMIT,
  /** Most nicks one client may watch (at most MAX_WATCH). */
  maxWatch: MAX_WATCH,
  /**
   * Datagrams one source address may send per second; more are dropped and counted. Users
   * behind one NAT share it (each acknowledges every table push), hence the headroom.
   */
  rateLimitPerSecond: 2000,
  /**
   * Hellos (and heartbeats from nicks the table does not hold: the requests answered unchecked)
   * answered per `helloWindowMs` (a second) from one source address, and from everyone; more
   * are dropped unanswered (each answer is an Ed25519 signature: see docs/security.md). A client
   * sends one hello per registration; users behind one NAT share the address's budget.
   */
  hellosPerAddress: 50,
  hellos: 2000,
  helloWindowMs: 1000,
  /** scrypt's cost for account passwords. */
  scryptCost: DEFAULT_SCRYPT_COST,
  /** Password checks and account creations (scrypt) at once; more are refused (TRY_LATER). */
  passwordJobs: 2,
  /** Password checks and account creations a minute from one source address. */
  passwordJobsPerAddress: 10,
  /**
   * Nicks new to the table per `newNickWindowMs` from one source address, and from everyone
   * (spread out: at most a tenth of that in any tenth of the window); a nick the table holds
   * always comes back. A host cannot fill the table with junk, nor many hosts make the
   * registry push whole tables to hundreds of newcomers at once.
   */
  newNicksPerAddress: 30,
  newNicks: 300,
  newNickWindowMs: 60_000,
  /** Saved messages sent in one datagram are held to about this many bytes. */
  deliveryBatchBytes: 8 * 1024,
  /** Most messages one user's mailbox holds; past it a save is refused MAILBOX_FULL (the sender keeps it). */
  mailboxMessages: 1000,
  /**
   * Most of those from one sender: one sender cannot fill another user's mailbox and keep
   * everyone else's messages out. Past it a save is refused MAILBOX_FULL too.
   */
  mailboxMessagesPerSender: 100,
  /** Least time between two introductions of one pair of clients (see docs/nat.md). */
  introductionIntervalMs: INTRODUCTION_DEFAULTS.intervalMs,
  /**
   * Live relays from one client to another per `relayWindowMs`, in messages and sealed
   * bytes: the relay is the last resort when no direct path can be punched. Past it, a
   * relay is refused TRY_LATER (the sender keeps the message and tries again).
   */
  relayMessagesPerPair: INTRODUCTION_DEFAULTS.relayMessages,
  relayBytesPerPair: INTRODUCTION_DEFAULTS.relayBytes,
  relayWindowMs: INTRODUCTION_DEFAULTS.relayWindowMs,
} as const;

export type RegistryTimings = { [K in keyof typeof REGISTRY_DEFAULTS]: number };

export type RegistryOptions = Partial<RegistryTimings> & {
  port?: number;
  host?: string;
  /** This node's name among nodes sharing a store (default: host name and port). */
  node?: string;
  /**
   * A second port, on the same host, that answers `nat_probe` alone: a client compares the
   * address it is seen at there with the one the main port sees (see docs/nat.md).
   */
  natProbePort?: number;
};
