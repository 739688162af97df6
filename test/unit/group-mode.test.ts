import t from 'tap';
import { UdpchatError } from '../../src/protocol/errors.js';
import type { Reply, RequestBody } from '../../src/protocol/messages.js';
import { GroupMode } from '../../src/client/group-mode.js';

/**
 * Group mode over a fake registry: `answer` makes each reply from the request (or throws);
 * what was asked, emitted and released is written down.
 */
function setup(answer: (body: RequestBody) => Reply, { online = true } = {}) {
  const asked: RequestBody[] = [];
  const told: string[] = [];
  const groups = new GroupMode({
    nick: 'ann',
    online: () => online,
    request: async (body) => (asked.push(body), answer(body)),
    newId: () => 'mid1',
    release: (group) => told.push(`release ${group}`),
    emit: (event, payload) => told.push(`${event} ${JSON.stringify(payload)}`),
  });
  return { groups, asked, told };
}

const info = (fields: object = {}) => ({ v: 1, re: 'r', t: 'group_info', ...fields }) as Reply;

t.test('join, then leave: left-group is told before what was held is let out', async (t) => {
  const { groups, asked, told } = setup((body) =>
    info(body.t === 'group' && body.op === 'join' ? { status: 'joined' } : {}),
  );
  t.equal(await groups.join('room'), 'joined');
  t.equal(groups.current, 'room');
  await t.rejects(groups.join('other'), { code: 'ERR_IN_GROUP' });
  t.equal(await groups.leave(), 'room');
  t.equal(groups.current, undefined);
  t.same(told, ['left-group {"group":"room"}', 'release room']);
  t.match(asked, [
    { t: 'group', op: 'join', group: 'room', from: 'ann' },
    { t: 'group', op: 'leave', group: 'room' },
  ]);
  await t.rejects(groups.leave(), { code: 'ERR_NOT_IN_GROUP' });
});

t.test('leaving when the registry does not answer still ends group mode', async (t) => {
  let silent = false;
  const { groups, told } = setup(() => {
    if (silent) throw new UdpchatError('ERR_TIMEOUT', 'no reply');
    return info({ status: 'joined' });
  });
  await groups.join('room');
  silent = true;
  await t.rejects(groups.leave(), { code: 'ERR_TIMEOUT' });
  t.equal(groups.current, undefined);
  t.same(told, ['left-group {"group":"room"}', 'release room']);
});

t.test(
  'told out of the group: by a group_removed, a NOT_IN_GROUP refusal, a registration',
  async (t) => {
    let refuse = false;
    const { groups, told } = setup((body) => {
      if (refuse) throw new UdpchatError('ERR_NOT_IN_GROUP', 'not a member');
      return info(body.t === 'group' && body.op === 'join' ? { status: 'joined' } : {});
    });
    await groups.join('room');
    groups.onRemoved({
      v: 1,
      id: 'x',
      t: 'group_removed',
      group: 'room',
      nick: 'bob',
      reason: 'left',
    });
    groups.onRemoved({
      v: 1,
      id: 'y',
      t: 'group_removed',
      group: 'other',
      nick: 'ann',
      reason: 'removed',
    });
    t.equal(groups.current, 'room', 'another member gone, or another group: still in it');
    groups.onRemoved({
      v: 1,
      id: 'z',
      t: 'group_removed',
      group: 'room',
      nick: 'ann',
      reason: 'removed',
    });
    t.equal(groups.current, undefined);

    await groups.join('room');
    refuse = true;
    await t.rejects(groups.send('hi all'), { code: 'ERR_NOT_IN_GROUP' });
    t.equal(groups.current, undefined, 'the refusal ended group mode');

    refuse = false;
    await groups.join('room');
    groups.registered();
    t.equal(groups.current, undefined, 'a registration starts outside any group');
    groups.registered();
    t.same(told, [
      'group-member-gone {"group":"room","nick":"bob","reason":"left"}',
      'removed-from-group {"group":"room"}',
      'release room',
      'removed-from-group {"group":"room"}',
      'release room',
      'removed-from-group {"group":"room"}',
      'release room',
    ]);
  },
);

t.test('listings come page by page, each name once', async (t) => {
  const { groups, asked } = setup((body) => {
    if (body.t !== 'group') throw new Error('unexpected');
    if (body.start === undefined) return info({ groups: ['a', 'b'], next: 2 });
    if (body.start === 2) return info({ groups: ['b', 'c'], next: 4 });
    return info({ groups: ['d'] });
  });
  t.same(await groups.list(), ['a', 'b', 'c', 'd']);
  t.same(
    asked.map((body) => (body.t === 'group' ? body.start : undefined)),
    [undefined, 2, 4],
  );
});

t.test('refused before asking: offline, a bad group name, a bad text', async (t) => {
  const offline = setup(() => info(), { online: false });
  await t.rejects(offline.groups.create('room'), { code: 'ERR_NOT_ONLINE' });
  t.same(offline.asked, []);
  const { groups, asked } = setup((body) =>
    info(body.t === 'group' && body.op === 'join' ? { status: 'joined' } : {}),
  );
  await t.rejects(groups.create('no spaces'), { code: 'ERR_INVALID_GROUP' });
  await t.rejects(groups.send('hi'), { code: 'ERR_NOT_IN_GROUP' });
  await groups.join('room');
  await t.rejects(groups.send('   '), { code: 'ERR_EMPTY_MESSAGE' });
  await groups.send('hi all');
  t.match(asked.at(-1), {
    t: 'group_send',
    from: 'ann',
    group: 'room',
    mid: 'mid1',
    text: 'hi all',
  });
});

t.test(
  'every request answers with a promise, a refusal too (never a throw on the spot)',
  async (t) => {
    const { groups } = setup(() => info());
    for (const call of [
      () => groups.members(),
      () => groups.leave(),
      () => groups.send('hi'),
      () => groups.create('no spaces'),
    ]) {
      let result: Promise<unknown> | undefined;
      t.doesNotThrow(() => (result = call()));
      await t.rejects(result!);
    }
  },
);
