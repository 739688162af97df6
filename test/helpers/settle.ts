// Waiting on promises without the wall clock: unit tests move only the microtask queue (and a
// fake clock), so nothing depends on how fast the machine is.

/** Lets pending promise callbacks run: `turns` turns of the microtask queue. */
export async function settle(turns = 30): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

/** A promise the test resolves or rejects when it likes. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * Lets `turns` turns of the event loop pass (each a `setImmediate`): for work that waits on
 * more than promises, such as I/O callbacks or a `setImmediate` of its own. Times nothing.
 */
export async function nextTurns(turns = 1): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
