// Options merged over their defaults: `{ ...DEFAULTS, ...definedOnly(options) }`, where a key
// given as undefined (an option left out) keeps its default instead of erasing it.

export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
