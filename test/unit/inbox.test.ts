import t from 'tap';
import { Inbox, type InboxEvents } from '../../src/client/inbox.js';
import type { MessageOf, ReplyBody } from '../../src/protocol/messages.js';
import type { TableEntry } from '../../src/protocol/fields.js';
import type { Sealed } from '../../src/crypto/sealing.js';
import type { Address } from '../../src/transport/address.js';
import { fakeClock } from '../helpers/fake-clock.js';

const HOLD_MS = 60_000;

const BOB_AT: Address = { address: '127.0.0.1', port: 4000 };
const bob = {
  nick: 'bob',
  ip: '127.0.0.1',
  port: 4000,
  online: true,
  sk: 'sk',
  ek: 'ek',
} as TableEntry;

/** A sealed payload the fake opener reads as its text ('?' does not open, '!' may not be opened now). */
const sealed = (text: string) => ({ enc: text, ct: '' }) as Sealed;

function chat(
  mid: string,
  text: string,
  extra: Partial<MessageOf<'chat'>> = {},
): MessageOf<'chat'> {
  return { t: 'chat', v: 1, id: mid, from: 'bob', mid, sealed: sealed(text), ...extra };
}

function deliver(
  kind: 'saved' | 'relayed',
  first: boolean,
  messages: Array<[string, string, string?]>,
): MessageOf<'deliver'> {
  return {
    t: 'deliver',
    v: 1,
    id: 'd',
    kind,
    first,
    messages: messages.map(([mid, text, from = 'bob'], index) => ({
      from,
      mid,
      ts: 1000 + index,
      sealed: sealed(text),
    })),
  };
}

/** What `box` answers `request` from `from`: its reply, or undefined for silence. */
async function answerOf(
  box: Inbox,
  request: MessageOf<'chat'>,
  from: Address,
): Promise<ReplyBody | undefined> {
  let reply: ReplyBody | undefined;
  await box.onChat(request, from, (body) => {
    if (reply !== undefined) throw new Error('answered twice');
    reply = body;
  });
  return reply;
}

/** An inbox over a fake context; `events` lists what it told, `shown()` as short lines. */
function inbox(options: { peerChats?: number } = {}) {
  const events: Array<[string, { text?: string; count?: number; [field: string]: unknown }]> = [];
  const state = { online: true, closed: false, group: undefined as string | undefined };
  const opening: Array<() => void> = [];
  const control = { holdOpen: false };
  const clock = fakeClock();
  const subject = new Inbox(
    {
      nick: 'alice',
      holdTimeoutMs: HOLD_MS,
      peerChats: options.peerChats ?? 100,
      peerChatWindowMs: 60_000, // one window for the whole test, however slow the machine
      online: () => state.online,
      closed: () => state.closed,
      group: () => state.group,
      peer: (nick) => (nick === 'bob' ? bob : undefined),
      open: async (from, _mid, { enc }) => {
        if (control.holdOpen) await new Promise<void>((resolve) => opening.push(resolve));
        if (from !== 'bob' || enc === '!') return null;
        return enc === '?' ? undefined : enc;
      },
      emit: <K extends keyof InboxEvents>(event: K, payload: InboxEvents[K]) =>
        void events.push([event, payload]),
      debug: () => {},
    },
    clock.clock,
  );
  const shown = () =>
    events.map(([name, p]) =>
      p.text === undefined
        ? p.count === undefined
          ? name
          : `${name} ${p.count}`
        : `${name} ${p.text}`,
    );
  return { inbox: subject, events, shown, state, opening, control, clock };
}

t.test(
  'a chat from the address the table gives: acknowledged once opened, shown once',
  async (t) => {
    const { inbox: box, shown, events } = inbox();
    t.same(await answerOf(box, chat('m1', 'hi', { all: true }), BOB_AT), { t: 'ack' });
    t.same(events, [['message', { from: 'bob', text: 'hi', mid: 'm1', all: true }]]);
    t.same(
      await answerOf(box, chat('m1', 'hi'), BOB_AT),
      { t: 'ack' },
      'a copy is acknowledged again',
    );
    t.same(shown(), ['message hi'], 'and not shown again');
  },
);

t.test(
  'a chat is acknowledged before it is shown (the sender does not wait on the screen)',
  async (t) => {
    const { inbox: box, events } = inbox();
    const order: string[] = [];
    await box.onChat(chat('m1', 'hi'), BOB_AT, (reply) => {
      order.push(`answer ${reply.t}, ${events.length} shown`);
    });
    order.push(`then ${events.length} shown`);
    t.same(order, ['answer ack, 0 shown', 'then 1 shown']);
  },
);

t.test(
  'a chat answered with silence: from elsewhere, from a stranger, or while offline',
  async (t) => {
    const { inbox: box, state, events } = inbox();
    t.equal(await answerOf(box, chat('m1', 'hi'), { address: '127.0.0.1', port: 4001 }), undefined);
    t.equal(await answerOf(box, chat('m2', 'hi', { from: 'carol' }), BOB_AT), undefined);
    state.online = false;
    t.equal(await answerOf(box, chat('m3', 'hi'), BOB_AT), undefined);
    t.same(events, []);
  },
);

t.test('a chat that does not open is refused, so its sender learns of it', async (t) => {
  const { inbox: box, events } = inbox();
  t.match(await answerOf(box, chat('m1', '?'), BOB_AT), {
    t: 'err',
    message: 'the message could not be opened',
  });
  t.match(await answerOf(box, chat('m2', '!'), BOB_AT), { t: 'err' });
  t.same(events, []);
});

t.test('a copy that comes while the first is being opened goes unanswered', async (t) => {
  const { inbox: box, opening, control, shown } = inbox();
  control.holdOpen = true;
  const first = answerOf(box, chat('m1', 'hi'), BOB_AT);
  for (let i = 0; i < 10 && opening.length === 0; i++) await Promise.resolve();
  t.equal(opening.length, 1);
  t.equal(await answerOf(box, chat('m1', 'hi'), BOB_AT), undefined);
  opening[0]();
  t.same(await first, { t: 'ack' });
  t.same(shown(), ['message hi']);
});

t.test("past a peer's chat budget its chats go unanswered and are counted", async (t) => {
  const { inbox: box, shown } = inbox({ peerChats: 2 });
  t.same(await answerOf(box, chat('m1', 'one'), BOB_AT), { t: 'ack' });
  t.same(await answerOf(box, chat('m2', 'two'), BOB_AT), { t: 'ack' });
  t.equal(await answerOf(box, chat('m3', 'three'), BOB_AT), undefined);
  t.equal(box.chatBudgetRefusals, 1);
  t.same(shown(), ['message one', 'message two']);
});

t.test(
  "a chat naming one not here yet waits for it; both shown in the sender's order",
  async (t) => {
    const { inbox: box, shown } = inbox();
    t.same(await answerOf(box, chat('m1', 'one'), BOB_AT), { t: 'ack' });
    t.same(
      await answerOf(box, chat('m3', 'three', { after: 'm2' }), BOB_AT),
      { t: 'ack' },
      'acknowledged at once',
    );
    t.same(shown(), ['message one']);
    t.same(await box.onDeliver(deliver('relayed', false, [['m2', 'two']])), { t: 'ack' });
    t.same(shown(), ['message one', 'message two', 'message three']);
    box.close();
  },
);

t.test(
  'saved messages: a line at the start of a catch-up, each in order, an unreadable one said so',
  async (t) => {
    const { inbox: box, shown } = inbox();
    t.same(
      await box.onDeliver(
        deliver('saved', true, [
          ['m1', 'one'],
          ['m2', '?'],
          ['m3', 'three'],
        ]),
      ),
      { t: 'ack' },
    );
    t.same(shown(), ['saved-messages', 'saved-message one', 'unreadable', 'saved-message three']);
    t.same(
      await box.onDeliver(
        deliver('saved', false, [
          ['m3', 'three'],
          ['m4', 'four'],
        ]),
      ),
      { t: 'ack' },
    );
    t.same(
      shown().slice(4),
      ['saved-message four'],
      'no second line within one catch-up; a copy not shown',
    );
  },
);

t.test(
  'a batch with a sender the table does not have yet is not acknowledged (the registry tries again)',
  async (t) => {
    const { inbox: box, events, state } = inbox();
    t.equal(
      await box.onDeliver(
        deliver('saved', true, [
          ['m1', 'one'],
          ['m2', 'two', 'carol'],
        ]),
      ),
      undefined,
    );
    t.same(events, [], 'nothing of it shown');
    t.same(
      await box.onDeliver(deliver('saved', true, [['m1', 'one']])),
      { t: 'ack' },
      'then taken whole',
    );
    state.closed = true;
    t.equal(
      await box.onDeliver(deliver('saved', false, [['m5', 'five']])),
      undefined,
      'nothing taken once closed',
    );
  },
);

t.test(
  'in a group: private lines are held, group messages shown once; out of it, the held ones follow a count',
  async (t) => {
    const { inbox: box, shown, state } = inbox();
    state.group = 'g';
    t.same(await answerOf(box, chat('m1', 'one'), BOB_AT), { t: 'ack' });
    t.same(await box.onDeliver(deliver('saved', true, [['m2', 'two']])), { t: 'ack' });
    const groupMessage = {
      t: 'group_msg',
      v: 1,
      id: 'x',
      group: 'g',
      from: 'bob',
      mid: 'g1',
      text: 'to all',
    } as MessageOf<'group_msg'>;
    t.same(box.onGroupMessage(groupMessage), { t: 'ack' });
    t.same(box.onGroupMessage(groupMessage), { t: 'ack' }, 'a copy acknowledged');
    t.equal(
      box.onGroupMessage({ ...groupMessage, group: 'other', mid: 'g2' }),
      undefined,
      'not a member there: silence',
    );
    t.same(shown(), ['group-message to all']);
    state.group = undefined;
    box.release('g');
    t.same(shown(), [
      'group-message to all',
      'held-messages 2',
      'message one',
      'saved-messages',
      'saved-message two',
    ]);
    box.release('g');
    t.equal(shown().length, 5, 'nothing held twice');
  },
);

t.test('offline, a group message goes unanswered', async (t) => {
  const { inbox: box, state } = inbox();
  state.group = 'g';
  state.online = false;
  t.equal(
    box.onGroupMessage({
      t: 'group_msg',
      v: 1,
      id: 'x',
      group: 'g',
      from: 'bob',
      mid: 'g1',
      text: 'hi',
    }),
    undefined,
  );
});

t.test(
  'a chat whose predecessor never comes is shown after holdTimeoutMs, not before',
  async (t) => {
    const { inbox: box, shown, clock } = inbox();
    t.same(await answerOf(box, chat('m3', 'three', { after: 'm2' }), BOB_AT), { t: 'ack' });
    clock.advance(HOLD_MS - 1);
    t.same(shown(), []);
    clock.advance(1);
    t.same(shown(), ['message three']);
    t.equal(clock.pending, 0);
  },
);

t.test(
  'after a registration with saved messages pending, a live one naming none waits for them, at most the patience',
  async (t) => {
    const first = inbox();
    first.inbox.registering();
    first.inbox.startCatchUp(1, 2_500);
    t.same(await answerOf(first.inbox, chat('m9', 'live'), BOB_AT), { t: 'ack' });
    t.same(first.shown(), [], 'held for the catch-up');
    t.same(await first.inbox.onDeliver(deliver('saved', true, [['m1', 'saved']])), { t: 'ack' });
    t.same(
      first.shown(),
      ['saved-messages', 'saved-message saved', 'message live'],
      'the saved one first',
    );

    const second = inbox();
    second.inbox.registering();
    second.inbox.startCatchUp(1, 2_500);
    await answerOf(second.inbox, chat('m9', 'live'), BOB_AT);
    second.clock.advance(2_499);
    t.same(second.shown(), []);
    second.clock.advance(1);
    t.same(
      second.shown(),
      ['message live'],
      'the saved ones never came: shown at the end of the patience',
    );
  },
);

t.test('close stops every hold', async (t) => {
  const { inbox: box, clock, shown } = inbox();
  box.startCatchUp(3, 2_500);
  await answerOf(box, chat('m3', 'three', { after: 'm2' }), BOB_AT);
  t.ok(clock.pending > 0);
  box.close();
  t.equal(clock.pending, 0);
  clock.advance(HOLD_MS * 2);
  t.same(shown(), []);
});
