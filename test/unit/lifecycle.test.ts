import t from 'tap';
import { Lifecycle } from '../../src/client/lifecycle.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { UdpchatError } from '../../src/protocol/errors.js';
import type { Address } from '../../src/transport/address.js';
import { deferred, settle } from '../helpers/settle.js';

const HEARTBEAT_MS = 1_000;
const FAILOVER_MS = 600;

function node(port: number): Address {
  return { address: '127.0.0.1', port };
}

const timeout = () => new UdpchatError('ERR_TIMEOUT', 'no answer');
const notRegistered = () => new UdpchatError('ERR_NOT_REGISTERED', 'not registered');

/**
 * A life cycle over `servers`, its context recording each call as a line. Registrations
 * and heartbeats answer as the test says: `registerWith` and `beatWith` (both answered by default).
 */
function lifecycle(servers: Address[] = [node(1)]) {
  const clock = fakeClock();
  const calls: string[] = [];
  const name = (a: Address) => String(a.port);
  const control = {
    registerWith: (_server: Address): Promise<void> => Promise.resolve(),
    beatWith: (_server: Address): Promise<unknown> => Promise.resolve(),
  };
  const life: Lifecycle = new Lifecycle(
    {
      servers,
      heartbeatIntervalMs: HEARTBEAT_MS,
      failoverMs: FAILOVER_MS,
      // As the client does: the phase hooks around the request.
      register: async () => {
        calls.push(`register ${name(life.server)}`);
        life.registering();
        try {
          await control.registerWith(life.server);
        } catch (error) {
          life.registrationFailed();
          throw error;
        }
        life.registered();
      },
      heartbeat: (server) => {
        calls.push(`heartbeat ${name(server)}`);
        return control.beatWith(server);
      },
      answered: () => calls.push('answered'),
      serverSilent: () => calls.push('silent'),
      serverBack: () => calls.push('back'),
      switched: (from, to) => calls.push(`switched ${name(from)}->${name(to)}`),
      info: () => {},
      warn: () => {},
    },
    clock.clock,
  );
  return { life, clock, calls, control };
}

t.test(
  'a registration: registering, then online with one heartbeat interval running',
  async (t) => {
    const { life, clock, control } = lifecycle();
    const answer = deferred();
    control.registerWith = () => answer.promise;
    t.equal(life.phase, 'unregistered');
    const done = life.registerAnywhere();
    t.equal(life.phase, 'registering');
    t.equal(
      life.state,
      'unregistered',
      'the public state does not change before the registry accepts',
    );
    t.same(clock.intervals, [], 'no heartbeat before registration');
    answer.resolve();
    await done;
    t.equal(life.phase, 'online');
    t.equal(life.state, 'online');
    t.same(clock.intervals, [HEARTBEAT_MS]);
  },
);

t.test('a failed registration goes back where it was: unregistered, or offline', async (t) => {
  const { life, clock, control } = lifecycle();
  control.registerWith = () => Promise.reject(new UdpchatError('ERR_NICK_TAKEN', 'taken'));
  await t.rejects(life.registerAnywhere(), { code: 'ERR_NICK_TAKEN' });
  t.equal(life.phase, 'unregistered');
  t.same(clock.intervals, []);

  control.registerWith = () => Promise.resolve();
  await life.registerAnywhere();
  await life.leave(() => Promise.resolve());
  t.equal(life.phase, 'offline');
  const answer = deferred();
  control.registerWith = () => answer.promise;
  const again = life.registerAnywhere();
  t.equal(life.phase, 'registering');
  t.equal(life.state, 'offline', 'registering from offline is still offline to the caller');
  answer.reject(new UdpchatError('ERR_BAD_PASSWORD', 'no'));
  await t.rejects(again);
  t.equal(life.phase, 'offline');
  t.same(clock.intervals, [], 'no heartbeat while offline');
});

t.test(
  'heartbeats go to the node in use every interval; with several nodes every third of failoverMs',
  async (t) => {
    const one = lifecycle();
    await one.life.registerAnywhere();
    for (let i = 0; i < 3; i++) {
      one.clock.advance(HEARTBEAT_MS);
      await settle();
    }
    t.same(
      one.calls.filter((c) => c.startsWith('heartbeat')),
      ['heartbeat 1', 'heartbeat 1', 'heartbeat 1'],
    );
    t.same(
      one.calls.filter((c) => c === 'answered').length,
      3,
      'each answered heartbeat retries what waits',
    );

    const several = lifecycle([node(1), node(2)]);
    await several.life.registerAnywhere();
    t.same(several.clock.intervals, [FAILOVER_MS / 3]);
  },
);

t.test(
  'each accepted registration starts the interval anew; a failed one while online leaves it alone',
  async (t) => {
    const { life, clock, control } = lifecycle();
    await life.registerAnywhere();
    t.same(clock.log, [`start ${HEARTBEAT_MS}`]);
    await life.registerAnywhere(); // register() while online
    t.same(clock.log, [`start ${HEARTBEAT_MS}`, 'stop', `start ${HEARTBEAT_MS}`]);
    const answer = deferred();
    control.registerWith = () => answer.promise;
    const again = life.registerAnywhere();
    t.equal(life.phase, 'reregistering');
    t.equal(life.state, 'online');
    answer.reject(new UdpchatError('ERR_STORE_FAILED', 'down'));
    await t.rejects(again);
    t.equal(life.phase, 'online');
    t.same(
      clock.log,
      [`start ${HEARTBEAT_MS}`, 'stop', `start ${HEARTBEAT_MS}`],
      'the running interval was not touched',
    );
  },
);

t.test(
  'a heartbeat answered "not registered" registers again; the interval keeps running meanwhile',
  async (t) => {
    const { life, clock, calls, control } = lifecycle();
    await life.registerAnywhere();
    const answer = deferred();
    control.beatWith = () => Promise.reject(notRegistered());
    control.registerWith = () => answer.promise;
    clock.advance(HEARTBEAT_MS);
    await settle();
    t.same(calls, ['register 1', 'heartbeat 1', 'register 1']);
    t.equal(life.phase, 'reregistering');
    t.same(clock.intervals, [HEARTBEAT_MS]);
    clock.advance(HEARTBEAT_MS);
    await settle();
    t.equal(
      calls.filter((c) => c.startsWith('heartbeat')).length,
      1,
      'one heartbeat at a time: the next waits for the one still registering',
    );
    answer.resolve();
    await settle();
    t.equal(life.phase, 'online');
  },
);

t.test('one node: an outage is said once, and its end once', async (t) => {
  const { life, clock, calls, control } = lifecycle();
  await life.registerAnywhere();
  t.equal(life.serverSilent, false);
  control.beatWith = () => Promise.reject(timeout());
  for (let i = 0; i < 3; i++) {
    clock.advance(HEARTBEAT_MS);
    await settle();
  }
  t.equal(calls.filter((c) => c === 'silent').length, 1);
  t.equal(life.serverSilent, true, 'the table is no longer kept up to date');
  t.notOk(
    calls.some((c) => c.startsWith('switched')),
    'one node: nowhere to go',
  );
  control.beatWith = () => Promise.resolve();
  clock.advance(HEARTBEAT_MS);
  await settle();
  clock.advance(HEARTBEAT_MS);
  await settle();
  t.equal(calls.filter((c) => c === 'back').length, 1);
  t.equal(life.serverSilent, false);
  t.equal(life.phase, 'online');
});

t.test('failover goes round the nodes in order, registering with each', async (t) => {
  const servers = [node(1), node(2), node(3)];
  const { life, clock, calls, control } = lifecycle(servers);
  await life.registerAnywhere();
  control.beatWith = () => Promise.reject(timeout());
  for (let i = 0; i < 3; i++) {
    clock.advance(FAILOVER_MS / 3);
    await settle();
  }
  t.same(
    calls.filter((c) => !c.startsWith('heartbeat')),
    [
      'register 1',
      'switched 1->2',
      'register 2',
      'switched 2->3',
      'register 3',
      'switched 3->1',
      'register 1',
    ],
  );
  t.equal(life.server, servers[0]);
  t.notOk(calls.includes('silent'), 'with other nodes, an outage moves the client instead');
});

t.test(
  'many unanswered requests move the client one node only; one to a node already left moves nothing',
  async (t) => {
    const servers = [node(1), node(2), node(3)];
    const { life, calls, control } = lifecycle(servers);
    await life.registerAnywhere();
    const answer = deferred();
    control.registerWith = () => answer.promise;
    life.unanswered(servers[0]);
    life.unanswered(servers[0]);
    life.unanswered(servers[0]);
    t.equal(life.server, servers[1]);
    answer.resolve();
    await settle();
    life.unanswered(servers[0]); // a late timeout of a request to the node left
    t.equal(life.server, servers[1]);
    t.same(calls, ['register 1', 'switched 1->2', 'register 2']);
  },
);

t.test('one node: an unanswered request moves nothing', async (t) => {
  const { life, calls } = lifecycle();
  await life.registerAnywhere();
  life.unanswered(life.server);
  await settle();
  t.same(calls, ['register 1']);
});

t.test('registerAnywhere tries each node once, on timeouts only', async (t) => {
  const servers = [node(1), node(2), node(3)];
  const first = lifecycle(servers);
  first.control.registerWith = (server) =>
    server.port === 3 ? Promise.resolve() : Promise.reject(timeout());
  await first.life.registerAnywhere();
  t.same(first.calls, ['register 1', 'switched 1->2', 'register 2', 'switched 2->3', 'register 3']);
  t.equal(first.life.phase, 'online');

  const none = lifecycle(servers);
  none.control.registerWith = () => Promise.reject(timeout());
  await t.rejects(none.life.registerAnywhere(), { code: 'ERR_TIMEOUT' });
  t.equal(none.calls.filter((c) => c.startsWith('register')).length, 3);
  t.equal(none.life.phase, 'unregistered');

  const refused = lifecycle(servers);
  refused.control.registerWith = () => Promise.reject(new UdpchatError('ERR_NICK_TAKEN', 'taken'));
  await t.rejects(refused.life.registerAnywhere(), { code: 'ERR_NICK_TAKEN' });
  t.same(refused.calls, ['register 1'], 'a refusal is an answer: no other node is tried');
});

t.test('a dereg stops heartbeats, blocks registering again, and ends offline', async (t) => {
  const servers = [node(1), node(2)];
  const { life, clock, calls, control } = lifecycle(servers);
  await life.registerAnywhere();
  const answer = deferred();
  const leaving = life.leave(() => answer.promise);
  t.equal(life.phase, 'leaving');
  t.equal(life.state, 'online', 'still online until the registry answers');
  t.same(clock.intervals, [], 'no heartbeat behind the dereg');
  await life.registerAgain('a save answered not registered');
  life.unanswered(servers[0]);
  control.beatWith = () => Promise.reject(notRegistered());
  await life.beat(); // say, the table showed this client offline
  t.same(
    calls,
    ['register 1', 'heartbeat 1'],
    'neither a registration nor a move to the next node',
  );
  answer.resolve();
  await leaving;
  t.equal(life.phase, 'offline');
  t.equal(life.state, 'offline');
  await life.beat();
  await life.registerAgain('late');
  t.same(calls, ['register 1', 'heartbeat 1'], 'offline: no heartbeat, no registration of its own');
  t.same(clock.intervals, []);
});

t.test('a dereg not answered leaves the client online with heartbeats started anew', async (t) => {
  const { life, clock } = lifecycle();
  await life.registerAnywhere();
  await t.rejects(
    life.leave(() => Promise.reject(timeout())),
    { code: 'ERR_TIMEOUT' },
  );
  t.equal(life.phase, 'online');
  t.same(clock.log, [`start ${HEARTBEAT_MS}`, 'stop', `start ${HEARTBEAT_MS}`]);
});

t.test(
  'a dereg waits for a registration under way, which starts no heartbeat, then goes after it',
  async (t) => {
    const { life, clock, calls, control } = lifecycle();
    await life.registerAnywhere();
    const registration = deferred();
    control.registerWith = () => registration.promise;
    void life.registerAgain('not registered');
    t.equal(life.phase, 'reregistering');
    let deregistered = false;
    const leaving = life.leave(async () => {
      calls.push('deregister');
      deregistered = true;
    });
    await settle();
    t.notOk(deregistered, 'the dereg waits');
    t.equal(life.phase, 'leaving');
    registration.resolve();
    await leaving;
    t.same(calls, ['register 1', 'register 1', 'deregister']);
    t.equal(life.phase, 'offline');
    t.same(
      clock.log,
      [`start ${HEARTBEAT_MS}`, 'stop'],
      'the registration that ended during the dereg started no heartbeat',
    );
  },
);

t.test(
  'close stops the heartbeat and ends every phase; a registration ending after it changes nothing',
  async (t) => {
    const { life, clock, calls, control } = lifecycle();
    await life.registerAnywhere();
    const answer = deferred();
    control.registerWith = () => answer.promise;
    const again = life.registerAnywhere();
    life.close();
    t.equal(life.phase, 'closed');
    t.equal(life.state, 'closed');
    t.same(clock.intervals, []);
    answer.resolve();
    await again;
    t.equal(life.phase, 'closed');
    t.same(clock.intervals, []);
    await life.beat();
    t.notOk(calls.some((c) => c.startsWith('heartbeat')));
    life.close();
    t.equal(life.phase, 'closed');
  },
);

t.test(
  'a move under way is the only one: a request to the new node timing out meanwhile moves nothing more',
  async (t) => {
    const servers = [node(1), node(2), node(3)];
    const { life, calls, control } = lifecycle(servers);
    await life.registerAnywhere();
    const answer = deferred();
    control.registerWith = () => answer.promise;
    life.unanswered(servers[0]);
    life.unanswered(servers[1]); // say, a save sent to the new node before it answered the registration
    t.equal(life.server, servers[1]);
    answer.resolve();
    await settle();
    t.same(calls, ['register 1', 'switched 1->2', 'register 2']);
    life.unanswered(servers[1]); // once there, the next silence moves it on again
    await settle();
    t.equal(life.server, servers[2]);
  },
);

t.test('overlapping registrations: one failing leaves the other registering', async (t) => {
  const { life, control } = lifecycle();
  const first = deferred();
  const second = deferred();
  const answers = [first, second];
  control.registerWith = () => answers.shift()!.promise;
  const a = life.registerAnywhere();
  const b = life.registerAnywhere();
  first.reject(new UdpchatError('ERR_STORE_FAILED', 'down'));
  await t.rejects(a);
  t.equal(life.phase, 'registering', 'the other is still on its way');
  second.resolve();
  await b;
  t.equal(life.phase, 'online');
});
