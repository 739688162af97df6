import t from 'tap';
import { ServerLink, type Account, type ServerLinkEvents } from '../../src/client/server-link.js';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';
import { UdpchatError } from '../../src/protocol/errors.js';
import type { Reply, RequestBody } from '../../src/protocol/messages.js';
import type { Address } from '../../src/transport/address.js';
import type { RequestOptions } from '../../src/transport/endpoint.js';
import { settle } from '../helpers/settle.js';

const NODE_A: Address = { address: '127.0.0.1', port: 1 };
const NODE_B: Address = { address: '127.0.0.1', port: 2 };

interface Sent {
  to: number;
  body: RequestBody;
  options: RequestOptions;
}

/**
 * A server link over a fake channel: `answers[type]` gives each request's reply (or throws);
 * a request with no answer stays open until `release()`. Requests, events and calls are recorded.
 */
function link(account: Account = {}, nodes: Address[] = [NODE_A]) {
  const sent: Sent[] = [];
  const events: Array<[string, object]> = [];
  const calls: string[] = [];
  const open: Array<() => void> = [];
  const state = { online: true, sessionMade: false };
  const answers: Partial<Record<RequestBody['t'], () => Reply>> = {
    hello: () =>
      ({ t: 'server_hello', sk: 'registry-sk', ek: 'registry-ek', cookie: 'c1' }) as Reply,
    register: () => ({ t: 'registered' }) as Reply,
    session: () => ({ t: 'ack' }) as Reply,
  };
  const subject = new ServerLink(
    {
      nick: 'alice',
      serverTimeoutMs: 500,
      serverTries: 5,
      failoverMs: 3_000,
      channel: {
        request: (to, body, options) => {
          sent.push({ to: to.port, body, options });
          const answer = answers[body.t];
          if (!answer)
            return new Promise((_resolve, reject) =>
              open.push(() => reject(new UdpchatError('ERR_TIMEOUT', 'no answer'))),
            );
          // A throw from answer() rejects, as from a promise's executor.
          return new Promise((resolve) => resolve(answer()));
        },
      },
      keys: {
        identity: { public: { sk: 'alice-sk', ek: 'alice-ek' } },
        sealPassword: async (password, ek, step) => ({ enc: `${password}>${ek}>${step}`, ct: '' }),
        hasSession: () => state.sessionMade,
        registrySession: async (ek) => {
          state.sessionMade = true;
          return { enc: `session-with-${ek}`, mac: { sid: `sid-${ek}`, key: Buffer.alloc(32) } };
        },
      },
      server: () => nodes[0],
      nodes: () => nodes.length,
      online: () => state.online,
      unanswered: (server) => void calls.push(`unanswered ${server.port}`),
      emit: <K extends keyof ServerLinkEvents>(event: K, payload: ServerLinkEvents[K]) =>
        void events.push([event, payload]),
      debug: () => {},
    },
    account,
  );
  const release = () => open.splice(0).forEach((reject) => reject());
  return { link: subject, sent, events, calls, answers, state, release };
}

const timeout = () => {
  throw new UdpchatError('ERR_TIMEOUT', 'no answer');
};

t.test(
  "the first hello pins the registry's key; a later hello with another key is refused",
  async (t) => {
    const { link: l, sent, events, answers } = link();
    const first = await l.registration();
    t.match(sent[0], {
      to: 1,
      body: { t: 'hello', nick: 'alice', sk: 'alice-sk' },
      options: { signer: '@registry' },
    });
    t.equal(
      (sent[0].body as { pad: string }).pad.length,
      HELLO_PAD_CHARS,
      'padded larger than its answer',
    );
    t.same(events, [['server-key', { sk: 'registry-sk' }]], 'learnt on first contact, told once');
    t.same(first.server, { sk: 'registry-sk', ek: 'registry-ek' });
    t.equal(l.serverKey, 'registry-sk');
    await l.registration();
    t.equal(events.length, 1, 'not told again');
    answers.hello = () =>
      ({ t: 'server_hello', sk: 'other-sk', ek: 'other-ek', cookie: 'c2' }) as Reply;
    await t.rejects(l.registration(), { code: 'ERR_SERVER_KEY_CHANGED' });
    t.equal(l.serverKey, 'registry-sk', 'the key learnt stays');
  },
);

t.test('a key pinned by the caller: checked, and no server-key told', async (t) => {
  const pinned = link({ serverKey: 'registry-sk' });
  await pinned.link.registration();
  t.same(pinned.events, []);
  t.equal(pinned.link.pinnedKey, 'registry-sk');
  const wrong = link({ serverKey: 'another-sk' });
  await t.rejects(wrong.link.registration(), { code: 'ERR_SERVER_KEY_CHANGED' });
  t.equal(wrong.link.serverKey, undefined);
});

t.test(
  'a registration carries the cookie, the password sealed to the registry, and the session once there is one',
  async (t) => {
    const { link: l } = link();
    const bare = await l.registration();
    t.same(bare.body, {
      t: 'register',
      nick: 'alice',
      sk: 'alice-sk',
      ek: 'alice-ek',
      cookie: 'c1',
    });
    t.equal(bare.offered, undefined, 'the first of a run goes without a session');
    l.useAccount('s3cret', 'create');
    l.shareSession('registry-ek');
    await l.sessionShared();
    const again = await l.registration();
    t.match(again.body, {
      password: { enc: 's3cret>registry-ek>create' },
      account: 'create',
      session: 'session-with-registry-ek',
    });
    t.match(again.offered, { sid: 'sid-registry-ek' }, 'and offers its key');
  },
);

t.test(
  'the session made after a registration is told to the registry, only while online; a failure is swallowed',
  async (t) => {
    const { link: l, sent, state, answers } = link();
    l.shareSession('registry-ek');
    await l.sessionShared();
    t.same(
      sent.map((one) => one.body),
      [{ t: 'session', nick: 'alice', session: 'session-with-registry-ek' }],
    );
    state.online = false;
    l.shareSession('registry-ek');
    await l.sessionShared();
    t.equal(sent.length, 1, 'not sent once offline');
    state.online = true;
    answers.session = timeout;
    l.shareSession('registry-ek');
    await t.resolves(l.sessionShared(), 'settles even when the registry does not answer');
  },
);

t.test(
  'silence: told as server-not-responding; only a group request moves the client on',
  async (t) => {
    const { link: l, events, calls, answers } = link();
    answers.deregister = timeout;
    answers.group = timeout;
    answers.register = () => {
      throw new UdpchatError('ERR_NICK_TAKEN', 'taken');
    };
    await t.rejects(l.request({ t: 'deregister', nick: 'alice' }, 'deregister'), {
      code: 'ERR_TIMEOUT',
    });
    await t.rejects(l.request({ t: 'group', from: 'alice', op: 'list' }, 'group'), {
      code: 'ERR_TIMEOUT',
    });
    await t.rejects(l.request({ t: 'register' } as RequestBody, 'register'), {
      code: 'ERR_NICK_TAKEN',
    });
    t.same(
      events,
      [
        ['server-not-responding', { action: 'deregister' }],
        ['server-not-responding', { action: 'group' }],
      ],
      'a refusal is not silence',
    );
    t.same(calls, ['unanswered 1']);
  },
);

t.test(
  'heartbeats: the usual budget with one node; with several, half of failoverMs over three tries',
  async (t) => {
    const one = link();
    one.answers.heartbeat = () => ({ t: 'ack' }) as Reply;
    await one.link.heartbeat(NODE_A);
    t.match(one.sent[0], {
      to: 1,
      body: { t: 'heartbeat', nick: 'alice', sk: 'alice-sk' },
      options: { timeoutMs: 500, tries: 5, signer: '@registry' },
    });
    const several = link({}, [NODE_A, NODE_B]);
    several.answers.heartbeat = () => ({ t: 'ack' }) as Reply;
    await several.link.heartbeat(NODE_B);
    t.equal(several.sent[0].to, 2, 'to the node asked for');
    t.equal(several.sent[0].options.tries, 3);
    t.equal(several.sent[0].options.timeoutMs * 3, 1_500, 'half of failoverMs in all');
  },
);

t.test(
  'the whole table is asked for one request at a time, online only, each counted',
  async (t) => {
    const { link: l, sent, state, release } = link();
    l.resync();
    l.resync();
    t.equal(sent.length, 1, 'one under way');
    release();
    await settle();
    l.resync();
    t.equal(sent.length, 2, 'the next once it ended (unanswered: logged)');
    release();
    await settle();
    state.online = false;
    l.resync();
    t.equal(sent.length, 2);
    t.equal(l.resyncs, 2);
  },
);

t.test(
  'requests go under the session the node answered under: after a registration that offered ' +
    'it, or once shared; never the registration itself, nor to another node',
  async (t) => {
    const nodes = [NODE_A, NODE_B];
    const { link: l, sent, state, answers } = link({}, nodes);
    answers.deregister = () => ({ t: 'ack' }) as Reply;
    answers.heartbeat = () => ({ t: 'ack' }) as Reply;
    const first = await l.registration();
    await l.register(first.body, first.offered);
    t.notOk(l.underSession, 'the first registration offers none: signed');
    l.shareSession('registry-ek');
    await l.sessionShared();
    t.match(sent.at(-1), {
      body: { t: 'session' },
      options: { replyMac: { sid: 'sid-registry-ek' } },
    });
    t.equal(sent.at(-1)!.options.mac, undefined, 'the session request itself is signed');
    t.ok(l.underSession);
    await l.request({ t: 'deregister', nick: 'alice' }, 'deregister');
    t.match(sent.at(-1)!.options, { mac: { sid: 'sid-registry-ek' } }, 'under the session');
    await l.heartbeat(NODE_A);
    t.match(sent.at(-1)!.options, { mac: { sid: 'sid-registry-ek' } }, 'the heartbeat too');
    await l.heartbeat(NODE_B);
    t.equal(sent.at(-1)!.options.mac, undefined, 'signed to another node');

    state.sessionMade = true;
    const again = await l.registration();
    t.notOk(l.underSession, 'a registration ends the session the node held');
    t.equal(sent.at(-1)!.options.mac, undefined, 'its hello is signed');
    await l.register(again.body, again.offered);
    t.match(sent.at(-1), {
      body: { t: 'register', session: 'session-with-registry-ek' },
      options: { replyMac: { sid: 'sid-registry-ek' } },
    });
    t.equal(sent.at(-1)!.options.mac, undefined, 'the registration is signed');
    t.ok(l.underSession, 'answered: what follows goes under the session it offered');
    nodes.reverse(); // moved on to the other node
    t.notOk(l.underSession, 'not to the next node');
  },
);

t.test(
  'NO_SESSION: the request goes again signed, and the session is shared anew once a registration',
  async (t) => {
    const { link: l, sent, answers } = link();
    let refusals = 0;
    // The node holds no session: a request under one is refused, a signed one answered.
    answers.deregister = () => {
      if (sent.at(-1)!.options.mac === undefined) return { t: 'ack' } as Reply;
      refusals++;
      throw new UdpchatError('ERR_NO_SESSION', 'no session');
    };
    await l.register((await l.registration()).body);
    l.shareSession('registry-ek');
    await l.sessionShared();
    const from = sent.length;
    t.match(await l.request({ t: 'deregister', nick: 'alice' }, 'deregister'), { t: 'ack' });
    await l.sessionShared();
    t.same(
      sent.slice(from).map((one) => [one.body.t, one.options.mac !== undefined]),
      [
        ['deregister', true],
        ['deregister', false],
        ['session', false],
      ],
      'refused under the session, answered signed, a session shared anew',
    );
    t.ok(l.underSession, 'the new one answered: under it again');
    const next = sent.length;
    await l.request({ t: 'deregister', nick: 'alice' }, 'deregister');
    await l.sessionShared();
    t.same(
      sent.slice(next).map((one) => [one.body.t, one.options.mac !== undefined]),
      [
        ['deregister', true],
        ['deregister', false],
      ],
      'refused again: signed from then on, no second session this registration',
    );
    t.notOk(l.underSession);
    t.equal(refusals, 2);
    answers.group = () => {
      throw new UdpchatError('ERR_NOT_IN_GROUP', 'not in a group');
    };
    await t.rejects(
      l.request({ t: 'group', from: 'alice', op: 'list' }, 'group'),
      { code: 'ERR_NOT_IN_GROUP' },
      "any other refusal is the caller's",
    );
  },
);
