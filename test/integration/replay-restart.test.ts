import { join } from 'node:path';
import t from 'tap';
import type { ChatClient } from '../../src/client/client.js';
import { signDatagram } from '../../src/crypto/signing.js';
import { encodeRequest } from '../../src/protocol/codec.js';
import { FileClaims } from '../../src/store/claims.js';
import { capturedSigningPeer, scriptedPeer, sealAs } from '../helpers/peer.js';
import { spoof, spoofingTest } from '../helpers/spoofer.js';
import { createTestnet, eventually, onSamePort, record } from '../helpers/testnet.js';

t.test(
  'a registry restarted on its lowdb store refuses a signed request its old process took',
  async (t) => {
    const net = await createTestnet(t);
    const carol = await capturedSigningPeer(t, 'carol', net.registry);
    await carol.register();
    await carol.deregister();
    const dereg = carol.capturedDereg();
    const restarted = await net.restartRegistry();
    // Its replay cache went with the old process; the store kept what it took.
    await carol.register();
    carol.replay(dereg, restarted);
    await eventually(
      () => restarted.stats.signedTakenBefore === 1,
      10_000,
      'the restarted registry knew the dereg was taken',
    );
    t.ok(carol.onlineAt(restarted), 'carol is still online');
    t.equal(restarted.stats.dropped.replayed, 0, 'not by the replay cache: it was empty');
  },
);

spoofingTest(
  'a client restarted with its signed-taken file refuses a signed chat its old process took',
  async (t) => {
    const net = await createTestnet(t);
    const carol = await scriptedPeer(t, net, 'carol');
    await carol.register();
    const carolAt = carol.endpoint.address();
    const dir = t.testdir(); // once: each call makes the folder anew
    const signedTaken = () => new FileClaims(join(dir, 'bob-signed'));
    const bob = await net.client('bob', {}, { signedTaken: signedTaken() });
    const port = bob.address().port;
    const knowsCarol = (client: ChatClient) => client.table().some((e) => e.nick === 'carol');
    await eventually(() => knowsCarol(bob), 10_000, 'bob knows carol');
    // carol's first chat to bob, signed (no session yet), as it left her.
    const carolKeys = await net.identityOf('carol');
    const chat = signDatagram(
      encodeRequest('c1', {
        t: 'chat',
        from: 'carol',
        mid: 'm1',
        sealed: await sealAs(net, 'carol', 'bob', 'm1', 'only once'),
      }),
      'carol',
      carolKeys.signing.privateKey,
    );
    const shown = record(bob);
    spoof([carolAt, bob.address(), chat]);
    await eventually(() => shown.some(([name]) => name === 'message'), 10_000, 'bob shows it');

    // bob's process restarts on its port; the copy captured on the way comes again.
    await bob.close();
    const again = await onSamePort(() =>
      net.openClient('bob', { port }, { signedTaken: signedTaken() }),
    );
    await again.register();
    await eventually(() => knowsCarol(again), 10_000, 'bob knows carol again');
    const shownAgain = record(again);
    spoof([carolAt, again.address(), chat]);
    await eventually(
      () => again.stats.signedTakenBefore === 1,
      10_000,
      'the restarted client knew it had taken it',
    );
    t.same(
      shownAgain.filter(([name]) => name === 'message'),
      [],
      'not shown again',
    );
    t.equal(again.stats.dropped.replayed, 0, 'not by the replay cache: it was empty');
  },
);
