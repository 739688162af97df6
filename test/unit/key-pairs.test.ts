import t from 'tap';
import { createPublicKey, diffieHellman, sign, verify } from 'node:crypto';
import {
  generateRawKeyPair,
  privateKeyFromSecret,
  privateKeyObject,
  publicKeyObject,
  rawOfPkcs8,
} from '../../src/crypto/key-pairs.js';
import {
  SIGNING_KEYS_KEPT,
  cachedSigningKey,
  generateIdentity,
  parseIdentity,
  rawSigningKey,
  serializeIdentity,
  signingKeysCached,
} from '../../src/crypto/identity.js';

t.test('raw Ed25519 pairs: 32 bytes each, the halves of one key', async (t) => {
  const pair = generateRawKeyPair('ed25519');
  t.equal(pair.privateRaw.byteLength, 32);
  t.equal(pair.publicRaw.byteLength, 32);
  const secret = privateKeyObject('ed25519', pair);
  const open = publicKeyObject('ed25519', pair.publicRaw);
  t.equal(
    rawSigningKey(createPublicKey(secret)),
    pair.publicRaw.toString('base64'),
    'same public half',
  );
  const signature = sign(null, Buffer.from('hi'), secret);
  t.ok(verify(null, Buffer.from('hi'), open, signature), 'signs and verifies');
  const other = generateRawKeyPair('ed25519');
  t.notSame(other.privateRaw, pair.privateRaw, 'fresh each time');
  t.notOk(verify(null, Buffer.from('hi'), publicKeyObject('ed25519', other.publicRaw), signature));
});

t.test('a private key from its raw secret alone is the same key', async (t) => {
  for (const curve of ['ed25519', 'x25519'] as const) {
    const pair = generateRawKeyPair(curve);
    const jwk = createPublicKey(privateKeyFromSecret(curve, pair.privateRaw)).export({
      format: 'jwk',
    });
    t.equal(jwk.x, pair.publicRaw.toString('base64url'), `${curve}: the same public half`);
  }
});

t.test('raw X25519 pairs agree both ways', async (t) => {
  const [a, b] = [generateRawKeyPair('x25519'), generateRawKeyPair('x25519')];
  const ab = diffieHellman({
    privateKey: privateKeyObject('x25519', a),
    publicKey: publicKeyObject('x25519', b.publicRaw),
  });
  const ba = diffieHellman({
    privateKey: privateKeyObject('x25519', b),
    publicKey: publicKeyObject('x25519', a.publicRaw),
  });
  t.same(ab, ba);
  t.equal(ab.byteLength, 32);
  t.throws(() => publicKeyObject('x25519', new Uint8Array(31)), 'not a key');
});

t.test('many pairs in a row, each used at once, as a busy process makes them', async (t) => {
  // Key objects from generateKeyPairSync, used while a garbage collection frees the job that
  // made them, hung Node 20 for good in a few runs of this many (see key-pairs.ts). A hang here
  // is that coming back.
  let verified = 0;
  for (let i = 0; i < 5_000; i++) {
    const pair = generateRawKeyPair('ed25519');
    const secret = privateKeyObject('ed25519', pair);
    secret.export({ format: 'jwk' });
    if (
      verify(
        null,
        Buffer.of(i & 255),
        publicKeyObject('ed25519', pair.publicRaw),
        sign(null, Buffer.of(i & 255), secret),
      )
    )
      verified++;
  }
  t.equal(verified, 5_000);
});

t.test('signing keys kept: bounded, the least recently used go first', async (t) => {
  const raw = () => generateRawKeyPair('ed25519').publicRaw.toString('base64');
  const inUse = raw();
  const first = cachedSigningKey(inUse);
  t.ok(first, 'a key object for a valid key');
  const idle = raw();
  const idleKey = cachedSigningKey(idle);
  for (let i = 0; i < SIGNING_KEYS_KEPT + 10; i++) {
    cachedSigningKey(raw());
    if (i % 1000 === 0) t.equal(cachedSigningKey(inUse), first, 'a key in use is the same object');
  }
  t.equal(signingKeysCached(), SIGNING_KEYS_KEPT, 'no more than the bound');
  t.equal(cachedSigningKey(inUse), first, 'the key used all along is still kept');
  t.not(cachedSigningKey(idle), idleKey, 'a key not used since is made again');
  t.equal(cachedSigningKey('not a key'), undefined);
});

t.test('the raw key of a PKCS#8 encoding, only of the curve asked', async (t) => {
  const pair = generateRawKeyPair('ed25519');
  const der = privateKeyObject('ed25519', pair).export({ format: 'der', type: 'pkcs8' });
  t.same(rawOfPkcs8('ed25519', der), pair.privateRaw);
  t.equal(rawOfPkcs8('x25519', der), undefined, 'not an X25519 key');
  t.equal(rawOfPkcs8('ed25519', der.subarray(1)), undefined, 'cut short');
  t.equal(rawOfPkcs8('ed25519', Buffer.concat([der, Buffer.of(0)])), undefined, 'too long');
});

t.test(
  'an identity file read back is the same identity, with or without its public half',
  async (t) => {
    const identity = await generateIdentity();
    const text = await serializeIdentity(identity);
    const file = JSON.parse(text) as { signingPublic?: string };
    t.equal(file.signingPublic, identity.public.sk, 'the public half is written');
    const withoutPublic = JSON.stringify({ ...file, signingPublic: undefined }); // as written before it was
    for (const [what, copy] of [
      ['as written', text],
      ['without the public half', withoutPublic],
    ] as const) {
      const read = await parseIdentity(copy, what);
      t.same(read.public, identity.public, `${what}: the same public keys`);
      const signature = sign(null, Buffer.from('hi'), read.signing.privateKey);
      t.ok(
        verify(null, Buffer.from('hi'), identity.signing.publicKey, signature),
        `${what}: signs as the identity`,
      );
    }
  },
);
