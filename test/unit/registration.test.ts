import t from 'tap';
import pino from 'pino';
import { generateIdentity } from '../../src/crypto/identity.js';
import { passwordAad, seal } from '../../src/crypto/sealing.js';
import type { MessageOf } from '../../src/protocol/messages.js';
import { PROTOCOL_VERSION } from '../../src/protocol/constants.js';
import { Registration } from '../../src/registry/registration.js';
import { PasswordGate } from '../../src/registry/password-gate.js';
import type { ClientRecord } from '../../src/store/store.js';
import type { Address } from '../../src/transport/address.js';
import { hashPassword } from '../../src/registry/accounts.js';

const HERE: Address = { address: '10.0.0.1', port: 4000 };
const ELSEWHERE: Address = { address: '10.0.0.2', port: 4000 };
const SK = 'A'.repeat(43) + '=';
const OTHER_SK = 'B'.repeat(43) + '=';
const EK = 'C'.repeat(43) + '=';

const record = (nick: string, at: Address, more: Partial<ClientRecord> = {}): ClientRecord => ({
  nick,
  ip: at.address,
  port: at.port,
  online: true,
  deregistered: false,
  sk: SK,
  ek: EK,
  ...more,
});

/** A Registration over a table of `records`; probes answered by the nicks in `alive`; new nicks refused when `rationed`. */
async function setup(
  records: ClientRecord[],
  options: { alive?: string[]; rationed?: boolean; maxClients?: number } = {},
) {
  const registry = await generateIdentity();
  const table = new Map(records.map((r) => [r.nick, r]));
  const probed: string[] = [];
  const registration = new Registration({
    maxClients: options.maxClients ?? 100,
    scryptCost: 1024,
    log: pino({ level: 'silent' }),
    agreement: registry.agreement,
    record: (nick) => table.get(nick),
    at: (address) =>
      [...table.values()].filter((r) => r.ip === address.address && r.port === address.port),
    size: () => table.size,
    newNicks: { admit: async () => (options.rationed ? 'address' : undefined) },
    passwords: new PasswordGate({ concurrent: 2, perAddressPerMinute: 100 }),
    probe: async (r) => {
      probed.push(r.nick);
      return options.alive?.includes(r.nick) ?? false;
    },
  });
  const request = async (
    nick: string,
    more: { sk?: string; password?: string; account?: 'login' | 'create' } = {},
  ): Promise<MessageOf<'register'>> => {
    const sk = more.sk ?? SK;
    const account = more.account ?? 'login';
    const password =
      more.password === undefined
        ? undefined
        : await seal(
            new TextEncoder().encode(more.password),
            registry.agreement.publicRaw,
            passwordAad(nick, sk, EK, account),
          );
    return {
      v: PROTOCOL_VERSION,
      t: 'register',
      id: 'r1',
      nick,
      sk,
      ek: EK,
      ...(password ? { password, account } : {}),
    };
  };
  return { registration, request, probed };
}

t.test('malformed, full, rationed: refused without an event', async (t) => {
  const { registration, request } = await setup([record('ann', HERE)], { maxClients: 1 });
  t.match(await registration.decide(await request('bad nick'), HERE), {
    refuse: { name: 'INVALID_NICK' },
    told: false,
  });
  t.match(await registration.decide(await request('bob'), HERE), {
    refuse: { name: 'REGISTRY_FULL' },
    told: false,
  });
  t.match(
    await registration.decide(await request('ann'), HERE),
    { passwordHash: undefined },
    'a nick the table holds always comes back',
  );
  const rationed = await setup([], { rationed: true });
  t.match(await rationed.registration.decide(await rationed.request('bob'), HERE), {
    refuse: { name: 'TRY_LATER' },
    told: false,
  });
});

t.test(
  'a nick belongs to its keys; online elsewhere it is kept while its holder answers',
  async (t) => {
    const { registration, request, probed } = await setup(
      [record('ann', ELSEWHERE), record('cat', ELSEWHERE, { online: false })],
      { alive: ['ann'] },
    );
    t.match(
      await registration.decide(await request('ann', { sk: OTHER_SK }), HERE),
      { refuse: { name: 'NICK_TAKEN' }, told: true },
      'other keys, no password',
    );
    t.same(probed, [], 'refused before any probe');
    t.match(
      await registration.decide(await request('ann'), HERE),
      {
        refuse: { name: 'NICK_TAKEN', message: 'nick ann is online at another address' },
        told: true,
      },
      'its holder answers',
    );
    t.same(probed, ['ann']);
    t.match(
      await registration.decide(await request('cat'), HERE),
      { passwordHash: undefined },
      'offline elsewhere: it moves here',
    );
  },
);

t.test('one socket is one client: a nick at this address that answers holds it', async (t) => {
  const alive = await setup([record('ann', HERE), record('bob', ELSEWHERE)], { alive: ['ann'] });
  t.match(await alive.registration.decide(await alive.request('eve'), HERE), {
    refuse: { name: 'ADDRESS_IN_USE' },
    told: true,
  });
  const gone = await setup([record('ann', HERE)]);
  t.match(
    await gone.registration.decide(await gone.request('eve'), HERE),
    { passwordHash: undefined },
    'ann did not answer: eve takes the address',
  );
});

t.test(
  'accounts: made with a password; other keys get the nick only with it, a few wrong ones a minute',
  async (t) => {
    const hash = await hashPassword('correct horse', 1024);
    const { registration, request } = await setup([
      record('ann', ELSEWHERE, { online: false, passwordHash: hash }),
    ]);
    const made = await registration.decide(
      await request('new', { password: 'a new one', account: 'create' }),
      HERE,
    );
    t.ok(
      'passwordHash' in made && made.passwordHash?.startsWith('scrypt$'),
      'an account made: its hash kept',
    );
    t.match(
      await registration.decide(await request('nobody', { password: 'x', account: 'login' }), HERE),
      { refuse: { name: 'NO_ACCOUNT' } },
    );
    t.match(
      await registration.decide(
        await request('ann', { sk: OTHER_SK, password: 'correct horse' }),
        HERE,
      ),
      { passwordHash: hash },
      'the right password: a new machine takes the nick',
    );
    for (let i = 0; i < 5; i++) {
      t.match(
        await registration.decide(await request('ann', { sk: OTHER_SK, password: 'wrong' }), HERE),
        { refuse: { name: 'BAD_PASSWORD', message: 'incorrect password' } },
      );
    }
    t.match(
      await registration.decide(
        await request('ann', { sk: OTHER_SK, password: 'correct horse' }),
        HERE,
      ),
      { refuse: { name: 'BAD_PASSWORD', message: /too many wrong passwords/ } },
      'past five wrong ones, not even the right one for a minute',
    );
    const garbled = await request('ann', { sk: OTHER_SK, password: 'correct horse' });
    t.match(
      await registration.decide({ ...garbled, nick: 'ann', sk: SK }, HERE),
      { refuse: { name: 'BAD_REQUEST' } },
      'sealed for other keys: it does not open',
    );
  },
);
