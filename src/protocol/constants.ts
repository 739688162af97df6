// The wire's numbers in one place: the protocol version, size caps and limits, and the numeric
// wire error codes, so that codec, client and registry agree on every bound.

/** Wire protocol version carried in every datagram as `v`. */
export const PROTOCOL_VERSION = 1;

/**
 * Largest datagram udpchat sends or accepts. Checked before any parsing so a hostile
 * sender cannot make a receiver allocate or parse more than this.
 */
export const MAX_DATAGRAM_BYTES = 60 * 1024;

/** Largest chat text, counted as JSON-encoded UTF-8; longer ones are sent in fragments. */
export const MAX_TEXT_BYTES = 60 * 1024;

/**
 * A request larger than this is split into fragments, so no datagram relies on IP
 * fragmentation: 1,232 bytes fit the smallest IPv6 path (1,280) after its headers.
 */
export const SAFE_DATAGRAM_BYTES = 1_232;

/** Most fragments one request may have, and the most bytes it may reassemble to. */
export const MAX_FRAGMENTS = 192;
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** Longest nick name, in characters. */
export const MAX_NICK_LENGTH = 32;

/**
 * A `hello` carries at least this many characters of padding, so that it is larger than the
 * `server_hello` (keys and an address cookie) it is answered with: a forged `hello` makes the
 * registry send its victim less than the forger sent (QUIC pads its first datagram the same way).
 */
export const HELLO_PAD_CHARS = 200;

/** Longest message or request id. */
export const MAX_ID_LENGTH = 64;

/**
 * Most table entries one `table` page or `table_delta` carries (about 40 KB, sent in
 * fragments); a larger table goes in several pages, a larger change in several deltas.
 */
export const MAX_PAGE_ENTRIES = 250;

/** Most pages one table may have: up to 250,000 nicks. */
export const MAX_TABLE_PAGES = 1_000;

/**
 * Up to this many nicks in the table (the registry's `tableLimit` option), every client holds
 * the whole table and hears of every change; beyond it, a client holds only the nicks it
 * watches (its contacts, and those it looks up) and hears only of theirs.
 */
export const DEFAULT_TABLE_LIMIT = 256;

/** Most nicks one client may watch (the registry's `maxWatch` option is at most this). */
export const MAX_WATCH = 100;

/** Most nicks one `watch` request adds, and most entries in a presence notice: either fits one datagram. */
export const WATCH_BATCH = 6;

/** Nicks one page of `all` or `online` names (the answer fits one datagram). */
export const LIST_PAGE = 20;

/** Default for the most nicks one registry holds (its `maxClients` option). */
export const DEFAULT_MAX_CLIENTS = 100_000;

/** Most groups a registry runs, and most names one group list carries. */
export const MAX_GROUPS = 500;

/** Most local addresses a client names for peers behind the same NAT (see docs/nat.md). */
export const MAX_LOCAL_ADDRESSES = 4;

/** Most saved messages one delivery datagram may carry. */
export const MAX_DELIVERY_BATCH = 64;
/** The most requests one merged `acks` reply acknowledges. */
export const MAX_MERGED_ACKS = 64;

/**
 * Numeric error codes carried in `err` replies. The names double as the `code` of
 * {@link UdpchatError} (prefixed `ERR_`). Every code is documented in docs/protocol.md.
 */
export const WireError = {
  BAD_REQUEST: 1,
  UNSUPPORTED_VERSION: 2,
  UNKNOWN_TYPE: 3,
  INVALID_NICK: 4,
  NICK_TAKEN: 5,
  UNKNOWN_NICK: 6,
  NOT_REGISTERED: 7,
  TEXT_TOO_LONG: 8,
  STORE_FAILED: 9,
  INTERNAL: 10,
  REGISTRY_FULL: 11,
  DATAGRAM_TOO_LARGE: 12,
  NOT_IN_GROUP: 13,
  BAD_PASSWORD: 14,
  NO_ACCOUNT: 15,
  ADDRESS_IN_USE: 16,
  TRY_LATER: 17,
  ADDRESS_UNVALIDATED: 18,
  MAILBOX_FULL: 19,
  NO_SESSION: 20,
} as const;

export type WireErrorName = keyof typeof WireError;
export type WireErrorCode = (typeof WireError)[WireErrorName];

const namesByCode = new Map<number, WireErrorName>(
  Object.entries(WireError).map(([name, code]) => [code, name as WireErrorName]),
);

export function wireErrorName(code: number): WireErrorName | undefined {
  return namesByCode.get(code);
}
