// The registry's handler table: each request type with the guard it must pass (guards.ts) and
// the handler it then goes to, most of them a call into the module that owns the work; and the
// flows that belong to no other module: applying a registration, a deregistration, a NAT probe.
import type { Logger } from 'pino';
import { errorReply, type MessageOf } from '../protocol/messages.js';
import { type TableSnapshot } from '../protocol/fields.js';
import { formatAddress, sameAddress, type Address } from '../transport/address.js';
import type { Respond } from '../transport/endpoint.js';
import type { ClientRecord, Store } from '../store/store.js';
import type { Identity } from '../crypto/identity.js';
import type { AddressCookies } from './address-cookies.js';
import { addressOf, type ClientTable } from './client-table.js';
import type { ClientPushes } from './client-pushes.js';
import type { ClientSessions } from './client-sessions.js';
import type { Groups } from './groups.js';
import type { HandlerTable } from './handler-table.js';
import type { Introductions } from './introductions.js';
import type { Mailbox } from './mailbox.js';
import type { Presence } from './presence.js';
import type { Registration } from './registration.js';
import type { Saves } from './saves.js';
import type { Subscriptions } from './subscriptions.js';

/** What the handlers need of the registry around them: its modules, each narrowed to what they call. */
export interface HandlerContext {
  readonly log: Logger;
  /** The registry's public keys, given in each `server_hello`. */
  readonly publicKeys: Identity['public'];
  /** This node's run, told with each heartbeat's answer beyond the table limit. */
  readonly epoch: string;
  readonly store: Pick<Store, 'countMessages'>;
  readonly clients: Pick<ClientTable, 'get' | 'set' | 'at'>;
  readonly cookies: Pick<AddressCookies, 'make'>;
  readonly registration: Pick<Registration, 'decide'>;
  readonly clientSessions: Pick<ClientSessions, 'has' | 'take' | 'forget'>;
  readonly presence: Pick<Presence, 'registered' | 'markOnline'>;
  readonly subscriptions: Pick<
    Subscriptions,
    'registered' | 'left' | 'lastNotice' | 'tellWatchMode' | 'watch' | 'list'
  >;
  readonly pushes: Pick<ClientPushes, 'table'>;
  readonly mailbox: Pick<Mailbox, 'deliver'>;
  readonly saves: Pick<Saves, 'save'>;
  readonly groups: Pick<Groups, 'handle' | 'send' | 'memberGone'>;
  readonly introductions: Pick<Introductions, 'introduce' | 'registered' | 'mapped'>;
  /** This node's name among the nodes sharing its store (known once it listens). */
  nodeId(): string;
  /** The second port answering `nat_probe`, when one is open. */
  natProbePort(): number | undefined;
  /** Whether the table is beyond `tableLimit`: clients then hold only what they watch. */
  watchMode(): boolean;
  snapshot(): TableSnapshot;
  /** Writes `records` to the store, and has the change told (to this node's clients and the other nodes). */
  persist(records: ClientRecord[]): Promise<void>;
  /** Tells this node's clients what changed, soon (see push.ts). */
  tellChanges(): void;
  background(work: Promise<void>, what: string): void;
  /** The registry's events of these flows (see RegistryEvents). */
  registered(event: { nick: string; address: Address }): void;
  refused(event: { nick: string; address: Address; code: string }): void;
  deregistered(event: { nick: string }): void;
}

/**
 * The requests the registry takes, by type, each with the guard it must pass first (see
 * guards.ts); any other type is answered UNKNOWN_TYPE. `passGate` (request-gate.ts) checks the
 * guard, and bounds the replies to senders not proven at their address, before any of these.
 */
export function handlerTable(context: HandlerContext): HandlerTable {
  return {
    hello: {
      guard: 'none',
      // Answered within the hello budgets (see request-gate.ts). Smaller than the padded
      // hello: a forged one gets its victim less than it sent.
      handle: (_request, from, respond) =>
        respond({
          t: 'server_hello',
          sk: context.publicKeys.sk,
          ek: context.publicKeys.ek,
          cookie: context.cookies.make(from),
        }),
    },
    register: {
      guard: 'validated-address',
      handle: (request, from, respond) => register(context, request, from, respond),
    },
    deregister: {
      guard: 'known-here',
      field: 'nick',
      refusal: 'a client can only deregister itself',
      handle: (_request, _from, respond, record) => deregister(context, record, respond),
    },
    heartbeat: {
      guard: 'registered-here-with-key',
      field: 'nick',
      handle: async (_request, _from, respond, record) => {
        // Beyond the limit, the number of its last presence notice and the epoch: it tells
        // whether it missed one, or whether this node restarted and lost what it watches.
        respond(
          context.watchMode()
            ? {
                t: 'ack',
                seq: context.subscriptions.lastNotice(record.nick),
                epoch: context.epoch,
              }
            : { t: 'ack' },
        );
        await context.presence.markOnline(record); // taken for offline while it was only quiet
      },
    },
    table_sync: {
      guard: 'online-here',
      field: 'nick',
      handle: (_request, _from, respond, record) => {
        respond({ t: 'ack' });
        // Beyond the limit no whole table goes out: the client is told it holds only what it watches.
        if (context.watchMode()) return void context.subscriptions.tellWatchMode(record);
        return context.pushes.table(record, true);
      },
    },
    watch: {
      guard: 'online-here',
      field: 'nick',
      handle: (request, _from, respond) => respond(context.subscriptions.watch(request)),
    },
    list: {
      guard: 'online-here',
      field: 'nick',
      handle: async (request, _from, respond) => {
        const page = await context.subscriptions.list(request);
        respond('refuse' in page ? errorReply('TRY_LATER', page.refuse) : page);
      },
    },
    session: {
      guard: 'online-here',
      field: 'nick',
      handle: async (request, _from, respond, record) => {
        // One per registration: a session costs an HPKE setup here, so a client cannot make
        // the registry do that work over and over (another one needs another registration).
        // The answer goes under the session it took (the client then sends under it too).
        const taken = context.clientSessions.has(request.nick)
          ? undefined
          : await context.clientSessions.take(request.nick, request.session, record.ek);
        respond({ t: 'ack' }, taken ? { mac: taken } : {});
      },
    },
    save: {
      guard: 'known-here',
      field: 'from',
      handle: (request, _from, respond, sender) => context.saves.save(request, sender, respond),
    },
    group: {
      guard: 'online-here',
      field: 'from',
      handle: (request, _from, respond) => context.groups.handle(request, respond),
    },
    group_send: {
      guard: 'online-here',
      field: 'from',
      handle: (request, _from, respond) => context.groups.send(request, respond),
    },
    // Both ends online at addresses they proved (see introductions.ts).
    introduce: {
      guard: 'online-here',
      field: 'from',
      handle: (request, _from, respond, sender) =>
        respond(context.introductions.introduce(sender, request.to)),
    },
    // Where the probe came from; no larger than the probe, unless from the client's own address
    // (see request-gate.ts).
    nat_probe: {
      guard: 'none',
      handle: (request, from, respond, _sender, via) => {
        // At the probe port, what it saw is kept as the client's mapping (see natProbed).
        natProbed(context, request.from, from, via);
        respond({ t: 'nat_seen', ip: from.address, port: from.port });
      },
    },
  };
}

async function register(
  context: HandlerContext,
  request: MessageOf<'register'>,
  from: Address,
  respond: Respond,
): Promise<void> {
  // Its guard saw first, before any state or work, that the address has shown it receives (a
  // hello's cookie; checked before the signature too, see request-keys.ts: a cookie gone stale since
  // is refused by the guard). Whether it may have the nick here: registration.ts.
  const { nick } = request;
  const verdict = await context.registration.decide(request, from);
  if ('refuse' in verdict) {
    if (verdict.told) context.refused({ nick, address: from, code: `ERR_${verdict.refuse.name}` });
    return respond(errorReply(verdict.refuse.name, verdict.refuse.message));
  }
  // Its session, if it set one up: what this node sends it goes under its key from now on.
  context.clientSessions.forget(nick);
  const session =
    request.session === undefined
      ? undefined
      : await context.clientSessions.take(nick, request.session, request.ek);
  // The answer under the session, if taken: the client holds its key, and sends under it next.
  const underSession = session ? { mac: session } : {};
  const record: ClientRecord = {
    nick,
    ip: from.address,
    port: from.port,
    online: true,
    deregistered: false,
    node: context.nodeId(),
    sk: request.sk,
    ek: request.ek,
    ...(verdict.passwordHash === undefined ? {} : { passwordHash: verdict.passwordHash }),
  };
  const changed = [record];
  // A nick left online at this address (its probe went unanswered) belonged to a client that is gone.
  for (const other of context.clients.at(from)) {
    if (other.online && other.nick !== nick) {
      other.online = false;
      changed.push(other);
    }
  }
  context.clients.set(nick, record);
  context.presence.registered(nick);
  await context.persist(changed);
  // A fresh registration starts outside any group (the client's group mode did not survive),
  // and a nick displaced from this address is out of its group too.
  for (const record of changed)
    await context.groups.memberGone(record.nick, record.nick === nick ? 'left' : 'removed');
  context.introductions.registered(nick, request.local);
  const pending = await context.store.countMessages(nick);
  const seen = { ip: from.address, port: from.port };
  const natProbePort = context.natProbePort();
  const natProbe = natProbePort !== undefined ? { natProbe: natProbePort } : {};
  if (context.watchMode()) {
    // Beyond the table limit: no table; the client says what it watches and looks up senders itself.
    // What it watched before is said again after each registration.
    context.subscriptions.registered(nick, false);
    respond({ t: 'registered', pending, presence: 'watch', seen, ...natProbe }, underSession);
    context.tellChanges();
    context.log.info({ nick, from: formatAddress(from) }, `${nick} connected`);
    context.registered({ nick, address: from });
    context.background(context.mailbox.deliver(nick), 'delivery of saved messages');
    return;
  }
  context.subscriptions.registered(nick, true);
  respond({ t: 'registered', pending, seen, ...natProbe }, underSession);
  const table = context.snapshot();
  context.tellChanges(); // the others hear of the newcomer in the next change
  // The newcomer's first table goes before its mailbox: it needs the senders' keys to open it.
  const firstTableThenMail = async () => {
    await context.pushes.table(record, false, table);
    await context.mailbox.deliver(nick);
  };
  context.log.info({ nick, from: formatAddress(from) }, `${nick} connected`);
  context.registered({ nick, address: from });
  context.background(firstTableThenMail(), 'delivery of saved messages');
}

async function deregister(
  context: HandlerContext,
  record: ClientRecord,
  respond: Respond,
): Promise<void> {
  if (record.online || !record.deregistered) {
    record.online = false;
    record.deregistered = true;
    context.subscriptions.left(record.nick);
    await context.persist([record]);
    await context.groups.memberGone(record.nick, 'left');
    context.tellChanges();
    context.log.info({ nick: record.nick }, `${record.nick} disconnected`);
    context.deregistered({ nick: record.nick });
  }
  respond({ t: 'ack' });
}

/**
 * A `nat_probe` from `nick` came from `from` on the probe port (`via`): the same address its
 * registration came from means its NAT maps it consistently (or there is none); another, a
 * new mapping per destination (symmetric). Kept for its introductions (see introductions.ts).
 */
function natProbed(
  context: HandlerContext,
  nick: string,
  from: Address,
  via: number | undefined,
): void {
  const record = context.clients.get(nick);
  if (via === undefined || via !== context.natProbePort() || !record?.online) return;
  context.introductions.mapped(
    nick,
    addressOf(record),
    sameAddress(addressOf(record), from) ? 'consistent' : 'symmetric',
  );
}
