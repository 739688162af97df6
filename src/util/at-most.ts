// Working through a list with a bounded number of steps under way: table pages, request
// fragments, a registration's watch batches.

/**
 * Runs `work` on each of `items` in their order, at most `atMost` under way at once. Once one
 * rejects, no more start (those under way run out) and the whole rejects with that error;
 * once `stop()` says so, no more start either and the whole resolves when those under way have.
 */
export async function eachAtMost<T>(
  items: readonly T[],
  atMost: number,
  work: (item: T) => Promise<unknown>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failed && !stop()) {
      const item = items[next++];
      await work(item).catch((error: unknown) => {
        failed = true;
        throw error;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, atMost), items.length) }, lane));
}
