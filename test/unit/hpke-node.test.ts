import t from 'tap';
import { hkdfSync, randomBytes } from 'node:crypto';
import { generateRawKeyPair } from '../../src/crypto/key-pairs.js';
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { NodeDhkemX25519HkdfSha256, NodeHkdfSha256 } from '../../src/crypto/hpke-node.js';

// The suite over node:crypto must be the same HPKE as the stock @hpke suite, byte for byte:
// each seals what the other opens, and both export the same secrets from one encapsulation.
const stock = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Chacha20Poly1305(),
});
const node = new CipherSuite({
  kem: new NodeDhkemX25519HkdfSha256(),
  kdf: new NodeHkdfSha256(),
  aead: new Chacha20Poly1305(),
});
const suites = { stock, node };
const info = new TextEncoder().encode('udpchat v1');
const label = new TextEncoder().encode('a label');

/** A raw X25519 key pair made by node:crypto, as udpchat keeps them. */
function rawPair() {
  const { privateRaw, publicRaw } = generateRawKeyPair('x25519');
  return { secret: new Uint8Array(privateRaw), open: new Uint8Array(publicRaw) };
}
async function pairIn(suite: CipherSuite, raw: ReturnType<typeof rawPair>) {
  return {
    privateKey: await suite.kem.deserializePrivateKey(raw.secret),
    publicKey: await suite.kem.deserializePublicKey(raw.open),
  };
}

for (const [from, to] of [
  ['stock', 'node'],
  ['node', 'stock'],
  ['node', 'node'],
] as const) {
  for (const auth of [false, true]) {
    t.test(`${from} seals, ${to} opens (${auth ? 'Auth' : 'Base'} mode)`, async (t) => {
      const [sealer, opener] = [suites[from], suites[to]];
      const recipient = rawPair();
      const sender = rawPair();
      const sending = await sealer.createSenderContext({
        recipientPublicKey: await sealer.kem.deserializePublicKey(recipient.open),
        info,
        ...(auth ? { senderKey: await pairIn(sealer, sender) } : {}),
      });
      const receiving = await opener.createRecipientContext({
        recipientKey: await pairIn(opener, recipient),
        enc: sending.enc,
        info,
        ...(auth ? { senderPublicKey: await opener.kem.deserializePublicKey(sender.open) } : {}),
      });
      t.same(
        Buffer.from(await receiving.export(label, 32)),
        Buffer.from(await sending.export(label, 32)),
        'the same exported secret',
      );
      const sealed = await sending.seal(new TextEncoder().encode('hello'));
      t.equal(new TextDecoder().decode(await receiving.open(sealed)), 'hello');
      if (auth) {
        const impostor = rawPair();
        const wrong = await opener.createRecipientContext({
          recipientKey: await pairIn(opener, recipient),
          enc: sending.enc,
          info,
          senderPublicKey: await opener.kem.deserializePublicKey(impostor.open),
        });
        await t.rejects(wrong.open(sealed), 'another sender key does not open it');
      }
    });
  }
}

t.test('HKDF-SHA256 through node:crypto: the stock results, any length', async (t) => {
  const mine = new NodeHkdfSha256();
  const theirs = new HkdfSha256();
  for (const len of [1, 12, 32, 33, 64, 100]) {
    const ikm = randomBytes(40);
    const salt = len % 2 === 0 ? randomBytes(32) : new Uint8Array(0);
    const infoBytes = randomBytes(len % 17);
    const prk = await mine.extract(salt, ikm);
    t.same(Buffer.from(prk), Buffer.from(await theirs.extract(salt, ikm)), `extract (${len})`);
    const okm = await mine.expand(prk, infoBytes, len);
    t.same(
      Buffer.from(okm),
      Buffer.from(await theirs.expand(prk, infoBytes, len)),
      `expand ${len}`,
    );
    t.same(
      Buffer.from(await mine.extractAndExpand(salt, ikm, infoBytes, len)),
      Buffer.from(hkdfSync('sha256', ikm, salt, infoBytes, len)),
      `extract and expand ${len}`,
    );
  }
});

t.test('keys of the wrong length are refused', async (t) => {
  await t.rejects(node.kem.deserializePublicKey(new Uint8Array(31)));
  await t.rejects(node.kem.deserializePrivateKey(new Uint8Array(33)));
  const recipient = rawPair();
  await t.rejects(
    node.createRecipientContext({
      recipientKey: await pairIn(node, recipient),
      enc: new Uint8Array(16).buffer,
      info,
    }),
    'a short encapsulated key',
  );
  // Points of small order give an all-zero shared secret (RFC 9180 §7.1.4): refused.
  for (const point of [new Uint8Array(32), Uint8Array.from({ length: 32 }, (_, i) => +(i === 0))])
    await t.rejects(
      node.createRecipientContext({
        recipientKey: await pairIn(node, recipient),
        enc: point.slice().buffer,
        info,
      }),
      `a point of small order (${point[0]})`,
    );
});
