import type { Address } from '../../src/transport/address.js';
import { createProxy, peek } from '../helpers/proxy.js';
import { scriptedPeer } from '../helpers/peer.js';
import { encodeRequest } from '../../src/protocol/codec.js';
import { signDatagram } from '../../src/crypto/signing.js';
import { createTestnet, eventually, PATIENT_PROBE, record } from '../helpers/testnet.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { spoof, spoofingTest } from '../helpers/spoofer.js';

spoofingTest(
  'captured datagrams replayed from forged source addresses change nothing',
  async (t) => {
    const net = await createTestnet(t);
    // alice reaches the registry through a proxy that keeps a copy of what she sends
    const captured: Buffer[] = [];
    const fromRegistry: Buffer[] = [];
    const proxy = await createProxy(net.registry.address(), {
      fault(datagram, direction) {
        (direction === 'forward' ? captured : fromRegistry).push(Buffer.from(datagram));
        return 'pass';
      },
    });
    t.teardown(() => proxy.close());
    const alice = await net.client('alice', {
      server: { host: '127.0.0.1', port: proxy.address.port },
    });
    const bob = await net.client('bob');
    await bob.deregister();
    await alice.deregister();
    await alice.register();
    t.equal(await alice.send('bob', 'only once'), 'saved');
    const find = (type: string) => captured.find((d) => peek(d)?.t === type)!;
    const [dereg, register, save] = [find('deregister'), find('register'), find('save')];
    t.ok(dereg && register && save, 'a dereg, a registration and a save were captured');
    const aliceAt = net.registry.snapshot().entries.find((e) => e.nick === 'alice')!;
    const elsewhere = { address: '127.0.0.9', port: 4444 };
    const registry = net.registry.address();
    const unvalidated = net.registry.stats.unvalidated;
    spoof(
      [elsewhere, registry, dereg], // someone else's address: a replay
      [elsewhere, registry, register], // would move alice's registration to the attacker
      [elsewhere, registry, save], // would save the message twice
      [{ address: aliceAt.ip, port: aliceAt.port }, registry, dereg], // alice's own address: an old request, answered from cache
    );
    const strayBefore = alice.stats.strayReplies;
    const keylessBefore = alice.stats.dropped['unknown-signer'];
    const dedupBefore = alice.stats.deduplicated;
    const replayedBefore = alice.stats.dropped.replayed;
    const tableEvents = record(alice);
    spoof(
      ...fromRegistry.map((old): [Address, Address, Buffer] => [registry, alice.address(), old]),
    ); // the registry's own address: old replies and pushes
    // The registration from elsewhere carries a cookie for alice's address: dropped before its
    // signature is even checked. The dereg and the save are recognised as replays.
    await eventually(
      () =>
        net.registry.stats.dropped.replayed >= 2 && net.registry.stats.unvalidated > unvalidated,
      15_000,
      'two replays recognised, the registration refused',
    );
    const replies = fromRegistry.filter((d) => peek(d) !== undefined && 're' in peek(d)!).length;
    const refused = () =>
      alice.stats.deduplicated - dedupBefore + alice.stats.dropped.replayed - replayedBefore;
    // An old reply matches nothing: signed, it is a stray; under the session of a request long
    // settled (her requests go under her session with the registry), no key opens it.
    const unmatched = () =>
      alice.stats.strayReplies -
      strayBefore +
      alice.stats.dropped['unknown-signer'] -
      keylessBefore;
    // Every old datagram handled at alice (each is counted one way or the other) before looking.
    await eventually(
      () => unmatched() + refused() >= fromRegistry.length,
      15_000,
      'alice handled every old datagram',
    );

    const now = net.registry.snapshot().entries.find((e) => e.nick === 'alice')!;
    t.match(
      now,
      { online: true, ip: aliceAt.ip, port: aliceAt.port },
      'alice is still online where she was',
    );
    t.equal(alice.state, 'online');
    t.equal(unmatched(), replies, 'old replies matched nothing at alice');
    t.equal(
      refused(),
      fromRegistry.length - replies,
      'old pushes were recognised (as resends or as replays), not taken again',
    );
    t.same(tableEvents, [], 'her table did not change');
    // a registered user signing a table push sent from the registry's own address
    const mallory = await scriptedPeer(t, net, 'mallory');
    await mallory.register();
    const malloryKeys = await net.identityOf('mallory');
    const evilTable = {
      epoch: 'evil',
      version: 1,
      entries: [{ nick: 'bob', ip: '127.0.0.9', port: 4444, online: true, ...malloryKeys.public }],
    };
    const droppedBefore = Object.values(alice.stats.dropped).reduce((a, b) => a + b, 0);
    spoof([
      registry,
      alice.address(),
      signDatagram(
        encodeRequest('evil-1', { t: 'table', table: evilTable }),
        'mallory',
        malloryKeys.signing.privateKey,
      ),
    ]);
    await eventually(
      () => Object.values(alice.stats.dropped).reduce((a, b) => a + b, 0) > droppedBefore,
      10_000,
      'the forged table was refused',
    );
    t.not(
      alice.table().find((e) => e.nick === 'bob')?.sk,
      malloryKeys.public.sk,
      'only the registry signs tables',
    );

    const shown = record(bob);
    await bob.register();
    await eventually(() => shown.some(([name]) => name === 'saved-message'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.equal(
      shown.filter(([name]) => name === 'saved-message').length,
      1,
      'the message was saved once, shown once',
    );
  },
);

spoofingTest("a forged registration from a user's address evicts nobody", async (t) => {
  const net = await createTestnet(t, { registry: PATIENT_PROBE }); // alice must answer her probe, however loaded the machine
  // alice reaches the registry through a proxy that keeps what the registry sends her, as
  // an attacker on her path would see it (the registry sees her at the proxy's address).
  const toAlice: Buffer[] = [];
  const proxy = await createProxy(net.registry.address(), {
    fault(datagram, direction) {
      if (direction === 'back') toAlice.push(Buffer.from(datagram));
      return 'pass';
    },
  });
  t.teardown(() => proxy.close());
  const alice = await net.client('alice', {
    server: { host: '127.0.0.1', port: proxy.address.port },
  });
  const carol = await net.client('carol');
  t.equal(await alice.createGroup('team'), 'created');
  t.equal(await alice.joinGroup('team'), 'joined');
  t.equal(await carol.joinGroup('team'), 'joined');
  const events = record(alice);
  const aliceAt = net.registry.snapshot().entries.find((e) => e.nick === 'alice')!;
  const from = { address: aliceAt.ip, port: aliceAt.port };
  // A fresh nick, properly signed by its own new key, sent as if from alice's address.
  const mallet = await generateIdentity();
  const forge = (id: string, cookie?: string) =>
    signDatagram(
      encodeRequest(id, {
        t: 'register',
        nick: 'mallet',
        ...mallet.public,
        ...(cookie ? { cookie } : {}),
      }),
      'mallet',
      mallet.signing.privateKey,
    );
  const verdicts: string[] = [];
  net.registry.on('refused', (e) => e.nick === 'mallet' && verdicts.push(e.code));
  net.registry.on('registered', (e) => e.nick === 'mallet' && verdicts.push('registered'));
  // Off her path: no cookie for her address (the hello's answer would go to her).
  const unvalidated = net.registry.stats.unvalidated;
  spoof([from, net.registry.address(), forge('forged-1')]);
  await eventually(
    () => net.registry.stats.unvalidated > unvalidated || verdicts.length > 0,
    15_000,
    'a verdict on the first forgery',
  );
  t.same(verdicts, [], 'refused before anything: the address did not prove it receives');
  // On her path: the cookie the registry gave her address, seen on the way.
  const cookie = toAlice.map((d) => peek(d)).find((m) => m?.t === 'server_hello') as
    { cookie: string } | undefined;
  t.ok(cookie, "alice's cookie was seen");
  spoof([from, net.registry.address(), forge('forged-2', cookie!.cookie)]);
  await eventually(() => verdicts.length > 0, 15_000, 'a verdict on the second forgery');
  t.same(verdicts, ['ERR_ADDRESS_IN_USE'], 'refused: alice answered the probe for her address');
  t.match(
    net.registry.snapshot().entries.find((e) => e.nick === 'alice'),
    { online: true, ip: aliceAt.ip, port: aliceAt.port },
    'alice still online there',
  );
  t.notOk(
    net.registry.snapshot().entries.some((e) => e.nick === 'mallet'),
    'and mallet holds nothing',
  );
  t.same(
    events.filter(([name]) => name === 'removed-from-group'),
    [],
    'alice is still in her group',
  );
  const heard = new Promise((resolve) => alice.on('group-message', resolve));
  await carol.sendGroup('still here?');
  t.match(await heard, { from: 'carol', text: 'still here?' }, 'and hears it');
});
