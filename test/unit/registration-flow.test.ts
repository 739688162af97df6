import t from 'tap';
import { RegistrationFlow, type Seen } from '../../src/client/registration-flow.js';
import type { OutboxEntry } from '../../src/client/outbox.js';
import { UdpchatError } from '../../src/protocol/errors.js';
import type { Reply, RequestBody } from '../../src/protocol/messages.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { deferred, settle } from '../helpers/settle.js';

const PATIENCE_MS = 3_000;

const entry = (mid: string): OutboxEntry => ({ mid, to: 'bob', text: `text ${mid}`, at: 1 });

/** The registry's reply to the registration (`registered`, unless `t` says otherwise). */
const reply = (fields: Record<string, unknown> = {}): Reply => ({
  v: 1,
  t: 'registered',
  re: 'r1',
  ...fields,
});

/**
 * A registration flow whose context records each call as a line. The registry answers as
 * `control.reply` says (registered, table mode, no session offered, by default); each first
 * table is a promise the test resolves (`control.table`).
 */
function flow() {
  const clock = fakeClock();
  const calls: string[] = [];
  const seen: Seen[] = [];
  const bodies: RequestBody[] = [];
  const warnings: string[] = [];
  const control = {
    reply: (): Promise<Reply> => Promise.resolve(reply()),
    offered: undefined as undefined | { sid: string; key: Buffer },
    left: [entry('m1'), entry('m2')],
    local: [{ ip: '192.168.1.5', port: 4000 }],
    table: deferred(),
    awaiting: false,
    sessionShared: deferred(),
    watchContacts: (): Promise<void> => Promise.resolve(),
    contacts: new Set(['carol']),
    keep: undefined as undefined | ((nick: string) => boolean),
  };
  const registration = new RegistrationFlow({
    patienceMs: PATIENCE_MS,
    timers: clock.clock,
    life: {
      registering: () => void calls.push('life registering'),
      registered: () => void calls.push('life registered'),
      registrationFailed: () => void calls.push('life failed'),
    },
    link: {
      registration: () => {
        calls.push('link registration');
        return Promise.resolve({
          body: { t: 'register', nick: 'alice' } as RequestBody,
          server: { ek: 'server-ek' },
          offered: control.offered,
        });
      },
      register: (body, offered) => {
        calls.push(`link register${offered ? ' with session' : ''}`);
        bodies.push(body);
        return control.reply();
      },
      shareSession: (ek) => void calls.push(`share session ${ek}`),
      sessionShared: () => {
        calls.push('session shared?');
        return control.sessionShared.promise;
      },
      resync: () => void calls.push('resync'),
    },
    table: {
      enterTableMode: () => void calls.push('table mode'),
      awaitFirstTable: () => {
        calls.push('await first table');
        control.awaiting = true;
        control.table = deferred();
        return control.table.promise.then(() => void (control.awaiting = false));
      },
      stopAwaiting: () => {
        calls.push('stop awaiting');
        control.awaiting = false;
      },
      get awaitingFirstTable() {
        return control.awaiting;
      },
      enterWatchMode: (keep) => {
        calls.push('watch mode');
        control.keep = keep;
      },
    },
    inbox: {
      registering: () => void calls.push('inbox registering'),
      startCatchUp: (pending, patienceMs) =>
        void calls.push(`catch up ${pending} within ${patienceMs}`),
    },
    outbox: {
      load: () => {
        calls.push('outbox load');
        return Promise.resolve(control.left);
      },
    },
    sendQueue: {
      resume: (entries) => void calls.push(`resume ${entries.map((e) => e.mid).join(',')}`),
      retryAll: () => void calls.push('retry all'),
    },
    groups: { registered: () => void calls.push('groups registered') },
    watchContacts: () => {
      calls.push('watch contacts');
      return control.watchContacts();
    },
    isContact: (nick) => control.contacts.has(nick),
    localAddresses: () => control.local,
    seen: (what) => void seen.push(what),
    registeredEvent: () => void calls.push('event registered'),
    resumedEvent: (left) => void calls.push(`event resumed ${left.length}`),
    warn: (_error, message) => void warnings.push(message),
  });
  return { registration, clock, calls, seen, bodies, warnings, control };
}

t.test(
  'a first registration waits for its table, then shares the session and takes up the outbox',
  async (t) => {
    const { registration, calls, bodies, control, clock } = flow();
    let done = false;
    const registered = registration.register().then(() => (done = true));
    await settle();
    t.same(calls, [
      'life registering',
      'outbox load',
      'link registration',
      'inbox registering',
      'table mode',
      'await first table',
      'link register',
      'life registered',
      `catch up 0 within ${PATIENCE_MS}`,
      'event registered',
    ]);
    t.same(bodies[0], { t: 'register', nick: 'alice', local: [{ ip: '192.168.1.5', port: 4000 }] });
    t.notOk(done, 'sends wait for the first table');
    calls.length = 0;
    control.table.resolve();
    await registered;
    t.same(calls, [
      'share session server-ek',
      'groups registered',
      'event resumed 2',
      'resume m1,m2',
      'retry all',
    ]);
    t.equal(clock.pending, 0, 'the wait for the table leaves no timer behind');
  },
);

t.test(
  'the outbox is taken up once: a second registration neither reads nor resumes it',
  async (t) => {
    const { registration, calls, control } = flow();
    const first = registration.register();
    await settle();
    control.table.resolve();
    await first;
    calls.length = 0;
    const second = registration.register();
    await settle();
    control.table.resolve();
    await second;
    t.notOk(calls.includes('outbox load'));
    t.notOk(calls.some((call) => call.startsWith('resume') || call.startsWith('event resumed')));
    t.equal(calls.at(-1), 'retry all', 'what waits is tried again after each registration');
  },
);

t.test('an empty outbox resumes nothing to tell', async (t) => {
  const { registration, calls, control } = flow();
  control.left = [];
  const done = registration.register();
  await settle();
  control.table.resolve();
  await done;
  t.notOk(calls.includes('event resumed 0'));
  t.ok(calls.includes('resume '), 'the send queue still learns the outbox was read');
});

t.test(
  'a first table that never comes: the wait ends after the patience, and the table is asked for',
  async (t) => {
    const { registration, calls, clock } = flow();
    let done = false;
    const registered = registration.register().then(() => (done = true));
    await settle();
    clock.advance(PATIENCE_MS - 1);
    await settle();
    t.notOk(done);
    clock.advance(1);
    await registered;
    const after = calls.slice(calls.indexOf('event registered') + 1);
    t.same(after.slice(0, 2), ['resync', 'share session server-ek']);
  },
);

t.test(
  'a refused registration: the life cycle hears it, no table is awaited, the outbox stays unread',
  async (t) => {
    const { registration, calls, control } = flow();
    const refused = new UdpchatError('ERR_NICK_TAKEN', 'taken');
    control.reply = () => Promise.reject(refused);
    await t.rejects(registration.register(), refused);
    t.same(calls.slice(-3), ['link register', 'stop awaiting', 'life failed']);
    t.notOk(calls.includes('event registered'));
    t.notOk(calls.some((call) => call.startsWith('resume')));
    // Accepted the next time: the outbox is read again and taken up then.
    calls.length = 0;
    control.reply = () => Promise.resolve(reply());
    const again = registration.register();
    await settle();
    control.table.resolve();
    await again;
    t.ok(calls.includes('outbox load'));
    t.ok(calls.includes('resume m1,m2'));
  },
);

t.test('a reply of another kind is an error, and a failed registration', async (t) => {
  const { registration, calls, control } = flow();
  control.reply = () => Promise.resolve(reply({ t: 'ack' }));
  await t.rejects(registration.register(), { code: 'ERR_REMOTE' });
  t.equal(calls.at(-1), 'life failed');
});

t.test(
  'beyond the table limit: watch mode, the session shared first, then the contacts watched',
  async (t) => {
    const { registration, calls, control, warnings } = flow();
    control.reply = () => Promise.resolve(reply({ presence: 'watch', pending: 3 }));
    control.watchContacts = () => Promise.reject(new Error('no answer'));
    const registered = registration.register();
    await settle();
    t.ok(calls.includes('catch up 3 within 3000'));
    const fromWatch = calls.slice(calls.indexOf('watch mode'));
    t.same(fromWatch, ['watch mode', 'share session server-ek', 'session shared?']);
    t.ok(control.keep?.('carol'), 'contacts are kept');
    t.notOk(control.keep?.('dave'), 'others are not');
    control.sessionShared.resolve();
    await registered;
    t.same(calls.slice(calls.indexOf('session shared?') + 1), [
      'watch contacts',
      'groups registered',
      'event resumed 2',
      'resume m1,m2',
      'retry all',
    ]);
    t.same(warnings, ['contacts not watched'], 'contacts not watched are a warning, not a failure');
  },
);

t.test('a session offered with the registration is not shared again', async (t) => {
  for (const presence of [undefined, 'watch'] as const) {
    const { registration, calls, control } = flow();
    control.offered = { sid: 's1', key: Buffer.alloc(32) };
    control.reply = () => Promise.resolve(reply({ presence }));
    const registered = registration.register();
    await settle();
    control.table.resolve();
    await registered;
    const mode = presence ?? 'table';
    t.ok(calls.includes('link register with session'), mode);
    t.notOk(
      calls.some((call) => call.startsWith('share session') || call === 'session shared?'),
      mode,
    );
  }
});

t.test(
  'no local addresses: the request carries none; where the registry saw it is told',
  async (t) => {
    const { registration, bodies, seen, control } = flow();
    control.local = [];
    control.reply = () =>
      Promise.resolve(reply({ seen: { ip: '203.0.113.9', port: 5000 }, natProbe: 12346 }));
    const registered = registration.register();
    await settle();
    control.table.resolve();
    await registered;
    t.same(bodies[0], { t: 'register', nick: 'alice' });
    t.same(seen, [{ address: { ip: '203.0.113.9', port: 5000 }, natProbe: 12346 }]);
  },
);
