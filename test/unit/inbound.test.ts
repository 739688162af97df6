import t from 'tap';
import { routeRequest, type Arrival, type InboundContext } from '../../src/client/inbound.js';
import { REGISTRY_NAME } from '../../src/crypto/signing.js';
import { PROTOCOL_VERSION } from '../../src/protocol/constants.js';
import type { ReplyBody, Request } from '../../src/protocol/messages.js';
import { nextTurns } from '../helpers/settle.js';

const PEER = { address: '127.0.0.1', port: 4000 };
const TABLE = { epoch: 'e', version: 1, entries: [] };

/** A client's parts as fakes, each call noted; `online`/`closed` set the phase. */
function client(phase: { online?: boolean; closed?: boolean } = { online: true }) {
  const calls: string[] = [];
  const note =
    (name: string) =>
    (...args: unknown[]) => {
      calls.push(`${name} ${JSON.stringify(args[0] ?? '')}`.trim());
    };
  const context: InboundContext = {
    nick: 'alice',
    online: () => phase.online ?? false,
    closed: () => phase.closed ?? false,
    paths: {
      onPunch: (nick) => (calls.push(`onPunch ${nick}`), true),
      heardVia: (nick, via) => calls.push(`heardVia ${nick} ${via}`),
      onIntroduction: (nick) => calls.push(`onIntroduction ${nick}`),
    },
    inbox: {
      onChat: async (request, _from, answer) => {
        calls.push(`onChat ${request.mid}`);
        answer({ t: 'ack' });
      },
      onDeliver: async () => (calls.push('onDeliver'), { t: 'ack' }),
      onGroupMessage: () => (calls.push('onGroupMessage'), { t: 'ack' }),
    },
    table: {
      has: () => false,
      onPresence: note('onPresence'),
      onTable: note('onTable'),
      onDelta: note('onDelta'),
    },
    groups: { onRemoved: note('onRemoved') },
    watching: {
      active: true,
      lookup: async (nick) => calls.push(`lookup ${nick}`),
      touch: (nick) => calls.push(`touch ${nick}`),
      noticed: (seq) => calls.push(`noticed ${seq}`),
    },
    log: { debug: note('debug'), warn: note('warn') },
    takenBefore: (signed) => (calls.push(`takenBefore ${signed}`), signed === 'bob|taken'),
  };
  const replies: ReplyBody[] = [];
  const arrival = (by: string | undefined, via?: number, signed?: string): Arrival => ({
    from: PEER,
    by,
    via,
    signed,
    respond: (body) => replies.push(body),
  });
  const route = (
    request: Record<string, unknown>,
    by: string | undefined,
    via?: number,
    signed?: string,
  ) =>
    routeRequest(
      { v: PROTOCOL_VERSION, id: 'r1', ...request } as unknown as Request,
      arrival(by, via, signed),
      context,
    );
  return { calls, replies, route, context, arrival };
}

t.test("what only the registry may say is taken only under the registry's signature", async (t) => {
  const requests = [
    { t: 'table', table: TABLE },
    { t: 'presence', ...TABLE },
    { t: 'table_delta', epoch: 'e', from: 1, to: 2, entries: [] },
    { t: 'probe', nick: 'alice' },
    { t: 'group_removed', group: 'g', nick: 'bob', reason: 'left' },
    { t: 'introduction', peer: 'bob', ip: '127.0.0.1', port: 1, local: [] },
    { t: 'group_msg', group: 'g', from: 'bob', mid: 'm', text: 'hi' },
    { t: 'deliver', kind: 'saved', first: true, messages: [] },
  ];
  for (const request of requests) {
    const forged = client();
    forged.route(request, 'mallory');
    await nextTurns();
    t.same(forged.replies, [], `${request.t} signed by a user: no answer`);
    t.same(forged.calls, [`debug ${JSON.stringify({ type: request.t, by: 'mallory' })}`]);
    const real = client();
    real.route(request, REGISTRY_NAME);
    await nextTurns();
    t.same(real.replies, [{ t: 'ack' }], `${request.t} from the registry: answered`);
  }
});

t.test(
  'a presence notice (numbered) is taken and never answered; one without a number is',
  async (t) => {
    const c = client();
    c.route({ t: 'presence', ...TABLE, seq: 7 }, REGISTRY_NAME);
    t.same(c.replies, [], 'a notice: silence');
    t.match(c.calls, [/^onPresence /, 'noticed 7'], 'its entries taken, its number counted');
    const request = client();
    request.route({ t: 'presence', ...TABLE }, REGISTRY_NAME);
    t.same(request.replies, [{ t: 'ack' }], 'a request: answered');
    t.notOk(
      request.calls.some((call) => call.startsWith('noticed')),
      'no number to count',
    );
  },
);

t.test('a socket a birthday round opened carries punches and chats alone', async (t) => {
  const c = client();
  c.route({ t: 'table', table: TABLE }, REGISTRY_NAME, 3);
  c.route({ t: 'probe', nick: 'alice' }, REGISTRY_NAME, 3);
  await nextTurns();
  t.same(c.replies, [], 'pushes on a spare socket are ignored');
  t.same(c.calls, []);
  c.route({ t: 'chat', from: 'bob', mid: 'm1', sealed: { enc: 'e', ct: 'c' } }, 'bob', 3);
  await nextTurns();
  t.same(c.calls, ['heardVia bob 3', 'onChat m1', 'touch bob'], 'the path moves to that socket');
  t.same(c.replies, [{ t: 'ack' }]);
  c.route({ t: 'punch', from: 'bob', to: 'alice' }, 'bob', 3);
  t.same(c.calls.at(-1), 'onPunch bob');
  t.same(c.replies.length, 2, 'punch answered');
});

t.test(
  'a punch is answered only when it speaks for its signer, to this client, while online',
  async (t) => {
    const offline = client({ online: false });
    offline.route({ t: 'punch', from: 'bob', to: 'alice' }, 'bob');
    t.same(offline.replies, [], 'offline: silent');
    const c = client();
    c.route({ t: 'punch', from: 'bob', to: 'alice' }, 'mallory');
    c.route({ t: 'punch', from: 'bob', to: 'carol' }, 'bob');
    t.same(c.calls, [], 'not its signer, not to this client');
    c.route({ t: 'punch', from: 'bob', to: 'alice' }, 'bob');
    t.same(c.replies, [{ t: 'ack' }]);
  },
);

t.test('phases: a probe answered online only; pushes not taken once closed', async (t) => {
  const offline = client({ online: false });
  offline.route({ t: 'probe', nick: 'alice' }, REGISTRY_NAME);
  offline.route({ t: 'probe', nick: 'bob' }, REGISTRY_NAME);
  t.same(offline.replies, [], 'silence while offline');
  offline.route({ t: 'table', table: TABLE }, REGISTRY_NAME);
  t.match(offline.calls, [/^onTable /], 'a table is taken before registration completes');
  const online = client();
  online.route({ t: 'probe', nick: 'bob' }, REGISTRY_NAME);
  t.same(online.replies, [], 'a probe for another nick: silence');
  online.route(
    { t: 'introduction', peer: 'bob', ip: '127.0.0.1', port: 1, local: [] },
    REGISTRY_NAME,
  );
  t.same(online.calls, ['onIntroduction bob']);
  const closed = client({ closed: true });
  for (const request of [
    { t: 'table', table: TABLE },
    { t: 'presence', ...TABLE },
    { t: 'table_delta', epoch: 'e', from: 1, to: 2, entries: [] },
  ])
    closed.route(request, REGISTRY_NAME);
  t.same(closed.replies, [], 'closed: no answers');
  t.same(closed.calls, []);
});

t.test(
  'a delivery: unknown senders looked up first, then opened; a type a client does not take is dropped',
  async (t) => {
    const c = client();
    c.route(
      {
        t: 'deliver',
        kind: 'saved',
        first: true,
        messages: [
          { from: 'bob', mid: 'a', sealed: { enc: 'e', ct: 'c' }, ts: 1 },
          { from: 'bob', mid: 'b', sealed: { enc: 'e', ct: 'c' }, ts: 2 },
        ],
      },
      REGISTRY_NAME,
    );
    await nextTurns();
    t.same(c.calls, ['lookup bob', 'touch bob', 'onDeliver']);
    t.same(c.replies, [{ t: 'ack' }]);
    const other = client();
    other.route({ t: 'register', nick: 'x' }, 'x');
    t.same(other.calls, [`debug ${JSON.stringify({ type: 'register' })}`]);
    t.same(other.replies, []);
  },
);

t.test('a handler that fails is logged, and its sender hears nothing', async (t) => {
  const { calls, replies, context, arrival } = client();
  const warned: string[] = [];
  const failing: InboundContext = {
    ...context,
    inbox: {
      ...context.inbox,
      onChat: async () => {
        throw new Error('could not open');
      },
      onDeliver: async () => {
        throw new Error('could not open');
      },
    },
    log: { ...context.log, warn: (...args: unknown[]) => void warned.push(String(args[1])) },
  };
  const request = (body: Record<string, unknown>) =>
    ({ v: PROTOCOL_VERSION, id: 'r1', ...body }) as unknown as Request;
  routeRequest(
    request({ t: 'chat', from: 'bob', mid: 'm1', sealed: { enc: 'e', ct: 'c' } }),
    arrival('bob'),
    failing,
  );
  routeRequest(
    request({ t: 'deliver', kind: 'saved', first: true, messages: [] }),
    arrival(REGISTRY_NAME),
    failing,
  );
  await nextTurns();
  t.same(warned, ['chat failed', 'delivery failed']);
  t.same(replies, [], 'no answer');
  t.notOk(
    calls.some((call) => call.startsWith('touch')),
    'not taken as a contact',
  );
});

t.test(
  'a signed request taken before a restart is dropped before its handler; a new one goes on',
  async (t) => {
    const { calls, replies, route } = client();
    const probe = { t: 'probe', nick: 'alice' };
    route(probe, REGISTRY_NAME, undefined, 'bob|taken');
    t.same(calls, ['takenBefore bob|taken'], 'asked, and nothing else');
    t.same(replies, [], 'unanswered');
    route(probe, REGISTRY_NAME, undefined, 'bob|new');
    t.same(replies, [{ t: 'ack' }], 'a new one is answered');
    // Under a session key (no replay key), nobody is asked.
    calls.length = 0;
    route(probe, REGISTRY_NAME);
    t.notOk(calls.some((call) => call.startsWith('takenBefore')));
  },
);
