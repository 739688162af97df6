// The client binary's logger until pino is needed. Loading pino and its streams is a tenth of
// the client's start-up, and at the client's default level (warn) a session usually logs
// nothing. So pino loads when the first record at an enabled level comes; records that come
// while it loads are held, in order, and written once it has loaded. Records still held when
// the process exits are written as JSON lines by the fallback, so none is lost.
import type { Logger } from 'pino';
import type { LogLevel } from './args.js';

/** pino's level numbers (`pino.levels.values`), written out here so that nothing loads pino. */
const RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};
const METHODS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
type Method = (typeof METHODS)[number];

/** Most records held while pino loads; past it the oldest go. */
export const HELD_MAX = 1000;

interface Held {
  bindings: object[];
  method: Method;
  args: unknown[];
  time: number;
}

export interface DeferredLog {
  /** The logger to hand to the client (pino's type: it has the methods udpchat calls). */
  log: Logger;
  /** Writes what is still held through `fallback` (at exit, when pino has not loaded). */
  writeHeld: () => void;
  /** Settles once pino has loaded and what was held is written; undefined while nothing asked for it. */
  loaded: () => Promise<void> | undefined;
}

/**
 * A logger at `level` that loads the real one with `load` when a record first needs it.
 * `fallback` writes one line (a JSON record, as pino writes them, with `base`'s fields) where
 * the log goes.
 */
export function deferredLog(
  level: LogLevel,
  load: () => Promise<Logger>,
  fallback: (line: string) => void,
  base: object = {},
): DeferredLog {
  let real: Logger | undefined;
  let loading: Promise<void> | undefined;
  let held: Held[] = [];

  const target = (bindings: object[]): Logger =>
    bindings.reduce<Logger>((logger, b) => logger.child(b), real!);

  const start = (): void => {
    loading ??= load().then(
      (logger) => {
        real = logger;
        const records = held;
        held = [];
        for (const record of records)
          target(record.bindings)[record.method](...(record.args as [string]));
      },
      () => writeHeld(),
    );
  };

  const writeHeld = (): void => {
    const records = held;
    held = [];
    for (const { bindings, method, args, time } of records) {
      const [first, second] = args;
      const fields = typeof first === 'object' && first !== null ? first : {};
      const msg =
        typeof first === 'string' ? first : typeof second === 'string' ? second : undefined;
      const err = (fields as { err?: unknown }).err;
      fallback(
        JSON.stringify({
          level: RANK[method],
          time,
          ...base,
          ...Object.assign({}, ...bindings),
          ...fields,
          ...(err instanceof Error ? { err: { message: err.message, stack: err.stack } } : {}),
          ...(msg === undefined ? {} : { msg }),
        }) + '\n',
      );
    }
  };

  const make = (bindings: object[]): Logger => {
    let resolved: Logger | undefined;
    const logger: Record<string, unknown> = {
      level,
      isLevelEnabled: (name: LogLevel) => RANK[name] >= RANK[level] && name !== 'silent',
      child: (more: object) => make([...bindings, more]),
    };
    for (const method of METHODS) {
      logger[method] =
        RANK[method] < RANK[level]
          ? () => undefined
          : (...args: unknown[]) => {
              if (real) {
                resolved ??= target(bindings);
                resolved[method](...(args as [string]));
                return;
              }
              held.push({ bindings, method, args, time: Date.now() });
              if (held.length > HELD_MAX) held.shift();
              start();
            };
    }
    return logger as unknown as Logger;
  };

  return { log: make([]), writeHeld, loaded: () => loading };
}
