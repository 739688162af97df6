import t from 'tap';
import { capturedSigningPeer } from '../helpers/peer.js';
import { createTestnet, eventually } from '../helpers/testnet.js';

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
