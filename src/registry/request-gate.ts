// What every request to the registry passes before its handler, in this one place: the socket
// it came on (the NAT probe port takes nat_probe alone), a signed request taken once (by the
// nodes on a store, across restarts), the hello budgets for requests nobody's key checked,
// whether its sender is proven at its address (else no reply larger than the request), a sign
// of life for a proven sender, and the guard its type declares (guards.ts); then its entry of
// the handler table (handlers.ts).
import { errorReply, type Request } from '../protocol/messages.js';
import { sameAddress, type Address } from '../transport/address.js';
import type { Respond } from '../transport/endpoint.js';
import type { ClientRecord } from '../store/store.js';
import { addressOf } from './client-table.js';
import { checkGuard, type GuardContext } from './guards.js';
import type { AnyHandler, HandlerTable } from './handler-table.js';
import { claimedNick } from './request-keys.js';

/** What the gate needs of the registry around it. */
export interface GateContext {
  readonly guards: GuardContext;
  readonly handlers: HandlerTable;
  /** Whether an unchecked request from `from` is within the hello budgets (see admission.ts). */
  admitUnchecked(from: Address): Promise<boolean>;
  /** Whether no node on the store (nor this one before a restart) took this signed request (see signed-once.ts). */
  firstToTake(signed: string): Promise<boolean>;
  /** A proven sender was heard from (see presence.ts). */
  heard(nick: string): void;
  /** A proven sender registered again under the key its nick is bound to (see presence.ts). */
  registered(nick: string): void;
}

/** How a request came: from where, checked under whose key (undefined: nobody's), how big, on which socket. */
export interface Arrival {
  from: Address;
  respond: Respond;
  by: string | undefined;
  /** The bytes of the datagram (or the whole of a fragmented request) it came in. */
  size: number;
  /** The endpoint's other socket it came on (the NAT probe port), if not the main one. */
  via: number | undefined;
  /** Checked by its signature (not under a session key): its replay key (see `RequestHandler`). */
  signed: string | undefined;
}

/** Takes one request through the checks to its handler (or to its refusal, or to nothing). */
export async function passGate(
  request: Request,
  arrival: Arrival,
  context: GateContext,
): Promise<void> {
  const { from, by, size, via, signed } = arrival;
  // The NAT probe port answers nat_probe alone.
  if (via !== undefined && request.t !== 'nat_probe') return;
  // Signed, it is taken once: the transport refused it if this process took it before; the
  // store says whether another node did, or this one before a restart (else a replay would be
  // taken once by each).
  if (signed !== undefined && !(await context.firstToTake(signed))) return;
  // Unchecked (a hello, a heartbeat from a nick the table does not hold: see
  // request-keys.ts), it is answered within the hello budgets, else dropped before any work
  // (see admission.ts): each answer is an Ed25519 signature, for anyone who asks.
  if (by === undefined && !(await context.admitUnchecked(from))) return;
  const nick = claimedNick(request);
  const record: ClientRecord | undefined =
    nick === undefined ? undefined : context.guards.record(nick);
  // The nick is registered at this address, which proved it receives when it registered
  // (see address-cookies.ts). Anyone else gets no reply larger than what it sent: a forged
  // source address makes the registry send its victim less than the forger sent. A request
  // checked by no one (a hello: `by` undefined) proves nothing, wherever it came from.
  const proven = by !== undefined && record !== undefined && sameAddress(addressOf(record), from);
  // A sign of life: a request checked as the nick's, from its address. Before its handler
  // decides, a registration is one only under the key the nick is bound to (another key
  // proves only itself); it brings its own table, so it is not caught up as well.
  if (proven && request.t !== 'register') context.heard(record.nick);
  else if (proven && request.t === 'register' && request.sk === record.sk)
    context.registered(record.nick);
  const respond: Respond = proven
    ? arrival.respond
    : (body, options) => arrival.respond(body, { ...options, atMost: size });
  // The entry is a union of handlers, one per type, which no Request can be passed to; the
  // rule takes the cast for a no-op, tsc does not (it refuses the call below without it).
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const handler = context.handlers[request.t] as AnyHandler | undefined;
  if (!handler)
    return respond(errorReply('UNKNOWN_TYPE', `the registry does not take ${request.t}`));
  const verdict = checkGuard(handler, request, from, context.guards);
  if ('refuse' in verdict) return respond(errorReply(verdict.refuse.name, verdict.refuse.message));
  return handler.handle(request, from, respond, verdict.sender, via);
}
