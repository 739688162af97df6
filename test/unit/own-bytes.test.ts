import t from 'tap';
import { ownBytes } from '../../src/util/own-bytes.js';

t.test('a small Buffer copied into a backing store of its own', async (t) => {
  const pooled = Buffer.from('x'.repeat(300));
  t.ok(pooled.buffer.byteLength > 300, 'a small Buffer is a slice of a larger pool slab');
  const own = ownBytes(pooled);
  t.equal(own.buffer.byteLength, 300, 'the copy holds only its own bytes');
  t.same(own, pooled, 'the same bytes');
  own[0] = 0x79;
  t.equal(pooled[0], 0x78, 'a copy, not a view');
});
