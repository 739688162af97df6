import t from 'tap';
import { generateIdentity } from '../../src/crypto/identity.js';
import type { Message } from '../../src/protocol/messages.js';
import { RequestKeys } from '../../src/registry/request-keys.js';
import type { ClientRecord } from '../../src/store/store.js';

const AT = { address: '127.0.0.1', port: 4000 };
const ELSEWHERE = { address: '127.0.0.1', port: 4001 };

async function keys() {
  const alice = await generateIdentity();
  const record: ClientRecord = {
    nick: 'alice',
    ip: AT.address,
    port: AT.port,
    online: true,
    ...alice.public,
  };
  const asked: string[] = [];
  const subject = new RequestKeys({
    record: (nick) => (nick === 'alice' ? record : undefined),
    addressValidated: (from, cookie) => {
      asked.push(`cookie ${cookie} from ${from.port}`);
      return cookie === 'good';
    },
    sessionKey: (nick, sid) => (nick === 'alice' && sid === 's1' ? Buffer.from('key') : undefined),
  });
  return { subject, alice, asked };
}

const request = (body: object) => ({ v: 1, id: 'r1', ...body }) as unknown as Message;

t.test('a hello: taken unchecked, never with a key', async (t) => {
  const { subject, alice } = await keys();
  const hello = request({ t: 'hello', nick: 'alice', sk: alice.public.sk, pad: '' });
  t.ok(subject.unchecked(hello), 'unchecked');
  t.notOk(subject.keyFor('alice', hello, ELSEWHERE), 'no key to check it with');
  t.notOk(subject.macKeyFor('alice', 's1', hello), 'never under a session');
  for (const other of [
    request({ t: 'register', nick: 'alice', ...alice.public, cookie: 'good' }),
    request({ t: 'heartbeat', nick: 'alice', sk: alice.public.sk }),
    request({ t: 'save', from: 'alice', to: 'bob' }),
    { v: 1, re: 'r1', t: 'ack' } as unknown as Message,
  ])
    t.notOk(subject.unchecked(other), `${'t' in other ? other.t : ''}: checked`);
});

t.test('a heartbeat from a nick the table does not hold: unchecked as a hello', async (t) => {
  const { subject } = await keys();
  const stranger = await generateIdentity();
  const heartbeat = request({ t: 'heartbeat', nick: 'bob', sk: stranger.public.sk });
  t.ok(subject.unchecked(heartbeat), 'unchecked: no signature of a key bound to nothing');
  t.notOk(subject.keyFor('bob', heartbeat, AT), 'no key made for the key it brings');
});

t.test(
  'a registration: signed by the nick it names, from an address its cookie proves, with the key it brings',
  async (t) => {
    const { subject, alice, asked } = await keys();
    const register = (cookie: string) =>
      request({ t: 'register', nick: 'alice', ...alice.public, cookie });
    t.ok(subject.keyFor('alice', register('good'), AT), 'the key it brings');
    t.notOk(subject.keyFor('alice', register('stale'), AT), 'no key without a good cookie');
    t.notOk(subject.keyFor('mallory', register('good'), AT), 'not signed by another');
    t.same(asked, ['cookie good from 4000', 'cookie stale from 4000'], 'the cookie asked first');
  },
);

t.test('anything else: the key the nick is bound to, speaking for itself only', async (t) => {
  const { subject, alice } = await keys();
  const bound = subject.keyFor('alice', request({ t: 'save', from: 'alice', to: 'bob' }), AT);
  t.equal(
    bound?.export({ format: 'jwk' }).x,
    Buffer.from(alice.public.sk, 'base64').toString('base64url'),
  );
  t.notOk(subject.keyFor('alice', request({ t: 'save', from: 'bob', to: 'x' }), AT));
  t.notOk(subject.keyFor('bob', request({ t: 'list', nick: 'bob' }), AT), 'an unknown nick');
  t.ok(subject.keyFor('alice', request({ t: 'frag', of: 'r', i: 0, n: 2, data: '' }), AT));
  t.notOk(
    subject.keyFor('alice', request({ t: 'frag', of: 'r', i: 0, n: 2, data: '' }), ELSEWHERE),
    'pieces only from where the nick is registered',
  );
});

t.test(
  'under a session: its key, for a request speaking for its nick, never a registration or a hello',
  async (t) => {
    const { subject } = await keys();
    const save = request({ t: 'save', from: 'alice', to: 'bob' });
    t.same(subject.macKeyFor('alice', 's1', save), Buffer.from('key'));
    t.notOk(subject.macKeyFor('alice', 's2', save), 'not another session');
    t.notOk(subject.macKeyFor('alice', 's1', request({ t: 'save', from: 'bob' })), 'for bob');
    t.notOk(subject.macKeyFor('alice', 's1', request({ t: 'register', nick: 'alice' })));
    t.notOk(subject.macKeyFor('alice', 's1', request({ t: 'hello', nick: 'alice' })));
    t.notOk(
      subject.macKeyFor('alice', 's1', { v: 1, re: 'r1', t: 'ack' } as unknown as Message),
      'no reply',
    );
  },
);

t.test('NO_SESSION at any size only where the nick is registered', async (t) => {
  const { subject } = await keys();
  const save = request({ t: 'save', from: 'alice', to: 'bob' });
  t.ok(subject.noSession('alice', save, AT));
  t.notOk(subject.noSession('alice', save, ELSEWHERE));
  t.notOk(subject.noSession('bob', save, AT), 'an unknown nick');
});

t.test(
  "the key object made for a new nick's registration is the one its next signed request is checked with, not made again; only a few are kept for keys not bound",
  async (t) => {
    const [alice, ...others] = await Promise.all(
      Array.from({ length: 70 }, () => generateIdentity()),
    );
    const records = new Map<string, ClientRecord>();
    const subject = new RequestKeys({
      record: (nick) => records.get(nick),
      addressValidated: () => true,
      sessionKey: () => undefined,
    });
    const register = (nick: string, keys: typeof alice) =>
      subject.keyFor(nick, request({ t: 'register', nick, ...keys.public, cookie: 'good' }), AT);
    const bind = (nick: string, keys: typeof alice) =>
      records.set(nick, { nick, ip: AT.address, port: AT.port, online: true, ...keys.public });
    const session = (nick: string) =>
      subject.keyFor(nick, request({ t: 'session', nick, session: 'enc' }), AT);

    const made = register('alice', alice);
    t.ok(made, 'the key it brings');
    bind('alice', alice);
    t.equal(session('alice'), made, 'the same key object, once the nick is bound to it');
    t.equal(session('alice'), made, 'and then from the cache');

    // Keys brought by registrations that bind nothing (a flood of fresh keys) are kept a few at a time.
    const first = register('n0', others[0]);
    others.forEach((keys, i) => register(`n${i}`, keys));
    bind('n0', others[0]);
    const later = session('n0');
    t.ok(later, 'bound later: a key object');
    t.not(later, first, 'made again: the one made first was not kept past the few');
  },
);
