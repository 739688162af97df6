import fc from 'fast-check';
import t from 'tap';
import { decodeUtf8 } from '../../src/util/utf8.js';

t.test('bytes that are not UTF-8 are refused, and the refusal leaves nothing behind', (t) => {
  const euro = Buffer.from('€', 'utf8'); // three bytes
  t.throws(() => decodeUtf8(euro.subarray(0, 2)), TypeError, 'a character cut short');
  // Without `stream` a decode keeps no state: the cut bytes above do not join these.
  t.throws(() => decodeUtf8(euro.subarray(2)), TypeError, 'a lone continuation byte');
  t.equal(decodeUtf8(euro), '€', 'the whole character, after both refusals');
  t.throws(() => decodeUtf8(Uint8Array.of(0xc0, 0x80)), TypeError, 'an overlong encoding');
  t.throws(() => decodeUtf8(Uint8Array.of(0xed, 0xa0, 0x80)), TypeError, 'a lone surrogate');
  t.end();
});

t.test('any text comes back whole, whatever was decoded before it', (t) => {
  // fast-check throws with the smallest counterexample it finds.
  t.doesNotThrow(
    () =>
      fc.assert(
        fc.property(
          fc.string({ unit: 'grapheme' }),
          fc.uint8Array({ maxLength: 8 }),
          (text, before) => {
            try {
              decodeUtf8(before);
            } catch {
              // not UTF-8: refused, as it should be
            }
            return decodeUtf8(Buffer.from(text, 'utf8')) === text;
          },
        ),
      ),
    'every text decoded whole',
  );
  t.end();
});
