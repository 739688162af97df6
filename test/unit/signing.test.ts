import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import {
  macDatagram,
  signDatagram,
  splitSigned,
  verifyMac,
  verifySignature,
} from '../../src/crypto/signing.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const mac = { sid: randomBytes(12).toString('base64'), key: randomBytes(32) };
const inner = Buffer.from('{"v":1,"t":"ack","re":"r1"}');

t.test(
  'property: the trailer is written as JSON.stringify writes it, and read back and checked',
  async () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (by, ts) => {
          const signed = signDatagram(inner, by, privateKey, ts);
          const { sig } = JSON.parse(signed.toString('utf8', inner.byteLength + 1)) as {
            sig: string;
          };
          const maced = macDatagram(inner, by, mac, ts);
          const { mac: tag } = JSON.parse(maced.toString('utf8', inner.byteLength + 1)) as {
            mac: string;
          };
          const written = (trailer: object) =>
            Buffer.concat([inner, Buffer.from(`\n${JSON.stringify(trailer)}`, 'utf8')]);
          if (!signed.equals(written({ by, ts, sig }))) return false;
          if (!maced.equals(written({ by, ts, sid: mac.sid, mac: tag }))) return false;
          const fromSigned = splitSigned(signed);
          const fromMaced = splitSigned(maced);
          // Refused only past the limits: a name of 40 UTF-16 units, a trailer of 300 bytes.
          const tooLong = (datagram: Buffer) =>
            by.length > 40 || datagram.byteLength - inner.byteLength > 300;
          if (fromSigned === undefined || fromMaced === undefined)
            return (
              (fromSigned === undefined) === tooLong(signed) &&
              (fromMaced === undefined) === tooLong(maced)
            );
          return (
            fromSigned.inner.equals(inner) &&
            verifySignature(fromSigned.inner, fromSigned.signature, publicKey) &&
            fromMaced.inner.equals(inner) &&
            verifyMac(fromMaced.inner, fromMaced.signature, mac.key)
          );
        },
      ),
      { numRuns: 300 },
    );
  },
);

t.test('a datagram MAC holds only under its own key, for its own bytes and time', async (t) => {
  const split = splitSigned(macDatagram(inner, 'alice', mac, 1_700_000_000_000))!;
  t.ok(verifyMac(split.inner, split.signature, mac.key));
  t.notOk(verifyMac(split.inner, split.signature, randomBytes(32)), 'another key');
  t.notOk(
    verifyMac(Buffer.from('{"v":1,"t":"ack","re":"r2"}'), split.signature, mac.key),
    'other bytes',
  );
  t.notOk(
    verifyMac(split.inner, { ...split.signature, ts: split.signature.ts + 1 }, mac.key),
    'another time',
  );
  t.notOk(verifyMac(split.inner, { ...split.signature, by: 'mallory' }, mac.key), 'another sender');
});
