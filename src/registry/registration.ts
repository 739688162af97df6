// Whether a registration may take its nick at its address, and with which account: the checks on
// nick, room, budgets, keys, password, and who else holds the nick. It decides; the registry acts.
import type { Logger } from 'pino';
import type { WireError } from '../protocol/constants.js';
import type { MessageOf } from '../protocol/messages.js';
import { nickProblem } from '../protocol/nick.js';
import { formatAddress, sameAddress, type Address } from '../transport/address.js';
import type { Budget, ClientRecord } from '../store/store.js';
import { open, passwordAad, type AgreementKeys } from '../crypto/sealing.js';
import { checkPassword, hashPassword } from './accounts.js';
import { newNickRefusal, type NewNickAdmission } from './admission.js';
import { localBudget, type MakeBudget } from './budgets.js';
import type { PasswordGate } from './password-gate.js';
import { addressOf } from './client-table.js';
import { decodeUtf8 } from '../util/utf8.js';

/** A registration refused: the error to answer with, and whether it is told as a `refused` event. */
export interface Refused {
  refuse: { name: keyof typeof WireError; message: string };
  /** A claim on a nick or an address someone holds (told as an event), not a malformed or rationed one. */
  told: boolean;
}

/** A registration let in: the account's password hash to keep with the record, if any. */
export interface Admitted {
  passwordHash: string | undefined;
}

/** What registration needs of the registry around it. */
export interface RegistrationContext {
  /** Most nicks the table holds (what a client can take included). */
  readonly maxClients: number;
  readonly scryptCost: number;
  readonly log: Logger;
  /** The registry's key agreement keys: account passwords are sealed to them. */
  readonly agreement: AgreementKeys;
  /** The table's record of `nick`, its records at an address, and its size. */
  record(nick: string): ClientRecord | undefined;
  at(address: Address): Iterable<ClientRecord>;
  size(): number;
  /** The budgets for nicks new to the table (see admission.ts). */
  readonly newNicks: Pick<NewNickAdmission, 'admit'>;
  /** scrypt, bounded (see password-gate.ts). */
  readonly passwords: Pick<PasswordGate, 'run'>;
  /** Where the wrong-password budget per nick is kept (shared by the nodes on one Redis); local if absent. */
  readonly budgets?: MakeBudget;
  /** Whether the client holding `record` answers a probe (it is alive at its address). */
  probe(record: ClientRecord): Promise<boolean>;
}

/**
 * Whether a registration may take its nick at its address, and with which account: the nick is
 * well formed; the table has room for a new one, and the new-nick budgets allow it; the nick
 * belongs to the keys it was first registered with, other keys getting it only with its
 * account's password (checked through scrypt, bounded, a few wrong ones a minute per nick); a
 * nick online elsewhere keeps it while it answers a probe; and one socket is one client (a nick
 * online at this address that answers a probe holds it). It decides; the registry applies.
 */
export class Registration {
  readonly #context: RegistrationContext;
  /** Wrong passwords per nick: a few a minute, whichever node they come to. */
  readonly #passwordFailures: Budget;

  constructor(context: RegistrationContext) {
    this.#context = context;
    this.#passwordFailures = (context.budgets ?? localBudget)('wrong-passwords', 5, 60);
  }

  /** The verdict on `request` from `from` (its address already shown to receive: see guards.ts). */
  async decide(request: MessageOf<'register'>, from: Address): Promise<Admitted | Refused> {
    const context = this.#context;
    const { nick } = request;
    const problem = nickProblem(nick);
    if (problem) return { refuse: { name: 'INVALID_NICK', message: problem }, told: false };
    const existing = context.record(nick);
    if (!existing && context.size() >= context.maxClients) {
      context.log.warn({ nick, size: context.size() }, 'nick refused: the table is full');
      return {
        refuse: {
          name: 'REGISTRY_FULL',
          message: `the registry holds at most ${context.maxClients} nicks`,
        },
        told: false,
      };
    }
    if (!existing) {
      const refused = await context.newNicks.admit(from);
      if (refused) {
        context.log.warn(
          { nick, from: formatAddress(from), budget: refused },
          'nick refused: too many new nicks',
        );
        return { refuse: { name: 'TRY_LATER', message: newNickRefusal(refused) }, told: false };
      }
    }
    const binding = await this.#checkBinding(request, existing, from);
    if ('refuse' in binding) {
      context.log.info(
        { nick, from: formatAddress(from), why: binding.refuse.message },
        'nick refused',
      );
      return { refuse: binding.refuse, told: true };
    }
    if (
      existing?.online &&
      !sameAddress(addressOf(existing), from) &&
      (await context.probe(existing))
    ) {
      context.log.info(
        { nick, from: formatAddress(from), holder: formatAddress(addressOf(existing)) },
        'nick refused: taken',
      );
      return {
        refuse: { name: 'NICK_TAKEN', message: `nick ${nick} is online at another address` },
        told: true,
      };
    }
    // One socket is one client: a nick still online at this address is displaced only once it
    // fails a probe. One that answers holds the address, so this registration did not come
    // from there (its source was forged): refused, and the holder keeps its place and groups.
    for (const holder of [...context.at(from)]) {
      if (!holder.online || holder.nick === nick) continue;
      if (await context.probe(holder)) {
        context.log.warn(
          { nick, from: formatAddress(from), holder: holder.nick },
          'registration refused: the address is held by a client that answers',
        );
        return {
          refuse: {
            name: 'ADDRESS_IN_USE',
            message: `another client is registered at ${formatAddress(from)}`,
          },
          told: true,
        };
      }
    }
    return binding;
  }

  /**
   * A nick belongs to the keys it was first registered with. Other keys get it only with
   * the right password of its account (that is how a user moves to a new machine); a
   * refused claimant learns nothing else, and none of the nick's saved messages.
   */
  async #checkBinding(
    request: MessageOf<'register'>,
    existing: ClientRecord | undefined,
    from: Address,
  ): Promise<Admitted | { refuse: Refused['refuse'] }> {
    const context = this.#context;
    const passwordHash = existing?.passwordHash;
    const sameKeys = existing?.sk === request.sk;
    if (!request.password) {
      if (existing && !sameKeys)
        return {
          refuse: { name: 'NICK_TAKEN', message: `nick ${request.nick} is bound to another key` },
        };
      return { passwordHash };
    }
    const password = await this.#openPassword(request);
    if (password === undefined)
      return { refuse: { name: 'BAD_REQUEST', message: 'the password could not be read' } };
    if (request.account === 'create') {
      if (existing && (!sameKeys || passwordHash))
        return { refuse: { name: 'NICK_TAKEN', message: `nick ${request.nick} is taken` } };
      const hashed = await context.passwords.run(from.address, () =>
        hashPassword(password, context.scryptCost),
      );
      if ('refused' in hashed) return { refuse: tryLater(hashed.refused) };
      return { passwordHash: hashed.done };
    }
    if (!passwordHash)
      return { refuse: { name: 'NO_ACCOUNT', message: `user ${request.nick} not found` } };
    // Guessing is slow (scrypt) and limited per nick, whatever address the guesses come from.
    if ((await this.#passwordFailures.get(request.nick))?.remainingPoints === 0) {
      return {
        refuse: {
          name: 'BAD_PASSWORD',
          message: 'too many wrong passwords for this nick; wait a minute',
        },
      };
    }
    const checked = await context.passwords.run(from.address, () =>
      checkPassword(password, passwordHash),
    );
    if ('refused' in checked) return { refuse: tryLater(checked.refused) };
    if (!checked.done) {
      await this.#passwordFailures.consume(request.nick).catch(() => undefined);
      return { refuse: { name: 'BAD_PASSWORD', message: 'incorrect password' } };
    }
    return { passwordHash };
  }

  async #openPassword(request: MessageOf<'register'>): Promise<string | undefined> {
    try {
      const bytes = await open(
        request.password!,
        this.#context.agreement,
        passwordAad(request.nick, request.sk, request.ek, request.account ?? 'login'),
      );
      return decodeUtf8(bytes);
    } catch {
      return undefined;
    }
  }
}

/** The refusal of password work the gate did not let in. */
function tryLater(why: 'busy' | 'limited'): { name: 'TRY_LATER'; message: string } {
  return {
    name: 'TRY_LATER',
    message:
      why === 'busy'
        ? 'the registry is busy checking passwords: try again in a moment'
        : 'too many password requests from this address: wait a minute',
  };
}
