import t from 'tap';
import pino from 'pino';
import { WireError } from '../../src/protocol/constants.js';
import type { MessageOf, ReplyBody } from '../../src/protocol/messages.js';
import type { SavedMessage } from '../../src/protocol/fields.js';
import type { ClientRecord } from '../../src/store/store.js';
import type { Taken } from '../../src/registry/mailbox.js';
import { Saves } from '../../src/registry/saves.js';

const record = (nick: string, fields: Partial<ClientRecord> = {}): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port: 4000,
  online: true,
  sk: `${nick}-sk`,
  ek: `${nick}-ek`,
  ...fields,
});

const request = (fields: Partial<MessageOf<'save'>> = {}): MessageOf<'save'> => ({
  v: 1,
  t: 'save',
  id: 'r1',
  from: 'ann',
  to: 'bob',
  mid: 'm1',
  sealed: { enc: 'e', ct: 'sealed text' },
  ...fields,
});

/**
 * Saves over a fake registry: `clients` the table, `answers` whether the probe is answered,
 * `relayBudget` whether the pair may relay, `outcome` what the mailbox makes of the message;
 * everything the saves did is written down in `did`.
 */
function setup(
  options: {
    clients?: ClientRecord[];
    answers?: boolean;
    relayBudget?: boolean;
    outcome?: Taken;
  } = {},
) {
  const clients = new Map(
    (options.clients ?? [record('ann'), record('bob')]).map((c) => [c.nick, c]),
  );
  const did: string[] = [];
  const taken: Array<{ to: string; message: SavedMessage; reachable: boolean }> = [];
  const replies: ReplyBody[] = [];
  const saves = new Saves({
    log: pino({ level: 'silent' }),
    client: (nick) => clients.get(nick),
    probe: async (r) => (did.push(`probe ${r.nick}`), options.answers ?? true),
    markOffline: async (r) => void did.push(`offline ${r.nick}`),
    markOnline: async (r) => void did.push(`online ${r.nick}`),
    mayRelay: (from, to) => (did.push(`may relay ${from}>${to}`), options.relayBudget ?? true),
    take: async (to, message, reachable) => {
      taken.push({ to: to.nick, message, reachable });
      return options.outcome ?? (reachable ? 'relayed' : 'saved');
    },
    refreshSender: (sender, recipient) => did.push(`refresh ${sender.nick} of ${recipient.nick}`),
    saved: (ids) => did.push(`saved ${ids.mid}`),
    relayed: (ids) => did.push(`relayed ${ids.mid}`),
    now: () => 1234,
  });
  const save = (body: MessageOf<'save'> = request()) =>
    saves.save(body, clients.get(body.from) ?? record(body.from), (reply) => replies.push(reply));
  return { save, did, taken, replies, clients };
}

t.test('a recipient that answers the probe gets the message relayed', async (t) => {
  const s = setup();
  await s.save(request({ after: 'm0', afterTaken: true }));
  t.same(s.replies, [{ t: 'save_result', outcome: 'relayed' }]);
  t.same(s.taken, [
    {
      to: 'bob',
      message: {
        from: 'ann',
        mid: 'm1',
        sealed: { enc: 'e', ct: 'sealed text' },
        ts: 1234,
        after: 'm0',
        afterTaken: true,
      },
      reachable: true,
    },
  ]);
  t.same(s.did, [
    'probe bob',
    'may relay ann>bob',
    'online bob',
    'relayed m1',
    'refresh ann of bob',
  ]);
});

t.test('a recipient that does not answer is marked offline; the message is saved', async (t) => {
  const s = setup({ answers: false });
  await s.save();
  t.same(s.replies, [{ t: 'save_result', outcome: 'saved' }]);
  t.equal(s.taken[0]?.reachable, false);
  t.same(s.did, ['probe bob', 'offline bob', 'saved m1'], 'no relay asked, no refresh');
});

t.test('a recipient that left with dereg is not probed: saved at once', async (t) => {
  const s = setup({
    clients: [record('ann'), record('bob', { online: false, deregistered: true })],
  });
  await s.save();
  t.same(s.replies, [{ t: 'save_result', outcome: 'saved' }]);
  t.same(s.did, ['saved m1']);
});

t.test('answered, but the mailbox still held older messages: saved, and handed over', async (t) => {
  const s = setup({ outcome: 'saved' });
  await s.save();
  t.same(s.replies, [{ t: 'save_result', outcome: 'saved' }]);
  t.same(s.did, ['probe bob', 'may relay ann>bob', 'saved m1', 'online bob']);
});

t.test(
  'refusals: to oneself, to nobody, past the relay budget, a full or failed mailbox',
  async (t) => {
    const code = (reply: ReplyBody | undefined) => (reply?.t === 'err' ? reply.code : undefined);
    let s = setup();
    await s.save(request({ to: 'ann' }));
    t.equal(code(s.replies[0]), WireError.BAD_REQUEST);
    s = setup();
    await s.save(request({ to: 'zed' }));
    t.equal(code(s.replies[0]), WireError.UNKNOWN_NICK);
    s = setup({ relayBudget: false });
    await s.save();
    t.equal(code(s.replies[0]), WireError.TRY_LATER);
    t.same(s.taken, [], 'nothing handed to the mailbox');
    s = setup({ outcome: 'mailbox-full' });
    await s.save();
    t.equal(code(s.replies[0]), WireError.MAILBOX_FULL);
    s = setup({ outcome: 'share-full' });
    await s.save();
    t.equal(code(s.replies[0]), WireError.MAILBOX_FULL, "past the sender's share: the same code");
    t.notOk(s.did.includes('saved m1'));
    s = setup({ answers: false, outcome: 'store-failed' });
    await s.save();
    t.equal(code(s.replies[0]), WireError.STORE_FAILED);
    t.notOk(s.did.includes('saved m1'), 'no saved event for what was not saved');
  },
);
