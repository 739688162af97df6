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
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (by, ts, n) => {
          const signed = signDatagram(inner, by, privateKey, ts);
          const { sig } = JSON.parse(signed.toString('utf8', inner.byteLength + 1)) as {
            sig: string;
          };
          const maced = macDatagram(inner, by, mac, n, ts);
          const { mac: tag } = JSON.parse(maced.toString('utf8', inner.byteLength + 1)) as {
            mac: string;
          };
          const written = (trailer: object) =>
            Buffer.concat([inner, Buffer.from(`\n${JSON.stringify(trailer)}`, 'utf8')]);
          if (!signed.equals(written({ by, ts, sig }))) return false;
          if (!maced.equals(written({ by, ts, sid: mac.sid, n, mac: tag }))) return false;
          const fromSigned = splitSigned(signed);
          const fromMaced = splitSigned(maced);
          // Refused only past the limits: a name of 40 UTF-16 units, a trailer of 400 bytes.
          const tooLong = (datagram: Buffer) =>
            by.length > 40 || datagram.byteLength - inner.byteLength > 400;
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

t.test(
  'a retransmission names its earlier tries under the MAC; a trailer naming them otherwise is not read',
  async (t) => {
    const at = 1_700_000_000_000;
    const split = splitSigned(macDatagram(inner, 'alice', mac, 7, at, [3, 5]))!;
    t.same(split.signature.prior, [3, 5], 'named, in the trailer');
    t.ok(verifyMac(split.inner, split.signature, mac.key));
    t.notOk(verifyMac(split.inner, { ...split.signature, prior: [3] }, mac.key), 'fewer named');
    t.notOk(verifyMac(split.inner, { ...split.signature, prior: [3, 6] }, mac.key), 'others');
    const { prior: _, ...unnamed } = split.signature;
    t.notOk(verifyMac(split.inner, unnamed, mac.key), 'the names taken off');
    const plain = splitSigned(macDatagram(inner, 'alice', mac, 7, at))!;
    t.equal(plain.signature.prior, undefined, 'a first try names none');
    t.notOk(
      verifyMac(plain.inner, { ...plain.signature, prior: [3] }, mac.key),
      'names added to a first try',
    );
    t.ok(
      macDatagram(inner, 'alice', mac, 7, at, []).equals(macDatagram(inner, 'alice', mac, 7, at)),
      'none to name: the datagram of a first try',
    );
    // Named otherwise than a sender names them (1 to 8, rising, each below n): not read.
    const trailer = (fields: string) => Buffer.concat([inner, Buffer.from(`\n{${fields}}`)]);
    const rest = `"by":"alice","ts":1,"sid":${JSON.stringify(mac.sid)},"n":20`;
    const tag = `"mac":${JSON.stringify(split.signature.mac)}`;
    t.ok(splitSigned(trailer(`${rest},"prior":[0,1,2,3,4,5,6,19],${tag}`)), 'eight, below n');
    for (const bad of [
      '[]',
      '[5,3]',
      '[3,3]',
      '[20]',
      '[21]',
      '[-1]',
      '[1.5]',
      '["3"]',
      '"3"',
      '{"0":3}',
      '[0,1,2,3,4,5,6,7,8]',
    ])
      t.equal(splitSigned(trailer(`${rest},"prior":${bad},${tag}`)), undefined, `prior ${bad}`);
  },
);

t.test(
  '`low` goes under the MAC, with or without earlier tries; a trailer naming it otherwise is not read',
  async (t) => {
    const at = 1_700_000_000_000;
    for (const prior of [undefined, [3, 5]]) {
      const split = splitSigned(macDatagram(inner, 'alice', mac, 7, at, prior, 2))!;
      t.equal(split.signature.low, 2, 'named, in the trailer');
      t.same(split.signature.prior, prior);
      t.ok(verifyMac(split.inner, split.signature, mac.key));
      t.notOk(verifyMac(split.inner, { ...split.signature, low: 1 }, mac.key), 'lowered');
      t.notOk(verifyMac(split.inner, { ...split.signature, low: 3 }, mac.key), 'raised');
      const { low: _, ...unnamed } = split.signature;
      t.notOk(verifyMac(split.inner, unnamed, mac.key), 'taken off');
    }
    const plain = splitSigned(macDatagram(inner, 'alice', mac, 7, at))!;
    t.equal(plain.signature.low, undefined);
    t.notOk(verifyMac(plain.inner, { ...plain.signature, low: 7 }, mac.key), 'added');
    const own = splitSigned(macDatagram(inner, 'alice', mac, 7, at, undefined, 7))!;
    t.equal(own.signature.low, 7, 'its own number: none under way before it');
    t.ok(verifyMac(own.inner, own.signature, mac.key));
    // At most the datagram's number, and at most the first earlier try it names.
    const trailer = (fields: string) => Buffer.concat([inner, Buffer.from(`\n{${fields}}`)]);
    const rest = `"by":"alice","ts":1,"sid":${JSON.stringify(mac.sid)},"n":20`;
    const tag = `"mac":${JSON.stringify(own.signature.mac)}`;
    t.ok(splitSigned(trailer(`${rest},"low":0,${tag}`)));
    t.ok(splitSigned(trailer(`${rest},"low":4,"prior":[4,9],${tag}`)));
    for (const bad of ['21', '-1', '1.5', '"3"', 'null', '[3]'])
      t.equal(splitSigned(trailer(`${rest},"low":${bad},${tag}`)), undefined, `low ${bad}`);
    t.equal(
      splitSigned(trailer(`${rest},"low":5,"prior":[4,9],${tag}`)),
      undefined,
      'above its first earlier try',
    );
  },
);

t.test(
  'a datagram MAC holds only under its own key, for its own bytes, time and number',
  async (t) => {
    const split = splitSigned(macDatagram(inner, 'alice', mac, 41, 1_700_000_000_000))!;
    t.equal(split.signature.n, 41);
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
    t.notOk(
      verifyMac(split.inner, { ...split.signature, by: 'mallory' }, mac.key),
      'another sender',
    );
    t.notOk(verifyMac(split.inner, { ...split.signature, n: 42 }, mac.key), 'another number');
    const { n: _, ...unnumbered } = split.signature;
    t.notOk(verifyMac(split.inner, unnumbered, mac.key), 'no number');
    // A MAC trailer without its number, or with one that is not a whole number from 0, is not read.
    const trailer = (fields: string) => Buffer.concat([inner, Buffer.from(`\n{${fields}}`)]);
    const rest = `"by":"alice","ts":1,"sid":${JSON.stringify(mac.sid)}`;
    const tag = `"mac":${JSON.stringify(split.signature.mac)}`;
    t.ok(splitSigned(trailer(`${rest},"n":0,${tag}`)), 'n 0 is read');
    for (const bad of ['', '"n":-1,', '"n":1.5,', '"n":"1",', '"n":9007199254740992,'])
      t.equal(
        splitSigned(trailer(`${rest},${bad}${tag}`)),
        undefined,
        `not read: ${bad || 'no n'}`,
      );
  },
);
