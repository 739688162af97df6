// What a request must show before its handler runs (who may ask, from which address, with which
// table entry), declared per message type and checked in this one place.
import type { WireError } from '../protocol/constants.js';
import type { MessageOf, Request, RequestType } from '../protocol/messages.js';
import { sameAddress, type Address } from '../transport/address.js';
import type { ClientRecord } from '../store/store.js';
import { addressOf } from './client-table.js';

/** The field of a request of type T that names the nick it speaks for (`nick` or `from`). */
export type NickField<T extends RequestType> = T extends RequestType
  ? Extract<keyof MessageOf<T>, 'nick' | 'from'>
  : never;

/**
 * What a request must show before its handler runs. The registry's handler table declares
 * one per message type; `checkGuard` is the only place each is checked. Every request has
 * already been signed by the nick it names before it gets here (the registry's `keyFor`),
 * so these are about where it comes from and what the table holds for that nick.
 */
export type Guard<T extends RequestType = RequestType> =
  /** Anyone may ask. */
  | { guard: 'none' }
  /**
   * The request's `cookie` proves that its source address receives what is sent to it
   * (a `server_hello` reached it lately; see address-cookies.ts). Refused: ADDRESS_UNVALIDATED.
   */
  | { guard: 'validated-address' }
  /**
   * The nick in `field` is in the table at the request's source address, online or not,
   * deregistered or not. Refused: NOT_REGISTERED, "<nick> is not registered at this
   * address", or `refusal` when given.
   */
  | { guard: 'known-here'; field: NickField<T>; refusal?: string }
  /**
   * The nick in `field` is online in the table at the request's source address.
   * Refused: NOT_REGISTERED, "<nick> is not registered at this address".
   */
  | { guard: 'online-here'; field: NickField<T> }
  /**
   * The nick in `field` is in the table at the request's source address, did not leave
   * with dereg, and is bound to the signing key the request carries (`sk`); online or not
   * (a client taken for offline while only quiet comes back this way). Refused:
   * NOT_REGISTERED, "<nick> is not registered at this address" (the client should register again).
   */
  | { guard: 'registered-here-with-key'; field: NickField<T> };

/** Guards after which the handler gets the record of the nick the request names. */
export type SenderGuard<T extends RequestType = RequestType> = Extract<
  Guard<T>,
  { field: unknown }
>;

/** Guards that name no nick. */
export type OpenGuard = Exclude<Guard, SenderGuard>;

/** What the guards need of the registry around them. */
export interface GuardContext {
  /** The table's record of `nick`, if it holds one. */
  record(nick: string): ClientRecord | undefined;
  /** Whether `cookie` proves that `from` receives (the registry counts a refusal). */
  addressValidated(from: Address, cookie: string | undefined): boolean;
}

export type Refusal = { name: keyof typeof WireError; message: string };

/** Either the refusal to answer with, or the request may go on (with the record of its nick, for guards that name one). */
export type Verdict = { refuse: Refusal } | { sender: ClientRecord | undefined };

/** Checks `request`, from `from`, against `guard`. */
export function checkGuard(
  guard: Guard,
  request: Request,
  from: Address,
  context: GuardContext,
): Verdict {
  const fields = request as Record<string, unknown>;
  switch (guard.guard) {
    case 'none':
      return { sender: undefined };
    case 'validated-address': {
      const cookie = typeof fields['cookie'] === 'string' ? fields['cookie'] : undefined;
      if (!context.addressValidated(from, cookie))
        return { refuse: { name: 'ADDRESS_UNVALIDATED', message: 'say hello first' } };
      return { sender: undefined };
    }
    case 'known-here':
    case 'online-here':
    case 'registered-here-with-key': {
      const nick = String(fields[guard.field]);
      const record = context.record(nick);
      if (record && sameAddress(addressOf(record), from) && ADMITS[guard.guard](record, fields))
        return { sender: record };
      const message =
        (guard.guard === 'known-here' ? guard.refusal : undefined) ??
        `${nick} is not registered at this address`;
      return { refuse: { name: 'NOT_REGISTERED', message } };
    }
  }
}

/** What each guard that names a nick asks of its record, once that record is at the request's source address. */
const ADMITS: Record<
  SenderGuard['guard'],
  (record: ClientRecord, fields: Record<string, unknown>) => boolean
> = {
  'known-here': () => true,
  'online-here': (record) => record.online,
  'registered-here-with-key': (record, fields) =>
    !record.deregistered && record.sk === fields['sk'],
};
