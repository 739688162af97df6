// A copy of a small Buffer with a backing store of its own, for bytes kept a long time.

/**
 * `bytes` in a backing store of exactly its length. Node cuts small Buffers (under 4 KiB) out
 * of shared 8 KiB pool slabs, and one slice kept alive keeps its whole slab: the registry's
 * replies kept for retransmitted requests (20,000 at most) held ~65 MB of slabs at 10,000
 * clients, for ~6 MB of replies.
 */
export function ownBytes(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
