import t from 'tap';
import { generateIdentity } from '../../src/crypto/identity.js';
import { messageAad, seal, Sessions } from '../../src/crypto/sealing.js';

const text = (value: string) => new TextEncoder().encode(value);
const read = (value: Uint8Array) => new TextDecoder().decode(value);

t.test(
  'sessions: one HPKE setup per recipient, each message sealed under its exported key',
  async (t) => {
    const [alice, bob, carol] = await Promise.all([
      generateIdentity(),
      generateIdentity(),
      generateIdentity(),
    ]);
    const fromAlice = new Sessions(alice.agreement);
    const atBob = new Sessions(bob.agreement);
    const aad = (mid: string) => messageAad('alice', 'bob', mid);
    const first = await fromAlice.seal(text('hello'), bob.public.ek, aad('m1'));
    const second = await fromAlice.seal(text('hello'), bob.public.ek, aad('m2'));
    t.equal(second.enc, first.enc, 'the same session for the second message');
    t.not(second.n, first.n, 'a fresh nonce each');
    t.same(
      [first.n, second.n].map((n) => Buffer.from(n!, 'base64').readBigUInt64BE(4)),
      [0n, 1n],
      'the message number in the session',
    );
    t.not(second.ct, first.ct, 'so the same text seals differently');
    t.equal(read(await atBob.open(first, aad('m1'), alice.public.ek)), 'hello');
    t.equal(read(await atBob.open(second, aad('m2'), alice.public.ek)), 'hello');
    const toCarol = await fromAlice.seal(
      text('hi'),
      carol.public.ek,
      messageAad('alice', 'carol', 'm3'),
    );
    t.not(toCarol.enc, first.enc, 'another recipient, another session');
    await t.rejects(
      atBob.open(toCarol, messageAad('alice', 'carol', 'm3'), alice.public.ek),
      'bob cannot open what was sealed to carol',
    );
  },
);

t.test('sessions: a changed byte, id, or claimed sender does not open', async (t) => {
  const [alice, bob, mallory] = await Promise.all([
    generateIdentity(),
    generateIdentity(),
    generateIdentity(),
  ]);
  const fromAlice = new Sessions(alice.agreement);
  const atBob = new Sessions(bob.agreement);
  const aad = messageAad('alice', 'bob', 'm1');
  const sealed = await fromAlice.seal(text('pay 10'), bob.public.ek, aad);
  const flipped = Buffer.from(sealed.ct, 'base64');
  flipped[0] ^= 1;
  await t.rejects(
    atBob.open({ ...sealed, ct: flipped.toString('base64') }, aad, alice.public.ek),
    'a flipped bit',
  );
  await t.rejects(
    atBob.open(sealed, messageAad('alice', 'bob', 'm2'), alice.public.ek),
    'moved to another id',
  );
  await t.rejects(atBob.open(sealed, aad, mallory.public.ek), 'claimed by another sender');
  await t.rejects(
    atBob.open({ ...sealed, n: Buffer.alloc(12, 0xff).toString('base64') }, aad, alice.public.ek),
    'another nonce',
  );
  await t.rejects(
    atBob.open({ ...sealed, ct: 'AAAA' }, aad, alice.public.ek),
    'too short to hold a tag',
  );
  // mallory reuses alice's session enc under her own key: derives another key, opens nothing
  const fromMallory = await new Sessions(mallory.agreement).seal(
    text('pay 1000'),
    bob.public.ek,
    aad,
  );
  await t.rejects(
    atBob.open({ ...fromMallory, enc: sealed.enc }, aad, alice.public.ek),
    'a session cannot be borrowed',
  );
  t.equal(
    read(await atBob.open(sealed, aad, alice.public.ek)),
    'pay 10',
    'the real one still opens',
  );
});

t.test('sessions open what single-shot HPKE sealed (messages saved before sessions)', async (t) => {
  const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
  const aad = messageAad('alice', 'bob', 'm1');
  const old = await seal(text('saved long ago'), bob.public.ek, aad, alice.agreement);
  t.equal(
    read(await new Sessions(bob.agreement).open(old, aad, alice.public.ek)),
    'saved long ago',
  );
});

t.test('sessions: a sending session is renewed once an hour has passed', async (t) => {
  const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
  const fromAlice = new Sessions(alice.agreement);
  const atBob = new Sessions(bob.agreement);
  const aad = (mid: string) => messageAad('alice', 'bob', mid);
  const first = await fromAlice.seal(text('one'), bob.public.ek, aad('m1'));
  t.equal((await fromAlice.seal(text('two'), bob.public.ek, aad('m2'))).enc, first.enc);
  const realNow = Date.now;
  const later = realNow() + 60 * 60 * 1000 + 1;
  Date.now = () => later;
  t.teardown(() => {
    Date.now = realNow;
  });
  const renewed = await fromAlice.seal(text('three'), bob.public.ek, aad('m3'));
  t.not(renewed.enc, first.enc, 'a new session');
  t.equal(Buffer.from(renewed.n!, 'base64').readBigUInt64BE(4), 0n, 'counting from 0 again');
  t.equal(read(await atBob.open(renewed, aad('m3'), alice.public.ek)), 'three');
  const next = await fromAlice.seal(text('four'), bob.public.ek, aad('m4'));
  t.equal(next.enc, renewed.enc, 'and the new one kept from then on');
});
