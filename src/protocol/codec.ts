// Datagrams to messages and back: the versioned JSON envelope, its size cap and the schema check.
// Decoding never throws, so one bad datagram can only be dropped and counted.
import { MAX_DATAGRAM_BYTES, PROTOCOL_VERSION } from './constants.js';
import {
  MESSAGE_TYPES,
  schemaOf,
  type Message,
  type MessageType,
  type ReplyBody,
  type RequestBody,
} from './messages.js';
import { decodeUtf8 } from '../util/utf8.js';

/** Why a datagram was dropped; counted per reason by the transport. */
export type DropReason = 'oversized' | 'encoding' | 'json' | 'version' | 'unknown-type' | 'schema';

export type Decoded =
  | { ok: true; message: Message }
  | {
      ok: false;
      reason: DropReason;
      detail: string;
      /** Set when the datagram was a readable request, so the sender can be told. */
      requestId?: string;
    };

/** `acks`: the request says its sender takes its ACK merged with others (see messages.ts). */
export function encodeRequest(id: string, body: RequestBody, acks = false): Buffer {
  return envelope(body, acks ? '"acks":true,"id"' : '"id"', id);
}

export function encodeReply(re: string, body: ReplyBody): Buffer {
  return envelope(body, '"re"', re);
}

/**
 * `{"v":…, …body's fields, "id" (or "re"):…}`, the body's JSON put inside the envelope's as it
 * is: as `{ v, ...body, id }` would be written (no body has a `v`, `id` or `re` of its own),
 * without copying the body into a new object first (a copy of an object of any of the
 * messages' shapes cost each datagram more than writing its JSON). `key` is the last field's
 * name as JSON, after any field the envelope adds (`acks`).
 */
function envelope(
  body: RequestBody | ReplyBody,
  key: '"id"' | '"acks":true,"id"' | '"re"',
  value: string,
): Buffer {
  const fields = JSON.stringify(body);
  const inner = fields.length > 2 ? `${fields.slice(1, -1)},` : '';
  return Buffer.from(`{"v":${PROTOCOL_VERSION},${inner}${key}:${JSON.stringify(value)}}`, 'utf8');
}

/** Decodes one datagram. Never throws: anything malformed comes back as a drop reason. */
export function decode(datagram: Uint8Array, maxBytes = MAX_DATAGRAM_BYTES): Decoded {
  if (datagram.byteLength > maxBytes) {
    return { ok: false, reason: 'oversized', detail: `${datagram.byteLength} bytes` };
  }
  let text: string;
  try {
    text = decodeUtf8(datagram);
  } catch {
    return { ok: false, reason: 'encoding', detail: 'not UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'json', detail: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'json', detail: 'not a JSON object' };
  }
  const envelope = value as Record<string, unknown>;
  // Only a request (an id and no `re`) is ever answered, so two parties cannot loop on errors.
  const requestId =
    typeof envelope.id === 'string' &&
    envelope.id.length > 0 &&
    envelope.id.length <= 64 &&
    !('re' in envelope)
      ? envelope.id
      : undefined;
  if (envelope.v !== PROTOCOL_VERSION) {
    return { ok: false, reason: 'version', detail: `version ${String(envelope.v)}`, requestId };
  }
  if (typeof envelope.t !== 'string' || !MESSAGE_TYPES.has(envelope.t)) {
    return {
      ok: false,
      reason: 'unknown-type',
      detail: `type ${String(envelope.t).slice(0, 32)}`,
      requestId,
    };
  }
  const parsed = schemaOf(envelope.t as MessageType).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: 'schema',
      // zod/mini words no messages (it loads no locale): the issue's code says what failed.
      detail: issue ? `${issue.path.join('.')}: ${issue.code}` : 'invalid',
      requestId,
    };
  }
  return { ok: true, message: parsed.data };
}
