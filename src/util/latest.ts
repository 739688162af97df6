// Maps that keep only their latest entries: how the caches and memories of recent things
// (key objects, sessions, look-ups, addresses) stay bounded.

/**
 * Where each map's oldest entries are taken from: one iterator over its keys, kept from one
 * eviction to the next. A Map keeps a deleted entry's place until it rebuilds its table, so a
 * fresh `map.keys()` walks over every entry deleted at the front since (6 µs an eviction in a
 * map of 10,000 under churn); this one has passed them already. Every live entry lies ahead of
 * it: it has only passed entries deleted (an evicted one, or one set again, which moved to
 * the back), and a Map's iterator goes on to entries added after it was made.
 */
const oldestFirst = new WeakMap<Map<unknown, unknown>, Iterator<unknown>>();

/** Sets `key` to `value` as `map`'s newest entry, then drops the oldest beyond `kept`. */
export function setLatest<K, V>(map: Map<K, V>, key: K, value: V, kept: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size <= kept) return;
  let keys = oldestFirst.get(map) as Iterator<K> | undefined;
  if (keys === undefined) oldestFirst.set(map, (keys = map.keys()));
  while (map.size > kept) {
    let oldest = keys.next();
    // Never done while the map holds an entry (each lies ahead); were it ever, a fresh one.
    if (oldest.done) {
      oldestFirst.set(map, (keys = map.keys()));
      oldest = keys.next();
    }
    map.delete(oldest.value as K);
  }
}
