import t from 'tap';
import pino from 'pino';
import { MAX_GROUPS, WireError } from '../../src/protocol/constants.js';
import type { MessageOf, ReplyBody } from '../../src/protocol/messages.js';
import type { Address } from '../../src/transport/address.js';
import { Groups, type GroupBody } from '../../src/registry/groups.js';
import { heldRequests } from '../helpers/held-requests.js';

const at = (port: number): Address => ({ address: '127.0.0.1', port });
/** The answer to a `group` request that changed (or found) a group. */
const info = (status: string) => ({ t: 'group_info', status });

/**
 * Groups over a fake store (the members last put, per group) and a fake request function
 * whose requests wait until the test ACKs or misses them; `online` says where each nick is,
 * `last` where an offline one was.
 */
function setup({ maxMembers = 100 }: { maxMembers?: number } = {}) {
  const stored = new Map<string, string[]>();
  const online = new Map<string, Address>();
  const last = new Map<string, Address>();
  const { requests, request, sent } = heldRequests<GroupBody>();
  const changed: string[] = [];
  const background: Promise<void>[] = [];
  const groups = new Groups({
    store: {
      putGroup: async (name, members) => void stored.set(name, [...members]),
    },
    log: pino({ level: 'silent' }),
    ackTimeoutMs: 600,
    maxMembers,
    request,
    onlineAddress: (nick) => online.get(nick),
    lastAddress: (nick) => online.get(nick) ?? last.get(nick),
    background: (work) => void background.push(work),
    changed: (group) => void changed.push(group),
  });
  /** The reply `handle` (or `send`) gave to `request`. */
  const ask = async (
    request: Omit<MessageOf<'group'>, 'v' | 'id' | 't'>,
  ): Promise<ReplyBody | undefined> => {
    let reply: ReplyBody | undefined;
    await groups.handle({ v: 1, t: 'group', id: 'r1', ...request }, (body) => (reply = body));
    return reply;
  };
  const say = (from: string, group: string, mid: string): ReplyBody | undefined => {
    let reply: ReplyBody | undefined;
    groups.send(
      { v: 1, t: 'group_send', id: 'r2', from, group, mid, text: `${mid} from ${from}` },
      (body) => (reply = body),
    );
    return reply;
  };
  return { groups, stored, online, last, requests, changed, background, ask, say, sent };
}

/** Creates `group` and has each of `members` join it (each online at a port of its own). */
async function withMembers(
  setup_: ReturnType<typeof setup>,
  group: string,
  members: string[],
): Promise<void> {
  await setup_.ask({ from: members[0], op: 'create', group });
  for (const [i, member] of members.entries()) {
    setup_.online.set(member, at(3000 + i));
    await setup_.ask({ from: member, op: 'join', group });
  }
}

t.test(
  'create, join, members, leave: each answered, kept in the store, told to the cluster',
  async (t) => {
    const s = setup();
    t.same(await s.ask({ from: 'ann', op: 'create', group: 'g1' }), info('created'));
    t.same(await s.ask({ from: 'bob', op: 'create', group: 'g1' }), info('exists'));
    t.same(await s.ask({ from: 'ann', op: 'join', group: 'nope' }), info('missing'));
    t.same(await s.ask({ from: 'ann', op: 'join', group: 'g1' }), info('joined'));
    t.same(await s.ask({ from: 'bob', op: 'join', group: 'g1' }), info('joined'));
    t.same(
      await s.ask({ from: 'bob', op: 'join', group: 'g1' }),
      info('joined'),
      'joining again is no second place',
    );
    t.same(s.stored.get('g1'), ['ann', 'bob']);
    t.same(await s.ask({ from: 'ann', op: 'members', group: 'g1' }), {
      t: 'group_info',
      members: ['ann', 'bob'],
    });
    t.match(
      await s.ask({ from: 'cat', op: 'members', group: 'g1' }),
      {
        t: 'err',
        code: WireError.NOT_IN_GROUP,
      },
      'only a member lists the members',
    );
    t.equal(s.groups.groupOf('bob'), 'g1');
    t.same(await s.ask({ from: 'bob', op: 'leave', group: 'g1' }), info('left'));
    t.equal(s.groups.groupOf('bob'), undefined);
    t.same(s.stored.get('g1'), ['ann']);
    t.same(
      s.changed,
      ['g1', 'g1', 'g1', 'g1', 'g1'],
      'the create, the three joins and the leave told',
    );
    t.match(await s.ask({ from: 'ann', op: 'join', group: 'Bad Name!' }), {
      t: 'err',
      code: WireError.BAD_REQUEST,
    });
    t.match(await s.ask({ from: 'ann', op: 'join' }), { t: 'err', code: WireError.BAD_REQUEST });
  },
);

t.test(
  'one group at a time: joining another leaves the first, whose members are told',
  async (t) => {
    const s = setup();
    await withMembers(s, 'g1', ['ann', 'bob']);
    await s.ask({ from: 'cat', op: 'create', group: 'g2' });
    await s.ask({ from: 'bob', op: 'join', group: 'g2' });
    t.equal(s.groups.groupOf('bob'), 'g2');
    t.same(s.stored.get('g1'), ['ann']);
    t.same(s.stored.get('g2'), ['bob']);
    const [told] = await s.sent(1);
    t.same(told.body, { t: 'group_removed', group: 'g1', nick: 'bob', reason: 'left' });
    t.equal(told.nick, 'ann', 'the one left behind is told; bob, who left, is not');
    t.same(told.to, at(3000));
    t.same(told.retry, { timeoutMs: 300, tries: 2 }, 'the ACK timeout over two tries');
  },
);

t.test('a full group refuses a newcomer, not a member joining again', async (t) => {
  const s = setup({ maxMembers: 2 });
  await withMembers(s, 'g1', ['ann', 'bob']);
  t.match(await s.ask({ from: 'cat', op: 'join', group: 'g1' }), {
    t: 'err',
    code: WireError.REGISTRY_FULL,
  });
  t.same(await s.ask({ from: 'bob', op: 'join', group: 'g1' }), info('joined'));
  t.same(s.stored.get('g1'), ['ann', 'bob']);
  t.equal(s.groups.groupOf('cat'), undefined);
});

t.test('at most MAX_GROUPS groups', async (t) => {
  const s = setup();
  for (let i = 0; i < MAX_GROUPS; i++) await s.ask({ from: 'ann', op: 'create', group: `g${i}` });
  t.match(await s.ask({ from: 'ann', op: 'create', group: 'onemore' }), {
    t: 'err',
    code: WireError.REGISTRY_FULL,
  });
  t.equal(s.stored.has('onemore'), false);
});

t.test('the list of groups comes in pages that together hold every name once', async (t) => {
  const s = setup();
  const names = Array.from({ length: 200 }, (_, i) => `group-with-a-long-name-${i}`).sort();
  for (const name of names) await s.ask({ from: 'ann', op: 'create', group: name });
  const seen: string[] = [];
  let start: number | undefined = 0;
  let pages = 0;
  while (start !== undefined) {
    const page = (await s.ask({ from: 'ann', op: 'list', start })) as {
      groups: string[];
      next?: number;
    };
    t.ok(JSON.stringify(page.groups).length <= 800, 'a page within its bytes');
    seen.push(...page.groups);
    start = page.next;
    pages++;
  }
  t.ok(pages > 1, `in ${pages} pages`);
  t.same(seen, names);
});

t.test('a group message: ACKed to its sender, relayed to every other member', async (t) => {
  const s = setup();
  await withMembers(s, 'g1', ['ann', 'bob', 'cat']);
  t.match(
    s.say('dan', 'g1', 'm0'),
    { t: 'err', code: WireError.NOT_IN_GROUP },
    'not from a non-member',
  );
  t.equal(s.requests.length, 0);
  t.same(s.say('ann', 'g1', 'm1'), { t: 'ack' });
  const relays = await s.sent(2);
  t.same(
    relays.map((r) => [r.nick, r.to]),
    [
      ['bob', at(3001)],
      ['cat', at(3002)],
    ],
  );
  for (const relay of relays) {
    t.same(relay.body, {
      t: 'group_msg',
      group: 'g1',
      from: 'ann',
      mid: 'm1',
      text: 'm1 from ann',
    });
    t.same(relay.retry, { timeoutMs: 300, tries: 2 });
    relay.ack();
  }
  await Promise.all(s.background);
  t.same(s.stored.get('g1'), ['ann', 'bob', 'cat'], 'everyone who ACKed stays');
});

t.test('a member that does not ACK is removed; the others and itself are told', async (t) => {
  const s = setup();
  await withMembers(s, 'g1', ['ann', 'bob', 'cat']);
  s.say('ann', 'g1', 'm1');
  const [toBob, toCat] = await s.sent(2);
  toBob.ack();
  toCat.miss();
  await Promise.all(s.background);
  t.same(s.stored.get('g1'), ['ann', 'bob']);
  t.equal(s.groups.groupOf('cat'), undefined);
  const told = (await s.sent(4)).slice(2);
  t.same(
    told.map((r) => [r.nick, r.body]),
    [
      ['ann', { t: 'group_removed', group: 'g1', nick: 'cat', reason: 'removed' }],
      ['bob', { t: 'group_removed', group: 'g1', nick: 'cat', reason: 'removed' }],
    ],
    'the others told first',
  );
  const [toRemoved] = await s.sent(5).then((all) => all.slice(4));
  t.same(
    [toRemoved.nick, toRemoved.to, toRemoved.body],
    ['cat', at(3002), { t: 'group_removed', group: 'g1', nick: 'cat', reason: 'removed' }],
    'the removed member too, at its address: it may still be listening',
  );
});

t.test('a member offline when a message comes is removed without a request', async (t) => {
  const s = setup();
  await withMembers(s, 'g1', ['ann', 'bob']);
  s.online.delete('bob');
  s.last.set('bob', at(4000));
  s.say('ann', 'g1', 'm1');
  await Promise.all(s.background);
  t.same(s.stored.get('g1'), ['ann']);
  const sent = await s.sent(2);
  t.same(
    sent.map((r) => [r.nick, r.to, r.body.t]),
    [
      ['ann', at(3000), 'group_removed'],
      ['bob', at(4000), 'group_removed'],
    ],
    'no group_msg: only the news of the removal, bob at his last address',
  );
});

t.test('memberGone: a dereg leaves the group and only the others are told', async (t) => {
  const s = setup();
  await withMembers(s, 'g1', ['ann', 'bob']);
  await s.groups.memberGone('bob', 'left');
  await s.groups.memberGone('zed', 'left'); // in no group: nothing
  t.same(s.stored.get('g1'), ['ann']);
  const sent = await s.sent(1);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(s.requests.length, 1);
  t.same(
    [sent[0].nick, sent[0].body],
    ['ann', { t: 'group_removed', group: 'g1', nick: 'bob', reason: 'left' }],
  );
});

t.test('load: the groups as the store has them, each member in one', async (t) => {
  const s = setup();
  await withMembers(s, 'old', ['ann']);
  s.groups.load({ g1: ['ann', 'bob'], g2: ['cat'] });
  t.equal(s.groups.groupOf('ann'), 'g1');
  t.equal(s.groups.groupOf('cat'), 'g2');
  t.same(await s.ask({ from: 'ann', op: 'list' }), { t: 'group_info', groups: ['g1', 'g2'] });
  t.same(await s.ask({ from: 'bob', op: 'members', group: 'g1' }), {
    t: 'group_info',
    members: ['ann', 'bob'],
  });
});
