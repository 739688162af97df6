// Maps that keep only their latest entries: how the caches and memories of recent things
// (key objects, sessions, look-ups, addresses) stay bounded.

/** Sets `key` to `value` as `map`'s newest entry, then drops the oldest beyond `kept`. */
export function setLatest<K, V>(map: Map<K, V>, key: K, value: V, kept: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > kept) map.delete(map.keys().next().value as K);
}
