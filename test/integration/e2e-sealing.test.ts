import { readFile, writeFile } from 'node:fs/promises';
import t from 'tap';
import { createTestnet, eventually, nextEvent, record } from '../helpers/testnet.js';

t.test('the registry stores and relays only what it cannot read', async (t) => {
  const net = await createTestnet(t);
  const alice = await net.client('alice');
  const bob = await net.client('bob');
  await bob.deregister();
  const secret = 'the vault code is 4711-PLAINTEXT-MARKER';
  t.equal(await alice.send('bob', secret), 'saved');
  const file = await readFile(net.dbPath.replace(/\.json$/, '.mailboxes/m-bob.json'), 'utf8');
  t.notMatch(file, /PLAINTEXT-MARKER/, 'not in the mailbox file');
  t.notMatch(await readFile(net.dbPath, 'utf8'), /PLAINTEXT-MARKER/, 'nor in the table file');
  t.match(file, /"sealed":\s*\{\s*"enc"/, 'a sealed payload is');
  const saved = nextEvent(bob, 'saved-message');
  await bob.register();
  t.equal((await saved).text, secret, 'bob reads it');
});

t.test(
  'a saved message altered in the mailbox is said to be unreadable, never shown changed',
  async (t) => {
    const net = await createTestnet(t);
    const alice = await net.client('alice');
    const bob = await net.client('bob');
    await bob.deregister();
    t.equal(await alice.send('bob', 'original'), 'saved');
    t.equal(await alice.send('bob', 'second'), 'saved');
    await net.registry.close();
    const mailboxFile = net.dbPath.replace(/\.json$/, '.mailboxes/m-bob.json');
    const data = JSON.parse(await readFile(mailboxFile, 'utf8')) as {
      messages: Array<{ sealed: { ct: string } }>;
    };
    const first = data.messages[0].sealed;
    first.ct = Buffer.from(
      Buffer.from(first.ct, 'base64').map((byte: number, i: number) => (i === 3 ? byte ^ 1 : byte)),
    ).toString('base64');
    await writeFile(mailboxFile, JSON.stringify(data));
    await net.restartRegistry();
    const events = record(bob);
    await bob.register();
    await eventually(() => events.some(([name]) => name === 'saved-message'));
    t.match(
      events.filter(([name]) => name === 'unreadable' || name === 'saved-message'),
      [
        ['unreadable', { from: 'alice' }],
        ['saved-message', { text: 'second' }],
      ],
    );
    await eventually(
      async () =>
        (JSON.parse(await readFile(mailboxFile, 'utf8')) as { messages: unknown[] }).messages
          .length === 0,
      15_000,
      'both acknowledged, so the mailbox is empty',
    );
  },
);
