// The registry's handler table: by request type, the guard a request must pass (guards.ts)
// and the handler it then goes to. handlers.ts fills it; each module's work stays in its module.
import type { MessageOf, Request, RequestType } from '../protocol/messages.js';
import type { Address } from '../transport/address.js';
import type { Respond } from '../transport/endpoint.js';
import type { ClientRecord } from '../store/store.js';
import type { Guard, OpenGuard, SenderGuard } from './guards.js';

/**
 * An entry of the handler table: the guard its requests must pass (see guards.ts), and the
 * handler, given the request, where it came from, how to answer and, for a guard that names
 * a nick, that nick's record.
 */
export type Handler<T extends RequestType> =
  | (OpenGuard & {
      handle(
        request: MessageOf<T>,
        from: Address,
        respond: Respond,
        sender: undefined,
        via: number | undefined,
      ): Promise<void> | void;
    })
  | (SenderGuard<T> & {
      handle(
        request: MessageOf<T>,
        from: Address,
        respond: Respond,
        sender: ClientRecord,
        via: number | undefined,
      ): Promise<void> | void;
    });

export type HandlerTable = { [T in RequestType]?: Handler<T> };

/** An entry as the dispatch calls it, whatever its type (its guard gave the record when it names a nick). */
export type AnyHandler = Guard & {
  handle(
    request: Request,
    from: Address,
    respond: Respond,
    sender: ClientRecord | undefined,
    /** The port of the endpoint's other socket the request came in on (the NAT probe port), if not the main one. */
    via: number | undefined,
  ): Promise<void> | void;
};
