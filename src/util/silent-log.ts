// The logger a library part uses when it is given none: it logs nothing, and it does not load
// pino (a tenth of the client binary's start-up) for that.
import type { Logger } from 'pino';

const nothing = (): void => undefined;
const silent = {
  level: 'silent',
  trace: nothing,
  debug: nothing,
  info: nothing,
  warn: nothing,
  error: nothing,
  fatal: nothing,
  silent: nothing,
  isLevelEnabled: () => false,
  child: () => silent,
};

/** What `pino({ level: 'silent' })` does, for the methods udpchat calls (a type of pino's own). */
export const SILENT_LOG = silent as unknown as Logger;
