import t from 'tap';
import type { Test } from 'tap';
import type { ChatClient } from '../../src/client/client.js';
import type { Message, MessageOf } from '../../src/protocol/messages.js';
import { createProxy, peek, type Direction } from '../helpers/proxy.js';
import {
  createTestnet,
  eventually,
  record,
  type Recorded,
  type Testnet,
} from '../helpers/testnet.js';

// Two tries of 1.5 s each: a member whose first try is lost has the whole second one to answer,
// which a loaded machine does well within.
const patientGroups = { groupAckTimeoutMs: 3_000 };

/** The requests a reply acknowledges: an `ack`'s own, or each of a merged `acks`. */
function acknowledged(message: Message | undefined): string[] {
  if (message?.t === 'ack') return [message.re];
  if (message?.t === 'acks') return [message.re, ...message.more];
  return [];
}

/**
 * What one member's proxy saw of the group relay: the tries of each relayed message (by request
 * id), its text, and the ACKs of each that went on to the registry.
 */
interface RelayLog {
  tries: Map<string, number>;
  textOf: Map<string, string>;
  acksPassed: Map<string, number>;
  dropped: { relays: number; acks: number };
}

/**
 * `nick` registered through a proxy of its own to the registry; `dropRelay` and `dropAck` say
 * which datagrams of the group relay to and from it are lost (every other datagram passes).
 */
async function memberBehindProxy(
  t: Test,
  net: Testnet,
  nick: string,
  rules: {
    dropRelay?(message: MessageOf<'group_msg'>, tryNumber: number): boolean;
    /** `relayIds`: the relayed messages one datagram from the member acknowledges. */
    dropAck?(relayIds: string[], log: RelayLog): boolean;
  },
): Promise<{ client: ChatClient; log: RelayLog }> {
  const log: RelayLog = {
    tries: new Map(),
    textOf: new Map(),
    acksPassed: new Map(),
    dropped: { relays: 0, acks: 0 },
  };
  const proxy = await createProxy(net.registry.address(), {
    fault(datagram: Buffer, direction: Direction) {
      const message = peek(datagram);
      if (direction === 'back' && message?.t === 'group_msg') {
        const tryNumber = (log.tries.get(message.id) ?? 0) + 1;
        log.tries.set(message.id, tryNumber);
        log.textOf.set(message.id, message.text);
        if (rules.dropRelay?.(message, tryNumber)) {
          log.dropped.relays++;
          return 'drop';
        }
        return 'pass';
      }
      if (direction === 'forward') {
        const relays = acknowledged(message).filter((id) => log.tries.has(id));
        if (relays.length > 0 && rules.dropAck?.(relays, log)) {
          log.dropped.acks++;
          return 'drop';
        }
        for (const id of relays) log.acksPassed.set(id, (log.acksPassed.get(id) ?? 0) + 1);
      }
      return 'pass';
    },
  });
  t.teardown(() => proxy.close());
  const client = await net.client(nick, {
    server: { host: '127.0.0.1', port: proxy.address.port },
  });
  return { client, log };
}

/** The texts of the group messages a client showed, in the order it showed them. */
const groupTexts = (events: Recorded[]) =>
  events.flatMap(([name, payload]) =>
    name === 'group-message' ? [(payload as { text: string }).text] : [],
  );

/** The events named `name` a client emitted. */
const named = (events: Recorded[], name: Recorded[0]) =>
  events.filter(([event]) => event === name).map(([, payload]) => payload);

t.test(
  'a group message is shown once when its relay is sent again after a lost ACK; the member stays in the group',
  async (t) => {
    const net = await createTestnet(t, { registry: patientGroups });
    const alice = await net.client('alice');
    // bob's first ACK to each relayed group message is lost: the registry sends it again.
    const { client: bob, log } = await memberBehindProxy(t, net, 'bob', {
      dropAck: (ids, relayLog) => ids.some((id) => relayLog.tries.get(id) === 1),
    });
    await alice.createGroup('g');
    await alice.joinGroup('g');
    await bob.joinGroup('g');
    const aliceEvents = record(alice);
    const bobEvents = record(bob);

    for (const [i, text] of ['once only', 'and again'].entries()) {
      await alice.sendGroup(text);
      // The second try is answered too: had bob taken it as new, he would have shown it by then.
      await eventually(
        () => log.acksPassed.size === i + 1,
        10_000,
        () => `the ACK to the second try of "${text}" (tries ${[...log.tries.values()].join()})`,
      );
    }
    t.same([...log.tries.values()], [2, 2], 'each relay was sent twice');
    t.equal(log.dropped.acks, 2, 'the first ACK of each was lost');
    t.same(groupTexts(bobEvents), ['once only', 'and again'], 'each shown once');
    t.same(named(bobEvents, 'removed-from-group'), [], 'bob was not removed');
    t.equal(bob.group, 'g', 'bob is still in group mode');
    t.same(named(aliceEvents, 'group-member-gone'), [], 'alice was told of no one gone');
    t.same(await alice.listMembers(), ['alice', 'bob'], 'bob is still a member');
  },
);

t.test(
  'the relay under loss: first tries lost, every message shown once; every try of one lost, the member is removed and told, and gets nothing after',
  async (t) => {
    const net = await createTestnet(t, { registry: patientGroups });
    const alice = await net.client('alice');
    // bob loses the first try of every relay to him; carol loses every try of "three".
    const bobSide = await memberBehindProxy(t, net, 'bob', {
      dropRelay: (_message, tryNumber) => tryNumber === 1,
    });
    const carolSide = await memberBehindProxy(t, net, 'carol', {
      dropRelay: (message) => message.text === 'three',
    });
    const [bob, carol] = [bobSide.client, carolSide.client];
    await alice.createGroup('g');
    for (const client of [alice, bob, carol]) await client.joinGroup('g');
    const [aliceEvents, bobEvents, carolEvents] = [alice, bob, carol].map(record);

    for (const text of ['one', 'two', 'three']) await alice.sendGroup(text);
    await eventually(
      () =>
        named(carolEvents, 'removed-from-group').length === 1 &&
        named(aliceEvents, 'group-member-gone').length === 1 &&
        named(bobEvents, 'group-member-gone').length === 1,
      10_000,
      'carol removed, and everyone told',
    );
    // carol is out on the registry's side before anyone is told: what follows is not hers.
    for (const text of ['four', 'five']) await alice.sendGroup(text);
    await eventually(
      () => groupTexts(bobEvents).length >= 5,
      10_000,
      () => `bob shows every message (so far ${groupTexts(bobEvents).join()})`,
    );

    t.same(
      [...groupTexts(bobEvents)].sort(),
      ['five', 'four', 'one', 'three', 'two'],
      'bob shows every message exactly once',
    );
    t.same([...bobSide.log.tries.values()], [2, 2, 2, 2, 2], 'each relay to bob took two tries');
    t.equal(bobSide.log.dropped.relays, 5, 'the first of each was lost');
    t.same(named(bobEvents, 'removed-from-group'), [], 'bob was not removed');
    t.equal(bob.group, 'g', 'bob is still in group mode');

    t.same(
      [...groupTexts(carolEvents)].sort(),
      ['one', 'two'],
      'carol shows what reached her, once',
    );
    t.equal(carolSide.log.dropped.relays, 2, 'both tries of "three" to carol were lost');
    t.same(
      [...carolSide.log.textOf.values()].sort(),
      ['one', 'three', 'two'],
      'nothing was relayed to carol once she was removed',
    );
    t.same(named(carolEvents, 'removed-from-group'), [{ group: 'g' }], 'carol was told');
    t.equal(carol.group, undefined, 'carol is out of group mode');
    await t.rejects(carol.sendGroup('still here?'), { code: 'ERR_NOT_IN_GROUP' });
    for (const events of [aliceEvents, bobEvents])
      t.same(
        named(events, 'group-member-gone'),
        [{ group: 'g', nick: 'carol', reason: 'removed' }],
        'the others are told carol was removed, not that she left',
      );
    t.same(await alice.listMembers(), ['alice', 'bob'], 'the members are those who acknowledged');
  },
);

t.test(
  'every third datagram of the relay lost: each message shown at most once; a member that stays showed every one, one removed was told',
  async (t) => {
    const net = await createTestnet(t, { registry: patientGroups });
    const alice = await net.client('alice');
    // Relays to bob and his ACKs to them, counted together: every third is lost.
    let counted = 0;
    const lostEveryThird = () => ++counted % 3 === 0;
    const { client: bob, log } = await memberBehindProxy(t, net, 'bob', {
      dropRelay: lostEveryThird,
      dropAck: lostEveryThird,
    });
    await alice.createGroup('g');
    await alice.joinGroup('g');
    await bob.joinGroup('g');
    const [aliceEvents, bobEvents] = [alice, bob].map(record);

    const texts = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    for (const text of texts) await alice.sendGroup(text);
    // Settled: bob was removed, or an ACK to every relay reached the registry.
    await eventually(
      () =>
        named(bobEvents, 'removed-from-group').length > 0 || log.acksPassed.size === texts.length,
      10_000,
      () => `the relay settled (tries ${[...log.tries.values()].join()})`,
    );
    t.ok(log.dropped.relays + log.dropped.acks > 0, 'some of the relay was lost');
    const shown = groupTexts(bobEvents);
    t.equal(new Set(shown).size, shown.length, `each shown at most once (${shown.join()})`);
    t.ok(
      shown.every((text) => texts.includes(text)),
      'only what alice sent',
    );
    if (named(bobEvents, 'removed-from-group').length === 0) {
      t.same([...shown].sort(), texts, 'bob stayed: he shows every message');
      t.equal(bob.group, 'g');
      t.same(await alice.listMembers(), ['alice', 'bob']);
      t.same(named(aliceEvents, 'group-member-gone'), [], 'alice was told of no one gone');
    } else {
      t.equal(bob.group, undefined, 'bob was removed and told');
      await eventually(() => named(aliceEvents, 'group-member-gone').length > 0, 10_000);
      t.same(named(aliceEvents, 'group-member-gone'), [
        { group: 'g', nick: 'bob', reason: 'removed' },
      ]);
      t.same(await alice.listMembers(), ['alice']);
    }
  },
);
