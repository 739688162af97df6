// The shapes the messages share (messages.ts): ids, nicks, texts and their cap as encoded,
// ports and addresses, public keys, sealed texts, the client table's entries and snapshots, and
// the messages the registry holds for offline users.
import * as z from 'zod/mini';
import {
  MAX_ID_LENGTH,
  MAX_LOCAL_ADDRESSES,
  MAX_NICK_LENGTH,
  MAX_TEXT_BYTES,
} from './constants.js';

export const id = z.string().check(z.minLength(1), z.maxLength(MAX_ID_LENGTH));
export const nick = z.string().check(z.minLength(1), z.maxLength(MAX_NICK_LENGTH));
/** A control character other than tab: a text holding one is not sent (it is meant for terminals). */
export const CONTROL_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/** Bytes a text takes inside a datagram: JSON escapes control characters to six bytes. */
export function encodedTextBytes(value: string): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8') - 2;
}

// Capped as encoded, so whatever is accepted (and saved) can always be sent on again.
export const text = z.string().check(
  z.maxLength(MAX_TEXT_BYTES),
  z.refine((value) => encodedTextBytes(value) <= MAX_TEXT_BYTES, 'text too long'),
);
export const port = z.int().check(z.gte(1), z.lte(65535));
/** The number of a presence notice (see `presence.seq`). */
export const seqSchema = z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER));
/** An IP address and port, as a peer can be reached at (see docs/nat.md). */
export const endpointAddressSchema = z.object({
  ip: z.string().check(z.minLength(1), z.maxLength(64)),
  port,
});
export type EndpointAddress = z.infer<typeof endpointAddressSchema>;
/** The addresses a client's socket has on its own networks: for peers behind the same NAT. */
export const localAddresses = z
  .array(endpointAddressSchema)
  .check(z.maxLength(MAX_LOCAL_ADDRESSES));
/**
 * How a client's NAT maps its socket, as the registry learned it (see docs/nat.md):
 * `consistent`, one public port whatever the destination (or no NAT); `symmetric`, another
 * port towards each destination.
 */
export const natMappingSchema = z.enum(['consistent', 'symmetric']);
export type NatMapping = z.infer<typeof natMappingSchema>;

/** A raw 32-byte public key, base64 (44 characters). */
export const publicKey = z.string().check(z.length(44));
/** An HPKE-sealed payload. */
export const sealedSchema = z.object({
  enc: z.string().check(z.maxLength(64)),
  ct: z.string().check(z.maxLength(96 * 1024)),
  /** Sealed in a session (see docs/security.md): the 12-byte nonce, base64. */
  n: z.optional(z.string().check(z.length(16))),
});

export const tableEntrySchema = z.object({
  nick,
  ip: z.string().check(z.minLength(1), z.maxLength(64)),
  port,
  online: z.boolean(),
  /** The keys the nick is bound to: Ed25519 (signs its datagrams) and X25519 (messages to it are sealed to). */
  sk: publicKey,
  ek: publicKey,
});
export type TableEntry = z.infer<typeof tableEntrySchema>;

export const tableSnapshotSchema = z.object({
  /** Random per registry run, so a restarted registry's table is never taken as stale. */
  epoch: z.string().check(z.minLength(1), z.maxLength(32)),
  /** Grows by one with every change within an epoch. */
  version: z.int().check(z.nonnegative()),
  entries: z.array(tableEntrySchema),
});
export type TableSnapshot = z.infer<typeof tableSnapshotSchema>;

/**
 * The id of the sender's previous message to the same recipient (settled within the last
 * minute, or still on its way): the receiver shows this message after it.
 */
export const after = z.optional(id);
/** The recipient acknowledged `after` before this message went: if it no longer holds it, it need not wait. */
export const afterTaken = z.optional(z.literal(true));

export const savedMessageSchema = z.object({
  from: nick,
  mid: id,
  after,
  afterTaken,
  /** The text, sealed by the sender to the recipient (the registry cannot read it). */
  sealed: sealedSchema,
  /** When the registry received it, milliseconds since the epoch. */
  ts: z.int().check(z.nonnegative()),
});
export type SavedMessage = z.infer<typeof savedMessageSchema>;
