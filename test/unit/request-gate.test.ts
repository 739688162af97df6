import t from 'tap';
import { passGate, type Arrival, type GateContext } from '../../src/registry/request-gate.js';
import type { AnyHandler, HandlerTable } from '../../src/registry/handler-table.js';
import type { ClientRecord } from '../../src/store/store.js';
import type { ReplyBody, Request } from '../../src/protocol/messages.js';
import type { Address } from '../../src/transport/address.js';

const here = { address: '10.0.0.1', port: 4000 };
const elsewhere = { address: '10.0.0.9', port: 4000 };

const alice: ClientRecord = {
  nick: 'alice',
  ip: here.address,
  port: here.port,
  online: true,
  sk: 'key-a',
  ek: 'ek-a',
};

/**
 * A gate over a table holding alice, whose handlers answer `ack` and record who they were
 * given; `control.helloRoom` says whether an unchecked request is within the hello budgets.
 */
function gate() {
  const events: string[] = [];
  const control = { helloRoom: true, takenElsewhere: new Set<string>() };
  const handled: Array<{ type: string; sender: ClientRecord | undefined; via?: number }> = [];
  // Every handler records what it was given, and answers `ack`.
  const record: AnyHandler['handle'] = (request, _from, respond, sender, via) => {
    handled.push({ type: request.t, sender, via });
    respond({ t: 'ack' });
  };
  const handlers = {
    hello: { guard: 'none', handle: record },
    heartbeat: { guard: 'online-here', field: 'nick', handle: record },
    nat_probe: { guard: 'none', handle: record },
    register: { guard: 'none', handle: record },
  } as HandlerTable;
  const context: GateContext = {
    guards: {
      record: (nick) => (nick === 'alice' ? alice : undefined),
      addressValidated: () => true,
    },
    handlers,
    admitUnchecked: (from) => {
      events.push(`hello budget ${from.address}`);
      return Promise.resolve(control.helloRoom);
    },
    firstToTake: (signed) => {
      events.push(`first to take ${signed}`);
      return Promise.resolve(!control.takenElsewhere.has(signed));
    },
    heard: (nick) => void events.push(`heard ${nick}`),
    registered: (nick) => void events.push(`registered ${nick}`),
  };
  /** Passes `request` from `from`, checked under `by`'s key, `size` bytes; what it answered, with its options. */
  const pass = async (
    request: Request,
    from: Address,
    by: string | undefined,
    size = 100,
    via?: number,
    signed?: string,
  ) => {
    const answers: Array<{ body: ReplyBody; atMost?: number }> = [];
    const arrival: Arrival = {
      from,
      by,
      size,
      via,
      signed,
      respond: (body, options) => void answers.push({ body, atMost: options?.atMost }),
    };
    await passGate(request, arrival, context);
    return answers;
  };
  return { pass, events, control, handled };
}

const hello = { v: 1, t: 'hello', id: 'h1', pad: '' } as unknown as Request;
const heartbeat = (nick: string) =>
  ({ v: 1, t: 'heartbeat', id: 'b1', nick, sk: 'key-a' }) as unknown as Request;
const register = (sk: string) =>
  ({ v: 1, t: 'register', id: 'r1', nick: 'alice', sk, ek: 'ek-a' }) as unknown as Request;

t.test(
  'an unchecked request is weighed against the hello budgets; past them it is dropped unanswered',
  async (t) => {
    const { pass, events, control, handled } = gate();
    t.same(await pass(hello, elsewhere, undefined, 300), [{ body: { t: 'ack' }, atMost: 300 }]);
    t.same(events, ['hello budget 10.0.0.9']);
    control.helloRoom = false;
    t.same(await pass(hello, elsewhere, undefined), [], 'no answer');
    t.equal(handled.length, 1, 'the handler never ran');
  },
);

t.test('a checked request does not spend the hello budgets', async (t) => {
  const { pass, events } = gate();
  await pass(heartbeat('alice'), here, 'alice');
  t.notOk(events.some((event) => event.startsWith('hello budget')));
});

t.test(
  'a signed request another node took already is dropped unanswered, before any sign of life',
  async (t) => {
    const { pass, events, control, handled } = gate();
    control.takenElsewhere.add('alice|sig-1');
    t.same(await pass(heartbeat('alice'), here, 'alice', 80, undefined, 'alice|sig-1'), []);
    t.same(events, ['first to take alice|sig-1'], 'not heard from');
    t.same(handled, [], 'the handler never ran');
    // One this node is the first to take goes on as any other.
    t.same(await pass(heartbeat('alice'), here, 'alice', 80, undefined, 'alice|sig-2'), [
      { body: { t: 'ack' }, atMost: undefined },
    ]);
    t.same(events, ['first to take alice|sig-1', 'first to take alice|sig-2', 'heard alice']);
    // Under a session key (no replay key to share), nobody else is asked.
    await pass(heartbeat('alice'), here, 'alice');
    t.equal(events.filter((event) => event.startsWith('first to take')).length, 2);
  },
);

t.test('a sender proven at its address is answered in full, and heard from', async (t) => {
  const { pass, events, handled } = gate();
  t.same(await pass(heartbeat('alice'), here, 'alice', 80), [
    { body: { t: 'ack' }, atMost: undefined },
  ]);
  t.same(events, ['heard alice']);
  t.same(
    handled,
    [{ type: 'heartbeat', sender: alice, via: undefined }],
    'the guard hands the record on',
  );
});

t.test('from another address: no reply larger than the request, no sign of life', async (t) => {
  const { pass, events } = gate();
  // The guard refuses it (alice is not online at that address), and says so within the size.
  const answers = await pass(heartbeat('alice'), elsewhere, 'alice', 90);
  t.equal(answers.length, 1);
  t.equal(answers[0].atMost, 90);
  t.match(answers[0].body, { t: 'err' });
  t.same(events, []);
});

t.test('a nick the table does not hold proves nothing, whoever checked it', async (t) => {
  const { pass, events } = gate();
  const answers = await pass(heartbeat('mallory'), here, 'mallory', 70);
  t.equal(answers[0].atMost, 70);
  t.same(events, []);
});

t.test('a registration is a sign of life only under the key the nick is bound to', async (t) => {
  const bound = gate();
  await bound.pass(register('key-a'), here, 'alice');
  t.same(bound.events, ['registered alice']);
  const other = gate();
  const answers = await other.pass(register('key-b'), here, 'alice');
  t.same(other.events, [], 'another key proves only itself');
  t.equal(answers[0].atMost, undefined, 'from the registered address, answered in full');
});

t.test(
  'a type without an entry is answered UNKNOWN_TYPE, within the size when unproven',
  async (t) => {
    const { pass } = gate();
    const groups = { v: 1, t: 'list_groups', id: 'g1', from: 'carol' } as unknown as Request;
    const answers = await pass(groups, elsewhere, 'carol', 60);
    t.equal(answers.length, 1);
    t.match(answers[0].body, { t: 'err', message: /does not take list_groups/ });
    t.equal(answers[0].atMost, 60);
  },
);

t.test('the NAT probe port takes nat_probe alone, and its handler learns the socket', async (t) => {
  const { pass, handled, events } = gate();
  const probe = { v: 1, t: 'nat_probe', id: 'p1', from: 'alice', pad: '' } as unknown as Request;
  t.same(await pass(hello, here, undefined, 100, 7), [], 'a hello there: no answer');
  t.same(await pass(heartbeat('alice'), here, 'alice', 100, 7), [], 'nor a heartbeat');
  t.same(events, [], 'dropped before any budget or sign of life');
  t.equal(handled.length, 0);
  t.equal((await pass(probe, here, undefined, 100, 7)).length, 1);
  t.same(handled, [{ type: 'nat_probe', sender: undefined, via: 7 }]);
});
