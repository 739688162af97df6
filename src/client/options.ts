// The client's options: every timing with its default (CLIENT_DEFAULTS), what a client is
// started with (ChatClientOptions), and the parts handed in rather than made (ChatClientParts).
import type { Logger } from 'pino';
import type { Identity } from '../crypto/identity.js';
import type { ContactsStore } from './contacts.js';
import type { Outbox } from './outbox.js';
import { PATH_DEFAULTS } from './paths.js';

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
   * The most the outbox keeps at once: messages, and UTF-8 bytes of their texts. Past either,
   * `send` is refused (ERR_OUTBOX_FULL) until some have settled: a client the registry does
   * not answer for hours holds a bounded queue, in memory and on disk.
   */
  outboxMessages: 10_000,
  outboxBytes: 16 * 1024 * 1024,
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
  /**
   * The signed requests it took, kept across its restarts (the CLI keeps a file: FileClaims);
   * without it, a signed datagram captured and replayed to a client restarted within its 60 s
   * is taken once more. `claimNow` says at once whether a key is free (and takes it).
   */
  signedTaken?: SignedTaken;
}

/** What the client needs of a set of keys held for a while (store/claims.ts's FileClaims is one). */
export interface SignedTaken {
  open(): Promise<void>;
  claimNow(key: string, seconds: number, failed: (error: unknown) => void): boolean;
  close(): Promise<void>;
}
