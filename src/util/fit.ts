// Cutting batches and pages to fit one datagram: the longest prefix of a list within a byte
// budget, and what one item adds to a JSON array.

/**
 * The longest run of `items` from the start whose sizes add up to at most `budget` bytes,
 * and always the first item (one over the budget goes alone): how batches and pages that
 * must fit a datagram are cut.
 */
export function prefixWithin<T>(
  items: readonly T[],
  budget: number,
  bytesOf: (item: T) => number,
): T[] {
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    bytes += bytesOf(item);
    if (count > 0 && bytes > budget) break;
    count++;
  }
  return items.slice(0, count);
}

/** The bytes a value takes in a JSON array: its UTF-8 JSON and a comma. */
export const jsonBytes = (value: unknown): number =>
  Buffer.byteLength(JSON.stringify(value), 'utf8') + 1;
