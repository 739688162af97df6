import t from 'tap';
import pino from 'pino';
import type { SavedMessage } from '../../src/protocol/fields.js';
import type { Address } from '../../src/transport/address.js';
import { Mailbox, type DeliverBody, type MailboxContext } from '../../src/registry/mailbox.js';
import { heldRequests } from '../helpers/held-requests.js';
import { nextTurns } from '../helpers/settle.js';

const message = (mid: string, bytes = 10): SavedMessage => ({
  from: 'ann',
  mid,
  sealed: { enc: 'e', ct: 'x'.repeat(bytes) },
  ts: 1,
});
const at = (port: number): Address => ({ address: '127.0.0.1', port });

/**
 * A mailbox over a fake store (a list per recipient) and a fake request function whose
 * requests wait until the test ACKs or misses them; `online` says where each nick is.
 */
function setup(
  settings: Partial<
    Pick<MailboxContext, 'batchBytes' | 'mailboxMessages' | 'mailboxMessagesPerSender'>
  > & {
    failSave?: boolean;
  } = {},
) {
  const saved = new Map<string, SavedMessage[]>();
  const online = new Map<string, Address>();
  const { requests, request, sent: sentSoFar } = heldRequests<DeliverBody>();
  const delivered: Array<[string, number]> = [];
  const mailbox = new Mailbox({
    store: {
      saveMessage: async (to, m) => {
        if (settings.failSave) throw new Error('disk full');
        saved.set(to, [...(saved.get(to) ?? []), m]);
        return true;
      },
      pendingMessages: async (to, limit) => (saved.get(to) ?? []).slice(0, limit),
      countMessages: async (to, from) =>
        (saved.get(to) ?? []).filter((m) => from === undefined || m.from === from).length,
      deleteMessages: async (to, gone) => {
        saved.set(
          to,
          (saved.get(to) ?? []).filter((m) => !gone.some((g) => g.mid === m.mid)),
        );
      },
    },
    log: pino({ level: 'silent' }),
    deliverTimeoutMs: 500,
    deliverTries: 5,
    relayTries: 2,
    batchBytes: settings.batchBytes ?? 8 * 1024,
    mailboxMessages: settings.mailboxMessages ?? 1000,
    mailboxMessagesPerSender: settings.mailboxMessagesPerSender ?? 1000,
    onlineAddress: (nick) => online.get(nick),
    request,
    delivered: (nick, count) => void delivered.push([nick, count]),
  });
  /** The `count`th request the mailbox sent, once sent (its awaits on the fake store settle in a few turns). */
  const sent = async (count: number) => (await sentSoFar(count))[count - 1];
  const settled = () => nextTurns();
  return { mailbox, saved, online, requests, delivered, sent, settled };
}

t.test(
  'a recipient that answered, with nothing waiting for it: relayed, with the relay budget',
  async (t) => {
    const { mailbox, saved, sent } = setup();
    const outcome = mailbox.take('bob', at(2000), message('m1'), true);
    const relay = await sent(1);
    t.same(relay.body, { t: 'deliver', kind: 'relayed', first: false, messages: [message('m1')] });
    t.same(relay.to, at(2000));
    t.same(relay.retry, { timeoutMs: 250, tries: 2 }, 'deliverTimeoutMs spread over relayTries');
    relay.ack();
    t.equal(await outcome, 'relayed');
    t.equal(saved.get('bob'), undefined, 'nothing saved');
  },
);

t.test('a relay that is not ACKed: saved', async (t) => {
  const { mailbox, saved, sent } = setup();
  const outcome = mailbox.take('bob', at(2000), message('m1'), true);
  (await sent(1)).miss();
  t.equal(await outcome, 'saved');
  t.same(saved.get('bob'), [message('m1')]);
});

t.test('not reachable: saved without a request', async (t) => {
  const { mailbox, saved, requests } = setup();
  t.equal(await mailbox.take('bob', at(2000), message('m1'), false), 'saved');
  t.same(saved.get('bob'), [message('m1')]);
  t.equal(requests.length, 0);
});

t.test('older messages waiting: the new one is saved behind them, not relayed', async (t) => {
  const { mailbox, saved, requests } = setup();
  saved.set('bob', [message('old')]);
  t.equal(await mailbox.take('bob', at(2000), message('new'), true), 'saved');
  t.same(
    saved.get('bob')!.map((m) => m.mid),
    ['old', 'new'],
  );
  t.equal(requests.length, 0);
});

t.test(
  'a delivery running to the recipient: saved behind it, even with the store empty',
  async (t) => {
    const { mailbox, saved, online, sent } = setup();
    online.set('bob', at(2000));
    saved.set('bob', [message('m1')]);
    const delivery = mailbox.deliver('bob');
    const batch = await sent(1);
    saved.set('bob', []); // as if the batch were already gone from the store
    t.equal(
      await mailbox.take('bob', at(2000), message('m2'), true),
      'saved',
      'not relayed past the delivery',
    );
    batch.ack();
    const next = await sent(2);
    t.same(
      next.body.messages.map((m) => m.mid),
      ['m2'],
      'it goes in the same delivery, next',
    );
    next.ack();
    await delivery;
  },
);

t.test('the store cannot save: store-failed', async (t) => {
  const { mailbox } = setup({ failSave: true });
  t.equal(await mailbox.take('bob', at(2000), message('m1'), false), 'store-failed');
});

t.test(
  'delivery: batches oldest first, each deleted only once ACKed; first only on the first',
  async (t) => {
    const { mailbox, saved, online, delivered, sent } = setup({ batchBytes: 250 });
    online.set('bob', at(2000));
    saved.set('bob', [message('m1', 100), message('m2', 100), message('m3', 100)]);
    const delivery = mailbox.deliver('bob');
    const one = await sent(1);
    t.same(
      [one.body.kind, one.body.first, one.body.messages.map((m) => m.mid)],
      ['saved', true, ['m1']],
      'a batch within batchBytes',
    );
    t.same(one.retry, { timeoutMs: 500, tries: 5 });
    t.equal(saved.get('bob')!.length, 3, 'kept until ACKed');
    one.ack();
    const two = await sent(2);
    t.same([two.body.first, two.body.messages.map((m) => m.mid)], [false, ['m2']]);
    t.same(
      saved.get('bob')!.map((m) => m.mid),
      ['m2', 'm3'],
    );
    two.ack();
    (await sent(3)).ack();
    await delivery;
    t.same(saved.get('bob'), []);
    t.same(delivered, [
      ['bob', 1],
      ['bob', 1],
      ['bob', 1],
    ]);
  },
);

t.test('one delivery per recipient at a time', async (t) => {
  const { mailbox, saved, online, requests, sent, settled } = setup();
  online.set('bob', at(2000));
  saved.set('bob', [message('m1')]);
  const delivery = mailbox.deliver('bob');
  await sent(1);
  await mailbox.deliver('bob'); // returns at once: one runs
  await settled();
  t.equal(requests.length, 1);
  requests[0].ack();
  await delivery;
  saved.set('bob', [message('m2')]);
  const again = mailbox.deliver('bob');
  (await sent(2)).ack();
  await again;
  t.same(saved.get('bob'), [], 'once it ended, another may run');
});

t.test('a batch not ACKed: kept, and the delivery stops', async (t) => {
  const { mailbox, saved, online, requests, delivered, sent } = setup();
  online.set('bob', at(2000));
  saved.set('bob', [message('m1')]);
  const delivery = mailbox.deliver('bob');
  (await sent(1)).miss();
  await delivery;
  t.same(saved.get('bob'), [message('m1')]);
  t.equal(requests.length, 1);
  t.same(delivered, []);
});

t.test(
  'a batch not ACKed because the recipient moved: starts over at its new address',
  async (t) => {
    const { mailbox, saved, online, sent } = setup();
    online.set('bob', at(2000));
    saved.set('bob', [message('m1')]);
    const delivery = mailbox.deliver('bob');
    const one = await sent(1);
    online.set('bob', at(3000));
    one.miss();
    const two = await sent(2);
    t.same(two.to, at(3000));
    t.equal(two.body.first, true, 'first again, there');
    two.ack();
    await delivery;
    t.same(saved.get('bob'), []);
  },
);

t.test(
  'an offline recipient gets nothing; close() stops a delivery before its next batch',
  async (t) => {
    const { mailbox, saved, online, requests, sent } = setup({ batchBytes: 1 });
    saved.set('bob', [message('m1'), message('m2')]);
    await mailbox.deliver('bob');
    t.equal(requests.length, 0, 'offline: nothing sent');
    online.set('bob', at(2000));
    const delivery = mailbox.deliver('bob');
    const one = await sent(1);
    mailbox.close();
    one.ack();
    await delivery;
    t.equal(requests.length, 1, 'no batch after close');
    t.same(
      saved.get('bob')!.map((m) => m.mid),
      ['m2'],
    );
    mailbox.close();
  },
);

t.test(
  'a full mailbox takes no more: mailbox-full, nothing saved, and room again once delivered',
  async (t) => {
    const { mailbox, saved, online, sent } = setup({ mailboxMessages: 2 });
    t.equal(await mailbox.take('bob', at(2000), message('m1'), false), 'saved');
    t.equal(await mailbox.take('bob', at(2000), message('m2'), false), 'saved');
    t.equal(await mailbox.take('bob', at(2000), message('m3'), false), 'mailbox-full');
    t.equal(
      await mailbox.take('bob', at(2000), message('m4'), true),
      'mailbox-full',
      'reachable, but older messages wait: not relayed past them either',
    );
    t.same(
      saved.get('bob')?.map((m) => m.mid),
      ['m1', 'm2'],
      'the mailbox holds its limit and no more',
    );
    t.equal(
      await mailbox.take('carol', at(2001), message('m1'), false),
      'saved',
      "another recipient's mailbox is its own",
    );
    online.set('bob', at(2000));
    const delivery = mailbox.deliver('bob');
    (await sent(1)).ack();
    await delivery;
    t.equal(
      await mailbox.take('bob', at(2000), message('m5'), false),
      'saved',
      'delivered messages make room',
    );
  },
);

t.test(
  "one sender's share is bounded: its next is refused, the others' still saved, and room again once delivered",
  async (t) => {
    const { mailbox, saved, online, sent } = setup({
      mailboxMessages: 5,
      mailboxMessagesPerSender: 2,
    });
    const from = (sender: string, mid: string): SavedMessage => ({ ...message(mid), from: sender });
    t.equal(await mailbox.take('bob', at(2000), from('mallory', 'm1'), false), 'saved');
    t.equal(await mailbox.take('bob', at(2000), from('mallory', 'm2'), false), 'saved');
    t.equal(
      await mailbox.take('bob', at(2000), from('mallory', 'm3'), false),
      'share-full',
      'past its share',
    );
    t.equal(await mailbox.take('bob', at(2000), from('ann', 'm1'), false), 'saved');
    t.equal(await mailbox.take('bob', at(2000), from('cid', 'm1'), false), 'saved');
    t.equal(
      await mailbox.take('carol', at(2001), from('mallory', 'm3'), false),
      'saved',
      "a share is of one recipient's mailbox",
    );
    t.same(
      saved.get('bob')?.map((m) => `${m.from}/${m.mid}`),
      ['mallory/m1', 'mallory/m2', 'ann/m1', 'cid/m1'],
    );
    online.set('bob', at(2000));
    const delivery = mailbox.deliver('bob');
    (await sent(1)).ack();
    await delivery;
    t.equal(
      await mailbox.take('bob', at(2000), from('mallory', 'm3'), false),
      'saved',
      'delivered messages make room in the share too',
    );
  },
);
