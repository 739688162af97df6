import t from 'tap';
import { checkGuard, type GuardContext } from '../../src/registry/guards.js';
import type { ClientRecord } from '../../src/store/store.js';
import type { MessageOf } from '../../src/protocol/messages.js';

const here = { address: '10.0.0.1', port: 4000 };
const elsewhere = { address: '10.0.0.1', port: 4001 };

function record(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    nick: 'alice',
    ip: here.address,
    port: here.port,
    online: true,
    deregistered: false,
    sk: 'key-a',
    ek: 'ek-a',
    ...overrides,
  };
}

/** A table holding `records`, and a cookie check that takes only the cookie 'good' (counting the others). */
function context(...records: ClientRecord[]): GuardContext & { refusedCookies: number } {
  const table = new Map(records.map((entry) => [entry.nick, entry]));
  const result = {
    refusedCookies: 0,
    record: (nick: string) => table.get(nick),
    addressValidated: (_from: unknown, cookie: string | undefined) => {
      if (cookie === 'good') return true;
      result.refusedCookies++;
      return false;
    },
  };
  return result;
}

const notRegistered = (nick: string) => ({
  refuse: { name: 'NOT_REGISTERED', message: `${nick} is not registered at this address` },
});

const session = {
  t: 'session',
  v: 1,
  id: 'r1',
  nick: 'alice',
  session: 'enc',
} as unknown as MessageOf<'session'>;
const groupSend = {
  t: 'group_send',
  v: 1,
  id: 'r2',
  from: 'alice',
  group: 'g',
  mid: 'm',
  text: 'hi',
} as unknown as MessageOf<'group_send'>;
const save = {
  t: 'save',
  v: 1,
  id: 'r3',
  from: 'alice',
  to: 'bob',
  mid: 'm',
  sealed: {},
} as unknown as MessageOf<'save'>;
const deregister = {
  t: 'deregister',
  v: 1,
  id: 'r4',
  nick: 'alice',
} as unknown as MessageOf<'deregister'>;
const heartbeat = (sk: string) =>
  ({ t: 'heartbeat', v: 1, id: 'r5', nick: 'alice', sk }) as unknown as MessageOf<'heartbeat'>;
const register = (cookie?: string) =>
  ({
    t: 'register',
    v: 1,
    id: 'r6',
    nick: 'alice',
    sk: 'key-a',
    ek: 'ek-a',
    ...(cookie ? { cookie } : {}),
  }) as unknown as MessageOf<'register'>;

t.test('none: anyone', async (t) => {
  t.same(checkGuard({ guard: 'none' }, deregister, elsewhere, context()), { sender: undefined });
});

t.test(
  'validated-address: a cookie the address was given, else ADDRESS_UNVALIDATED (counted)',
  async (t) => {
    const ctx = context();
    t.same(checkGuard({ guard: 'validated-address' }, register('good'), here, ctx), {
      sender: undefined,
    });
    t.same(checkGuard({ guard: 'validated-address' }, register('stale'), here, ctx), {
      refuse: { name: 'ADDRESS_UNVALIDATED', message: 'say hello first' },
    });
    t.same(checkGuard({ guard: 'validated-address' }, register(), here, ctx), {
      refuse: { name: 'ADDRESS_UNVALIDATED', message: 'say hello first' },
    });
    t.equal(ctx.refusedCookies, 2);
  },
);

t.test('online-here: online, at this address; the text names the field checked', async (t) => {
  const alice = record();
  t.same(checkGuard({ guard: 'online-here', field: 'nick' }, session, here, context(alice)), {
    sender: alice,
  });
  t.same(checkGuard({ guard: 'online-here', field: 'from' }, groupSend, here, context(alice)), {
    sender: alice,
  });
  t.same(
    checkGuard({ guard: 'online-here', field: 'nick' }, session, elsewhere, context(alice)),
    notRegistered('alice'),
    'another port',
  );
  t.same(
    checkGuard(
      { guard: 'online-here', field: 'nick' },
      session,
      { address: '10.0.0.2', port: 4000 },
      context(alice),
    ),
    notRegistered('alice'),
    'another host',
  );
  t.same(
    checkGuard(
      { guard: 'online-here', field: 'nick' },
      session,
      here,
      context(record({ online: false })),
    ),
    notRegistered('alice'),
    'offline',
  );
  t.same(
    checkGuard({ guard: 'online-here', field: 'from' }, groupSend, here, context()),
    notRegistered('alice'),
    'unknown',
  );
});

t.test(
  'known-here: at this address, online or not, deregistered or not; its own text when given',
  async (t) => {
    const gone = record({ online: false, deregistered: true });
    t.same(checkGuard({ guard: 'known-here', field: 'from' }, save, here, context(gone)), {
      sender: gone,
    });
    t.same(
      checkGuard({ guard: 'known-here', field: 'from' }, save, elsewhere, context(gone)),
      notRegistered('alice'),
    );
    t.same(
      checkGuard({ guard: 'known-here', field: 'from' }, save, here, context()),
      notRegistered('alice'),
    );
    const deregisterGuard = {
      guard: 'known-here',
      field: 'nick',
      refusal: 'a client can only deregister itself',
    } as const;
    t.same(checkGuard(deregisterGuard, deregister, here, context(gone)), { sender: gone });
    t.same(checkGuard(deregisterGuard, deregister, elsewhere, context(gone)), {
      refuse: { name: 'NOT_REGISTERED', message: 'a client can only deregister itself' },
    });
  },
);

t.test(
  'registered-here-with-key: at this address, not deregistered, the same key; offline is fine',
  async (t) => {
    const guard = { guard: 'registered-here-with-key', field: 'nick' } as const;
    const quiet = record({ online: false });
    t.same(
      checkGuard(guard, heartbeat('key-a'), here, context(quiet)),
      { sender: quiet },
      'taken for offline while quiet',
    );
    t.same(
      checkGuard(guard, heartbeat('key-b'), here, context(quiet)),
      notRegistered('alice'),
      'another key',
    );
    t.same(
      checkGuard(guard, heartbeat('key-a'), elsewhere, context(quiet)),
      notRegistered('alice'),
      'moved',
    );
    t.same(
      checkGuard(
        guard,
        heartbeat('key-a'),
        here,
        context(record({ online: false, deregistered: true })),
      ),
      notRegistered('alice'),
      'left with dereg',
    );
    t.same(
      checkGuard(guard, heartbeat('key-a'), here, context()),
      notRegistered('alice'),
      'unknown',
    );
  },
);
