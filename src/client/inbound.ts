// The requests that reach a client, each routed to the part that takes it. A handler table:
// each type declares who must have signed it (the peer it speaks for, or the registry),
// whether it may come on a socket a birthday round opened, in which phase it is taken, and
// whether it is acknowledged at once; those guards are checked here, once, before any handler
// runs. What a handler answers is sent; silence is an answer too.
import type { Logger } from 'pino';
import { REGISTRY_NAME } from '../crypto/signing.js';
import type { MessageOf, ReplyBody, Request, RequestType } from '../protocol/messages.js';
import type { Address } from '../transport/address.js';
import type { Respond } from '../transport/endpoint.js';
import type { Introduced } from './paths.js';

/** What the routing needs of the client around it: the parts that take requests, and its phase. */
export interface InboundContext {
  readonly nick: string;
  /** Registered and not left. */
  online(): boolean;
  /** Closed for good: pushes are no longer taken. */
  closed(): boolean;
  readonly paths: {
    onPunch(nick: string, from: Address, via?: number): boolean;
    heardVia(nick: string, via: number): void;
    onIntroduction(nick: string, introduced: Introduced): void;
  };
  readonly inbox: {
    onChat(
      request: MessageOf<'chat'>,
      from: Address,
      answer: (reply: ReplyBody) => void,
    ): Promise<void>;
    onDeliver(request: MessageOf<'deliver'>): Promise<ReplyBody | undefined>;
    onGroupMessage(request: MessageOf<'group_msg'>): ReplyBody | undefined;
  };
  readonly table: {
    has(nick: string): boolean;
    onPresence(push: MessageOf<'presence'>): void;
    onTable(push: MessageOf<'table'>): void;
    onDelta(delta: MessageOf<'table_delta'>): void;
  };
  readonly groups: { onRemoved(request: MessageOf<'group_removed'>): void };
  readonly watching: {
    readonly active: boolean;
    lookup(nick: string): Promise<unknown>;
    touch(nick: string): void;
    /** A presence notice numbered `seq` came. */
    noticed(seq: number): void;
  };
  readonly log: Pick<Logger, 'debug' | 'warn'>;
  /** Whether the signed request with this replay key was taken before a restart (see signed-taken.ts); else it is taken now. */
  takenBefore(signed: string): boolean;
}

/** How a request arrived: where from, who signed it, on which spare socket, and how to answer it. */
export interface Arrival {
  from: Address;
  by: string | undefined;
  /** The birthday socket it came on (see paths.ts); undefined for the client's own socket. */
  via: number | undefined;
  /** Checked by its signature (not under a session key): its replay key (see `RequestHandler`). */
  signed: string | undefined;
  respond: Respond;
}

interface Handler<T extends RequestType> {
  /**
   * `peer`: any signer the transport checked (the handler checks it speaks for itself);
   * `registry`: only the registry's signature. From a registry node's address is not enough:
   * any user could sign from there. Nodes of one cluster share the registry's key.
   */
  signer: 'peer' | 'registry';
  /** It may come on a socket a birthday round opened (those carry a peer's punches and chats alone). */
  spareSocket?: true;
  /** When it is taken: `online` (registered, not left), `open` (any phase but closed). Else silence. */
  phase?: 'online' | 'open';
  /**
   * Acknowledged as soon as the guards hold, before it is taken: always (`true`), or when
   * this says so of the request (a presence notice is never answered).
   */
  ack?: true | ((request: MessageOf<T>) => boolean);
  take(request: MessageOf<T>, arrival: Arrival, context: InboundContext): void;
}

type Handlers = { [T in RequestType]?: Handler<T> };

const HANDLERS: Handlers = {
  // A peer's punch opens the path it came by.
  punch: {
    signer: 'peer',
    spareSocket: true,
    phase: 'online',
    take(request, { from, by, via, respond }, context) {
      if (
        by === request.from &&
        request.to === context.nick &&
        context.paths.onPunch(request.from, from, via)
      )
        respond({ t: 'ack' });
    },
  },
  chat: {
    signer: 'peer',
    spareSocket: true,
    take(request, { from, by, via, respond }, context) {
      // A peer's chat on a spare socket moves the path there (the peer took that socket for it).
      if (via !== undefined && by !== undefined && by !== REGISTRY_NAME)
        context.paths.heardVia(by, via);
      const handled = context.inbox.onChat(request, from, (reply) => {
        respond(reply);
        if (reply.t === 'ack') context.watching.touch(request.from); // heard from: a contact
      });
      logFailure(handled, context, 'chat failed');
    },
  },
  deliver: {
    signer: 'registry',
    take(request, { respond }, context) {
      answer(
        knowSenders(request, context).then(() => context.inbox.onDeliver(request)),
        respond,
        context,
        'delivery failed',
      );
    },
  },
  // A notice (numbered) is not answered; a presence without a number is a request like any other.
  presence: {
    signer: 'registry',
    phase: 'open',
    ack: (request) => request.seq === undefined,
    take(request, _arrival, context) {
      context.table.onPresence(request);
      if (request.seq !== undefined) context.watching.noticed(request.seq);
    },
  },
  // Taken in any phase but closed: the first table may overtake the registration's own reply.
  table: {
    signer: 'registry',
    phase: 'open',
    ack: true,
    take: (request, _arrival, context) => context.table.onTable(request),
  },
  table_delta: {
    signer: 'registry',
    phase: 'open',
    ack: true,
    take: (request, _arrival, context) => context.table.onDelta(request),
  },
  group_msg: {
    signer: 'registry',
    take(request, { respond }, context) {
      answer(context.inbox.onGroupMessage(request), respond, context, 'group message failed');
    },
  },
  group_removed: {
    signer: 'registry',
    ack: true,
    take: (request, _arrival, context) => context.groups.onRemoved(request),
  },
  // A peer has no path to this client: both punch now.
  introduction: {
    signer: 'registry',
    ack: true,
    take(request, _arrival, context) {
      if (context.online()) context.paths.onIntroduction(request.peer, request);
    },
  },
  // Silence is the answer of a client that is offline or is not the one asked for.
  probe: {
    signer: 'registry',
    phase: 'online',
    take(request, { respond }, context) {
      if (request.nick === context.nick) respond({ t: 'ack' });
    },
  },
};

/** Routes one request the transport let through to its handler, once its guards hold. */
export function routeRequest(request: Request, arrival: Arrival, context: InboundContext): void {
  // Taken before a restart (the replay cache, in memory, would have refused it since): a replay.
  if (arrival.signed !== undefined && context.takenBefore(arrival.signed)) return;
  const handler = HANDLERS[request.t];
  if (!handler) {
    context.log.debug({ type: request.t }, 'request a client does not take');
    return;
  }
  if (arrival.via !== undefined && !handler.spareSocket) return;
  if (handler.signer === 'registry' && arrival.by !== REGISTRY_NAME) {
    context.log.debug({ type: request.t, by: arrival.by }, 'not signed by the registry');
    return;
  }
  if (handler.phase === 'online' && !context.online()) return;
  if (handler.phase === 'open' && context.closed()) return;
  const ack = handler.ack as true | ((request: Request) => boolean) | undefined;
  if (ack === true || ack?.(request)) arrival.respond({ t: 'ack' });
  handler.take(request as never, arrival, context);
}

/** Beyond the table limit, the senders of a delivery this client does not hold are looked up first (and become contacts). */
async function knowSenders(request: MessageOf<'deliver'>, context: InboundContext): Promise<void> {
  if (context.closed()) return;
  const senders = new Set(request.messages.map((message) => message.from));
  for (const sender of senders) {
    if (context.table.has(sender) || !context.watching.active) continue;
    await context.watching
      .lookup(sender)
      .catch((error: unknown) => context.log.debug({ err: error }, 'look-up of a sender failed'));
  }
  for (const sender of senders) context.watching.touch(sender);
}

/** Sends what a handler answers, if anything (silence is an answer too). */
function answer(
  reply: ReplyBody | undefined | Promise<ReplyBody | undefined>,
  respond: Respond,
  context: InboundContext,
  failure: string,
): void {
  if (!(reply instanceof Promise)) return void (reply && respond(reply));
  logFailure(
    reply.then((body) => body && respond(body)),
    context,
    failure,
  );
}

/** A handler that failed is logged; its sender hears nothing, and tries again or goes elsewhere. */
function logFailure(work: Promise<unknown>, context: InboundContext, failure: string): void {
  work.catch((error: unknown) => context.log.warn({ err: error }, failure));
}
