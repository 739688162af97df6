import t from 'tap';
import {
  Delivery,
  type DeliveryEvents,
  type SendOutcome,
  type TriesMade,
} from '../../src/client/delivery.js';
import { UdpchatError } from '../../src/protocol/errors.js';
import type { Reply, RequestBody } from '../../src/protocol/messages.js';
import type { TableEntry } from '../../src/protocol/fields.js';
import type { Address } from '../../src/transport/address.js';
import type { RequestOptions } from '../../src/transport/endpoint.js';
import { MIN_RETRY_MS } from '../../src/transport/retry.js';
import { RoundTrips } from '../../src/transport/round-trips.js';

const REGISTRY: Address = { address: '127.0.0.1', port: 9 };
const SERVER_OPTIONS: RequestOptions = { timeoutMs: 500, tries: 5, signer: '@registry' };

function bob(overrides: Partial<TableEntry> = {}): TableEntry {
  return {
    nick: 'bob',
    ip: '127.0.0.1',
    port: 4000,
    online: true,
    sk: 'bob-sk',
    ek: 'bob-ek',
    ...overrides,
  };
}

interface Sent {
  to: string;
  body: RequestBody;
  options: RequestOptions;
  id: string | undefined;
}

/**
 * A delivery over a fake channel: `answer(sent)` says how each request ends (a reply, or a
 * thrown error); every request, event and key call is recorded.
 */
function delivery(peer: TableEntry = bob(), extra: { roundTrips?: RoundTrips } = {}) {
  const sent: Sent[] = [];
  const events: Array<[string, object]> = [];
  const calls: string[] = [];
  const control = {
    peer: peer as TableEntry | undefined,
    /** What a look-up of a nick the table does not hold gives (beyond the table limit), or throws. */
    lookup: async (_nick: string): Promise<TableEntry | undefined> => undefined,
    mac: undefined as { sid: string; key: Buffer } | undefined,
    answer: (_sent: Sent): Reply => ({ t: 'ack' }) as Reply,
  };
  let seals = 0;
  const channel = {
    request: async (to: Address, body: RequestBody, options: RequestOptions, id?: string) => {
      const one = { to: `${to.address}:${to.port}`, body, options, id };
      sent.push(one);
      return control.answer(one);
    },
  };
  const subject = new Delivery({
    nick: 'alice',
    ackTimeoutMs: 300,
    peerTries: 3,
    ...extra,
    channel,
    keys: {
      seal: async (entry, mid) => ({ enc: `${entry.ek}/${mid}/${++seals}`, ct: 'x' }),
      macFor: () => control.mac,
      confirm: (ek, _sealed, holds) => void calls.push(`confirm ${ek} ${holds}`),
    },
    peer: () => control.peer,
    lookup: (nick) => control.lookup(nick),
    server: () => REGISTRY,
    askServer: (server, body) => channel.request(server, body, SERVER_OPTIONS),
    unanswered: (server) => void calls.push(`unanswered ${server.port}`),
    registerAgain: () => void calls.push('register again'),
    emit: <K extends keyof DeliveryEvents>(event: K, payload: DeliveryEvents[K]) =>
      void events.push([event, payload]),
    debug: () => {},
  });
  const made: TriesMade = { sends: 0, fallbacks: 0 };
  const attempt = (
    options: { ahead?: Promise<SendOutcome>; after?: { after?: string; afterTaken?: true } } = {},
  ) =>
    subject.attempt({
      entry: { mid: 'm1', to: 'bob', text: 'hi', at: 0 },
      after: options.after ?? {},
      ...(options.ahead ? { ahead: options.ahead } : {}),
      made,
      fallingBack: () => void calls.push('falling back'),
      heldBehind: () => void calls.push('held behind'),
    });
  const names = () => events.map(([name]) => name);
  const broadcast = (peers: TableEntry[], text = 'hello all') =>
    subject.broadcast(peers, 'b1', text);
  return { attempt, broadcast, sent, events, names, calls, control, made };
}

const toPeer = (sent: Sent) => sent.to === '127.0.0.1:4000';
const fail = (code: ConstructorParameters<typeof UdpchatError>[0]) => {
  throw new UdpchatError(code, code);
};

t.test(
  'an online peer that ACKs: delivered directly, once, under a request id counting the sends',
  async (t) => {
    const { attempt, sent, names, calls } = delivery();
    t.equal(await attempt({ after: { after: 'm0', afterTaken: true } }), 'delivered');
    t.equal(sent.length, 1);
    t.match(sent[0], {
      to: '127.0.0.1:4000',
      body: { t: 'chat', from: 'alice', mid: 'm1', after: 'm0', afterTaken: true },
      id: 'm1.1',
    });
    t.equal(sent[0].options.signer, 'bob', 'only bob may answer');
    t.same(names(), ['delivered']);
    t.same(calls, ['confirm bob-ek true']);
  },
);

t.test(
  'a peer that does not ACK: the same sealed text goes to the registry, and the fallback is told',
  async (t) => {
    const answers: Record<string, () => Reply> = {
      chat: () => fail('ERR_TIMEOUT'),
      save: () => ({ t: 'save_result', outcome: 'saved' }) as Reply,
    };
    const d = delivery();
    d.control.answer = (one) => answers[one.body.t]();
    t.equal(await d.attempt(), 'saved');
    t.same(
      d.sent.map((one) => one.body.t),
      ['chat', 'save'],
    );
    t.same(
      (d.sent[1].body as { sealed: unknown }).sealed,
      (d.sent[0].body as { sealed: unknown }).sealed,
      'sealed once',
    );
    t.equal(d.sent[1].to, '127.0.0.1:9');
    t.equal(d.sent[1].options, SERVER_OPTIONS);
    t.same(d.events, [
      ['fallback', { to: 'bob', mid: 'm1', reason: 'no-ack' }],
      ['saved', { to: 'bob', mid: 'm1' }],
    ]);
    t.same(d.calls, ['falling back']);
  },
);

t.test(
  'an offline peer: straight to the registry; relayed at once is delivered (and the table is stale)',
  async (t) => {
    const d = delivery(bob({ online: false }));
    d.control.answer = () => ({ t: 'save_result', outcome: 'relayed' }) as Reply;
    t.equal(await d.attempt(), 'relayed');
    t.same(
      d.sent.map((one) => one.body.t),
      ['save'],
    );
    t.same(d.names(), ['fallback', 'exists', 'delivered']);
    t.match(d.events[0], ['fallback', { reason: 'offline' }]);
  },
);

t.test(
  'a silent registry: queued, its node reported, told only at the first registry try',
  async (t) => {
    const d = delivery(bob({ online: false }));
    d.control.answer = () => fail('ERR_TIMEOUT');
    t.equal(await d.attempt(), 'queued');
    t.same(d.names(), ['fallback', 'server-not-responding', 'queued']);
    t.same(d.calls, ['falling back', 'unanswered 9']);
    t.equal(await d.attempt(), 'queued');
    t.same(d.names(), ['fallback', 'server-not-responding', 'queued'], 'nothing more told');
    t.equal(d.made.fallbacks, 2);
  },
);

t.test(
  'the message ahead kept queued: this one is kept too, without asking the registry',
  async (t) => {
    const d = delivery(bob({ online: false }));
    t.equal(await d.attempt({ ahead: Promise.resolve('queued') }), 'queued');
    t.same(d.sent, []);
    t.same(d.names(), [], 'its fallback is told when it really goes');
    t.ok(d.calls.includes('held behind'), 'said to be kept only behind the one ahead');
    d.control.answer = () => ({ t: 'save_result', outcome: 'saved' }) as Reply;
    t.equal(await d.attempt({ ahead: Promise.resolve('saved') }), 'saved');
    t.same(d.names(), ['fallback', 'saved']);
  },
);

t.test(
  "the registry's refusals: kept when it may take the message later, failed otherwise",
  async (t) => {
    for (const [code, outcome, told, calls] of [
      ['ERR_STORE_FAILED', 'queued', [], []],
      ['ERR_INTERNAL', 'queued', [], []],
      ['ERR_CLOSED', 'queued', [], []],
      ['ERR_NOT_REGISTERED', 'queued', [], ['register again']],
      [
        'ERR_UNKNOWN_NICK',
        'failed',
        [['send-failed', { to: 'bob', mid: 'm1', reason: 'no such user' }]],
        [],
      ],
    ] as const) {
      const d = delivery(bob({ online: false }));
      d.control.answer = () => fail(code);
      t.equal(await d.attempt(), outcome, code);
      t.same(d.events.slice(1), told, `${code}: told`);
      t.same(d.calls.slice(1), calls, `${code}: what follows`);
    }
    const d = delivery(bob({ online: false }));
    d.control.answer = () => ({ t: 'ack' }) as Reply;
    t.equal(await d.attempt(), 'failed', 'an unexpected reply');
    t.match(d.events.at(-1), ['send-failed', { reason: 'unexpected ack' }]);
  },
);

t.test('no such user in the table: failed at once, nothing sent', async (t) => {
  const d = delivery();
  d.control.peer = undefined;
  t.equal(await d.attempt(), 'failed');
  t.same(d.sent, []);
  t.same(d.events, [['send-failed', { to: 'bob', mid: 'm1', reason: 'no such user' }]]);
});

t.test('a client closing under a direct try: kept, no fallback', async (t) => {
  const d = delivery();
  d.control.answer = () => fail('ERR_CLOSED');
  t.equal(await d.attempt(), 'queued');
  t.same(
    d.sent.map((one) => one.body.t),
    ['chat'],
  );
  t.same(d.names(), []);
});

t.test('sealed once per recipient key; each direct send has an id of its own', async (t) => {
  const d = delivery();
  d.control.answer = () => fail('ERR_TIMEOUT');
  await d.attempt();
  await d.attempt();
  t.same(
    d.sent.filter(toPeer).map((one) => one.id),
    ['m1.1', 'm1.2'],
  );
  const sealedOf = (one: Sent) => (one.body as { sealed: { enc: string } }).sealed.enc;
  t.same(d.sent.map(sealedOf), ['bob-ek/m1/1', 'bob-ek/m1/1', 'bob-ek/m1/1', 'bob-ek/m1/1']);
  d.control.peer = bob({ ek: 'new-ek' });
  await d.attempt();
  t.equal(sealedOf(d.sent.at(-1)!), 'new-ek/m1/2', 'sealed again to the key the table gives now');
});

t.test(
  'under the session key once the peer holds it; a miss says it may hold it no more',
  async (t) => {
    const d = delivery();
    d.control.mac = { sid: 's1', key: Buffer.alloc(32) };
    d.control.answer = (one) =>
      one.body.t === 'chat'
        ? fail('ERR_TIMEOUT')
        : ({ t: 'save_result', outcome: 'saved' } as Reply);
    await d.attempt();
    t.equal(d.sent[0].options.mac, d.control.mac);
    t.notOk(d.sent[1].options.mac, 'the registry gets no session key');
    t.same(d.calls, ['confirm bob-ek false', 'falling back']);
  },
);

t.test(
  'a recipient the table does not hold is looked up; one that cannot be looked up now waits',
  async (t) => {
    const { attempt, control, sent, events } = delivery();
    control.peer = undefined;
    control.lookup = async () => bob();
    t.equal(await attempt(), 'delivered', 'looked up (beyond the table limit), then sent directly');
    t.equal(sent.length, 1);
    control.lookup = async () => {
      throw new Error('no answer');
    };
    t.equal(await attempt(), 'queued', 'the registry could not be asked: kept for a later try');
    control.lookup = async () => undefined;
    t.equal(await attempt(), 'failed', 'no such user');
    t.ok(events.some(([name]) => name === 'send-failed'));
  },
);

t.test(
  "direct tries fitted to the path's round trips: even until it has answered, then sooner resends within the same ACK timeout",
  async (t) => {
    const roundTrips = new RoundTrips();
    const d = delivery(bob(), { roundTrips });
    t.equal(await d.attempt(), 'delivered');
    t.match(
      d.sent[0].options,
      { timeoutMs: 100, tries: 3 },
      'no round trip known: 300 ms over 3 tries',
    );
    t.notOk(d.sent[0].options.backoff);
    t.type(d.sent[0].options.onRoundTrip, 'function', 'the endpoint is asked for the round trip');
    t.equal(
      roundTrips.timeoutMs('127.0.0.1:4000'),
      undefined,
      'no sample until the endpoint gives one',
    );
    d.sent[0].options.onRoundTrip!(2); // the endpoint: answered at its only send, 2 ms after it
    t.equal(roundTrips.timeoutMs('127.0.0.1:4000'), 6, 'the first sample: SRTT + 4 × SRTT/2');
    d.made.sends = 0;
    t.equal(await d.attempt(), 'delivered');
    t.match(
      d.sent[1].options,
      { timeoutMs: MIN_RETRY_MS, backoff: 2, totalMs: 300 },
      'resent after the shortest wait, then twice as long each time, failing at 300 ms as before',
    );
    t.ok(d.sent[1].options.tries > 3, `more tries in the same 300 ms (${d.sent[1].options.tries})`);
  },
);

t.test('a broadcast goes to each peer directly, sealed to each, and counts the ACKs', async (t) => {
  const { broadcast, sent, names, control } = delivery();
  const carol = bob({ nick: 'carol', port: 4001, ek: 'carol-ek' });
  const dave = bob({ nick: 'dave', port: 4002, ek: 'dave-ek' });
  control.answer = (one) =>
    one.to === '127.0.0.1:4002' ? fail('ERR_TIMEOUT') : ({ t: 'ack' } as Reply);
  t.same(await broadcast([bob(), carol, dave]), { received: 2, total: 3 }, 'dave did not answer');
  t.same(
    sent.map((one) => [one.to, one.id, one.options.signer]),
    [
      ['127.0.0.1:4000', 'b1.bob', 'bob'],
      ['127.0.0.1:4001', 'b1.carol', 'carol'],
      ['127.0.0.1:4002', 'b1.dave', 'dave'],
    ],
    'one request each, answered by that peer alone',
  );
  for (const one of sent) t.match(one.body, { t: 'chat', from: 'alice', mid: 'b1', all: true });
  t.same(
    sent.map((one) => (one.body as { sealed: { enc: string } }).sealed.enc.split('/')[0]),
    ['bob-ek', 'carol-ek', 'dave-ek'],
    'each copy sealed to its own recipient',
  );
  t.notOk(
    sent.some((one) => one.to === '127.0.0.1:9'),
    'nothing goes to the registry, even for the peer that did not answer',
  );
  t.same(names(), [], 'a broadcast tells no per-message events');
});

t.test('a broadcast to nobody sends nothing', async (t) => {
  const { broadcast, sent } = delivery();
  t.same(await broadcast([]), { received: 0, total: 0 });
  t.equal(sent.length, 0);
});
